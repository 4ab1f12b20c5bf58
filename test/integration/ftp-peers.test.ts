/**
 * The FTP peers (test/peers/ftp.ts) are what the FTP source's tests claim they are: pure-ftpd with a virtual user,
 * explicit TLS whose certificate has the reported fingerprint, and MLSD; vsftpd with plain FTP, anonymous login
 * and LIST only. Both serve the tricky tree with its names byte-exact. Talks to them with basic-ftp directly.
 */
import {Client} from 'basic-ftp'
import type {TLSSocket} from 'node:tls'

import {type FtpPeer, startPureFtpd, useFtpPeers} from '../peers/ftp.js'

const peers = useFtpPeers()

async function login(peer: FtpPeer, tls: boolean): Promise<Client> {
  const client = new Client(15_000)
  client.ftp.encoding = 'latin1'
  await client.connect(peer.host, peer.port)
  if (tls) await client.useTLS({rejectUnauthorized: false, host: peer.host})
  await client.login(peer.user, peer.password)
  await client.useDefaultSettings()
  return client
}

const topLevel = (peer: FtpPeer) => peer.entries.filter((e) => !e.path.includes(0x2f)).map((e) => e.path.toString('latin1')).sort()

test('pure-ftpd: explicit TLS with the generated certificate, MLSD, the tree byte-exact', async () => {
  const client = await login(peers.pure, true)
  try {
    expect((client.ftp.socket as TLSSocket).getPeerCertificate().fingerprint256).toBe(peers.pure.tls!.fingerprint)
    const features = await client.features()
    expect(features.has('MLST')).toBe(true)
    const names = (await client.list(peers.pure.ftpPath)).map((f) => f.name).sort()
    expect(names).toEqual(topLevel(peers.pure))
    expect(names).toContain(Buffer.from('caf\xe9.txt', 'latin1').toString('latin1'))
  } finally {
    client.close()
  }
})

test('vsftpd: plain FTP, anonymous, no MLSD, the tree byte-exact through LIST', async () => {
  const client = await login(peers.vs, false)
  try {
    expect(peers.vs.user).toBe('anonymous')
    expect((await client.features()).has('MLST')).toBe(false)
    const names = (await client.list(peers.vs.ftpPath)).map((f) => f.name).sort()
    expect(names).toEqual(topLevel(peers.vs))
    expect((await client.send(`MDTM ${peers.vs.ftpPath}/readme.txt`)).message).toMatch(/^213 2023060108300\d/)
  } finally {
    client.close()
  }
})

test('an idle FTP session sends NOOP to stay open, and works afterwards (FtpSession against vsftpd)', async () => {
  const {FtpSession} = await import('../../src/adapters/ftp-client.js')
  const lines: string[] = []
  const session = await FtpSession.connect({protocol: 'ftp', host: peers.vs.host, port: peers.vs.port, username: peers.vs.user}, {password: peers.vs.password}, {keepAliveMs: 200, log: (l) => lines.push(l)})
  try {
    await new Promise((resolve) => setTimeout(resolve, 800))
    expect(lines.filter((l) => l === '> NOOP').length).toBeGreaterThanOrEqual(1)
    expect((await session.readdir(peers.vs.ftpPath)).map((e) => e.name.toString('latin1')).sort()).toEqual(topLevel(peers.vs))
  } finally {
    session.end()
  }
})

test('the pool works with the logins a server allows: pure-ftpd with 4 passive ports admits 2 users, a pool of 4 uses 2', async () => {
  const {FtpPool} = await import('../../src/adapters/ftp-pool.js')
  const small = await startPureFtpd({passivePorts: 4})
  const events: string[] = []
  const pool = new FtpPool({protocol: 'ftps', host: small.host, port: small.port, username: small.user, tlsFingerprint: small.tls!.fingerprint}, {password: small.password}, {connections: 4, onEvent: (e) => events.push(e)})
  try {
    await pool.warm()
    expect(pool.size).toBe(2)
    expect(events).toContain('ftp.pool.capped')
    const listings = await Promise.all(Array.from({length: 6}, () => pool.withSource((s) => s.readdir(small.ftpPath))))
    for (const l of listings) expect(l.map((e) => e.name.toString('latin1')).sort()).toEqual(topLevel(small))
  } finally {
    await pool.close()
    await small.stop()
  }
})
