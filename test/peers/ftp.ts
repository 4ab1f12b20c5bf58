/**
 * FTP servers standing in for a legacy FTP/FTPS box, on 127.0.0.1 only, started as root by the tests that need them
 * (not by global setup): pure-ftpd (virtual users from pure-pw, explicit TLS with a generated self-signed
 * certificate, MLSD, a passive port range) and vsftpd (plain FTP, LIST only, anonymous: the legacy box that lets
 * anyone read). Both serve the tricky tree (`writeFtpTree`). Installed by scripts/install-peers.sh.
 */
import {createHash, randomBytes, X509Certificate} from 'node:crypto'
import {chmod, chown, lutimes, mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {connect} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {freePort} from './free-port.js'
import {peersDir, requireBinary} from './paths.js'
import {type ManagedProcess, run, startProcess, waitUntilReady} from './proc.js'
import {bigSampleContent} from './sample-tree.js'

export const PURE_FTPD = '/usr/sbin/pure-ftpd'
export const PURE_PW = '/usr/bin/pure-pw'
/** vsftpd conflicts with pure-ftpd as a Debian package (both provide ftp-server): install-peers.sh unpacks it here. */
export const VSFTPD = join(peersDir, 'bin', 'vsftpd')

/** One entry of the tricky tree; `path` is raw bytes, '/'-separated, relative to the tree root. */
export interface FtpTreeEntry {
  path: Buffer
  type: 'file' | 'dir'
  size: number
  sha256?: string
  /** whole seconds */
  mtime: number
}

export interface FtpPeer {
  server: 'pure-ftpd' | 'vsftpd'
  host: '127.0.0.1'
  port: number
  /** the passive (data) ports the server hands out */
  passivePorts: [number, number]
  user: string
  password: string
  /** explicit TLS (AUTH TLS) available; its certificate */
  tls?: {certFile: string; fingerprint: string}
  /** where the tree is on this machine, and where the login sees it (/partner1) */
  root: string
  ftpPath: string
  entries: FtpTreeEntry[]
  stop(): Promise<void>
}

/** The tree's directory in what the login sees: a partner's folder, as on a real box. */
const TREE = 'partner1'

/** A started server as the tests see it; stopping it also removes its directory (configuration, tree, logs). */
function peerOf(dir: string, proc: ManagedProcess, peer: Omit<FtpPeer, 'host' | 'ftpPath' | 'stop'>): FtpPeer {
  return {
    ...peer,
    host: '127.0.0.1',
    ftpPath: `/${TREE}`,
    stop: async () => {
      await proc.stop()
      await rm(dir, {recursive: true, force: true})
    },
  }
}

const BASE_MTIME = Date.UTC(2023, 5, 1, 8, 30, 0) / 1000

/**
 * The tree both servers serve: spaces, a leading dash, a name that is not UTF-8 (latin1 "café"), an empty file and
 * an empty directory, a dotfile, deep nesting and a large file (above the multipart threshold, with an odd tail).
 */
export async function writeFtpTree(root: string, owner: {uid: number; gid: number}, big: Buffer = bigSampleContent()): Promise<FtpTreeEntry[]> {
  const b = (s: string) => Buffer.from(s, 'utf8')
  const dirs = [b('with space'), b('empty-dir'), b('deep'), b('deep/a'), b('deep/a/b'), b('deep/a/b/c'), b('deep/a/b/c/d'), b('data')]
  const files: Array<{path: Buffer; content: Buffer}> = [
    {path: b('readme.txt'), content: b('the legacy FTP box\n')},
    {path: b('.hidden.txt'), content: b('dotfile\n')},
    {path: b('-leading-dash.txt'), content: b('a name that looks like an option\n')},
    {path: b('with space/file  with two spaces.txt'), content: b('spaces\n')},
    {path: Buffer.concat([b('caf'), Buffer.from([0xe9]), b('.txt')]), content: b('latin1 name\n')},
    {path: b('data/empty.dat'), content: Buffer.alloc(0)},
    {path: b('data/big.bin'), content: big},
    {path: b('deep/a/b/c/d/leaf.txt'), content: b('leaf\n')},
  ]
  const abs = (p: Buffer) => Buffer.concat([b(root + '/'), p])
  for (const d of dirs) {
    await mkdir(abs(d))
    await chown(abs(d), owner.uid, owner.gid)
    await chmod(abs(d), 0o755)
  }
  const entries: FtpTreeEntry[] = []
  let i = 0
  for (const f of files) {
    await writeFile(abs(f.path), f.content)
    await chown(abs(f.path), owner.uid, owner.gid)
    await chmod(abs(f.path), 0o644)
    const mtime = BASE_MTIME + 3600 * i++
    await lutimes(abs(f.path), mtime, mtime)
    entries.push({path: f.path, type: 'file', size: f.content.length, sha256: createHash('sha256').update(f.content).digest('hex'), mtime})
  }
  for (const d of [...dirs].reverse()) {
    const mtime = BASE_MTIME + 3600 * i++
    await lutimes(abs(d), mtime, mtime)
    entries.push({path: d, type: 'dir', size: 0, mtime})
  }
  return entries.sort((x, y) => Buffer.compare(x.path, y.path))
}

/** Resolves once something on host:port greets with an FTP 220. */
async function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({host: '127.0.0.1', port})
    const done = (ok: boolean) => {
      s.destroy()
      resolve(ok)
    }
    s.setTimeout(2000, () => done(false))
    s.once('data', (d) => done(d.toString('latin1').startsWith('220')))
    s.once('error', () => done(false))
  })
}

