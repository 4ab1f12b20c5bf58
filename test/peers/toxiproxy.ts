/**
 * toxiproxy-server (pinned v2.12.0, built by scripts/install-peers.sh) on 127.0.0.1: TCP proxies that add latency and
 * limit bandwidth per direction, the shaped link of bench/wan.ts. Driven through its HTTP API.
 *
 * What the toxics do (toxiproxy's own semantics, worth knowing when reading a benchmark):
 * - latency: every chunk is held until `ms` after it arrived, so a request/response costs 2x `ms` when both
 *   directions carry one; data in flight is pipelined, not serialised.
 * - bandwidth: `kbps` KB/s (1 KB = 1000 bytes: toxiproxy sleeps bytes / rate milliseconds) for EACH connection on its
 *   own: N parallel connections get N times the rate. It is not a shared link.
 */
import {freePort} from './free-port.js'
import {binaries, requireBinary} from './paths.js'
import {type ManagedProcess, portWasTaken, startProcess, waitUntilReady} from './proc.js'

export const TOXIPROXY_VERSION = 'v2.12.0'

/** upstream: client -> server; downstream: server -> client (toxiproxy's names). */
export type Direction = 'upstream' | 'downstream'

export interface ProxyCounters {
  /** bytes the proxy received from the server (what the client read from the box) */
  fromUpstream: number
  /** bytes the proxy received from the client */
  toUpstream: number
}

export interface ShapedProxy {
  name: string
  /** where clients connect: 127.0.0.1 */
  host: string
  port: number
  upstream: string
  /** Adds `ms` of latency to data flowing in `direction`. */
  latency(direction: Direction, ms: number): Promise<void>
  /** Limits data flowing in `direction` to `kbps` KB/s per connection. */
  bandwidth(direction: Direction, kbps: number): Promise<void>
  /** Byte counters since the proxy was made (toxiproxy's -proxy-metrics). */
  counters(): Promise<ProxyCounters>
}

export interface ToxiproxyPeer {
  /** the HTTP API, e.g. http://127.0.0.1:40123 */
  api: string
  pid: number
  /** Makes a TCP proxy on 127.0.0.1 (a free port) in front of `upstream` ("host:port"). */
  proxy(name: string, upstream: string): Promise<ShapedProxy>
  stop(): Promise<void>
}

async function call(api: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${api}${path}`, {
    method,
    headers: body === undefined ? {} : {'content-type': 'application/json'},
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`toxiproxy ${method} ${path}: HTTP ${response.status} ${text.trim()}`)
  return text ? (JSON.parse(text) as unknown) : undefined
}

/** Sums a Prometheus counter's samples whose labels include every given label. */
function sumCounter(metrics: string, name: string, labels: Record<string, string>): number {
  let total = 0
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue
    const [, labelText = '', value = '0'] = /^[^{]+\{(.*)\}\s+(\S+)$/.exec(line) ?? []
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) total += Number(value)
  }
  return total
}

export async function startToxiproxy(): Promise<ToxiproxyPeer> {
  const binary = requireBinary('toxiproxy-server', binaries.toxiproxy)
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const api = `http://127.0.0.1:${port}`
    const proc: ManagedProcess = startProcess('toxiproxy-server', binary, ['-host', '127.0.0.1', '-port', String(port), '-proxy-metrics'], {
      env: {...process.env, LOG_LEVEL: 'warn'},
    })
    try {
      await waitUntilReady(proc, async () => (await call(api, 'GET', '/version')) !== undefined, {what: `did not answer on ${api}`})
    } catch (error) {
      await proc.stop()
      if (attempt < 3 && portWasTaken(proc)) continue
      throw error
    }
    return {
      api,
      pid: proc.pid,
      async proxy(name, upstream) {
        const created = (await call(api, 'POST', '/proxies', {name, listen: '127.0.0.1:0', upstream, enabled: true})) as {listen: string}
        const proxyPort = Number(created.listen.split(':').pop())
        const toxic = (type: string, direction: Direction, attributes: Record<string, number>) =>
          call(api, 'POST', `/proxies/${name}/toxics`, {name: `${type}_${direction}`, type, stream: direction, toxicity: 1, attributes}).then(() => undefined)
        return {
          name,
          host: '127.0.0.1',
          port: proxyPort,
          upstream,
          latency: (direction, ms) => toxic('latency', direction, {latency: ms, jitter: 0}),
          bandwidth: (direction, kbps) => toxic('bandwidth', direction, {rate: kbps}),
          async counters() {
            const response = await fetch(`${api}/metrics`, {signal: AbortSignal.timeout(10_000)})
            const metrics = await response.text()
            const received = (direction: Direction) => sumCounter(metrics, 'toxiproxy_proxy_received_bytes_total', {direction, proxy: name})
            return {fromUpstream: received('downstream'), toUpstream: received('upstream')}
          },
        }
      },
      stop: () => proc.stop(),
    }
  }
}
