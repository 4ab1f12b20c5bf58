/**
 * The shaped link of bench/wan.ts (test/peers/toxiproxy.ts): the real toxiproxy-server in front of a TCP server made
 * here, proving that the latency and bandwidth toxics do what the benchmark's table claims, and that the byte
 * counters count what the server sent.
 */
import {connect, createServer, type Server, type Socket} from 'node:net'

import {startToxiproxy, type ToxiproxyPeer} from '../peers/toxiproxy.js'

let toxiproxy: ToxiproxyPeer
const servers: Server[] = []

beforeAll(async () => {
  toxiproxy = await startToxiproxy()
})

afterAll(async () => {
  for (const server of servers) server.close()
  await toxiproxy?.stop()
})

/** A server on 127.0.0.1 that hands every connection to `onConnection`; resolves to "host:port". */
async function serve(onConnection: (socket: Socket) => void): Promise<string> {
  const server = createServer((socket) => {
    socket.on('error', () => socket.destroy())
    onConnection(socket)
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `127.0.0.1:${(server.address() as {port: number}).port}`
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket))
    socket.once('error', reject)
  })
}

test('latency per direction: a round trip through the proxy takes at least twice the configured latency', async () => {
  const echo = await serve((socket) => socket.pipe(socket))
  const proxy = await toxiproxy.proxy('echo', echo)
  const LATENCY_MS = 100
  await proxy.latency('upstream', LATENCY_MS)
  await proxy.latency('downstream', LATENCY_MS)
  const socket = await open(proxy.port)
  try {
    const times: number[] = []
    for (let i = 0; i < 3; i++) {
      const started = performance.now()
      const answer = new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())))
      socket.write(`ping ${i}`)
      expect(await answer).toBe(`ping ${i}`)
      times.push(performance.now() - started)
    }
    // Each round trip pays both directions' latency (toxiproxy's timers have ~1 ms precision).
    for (const ms of times) expect(ms).toBeGreaterThanOrEqual(2 * LATENCY_MS - 2)
  } finally {
    socket.destroy()
  }
})

test('bandwidth per direction: a transfer from the server runs at about the configured rate, and is counted', async () => {
  const BYTES = 3_000_000
  const source = await serve((socket) => socket.end(Buffer.alloc(BYTES, 7)))
  const proxy = await toxiproxy.proxy('sink', source)
  const RATE_KBPS = 1000 // 1,000,000 bytes/s: 3 s for the transfer
  await proxy.bandwidth('downstream', RATE_KBPS)
  const before = await proxy.counters()
  const started = performance.now()
  const socket = await open(proxy.port)
  let received = 0
  socket.on('data', (d: Buffer) => (received += d.length))
  await new Promise<void>((resolve, reject) => {
    socket.once('close', () => resolve())
    socket.once('error', reject)
  })
  const seconds = (performance.now() - started) / 1000
  expect(received).toBe(BYTES)
  const expected = BYTES / (RATE_KBPS * 1000)
  // Never faster than the rate (that would mean no shaping); not much slower either (a loaded machine adds a little).
  expect(seconds).toBeGreaterThanOrEqual(expected * 0.9)
  expect(seconds).toBeLessThan(expected * 2)
  // The counters see every byte the server sent, and nothing from the client (which sent none).
  const after = await proxy.counters()
  expect(after.fromUpstream - before.fromUpstream).toBe(BYTES)
  expect(after.toUpstream - before.toUpstream).toBe(0)
})