/**
 * A free block of `count` ports for passive data connections (checked one by one; another process may still take
 * one). pure-ftpd admits at most half as many users as it has passive ports.
 */
async function passiveRange(count = 128): Promise<[number, number]> {
  for (;;) {
    const low = 20_000 + Math.floor(Math.random() * 30_000)
    const ports = Array.from({length: count}, (_, k) => low + k)
    const free = await Promise.all(ports.map((p) => isFree(p)))
    if (free.every(Boolean)) return [low, low + count - 1]
  }
}

async function isFree(port: number): Promise<boolean> {
  const {createServer} = await import('node:net')
  return new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen({host: '127.0.0.1', port, exclusive: true}, () => srv.close(() => resolve(true)))
  })
}

async function startServer(name: string, command: string, args: () => Promise<{args: string[]; port: number}>): Promise<{proc: ManagedProcess; port: number}> {
  for (let attempt = 1; ; attempt++) {
    const {args: argv, port} = await args()
    const proc = startProcess(name, command, argv)
    try {
      await waitUntilReady(proc, () => greets(port), {timeoutMs: 15_000, what: `did not greet on 127.0.0.1:${port}`})
      return {proc, port}
    } catch (err) {
      await proc.stop()
      if (attempt < 3) continue
      throw err
    }
  }
}

/** A generated self-signed certificate (dir/pure-ftpd.pem: key and certificate in one PEM, as pure-ftpd wants it), its SHA-256. */
async function selfSignedCert(dir: string): Promise<{certFile: string; fingerprint: string}> {
  const keyFile = join(dir, 'key.pem')
  const crtFile = join(dir, 'cert.pem')
  await run('/usr/bin/openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=legacy-ftp.test', '-keyout', keyFile, '-out', crtFile])
  const cert = await readFile(crtFile)
  await writeFile(join(dir, 'pure-ftpd.pem'), Buffer.concat([await readFile(keyFile), cert]), {mode: 0o600})
  await rm(keyFile)
  return {certFile: crtFile, fingerprint: new X509Certificate(cert).fingerprint256}
}

