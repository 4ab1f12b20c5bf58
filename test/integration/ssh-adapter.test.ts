/**
 * The SSH adapter and the SFTP pool against the real OpenSSH sshd: authentication by key, agent and password,
 * the server's limits, timeouts, and reconnecting after the connection is cut (a TCP proxy in the test cuts it).
 */
import {execFileSync} from 'node:child_process'
import {createHash, KeyObject, randomBytes} from 'node:crypto'
import {mkdtempSync, readFileSync} from 'node:fs'
import {createServer, connect, type Server, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {SftpPool} from '../../src/adapters/sftp-pool.js'
import {SftpClient} from '../../src/adapters/sftp-client.js'
import {probeHostKey, resolveCredentials, SshError, SshSession, type SshTarget} from '../../src/adapters/ssh.js'
import {loadPeers} from '../peers/env.js'

const {sshd} = loadPeers()
const keyUser = sshd.users.keyUser

function target(over: Partial<SshTarget> = {}): SshTarget {
  return {host: sshd.host, port: sshd.port, username: keyUser.name, identityFile: keyUser.privateKeyPath, useAgent: false, knownHostsFile: sshd.knownHostsFile, ...over}
}

/** A TCP proxy in front of sshd whose connections the test can cut, and which can refuse for a while. */
async function startProxy(): Promise<{port: number; cutAll(): void; refuse(ms: number): Promise<void>; accepted(): number; close(): Promise<void>}> {
  const sockets = new Set<Socket>()
  let accepted = 0
  let server: Server
  let port = 0
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        accepted++
        const upstream = connect(sshd.port, sshd.host)
        for (const s of [client, upstream]) {
          sockets.add(s)
          s.on('close', () => sockets.delete(s))
          s.on('error', () => s.destroy())
        }
        client.pipe(upstream).pipe(client)
      })
      server.listen(port, '127.0.0.1', () => {
        port = (server.address() as {port: number}).port
        resolve()
      })
    })
  await listen()
  const cutAll = () => sockets.forEach((s) => s.destroy())
  return {
    get port() {
      return port
    },
    cutAll,
    accepted: () => accepted,
    async refuse(ms: number) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      cutAll()
      await closed
      setTimeout(() => void listen(), ms)
    },
    close: () => {
      cutAll()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function readFile(pool: SftpPool, path: string): Promise<Buffer> {
  return pool.withSource(async (sftp) => {
    const handle = await sftp.openRead(path)
    try {
      const chunks: Buffer[] = []
      await sftp.readRange(handle, 0, (await sftp.fstat(handle)).size, 4, (c) => void chunks.push(c))
      return Buffer.concat(chunks)
    } finally {
      await sftp.close(handle)
    }
  })
}

describe('SSH sessions', () => {
  it('logs in with a key, reports the server and its SFTP limits, runs commands', async () => {
    const creds = await resolveCredentials(target(), {})
    const session = await SshSession.connect(target(), creds)
    try {
      expect(session.info.software).toMatch(/^OpenSSH_9\./)
      expect(sshd.hostKeys.map((k) => k.fingerprint)).toContain(session.info.hostKey.fingerprint)
      const sftp = await SftpClient.open(session)
      expect([...sftp.extensions.keys()]).toContain('limits@openssh.com')
      // OpenSSH advertises 255 KiB reads and writes through limits@openssh.com.
      expect(sftp.limits).toMatchObject({maxReadLen: 261120, maxWriteLen: 261120})
      sftp.end()
      const r = await session.exec('id -un; echo err >&2; exit 7')
      expect(r).toMatchObject({code: 7})
      expect(r.stdout.toString()).toBe(`${keyUser.name}\n`)
      expect(r.stderr.toString()).toBe('err\n')
    } finally {
      session.close()
    }
  })

  it('hands ssh2 its packet keys as KeyObjects (a cipher is made per packet), and the session still carries data both ways', async () => {
    const session = await SshSession.connect(target(), await resolveCredentials(target(), {}))
    try {
      // ssh2's own fields (lib/protocol/crypto.js): when an upgrade moves them this fails, and the CPU it saves is lost
      const protocol = (session.client as unknown as {_protocol: {_cipher: {_encKey: unknown}; _decipher: {_decipherKey: unknown}}})._protocol
      expect(protocol._cipher._encKey).toBeInstanceOf(KeyObject)
      expect(protocol._decipher._decipherKey).toBeInstanceOf(KeyObject)
      const payload = randomBytes(300_000).toString('base64')
      const r = await session.exec('sha256sum', {stdin: payload})
      expect(r.stdout.toString().split(' ')[0]).toBe(createHash('sha256').update(payload).digest('hex'))
    } finally {
      session.close()
    }
  })

  it('logs in through ssh-agent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sct-agent-'))
    const sock = join(dir, 'agent.sock')
    const out = execFileSync('ssh-agent', ['-a', sock, '-s']).toString()
    const pid = out.match(/SSH_AGENT_PID=(\d+)/)![1]
    try {
      execFileSync('ssh-add', [keyUser.privateKeyPath!], {env: {...process.env, SSH_AUTH_SOCK: sock}, stdio: 'ignore'})
      const t = target({identityFile: undefined, useAgent: true})
      const creds = await resolveCredentials(t, {SSH_AUTH_SOCK: sock})
      expect(creds.privateKey).toBeUndefined()
      const session = await SshSession.connect(t, creds)
      expect((await session.exec('id -un')).stdout.toString().trim()).toBe(keyUser.name)
      session.close()
    } finally {
      process.kill(Number(pid))
    }
  })

  it('refuses to start without a way to authenticate, or with an unreadable key, naming the setting', async () => {
    await expect(resolveCredentials(target({identityFile: undefined}), {})).rejects.toMatchObject({code: 'NO_AUTH', exitCode: 2})
    await expect(resolveCredentials(target({identityFile: '/nonexistent/key'}), {})).rejects.toThrow(/cannot read source\.identityFile \/nonexistent\/key/)
    const notAKey = join(mkdtempSync(join(tmpdir(), 'sct-key-')), 'id')
    execFileSync('sh', ['-c', `echo not a key > ${notAKey}`])
    await expect(resolveCredentials(target({identityFile: notAKey}), {})).rejects.toMatchObject({code: 'IDENTITY_FILE'})
    await expect(resolveCredentials(target({identityFile: undefined, passwordEnv: 'UNSET_PASSWORD_VAR'}), {})).rejects.toThrow(/UNSET_PASSWORD_VAR, which is not set/)
  })

  it('asks for the passphrase of an encrypted key only through the prompt it is given', async () => {
    const keyFile = join(mkdtempSync(join(tmpdir(), 'sct-key-')), 'id')
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'correct horse', '-f', keyFile])
    const t = target({identityFile: keyFile})
    await expect(resolveCredentials(t, {})).rejects.toMatchObject({code: 'PASSPHRASE_NEEDED'})
    const asked: string[] = []
    const creds = await resolveCredentials(t, {}, async (message) => {
      asked.push(message)
      return 'correct horse'
    })
    expect(asked).toEqual([`Passphrase for ${keyFile}`])
    expect(creds.passphrase).toBe('correct horse')
    await expect(resolveCredentials(t, {}, async () => 'wrong')).rejects.toMatchObject({code: 'PASSPHRASE_WRONG'})
  })

  it('reads every host key type the server offers without logging in', async () => {
    for (const key of sshd.hostKeys) {
      const seen = await probeHostKey(sshd.host, sshd.port, {algorithm: key.algorithms[0]})
      expect(seen.fingerprint).toBe(key.fingerprint)
    }
  })

  it('accepts a pinned fingerprint of any key type the server holds (RSA, ECDSA), not only the one it prefers', async () => {
    const types = sshd.hostKeys.map((k) => k.type)
    expect(types).toEqual(expect.arrayContaining(['ssh-rsa', 'ecdsa-sha2-nistp256', 'ssh-ed25519']))
    for (const key of sshd.hostKeys) {
      const pinned = target({knownHostsFile: undefined, hostKeyFingerprint: key.fingerprint})
      const creds = await resolveCredentials(pinned, {})
      for (const attempt of ['first', 'remembered']) {
        const session = await SshSession.connect(pinned, creds)
        expect({attempt, hostKey: session.info.hostKey}).toEqual({attempt, hostKey: {type: key.type, fingerprint: key.fingerprint}})
        session.close()
      }
    }
  })

  it('refuses a pinned fingerprint that none of the server\'s keys has, listing every key it presented', async () => {
    const pinned = target({knownHostsFile: undefined, hostKeyFingerprint: `SHA256:${'x'.repeat(43)}`})
    const err = await SshSession.connect(pinned, await resolveCredentials(pinned, {})).then(
      () => undefined,
      (e: unknown) => e as SshError,
    )
    expect(err).toBeInstanceOf(SshError)
    expect(err!.code).toBe('HOST_KEY_REJECTED')
    for (const key of sshd.hostKeys) expect(err!.message).toContain(`${key.type} ${key.fingerprint}`)
    expect(err!.suggestions.join(' ')).toMatch(/sftp-cutover config set source\.hostKeyFingerprint SHA256:/)
  })

  it('times out on a server that accepts TCP but never speaks SSH', async () => {
    const silent = createServer(() => {})
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()))
    const port = (silent.address() as {port: number}).port
    try {
      const started = Date.now()
      const err = await SshSession.connect(target({port}), await resolveCredentials(target(), {}), {readyTimeoutMs: 1000}).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(SshError)
      expect(err).toMatchObject({code: 'SSH_TIMEOUT', transient: true})
      expect(Date.now() - started).toBeLessThan(5000)
    } finally {
      silent.close()
    }
  })
  it('fails, worth retrying, when the connection closes during the handshake instead of waiting forever', async () => {
    // Sends a banner, then closes cleanly (FIN, no error) as soon as the client speaks: what a cut connection or a
    // restarted sshd looks like mid-handshake. ssh2 then emits 'close' and no 'error'.
    const closing = createServer((socket) => {
      socket.on('error', () => socket.destroy())
      socket.write('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n')
      socket.once('data', () => socket.end())
    })
    await new Promise<void>((resolve) => closing.listen(0, '127.0.0.1', () => resolve()))
    const port = (closing.address() as {port: number}).port
    try {
      const creds = await resolveCredentials(target(), {})
      const err = await SshSession.connect(target({port}), creds, {readyTimeoutMs: 60_000}).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(SshError)
      expect(err).toMatchObject({code: 'SSH_FAILED', transient: true})
      expect((err as Error).message).toMatch(/closed during the SSH handshake/)
      const probe = await probeHostKey('127.0.0.1', port, {timeoutMs: 60_000}).catch((e: unknown) => e)
      expect(probe).toBeInstanceOf(SshError)
      expect((probe as Error).message).toMatch(/closed during the SSH handshake/)
    } finally {
      closing.close()
    }
  }, 10_000)
  it('opening SFTP on a connection that goes away fails as worth retrying', async () => {
    const session = await SshSession.connect(target(), await resolveCredentials(target(), {}))
    const opening = SftpClient.open(session)
    session.client.destroy()
    const err = await opening.catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SshError)
    expect(err).toMatchObject({code: 'SSH_FAILED', transient: true})
    expect(session.closed).toBe(true)
  })
})

