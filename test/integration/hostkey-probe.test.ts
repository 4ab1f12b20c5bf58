/**
 * The inventory's host key fallback: a server that does not send hostkeys-00@openssh.com gets one handshake per host
 * key algorithm (probeHostKey). Every other test peer is OpenSSH, which always sends the list, so this one is an ssh2
 * Server on 127.0.0.1 with ed25519, ECDSA and RSA host keys, public-key login only, no exec or SFTP.
 */
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {createServer, type Server, type Socket, connect as tcpConnect} from 'node:net'
import {join} from 'node:path'
import ssh2 from 'ssh2'
import type {Connection} from 'ssh2'

import {resolveCredentials, SshSession, type SshTarget} from '../../src/adapters/ssh.js'
import {collectHostKeys} from '../../src/services/inventory.js'

const HOST = '127.0.0.1'
const USER = 'probe-test'

interface KeyFile {
  path: string
  /** "<type> <base64>" from the .pub file */
  publicKey: string
  type: string
  bits: number
  fingerprint: string
}

let dir: string
let hostKeys: KeyFile[]
let userKey: KeyFile

/** A key made by OpenSSH's ssh-keygen; its fingerprint and size come from `ssh-keygen -lf`, not from our code. */
function keygen(name: string, type: string, bits: number): KeyFile {
  const path = join(dir, name)
  execFileSync('ssh-keygen', ['-q', '-t', type, '-b', String(bits), '-N', '', '-C', name, '-f', path])
  const [size, fingerprint] = execFileSync('ssh-keygen', ['-lf', `${path}.pub`]).toString().split(' ')
  const [keyType, b64] = readFileSync(`${path}.pub`, 'utf8').split(' ')
  return {path, publicKey: `${keyType} ${b64}`, type: keyType, bits: Number(size), fingerprint}
}

/**
 * An SSH server that never sends hostkeys-00 (the ssh2 Server: no OpenSSH configuration stops sending it). It lets
 * USER in with userKey only and refuses every channel. `serverHostKey` restricts the host key algorithms it offers.
 */
async function startServer(serverHostKey?: string[], opts: {keys?: KeyFile[]} = {}): Promise<{port: number; close(): Promise<void>}> {
  const allowed = ssh2.utils.parseKey(readFileSync(userKey.path)) as ssh2.ParsedKey
  const clients = new Set<Connection>()
  const server = new ssh2.Server(
    {hostKeys: (opts.keys ?? hostKeys).map((k) => readFileSync(k.path)), ...(serverHostKey ? {algorithms: {serverHostKey: serverHostKey as ssh2.ServerHostKeyAlgorithm[]}} : {})},
    (client) => {
      clients.add(client)
      client.on('close', () => clients.delete(client))
      client.on('error', () => {})
      client.on('authentication', (ctx) => {
        const ok =
          ctx.username === USER &&
          ctx.method === 'publickey' &&
          ctx.key.algo === allowed.type &&
          ctx.key.data.equals(allowed.getPublicSSH()) &&
          (!ctx.signature || allowed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) === true)
        if (ok) ctx.accept()
        else ctx.reject(['publickey'])
      })
      client.on('session', (_accept, reject) => reject())
    },
  )
  await new Promise<void>((resolve) => server.listen(0, HOST, () => resolve()))
  const port = (server.address() as {port: number}).port
  return {
    port,
    close: () => {
      for (const c of clients) c.end()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

async function connect(port: number): Promise<SshSession> {
  const knownHostsFile = join(dir, `known_hosts-${port}`)
  writeFileSync(knownHostsFile, hostKeys.map((k) => `[${HOST}]:${port} ${k.publicKey}\n`).join(''))
  const target: SshTarget = {host: HOST, port, username: USER, identityFile: userKey.path, useAgent: false, knownHostsFile}
  return SshSession.connect(target, await resolveCredentials(target, {}))
}

const byType = <T extends {type: string}>(keys: T[]) => [...keys].sort((a, b) => a.type.localeCompare(b.type))
const expected = () => byType(hostKeys).map((k) => ({type: k.type, bits: k.bits, fingerprint: k.fingerprint, publicKey: k.publicKey}))

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sct-hostkey-probe-'))
  hostKeys = [keygen('ed25519', 'ed25519', 256), keygen('ecdsa', 'ecdsa', 256), keygen('rsa', 'rsa', 2048)]
  userKey = keygen('user', 'ed25519', 256)
})