/** pure-ftpd with one virtual user (chrooted to the tree), explicit TLS, MLSD and a passive range on 127.0.0.1. */
export async function startPureFtpd(opts: {big?: Buffer; passivePorts?: number} = {}): Promise<FtpPeer> {
  requireBinary('pure-ftpd', PURE_FTPD)
  const dir = await mkdtemp(join(tmpdir(), 'sftp-cutover-pureftpd-'))
  try {
    const root = join(dir, 'home')
    await mkdir(root)
    const owner = {uid: 65534, gid: 65534}
    await chown(root, owner.uid, owner.gid)
    const tree = join(root, TREE)
    await mkdir(tree)
    await chown(tree, owner.uid, owner.gid)
    const entries = await writeFtpTree(tree, owner, opts.big)
    const user = `ftp${randomBytes(3).toString('hex')}`
    const password = randomBytes(12).toString('base64url')
    const passwd = join(dir, 'pureftpd.passwd')
    const pdb = join(dir, 'pureftpd.pdb')
    await run(PURE_PW, ['useradd', user, '-u', String(owner.uid), '-g', String(owner.gid), '-d', root, '-f', passwd], {input: `${password}\n${password}\n`})
    // pure-pw hashes with argon2id at 1023 passes: seconds of CPU per login on a busy 2-core machine, and logins
    // time out when a pool opens 16 at once. A SHA-512 crypt hash (which pure-ftpd also accepts) keeps logins quick.
    const sha512 = (await run('/usr/bin/openssl', ['passwd', '-6', '-stdin'], {input: `${password}\n`})).stdout.trim()
    const line = (await readFile(passwd, 'utf8')).trim().split(':')
    line[1] = sha512
    await writeFile(passwd, line.join(':') + '\n', {mode: 0o600})
    await run(PURE_PW, ['mkdb', pdb, '-f', passwd])
    const cert = await selfSignedCert(dir)
    const pem = join(dir, 'pure-ftpd.pem')
    const passivePorts = await passiveRange(opts.passivePorts)
    const {proc, port} = await startServer('pure-ftpd', PURE_FTPD, async () => {
      const p = await freePort()
      // -E: no anonymous logins; -Y 1: TLS allowed (explicit, AUTH TLS); -H: no DNS lookups; -A: chroot everyone
      return {port: p, args: ['-S', `127.0.0.1,${p}`, '-p', `${passivePorts[0]}:${passivePorts[1]}`, '-P', '127.0.0.1', '-l', `puredb:${pdb}`, '-E', '-H', '-A', '-Y', '1', '-2', pem, '-c', '100', '-C', '100']}
    })
    return peerOf(dir, proc, {server: 'pure-ftpd', port, passivePorts, user, password, tls: cert, root: tree, entries})
  } catch (err) {
    await rm(dir, {recursive: true, force: true})
    throw err
  }
}

/** vsftpd, plain FTP, anonymous read-only (LIST only: vsftpd has no MLSD), a passive range on 127.0.0.1. */
export async function startVsftpd(opts: {big?: Buffer} = {}): Promise<FtpPeer> {
  requireBinary('vsftpd', VSFTPD)
  const dir = await mkdtemp(join(tmpdir(), 'sftp-cutover-vsftpd-'))
  try {
    const root = join(dir, 'pub')
    await mkdir(root)
    await chmod(dir, 0o755)
    await chmod(root, 0o555)
    const tree = join(root, TREE)
    await mkdir(tree, {mode: 0o755})
    const entries = await writeFtpTree(tree, {uid: 0, gid: 0}, opts.big)
    const empty = join(dir, 'empty')
    await mkdir(empty)
    const passivePorts = await passiveRange()
    const {proc, port} = await startServer('vsftpd', VSFTPD, async () => {
      const p = await freePort()
      const conf = join(dir, `vsftpd-${p}.conf`)
      await writeFile(
        conf,
        [
          'listen=YES',
          'listen_address=127.0.0.1',
          `listen_port=${p}`,
          'background=NO',
          'seccomp_sandbox=NO',
          'anonymous_enable=YES',
          'no_anon_password=YES',
          `anon_root=${root}`,
          'local_enable=NO',
          'write_enable=NO',
          'force_dot_files=YES',
          'pasv_enable=YES',
          'pasv_address=127.0.0.1',
          `pasv_min_port=${passivePorts[0]}`,
          `pasv_max_port=${passivePorts[1]}`,
          `secure_chroot_dir=${empty}`,
          'ftp_username=daemon', // an account whose home exists: vsftpd changes into it before anon_root
          'nopriv_user=nobody',
          'max_per_ip=50',
          'xferlog_enable=NO',
          'use_localtime=NO',
          '',
        ].join('\n'),
        {mode: 0o600},
      )
      return {port: p, args: [conf]}
    })
    return peerOf(dir, proc, {server: 'vsftpd', port, passivePorts, user: 'anonymous', password: 'migration@example.com', root: tree, entries})
  } catch (err) {
    await rm(dir, {recursive: true, force: true})
    throw err
  }
}

/**
 * Both FTP peers for a jest test file: started before its tests, stopped after them. Read `peers.pure` and `peers.vs`
 * inside tests (they are set once beforeAll has run).
 */
export function useFtpPeers(): {pure: FtpPeer; vs: FtpPeer} {
  const peers = {} as {pure: FtpPeer; vs: FtpPeer}
  beforeAll(async () => {
    ;[peers.pure, peers.vs] = await Promise.all([startPureFtpd(), startVsftpd()])
  })
  afterAll(async () => {
    await Promise.allSettled([peers.pure?.stop(), peers.vs?.stop()])
  })
  return peers
}