describe('SFTP pool', () => {
  const sample = keyUser.sampleTree!.entries.find((e) => e.type === 'file' && e.size > 0)!
  const samplePath = `${keyUser.sampleTree!.sftpPath}/${sample.path}`
  const sampleBytes = readFileSync(join(keyUser.sampleTree!.root, sample.path))

  it('spreads work over its connections and never opens more than asked', async () => {
    const creds = await resolveCredentials(target(), {})
    const pool = new SftpPool(target(), creds, {connections: 3, perConnection: 4})
    try {
      const results = await Promise.all(Array.from({length: 24}, () => readFile(pool, samplePath)))
      expect(results.every((b) => b.equals(sampleBytes))).toBe(true)
      expect(pool.size).toBe(3)
    } finally {
      await pool.close()
    }
  })

  it('gives work that asks while warm() is still connecting the connections warm() opens', async () => {
    const creds = await resolveCredentials(target(), {})
    const pool = new SftpPool(target(), creds, {connections: 2, perConnection: 1})
    try {
      // Every connection is already being opened by warm(), so these wait for one; they used to wait forever.
      const warming = pool.warm()
      const results = await Promise.all(Array.from({length: 6}, () => readFile(pool, samplePath)))
      await warming
      expect(results.every((b) => b.equals(sampleBytes))).toBe(true)
      expect(pool.size).toBe(2)
    } finally {
      await pool.close()
    }
  }, 20_000)

  it('wakes the work waiting for a connection when opening one fails, so that all of it fails instead of hanging', async () => {
    // Nothing listens on this port: every connect is refused at once.
    const refused = createServer()
    await new Promise<void>((resolve) => refused.listen(0, '127.0.0.1', () => resolve()))
    const port = (refused.address() as {port: number}).port
    await new Promise<void>((resolve) => refused.close(() => resolve()))
    const creds = await resolveCredentials(target(), {})
    const pool = new SftpPool(target({port}), creds, {connections: 1, perConnection: 1, connectAttempts: 2, backoffMs: 50})
    try {
      const outcomes = await Promise.allSettled(Array.from({length: 4}, () => readFile(pool, samplePath)))
      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected'])
      for (const o of outcomes) expect((o as PromiseRejectedResult).reason).toMatchObject({code: 'SOURCE_UNREACHABLE'})
    } finally {
      await pool.close()
    }
  }, 10_000)

  it('reconnects after the connection is cut and retries with backoff while the server refuses', async () => {
    const proxy = await startProxy()
    const events: string[] = []
    const creds = await resolveCredentials(target(), {})
    // known_hosts names the real port; through the proxy the server's key is pinned instead.
    const pinned = (await probeHostKey(sshd.host, proxy.port)).fingerprint
    const pool = new SftpPool(target({port: proxy.port, knownHostsFile: undefined, hostKeyFingerprint: pinned}), creds, {
      connections: 1,
      perConnection: 4,
      backoffMs: 200,
      connectAttempts: 8,
      onEvent: (event) => events.push(event),
    })
    try {
      expect((await readFile(pool, samplePath)).equals(sampleBytes)).toBe(true)
      proxy.cutAll()
      await new Promise((r) => setTimeout(r, 200))
      expect((await readFile(pool, samplePath)).equals(sampleBytes)).toBe(true)
      expect(events).toContain('sftp.connection.closed')
      await proxy.refuse(1200)
      await new Promise((r) => setTimeout(r, 100))
      expect((await readFile(pool, samplePath)).equals(sampleBytes)).toBe(true)
      expect(events).toContain('sftp.connect.retry')
      expect(proxy.accepted()).toBeGreaterThanOrEqual(4)
    } finally {
      await pool.close()
      await proxy.close()
    }
  })
})