afterAll(() => rmSync(dir, {recursive: true, force: true}))

/**
 * A TCP proxy that sends the first connection to one port and every later one to `laterPort` (an impostor answering
 * the probes), or closes the later ones at once when there is none (a per-address connection limit).
 */
async function splitProxy(firstPort: number, laterPort?: number): Promise<{port: number; close(): Promise<void>}> {
  let n = 0
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    const port = n++ === 0 ? firstPort : laterPort
    if (port === undefined) return socket.destroy()
    const upstream = tcpConnect(port, HOST)
    for (const s of [socket, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
    }
    socket.pipe(upstream).pipe(socket)
    socket.on('error', () => upstream.destroy())
    upstream.on('error', () => socket.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, HOST, () => resolve()))
  return {
    port: (server.address() as {port: number}).port,
    close: () => {
      for (const s of sockets) s.destroy()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Opens a session through `port`, runs the checks on it, then closes the session and the `peers`, in that order. */
async function withSession(port: number, peers: Array<{close(): Promise<void>}>, check: (session: SshSession) => Promise<void>): Promise<void> {
  try {
    const session = await connect(port)
    try {
      await check(session)
    } finally {
      session.close()
    }
  } finally {
    for (const peer of peers) await peer.close()
  }
}

describe('collectHostKeys without hostkeys-00', () => {
  it('finds every host key of the server by one handshake per algorithm', async () => {
    const server = await startServer()
    await withSession(server.port, [server], async (session) => {
      const {keys, findings} = await collectHostKeys(session, HOST, server.port)
      expect(byType(keys)).toEqual(expected())
      expect(findings).toEqual([])
      // The server sent no list, so all of them came from the probes.
      expect(await session.hostKeys(0)).toBeUndefined()
    })
  })

  it('finds the RSA key of a server that signs only with ssh-rsa, as OpenSSH before 7.2 does', async () => {
    const server = await startServer(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ssh-rsa'])
    await withSession(server.port, [server], async (session) => {
      expect(byType((await collectHostKeys(session, HOST, server.port)).keys)).toEqual(expected())
      expect(await session.hostKeys(0)).toBeUndefined()
    })
  })

  it('says which key types it could not read when handshakes fail for another reason, instead of a silently short list', async () => {
    const server = await startServer()
    const proxy = await splitProxy(server.port) // the session gets in, every probe is turned away
    await withSession(proxy.port, [proxy, server], async (session) => {
      const {keys, findings} = await collectHostKeys(session, HOST, proxy.port)
      expect(keys).toEqual([])
      expect(findings.map((f) => `${f.rule} ${f.severity} ${f.subject}`).sort()).toEqual(
        ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'ssh-dss', 'ssh-ed25519', 'ssh-rsa'].map((a) => `hostkey.probe-failed warning hostkey:${a}`),
      )
      expect(findings[0].reason).toMatch(/handshake asking for the .* host key failed \(.+\)/)
    })
  })

  it('refuses when the probes see another key of the type the session verified', async () => {
    const real = await startServer(['ssh-ed25519'])
    const impostor = await startServer(undefined, {keys: [keygen('impostor-ed25519', 'ed25519', 256)]})
    const proxy = await splitProxy(real.port, impostor.port)
    await withSession(proxy.port, [proxy, impostor, real], async (session) => {
      expect(session.info.hostKey.fingerprint).toBe(hostKeys[0].fingerprint)
      await expect(collectHostKeys(session, HOST, proxy.port)).rejects.toMatchObject({code: 'HOST_KEY_REJECTED', message: expect.stringContaining(hostKeys[0].fingerprint)})
    })
  })
})
