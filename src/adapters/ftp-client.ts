import {Client, FileType, type FileInfo, FTPError} from 'basic-ftp'
import {readFile} from 'node:fs/promises'
import {PassThrough} from 'node:stream'
import {connect as tlsConnect, type ConnectionOptions, createSecureContext, type PeerCertificate, type TLSSocket} from 'node:tls'

import {configSetHint, type SourceProtocol} from '../core/config.js'
import {CliError, ExitCode, errorMessage} from '../core/errors.js'
import {type SourceAttrs, type SourceDirEntry, type SourceFs, SourceLinkError, SourceStatusError} from '../core/source.js'

/**
 * A read-only FTP/FTPS session behind the source port (one control connection, basic-ftp).
 *
 * Names are bytes: the control connection is read and written as latin1, which maps every byte to one character and
 * back, so a name the box stores in its own encoding (no OPTS UTF8) is kept exactly: Buffer.from(name, 'latin1').
 * One control connection carries one thing at a time: operations queue on it, and a file is read by one REST + RETR
 * whose data connection stays open across consecutive readRange calls (sync reads a file front to back); a read that
 * must stop early replaces the connection, as FTP has no reliable way to stop a RETR and keep the session.
 */

/** How to reach and trust an FTP box (the source.* configuration). Holds the name of the secret, never the secret. */
export interface FtpTarget {
  protocol: SourceProtocol
  host: string
  port: number
  username: string
  passwordEnv?: string
  tlsCaFile?: string
  tlsFingerprint?: string
}

export interface FtpCredentials {
  password: string
}

export type FtpErrorCode = 'SOURCE_UNREACHABLE' | 'CERTIFICATE_REJECTED' | 'AUTH_FAILED' | 'FTP_FAILED'

export class FtpError extends SourceLinkError {
  constructor(message: string, code: FtpErrorCode, opts: {suggestions?: string[]; transient?: boolean; cause?: unknown} = {}) {
    super(message, {code, exitCode: code === 'CERTIFICATE_REJECTED' ? ExitCode.problems : ExitCode.failure, transient: opts.transient, suggestions: opts.suggestions, cause: opts.cause})
  }
}

/** An FTP reply code other than success for one path (the session is fine). */
export class FtpStatusError extends SourceStatusError {
  constructor(code: number, message: string, path?: Buffer) {
    super(message, String(code), kindOf(code, message), path)
    this.name = 'FtpStatusError'
  }
}

function kindOf(code: number, message: string): SourceStatusError['kind'] {
  if (code === 550 || code === 450) {
    if (/permission|denied|access/i.test(message)) return 'permission-denied'
    if (/no such|not found|doesn.t exist|does not exist|can.t check for file existence|could not get file/i.test(message)) return 'not-found'
  }
  return 'other'
}

/** The password: from the variable source.passwordEnv names, or asked for. FTP has no other way to log in. */
export async function resolveFtpCredentials(target: FtpTarget, env: NodeJS.ProcessEnv, askSecret?: (message: string) => Promise<string>): Promise<FtpCredentials> {
  const password = target.passwordEnv ? env[target.passwordEnv] : undefined
  if (password !== undefined) return {password}
  if (askSecret) return {password: await askSecret(`FTP password for ${target.username}@${target.host}`)}
  throw new CliError(target.passwordEnv ? `source.passwordEnv names ${target.passwordEnv}, which is not set` : 'FTP logs in with a password and none is available', {
    exitCode: ExitCode.usage,
    code: 'PASSWORD_NEEDED',
    suggestions: [
      target.passwordEnv
        ? `Export ${target.passwordEnv} with the password, or run in a terminal to be asked.`
        : `Name the variable that holds it: ${configSetHint('source.passwordEnv', 'FTP_PASSWORD')} (or run in a terminal to be asked).`,
    ],
  })
}

const normalizeFingerprint = (fp: string) => fp.replace(/:/g, '').toUpperCase()

export interface CertificateInfo {
  fingerprint: string
  subject: string
  issuer: string
  validTo: string
  selfSigned: boolean
}

function describeCert(cert: PeerCertificate): CertificateInfo {
  const name = (n: Record<string, string | string[]> | undefined) => (n ? Object.entries(n).map(([k, v]) => `${k}=${String(v)}`).join(', ') : '')
  return {fingerprint: cert.fingerprint256, subject: name(cert.subject as unknown as Record<string, string>), issuer: name(cert.issuer as unknown as Record<string, string>), validTo: cert.valid_to, selfSigned: name(cert.subject as unknown as Record<string, string>) === name(cert.issuer as unknown as Record<string, string>)}
}

/**
 * The TLS options that verify the server: against the CA file (chain and host name), or against the pinned SHA-256
 * of its certificate. For a pin, the certificate itself is the trust anchor and the check is its fingerprint, so a
 * self-signed certificate works and nothing else does. There is no option that skips verification.
 */
async function trustOptions(target: FtpTarget): Promise<ConnectionOptions> {
  const opts: ConnectionOptions = {host: target.host, servername: /^[\d.]+$|:/.test(target.host) ? undefined : target.host, rejectUnauthorized: true}
  if (target.tlsCaFile) {
    try {
      // One secure context for the session: given as `ca`, every data connection would parse the CA again.
      opts.secureContext = createSecureContext({ca: await readFile(target.tlsCaFile)})
    } catch (err) {
      throw new CliError(`cannot read source.tlsCaFile ${target.tlsCaFile}: ${errorMessage(err)}`, {exitCode: ExitCode.usage, code: 'TLS_CA_FILE', suggestions: [`Point it at the PEM file of the CA: ${configSetHint('source.tlsCaFile', '/path/to/ca.pem')}`]})
    }
  }
  return opts
}

function mismatch(target: FtpTarget, seen: string): FtpError {
  return new FtpError(
    `${target.host}:${target.port} presented a TLS certificate with SHA-256 ${seen}, not the pinned ${target.tlsFingerprint}. Refusing to log in: this may be another server or an interception.`,
    'CERTIFICATE_REJECTED',
    {suggestions: ['Ask the box\'s administrator for the certificate\'s fingerprint (openssl x509 -noout -fingerprint -sha256 -in CERT); if it was replaced, pin the new one: ' + configSetHint('source.tlsFingerprint', seen)]},
  )
}

/** Checks the certificate of a TLS socket against the pin (the CA chain is checked by the TLS layer itself). */
function checkPin(target: FtpTarget, socket: TLSSocket): void {
  if (!target.tlsFingerprint) return
  const seen = socket.getPeerCertificate().fingerprint256
  if (!seen || normalizeFingerprint(seen) !== normalizeFingerprint(target.tlsFingerprint)) throw mismatch(target, seen ?? 'none')
}

function linkError(target: FtpTarget, err: unknown, during: string): Error {
  if (err instanceof CliError || err instanceof SourceStatusError) return err
  const code = (err as NodeJS.ErrnoException).code
  const message = errorMessage(err)
  if (err instanceof FTPError && (err.code === 530 || err.code === 430)) {
    return new FtpError(`the FTP server refused the login of ${target.username}: ${message}`, 'AUTH_FAILED', {suggestions: ['Check source.username and the password in the variable source.passwordEnv names.']})
  }
  if (/certificate|self.signed|unable to verify|altnames|CERT_/i.test(message) || /^(ERR_TLS_CERT|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO)/.test(code ?? '')) {
    return new FtpError(`the TLS certificate of ${target.host}:${target.port} could not be verified: ${message}`, 'CERTIFICATE_REJECTED', {
      suggestions: [`Pin the certificate the box's administrator confirms (sftp-cutover init shows it): ${configSetHint('source.tlsFingerprint', 'AB:CD:...')}, or name the CA: ${configSetHint('source.tlsCaFile', '/path/to/ca.pem')}`],
    })
  }
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENOTFOUND' || code === 'ETIMEDOUT') {
    return new FtpError(`cannot reach ${target.host}:${target.port} (${message}) while ${during}`, 'SOURCE_UNREACHABLE', {transient: code !== 'ENOTFOUND', cause: err})
  }
  if (err instanceof FTPError) return new FtpError(`the FTP server answered ${message} while ${during}`, 'FTP_FAILED', {cause: err})
  return new FtpError(`the FTP connection failed while ${during}: ${message}`, 'FTP_FAILED', {transient: true, cause: err})
}

/** True when the box lets anyone log in as anonymous (over the configured protocol, certificate verified as always). */
export async function acceptsAnonymous(target: FtpTarget): Promise<boolean> {
  try {
    const session = await FtpSession.connect({...target, username: 'anonymous'}, {password: 'sftp-cutover@inventory.invalid'}, {timeoutMs: 15_000})
    session.end()
    return true
  } catch (err) {
    if (err instanceof FtpError && err.code === 'AUTH_FAILED') return false
    throw err
  }
}

/** Connects and returns the certificate the server presents (explicit or implicit TLS), verifying nothing: for init to show. */
export async function probeCertificate(target: Pick<FtpTarget, 'host' | 'port' | 'protocol'>, timeoutMs = 10_000): Promise<CertificateInfo> {
  const client = new Client(timeoutMs)
  try {
    if (target.protocol === 'ftps-implicit') {
      // Only the certificate is read: the connection is closed before anything is sent.
      const socket = await new Promise<TLSSocket>((resolve, reject) => {
        const s = tlsConnect({host: target.host, port: target.port, rejectUnauthorized: false}, () => resolve(s))
        s.once('error', reject)
        s.setTimeout(timeoutMs, () => s.destroy(new Error('timed out')))
      })
      const info = describeCert(socket.getPeerCertificate())
      socket.destroy()
      return info
    }
    await client.connect(target.host, target.port)
    await client.useTLS({host: target.host, rejectUnauthorized: false})
    return describeCert((client.ftp.socket as TLSSocket).getPeerCertificate())
  } finally {
    client.close()
  }
}

/** FEAT's answer, upper-case names. */
export type Features = Map<string, string>

const MLST_FACTS = 'type;size;modify;UNIX.mode;UNIX.uid;UNIX.gid;'

interface ActiveRead {
  /** next file offset the stream will deliver */
  pos: number
  /** bytes received and not yet handed out */
  held?: Buffer
  sink: PassThrough
  /** resolves when the server confirmed the transfer (226) */
  done: Promise<void>
  failed?: unknown
  ended: boolean
}

interface OpenFile {
  path: string
  size: number
  read?: ActiveRead
}

const latin1 = (p: Buffer | string) => (typeof p === 'string' ? Buffer.from(p, 'utf8').toString('latin1') : p.toString('latin1'))

/** "20230601083000" or "20230601083000.123" (UTC) -> seconds */
function parseFtpTime(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})/.exec(text.trim())
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) / 1000 : undefined
}

/** One MLST/MLSD line: "fact=value;fact=value; name" */
function parseFacts(line: string): {facts: Map<string, string>; name: string} {
  const space = line.indexOf(' ')
  const facts = new Map<string, string>()
  for (const part of line.slice(0, space).split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0) facts.set(part.slice(0, eq).toLowerCase(), part.slice(eq + 1))
  }
  return {facts, name: line.slice(space + 1)}
}

function attrsFromFacts(facts: Map<string, string>): SourceAttrs {
  const type = (facts.get('type') ?? '').toLowerCase()
  const typeBits = type === 'dir' || type === 'cdir' || type === 'pdir' ? 0o040000 : type.includes('slink') || type.includes('symlink') ? 0o120000 : type === 'file' ? 0o100000 : 0
  const perm = facts.has('unix.mode') ? parseInt(facts.get('unix.mode')!, 8) & 0o7777 : 0
  const mtime = parseFtpTime(facts.get('modify') ?? '') ?? 0
  return {size: Number(facts.get('size') ?? facts.get('sizd') ?? 0), uid: Number(facts.get('unix.uid') ?? 0) || 0, gid: Number(facts.get('unix.gid') ?? 0) || 0, mode: typeBits | perm, atime: mtime, mtime}
}

export interface FtpSessionOptions {
  timeoutMs?: number
  /**
   * An idle session sends NOOP this often, so that the server and firewalls in between do not drop it (default 60 s;
   * 0: never). While a file streams, the control connection carries nothing (a NOOP then would be answered after the
   * transfer, out of step with basic-ftp's replies), so TCP keep-alive probes keep it open instead.
   */
  keepAliveMs?: number
  /** called with basic-ftp's protocol log (commands and replies; PASS is masked) */
  log?: (line: string) => void
}

export class FtpSession implements SourceFs {
  readonly limits = {maxReadLen: 256 * 1024}
  private queue: Promise<unknown> = Promise.resolve()
  private readonly files = new Map<number, OpenFile>()
  private nextHandle = 1
  private readonly links = new Map<string, string>()
  private closeListeners: Array<(err?: Error) => void> = []
  private closedError?: Error
  private busy = 0
  private lastUsed = Date.now()
  private keepAlive?: NodeJS.Timeout
  /** the server refused TYPE I: ASCII transfers rewrite line ends, so no file is read */
  asciiOnly = false

  private constructor(
    private readonly client: Client,
    private readonly target: FtpTarget,
    readonly features: Features,
    readonly welcome: string,
  ) {
    client.ftp.socket.once('close', () => this.markClosed(new FtpError('the FTP control connection closed', 'FTP_FAILED', {transient: true})))
  }

  /** NOOP on an idle session every `ms`; TCP keep-alive probes on the control connection while files stream. */
  private startKeepAlive(ms: number): void {
    this.client.ftp.socket.setKeepAlive(true, Math.min(ms, 30_000))
    if (ms <= 0) return
    this.keepAlive = setInterval(() => {
      // not while a RETR is open (between two parts of a file): only its 226 may come next on the control connection
      if (this.busy > 0 || Date.now() - this.lastUsed < ms || [...this.files.values()].some((f) => f.read)) return
      this.exclusive(() => this.client.send('NOOP')).catch(() => undefined)
    }, Math.max(50, Math.floor(ms / 2)))
    this.keepAlive.unref()
  }

  /** Connects, verifies the certificate (ftps), logs in, and sets binary mode and the MLST facts. */
  static async connect(target: FtpTarget, creds: FtpCredentials, opts: FtpSessionOptions = {}): Promise<FtpSession> {
    const client = new Client(opts.timeoutMs ?? 30_000)
    client.ftp.encoding = 'latin1'
    if (opts.log) {
      client.ftp.verbose = true
      client.ftp.log = (line: string) => opts.log!(line.replace(/PASS .*/, 'PASS ###'))
    }
    try {
      let welcome: string
      const tls = target.protocol === 'ftp' ? undefined : await trustOptions(target)
      // A pin is checked by fingerprint after the handshake (the chain of a self-signed certificate cannot verify).
      const handshake = tls && target.tlsFingerprint && !target.tlsCaFile ? {...tls, rejectUnauthorized: false} : tls
      if (target.protocol === 'ftps-implicit') welcome = (await client.connectImplicitTLS(target.host, target.port, handshake)).message
      else welcome = (await client.connect(target.host, target.port)).message
      if (target.protocol === 'ftps') await client.useTLS(handshake)
      if (tls) {
        const socket = client.ftp.socket as TLSSocket
        checkPin(target, socket)
        // Data connections: the same certificate, now known, is their only trust anchor, and its fingerprint is checked again.
        const cert = socket.getPeerCertificate(true)
        if (target.tlsFingerprint) {
          const pem = `-----BEGIN CERTIFICATE-----\n${cert.raw.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`
          const ca = target.tlsCaFile ? [pem, await readFile(target.tlsCaFile)] : [pem]
          client.ftp.tlsOptions = {
            ...tls,
            // one context for every data connection of the session (a `ca` option builds one per connection)
            secureContext: createSecureContext({ca}),
            rejectUnauthorized: true,
            checkServerIdentity: (_host, c) => (normalizeFingerprint(c.fingerprint256) === normalizeFingerprint(target.tlsFingerprint!) ? undefined : mismatch(target, c.fingerprint256)),
          }
        }
      }
      await client.login(target.username, creds.password)
      const features = await client.features()
      const binary = await client.sendIgnoringError('TYPE I')
      if (features.has('MLST')) await client.sendIgnoringError(`OPTS MLST ${MLST_FACTS}`)
      if (tls) {
        await client.send('PBSZ 0')
        await client.send('PROT P')
      }
      if (features.has('MLST')) (client as unknown as {availableListCommands: string[]}).availableListCommands = ['MLSD']
      const session = new FtpSession(client, target, new Map([...features].map(([k, v]) => [k.toUpperCase(), v])), welcome)
      session.asciiOnly = binary.code >= 400
      session.startKeepAlive(opts.keepAliveMs ?? 60_000)
      return session
    } catch (err) {
      client.close()
      throw linkError(target, err, 'connecting')
    }
  }

  get closed(): boolean {
    return this.closedError !== undefined
  }

  onClose(fn: (err?: Error) => void): void {
    this.closeListeners.push(fn)
  }

  private markClosed(err: Error): void {
    if (this.closedError) return
    this.closedError = err
    clearInterval(this.keepAlive)
    for (const f of this.closeListeners.splice(0)) f(err)
  }

  end(): void {
    this.markClosed(new FtpError('the FTP session was closed', 'FTP_FAILED'))
    this.client.close()
  }

  /** Runs fn alone on the control connection (FTP carries one command at a time). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.busy++
    const run = this.queue.then(async () => {
      try {
        if (this.closedError) throw this.closedError
        return await fn()
      } catch (err) {
        throw this.translate(err)
      } finally {
        this.busy--
        this.lastUsed = Date.now()
      }
    })
    this.queue = run.catch(() => undefined)
    return run
  }

  private translate(err: unknown, path?: Buffer): Error {
    // 421 service closing, 425 no data connection, 426 transfer aborted (the data connection broke), 451 local
    // error: the link failed, not the file; worth another connection.
    if (err instanceof FTPError && [421, 425, 426, 451].includes(err.code)) return new FtpError(`the FTP server answered ${err.message}`, 'FTP_FAILED', {transient: true, cause: err})
    if (err instanceof FTPError && err.code >= 400 && err.code < 600 && !this.client.closed) return new FtpStatusError(err.code, err.message, path)
    if (this.client.closed) this.markClosed(linkError(this.target, err, 'reading'))
    const e = linkError(this.target, err, 'reading')
    return e instanceof FtpError ? new FtpError(e.message, e.code as FtpErrorCode, {transient: this.client.closed || e.transient, cause: err}) : e
  }

  /** A read still streaming when something else needs the control connection: finished if fully read, else the session is given up. */
  private async settle(): Promise<void> {
    for (const f of this.files.values()) if (f.read) await this.finishRead(f)
  }

  private async finishRead(f: OpenFile): Promise<void> {
    const r = f.read
    if (!r) return
    f.read = undefined
    if (r.ended || r.pos >= f.size) {
      // Everything asked for arrived: drain what is left (the file grew) and wait for the server's 226.
      r.sink.resume()
      await r.done
      return
    }
    // Stopping a RETR midway leaves the control connection in an unknown state: replace the connection.
    this.end()
    throw new FtpError('a read stopped before the end of the file; the FTP connection is replaced', 'FTP_FAILED', {transient: true})
  }

  private async command(cmd: string): Promise<string> {
    return (await this.client.send(cmd)).message
  }

  async realpath(path: Buffer | string): Promise<Buffer> {
    return this.exclusive(async () => {
      await this.settle()
      const p = latin1(path)
      if (p === '.' || p === '') return Buffer.from(await this.client.pwd(), 'latin1')
      const normalized = ('/' + p).replace(/\/+/g, '/').replace(/(.)\/$/, '$1')
      return Buffer.from(normalized, 'latin1')
    })
  }

  async stat(path: Buffer | string): Promise<SourceAttrs> {
    return this.exclusive(async () => {
      await this.settle()
      return this.statNow(latin1(path))
    })
  }

  lstat(path: Buffer | string): Promise<SourceAttrs> {
    return this.stat(path)
  }

  private async statNow(p: string): Promise<SourceAttrs> {
    try {
      if (this.features.has('MLST')) {
        const text = await this.command(`MLST ${p}`)
        const line = text.split(/\r?\n/).find((l) => /^ ?[A-Za-z.]+=/.test(l))
        if (!line) throw new FtpStatusError(550, `no facts in the MLST answer for ${p}`, Buffer.from(p, 'latin1'))
        return attrsFromFacts(parseFacts(line.trimStart()).facts)
      }
      // LIST-only servers: SIZE and MDTM answer for files; a directory is one we can change into.
      const size = await this.client.size(p).catch(async (err: unknown) => {
        if (err instanceof FTPError && err.code >= 500) {
          const cwd = await this.client.pwd()
          const isDir = await this.client.cd(p).then(
            () => true,
            () => false,
          )
          if (isDir) {
            await this.client.cd(cwd)
            return -1
          }
        }
        throw err
      })
      if (size < 0) return {size: 0, uid: 0, gid: 0, mode: 0o040000, atime: 0, mtime: 0}
      const mtime = await this.mdtm(p)
      return {size, uid: 0, gid: 0, mode: 0o100000, atime: mtime, mtime}
    } catch (err) {
      if (err instanceof FTPError) throw new FtpStatusError(err.code, err.message, Buffer.from(p, 'latin1'))
      throw err
    }
  }

  private async mdtm(p: string): Promise<number> {
    const text = await this.command(`MDTM ${p}`)
    const t = parseFtpTime(text.slice(4))
    if (t === undefined) throw new FtpStatusError(550, `MDTM gave no time for ${p}: ${text}`, Buffer.from(p, 'latin1'))
    return t
  }

  async readlink(path: Buffer | string): Promise<Buffer> {
    const target = this.links.get(latin1(path))
    if (target === undefined) throw new FtpStatusError(550, 'the listing showed no link target', typeof path === 'string' ? Buffer.from(path) : path)
    return Buffer.from(target, 'latin1')
  }

  /**
   * The entries of a directory: MLSD facts where the server has them, else LIST (parsed by basic-ftp), whose times are
   * coarse: then each file's exact mtime comes from MDTM.
   */
  async readdir(path: Buffer | string): Promise<SourceDirEntry[]> {
    return this.exclusive(async () => {
      await this.settle()
      const p = latin1(path)
      try {
        await this.client.cd(p)
      } catch (err) {
        if (err instanceof FTPError) throw new FtpStatusError(err.code, err.message, Buffer.from(p, 'latin1'))
        throw err
      }
      const listed = await this.client.list()
      const out: SourceDirEntry[] = []
      const mlsd = this.features.has('MLST')
      for (const f of listed) {
        if (f.name === '.' || f.name === '..' || f.name === '') continue
        const attrs = mlsd ? attrsFromInfo(f) : await this.listAttrs(p, f)
        if (f.type === FileType.SymbolicLink && f.link) this.links.set(`${p.replace(/\/$/, '')}/${f.name}`, f.link)
        out.push(f.hardLinkCount === undefined ? {name: Buffer.from(f.name, 'latin1'), attrs} : {name: Buffer.from(f.name, 'latin1'), attrs, links: f.hardLinkCount})
      }
      return out
    })
  }

  private async listAttrs(dir: string, f: FileInfo): Promise<SourceAttrs> {
    const attrs = attrsFromInfo(f)
    if (f.type === FileType.File) {
      attrs.mtime = attrs.atime = await this.mdtm(`${dir.replace(/\/$/, '')}/${f.name}`).catch(() => attrs.mtime)
    }
    return attrs
  }

  /** Opens a file for reading: it must exist now (its size is what readRange reads up to). */
  async openRead(path: Buffer | string): Promise<Buffer> {
    return this.exclusive(async () => {
      await this.settle()
      const p = latin1(path)
      if (this.asciiOnly) throw new FtpStatusError(504, 'the server transfers only in ASCII mode (TYPE I refused), which would alter the bytes', Buffer.from(p, 'latin1'))
      const st = await this.statNow(p)
      if ((st.mode & 0o170000) === 0o040000) throw new FtpStatusError(550, `${p} is a directory`, Buffer.from(p, 'latin1'))
      const id = this.nextHandle++
      this.files.set(id, {path: p, size: st.size})
      const h = Buffer.alloc(4)
      h.writeUInt32BE(id)
      return h
    })
  }

  private file(handle: Buffer): OpenFile {
    const f = this.files.get(handle.readUInt32BE(0))
    if (!f) throw new FtpStatusError(550, 'the file is not open')
    return f
  }

  async fstat(handle: Buffer): Promise<SourceAttrs> {
    return this.exclusive(async () => {
      const f = this.file(handle)
      await this.settle()
      return this.statNow(f.path)
    })
  }

  async close(handle: Buffer): Promise<void> {
    return this.exclusive(async () => {
      const f = this.files.get(handle.readUInt32BE(0))
      this.files.delete(handle.readUInt32BE(0))
      if (f?.read) await this.finishRead(f)
    })
  }

  /** REST + RETR from `offset`; the data connection's bytes wait in a bounded buffer (backpressure) for readRange. */
  private startRead(f: OpenFile, offset: number): ActiveRead {
    const sink = new PassThrough({highWaterMark: 4 * 1024 * 1024})
    const r: ActiveRead = {pos: offset, sink, ended: false, done: Promise.resolve()}
    r.done = this.client.downloadTo(sink, f.path, offset).then(
      () => undefined,
      (err: unknown) => {
        r.failed = err
        sink.destroy()
        const e = this.translate(err, Buffer.from(f.path, 'latin1'))
        // A transfer that broke (not a refusal such as 550) leaves the control connection in doubt: replace it.
        if (!(e instanceof FtpStatusError)) this.end()
        throw e instanceof FtpError ? new FtpError(e.message, e.code as FtpErrorCode, {transient: true, cause: err}) : e
      },
    )
    r.done.catch(() => undefined)
    sink.on('end', () => (r.ended = true))
    return r
  }

  /** The next chunk of an active read, or null at the end of the file. */
  private async nextChunk(r: ActiveRead): Promise<Buffer | null> {
    if (r.held) {
      const b = r.held
      r.held = undefined
      return b
    }
    for (;;) {
      const chunk = r.sink.read() as Buffer | null
      if (chunk) return chunk
      if (r.ended || r.sink.readableEnded) {
        await r.done
        return null
      }
      if (r.failed) await r.done
      await new Promise<void>((resolve) => {
        const wake = () => {
          r.sink.off('readable', wake)
          r.sink.off('end', wake)
          r.sink.off('close', wake)
          resolve()
        }
        r.sink.once('readable', wake)
        r.sink.once('end', wake)
        r.sink.once('close', wake)
        r.done.catch(wake)
      })
    }
  }

  async readRange(handle: Buffer, offset: number, length: number, _inFlight: number, onChunk: (chunk: Buffer) => void | Promise<void>): Promise<number> {
    return this.exclusive(async () => {
      const f = this.file(handle)
      if (f.read && f.read.pos !== offset) await this.finishRead(f)
      if (!f.read) {
        await this.settle()
        f.read = this.startRead(f, offset)
      }
      const r = f.read
      let delivered = 0
      while (delivered < length) {
        const chunk = await this.nextChunk(r)
        if (chunk === null) break
        const take = Math.min(chunk.length, length - delivered)
        if (take < chunk.length) r.held = chunk.subarray(take)
        r.pos += take
        delivered += take
        await onChunk(take < chunk.length ? chunk.subarray(0, take) : chunk)
      }
      // At the end of the file (or of what was listed), the transfer is finished before anything else runs.
      if (delivered < length || r.pos >= f.size) await this.finishRead(f)
      return delivered
    })
  }

  /** HASH (with SHA-256 among its algorithms) or XSHA256, when FEAT lists one. */
  get serverHash(): string | undefined {
    if (/SHA-256/i.test(this.features.get('HASH') ?? '')) return 'HASH'
    return this.features.has('XSHA256') ? 'XSHA256' : undefined
  }

  /** The server's own SHA-256 of a file (hex), or undefined when it offers none or answers without one. */
  async serverSha256(path: Buffer | string): Promise<string | undefined> {
    const viaHash = this.serverHash === 'HASH'
    if (!this.serverHash) return undefined
    return this.exclusive(async () => {
      await this.settle()
      const p = latin1(path)
      if (viaHash) await this.command('OPTS HASH SHA-256')
      const text = await this.command(viaHash ? `HASH ${p}` : `XSHA256 ${p}`)
      return /\b([0-9a-fA-F]{64})\b/.exec(text)?.[1]?.toLowerCase()
    })
  }
}

function attrsFromInfo(f: FileInfo): SourceAttrs {
  const typeBits = f.type === FileType.Directory ? 0o040000 : f.type === FileType.SymbolicLink ? 0o120000 : f.type === FileType.File ? 0o100000 : 0
  const perm = f.permissions ? (f.permissions.user << 6) | (f.permissions.group << 3) | f.permissions.world : 0
  const mtime = f.modifiedAt ? Math.floor(f.modifiedAt.getTime() / 1000) : coarseListTime(f.rawModifiedAt)
  const num = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : 0)
  return {size: f.type === FileType.Directory ? 0 : f.size, uid: num(f.user), gid: num(f.group), mode: typeBits | perm, atime: mtime, mtime}
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']

/** "Jun 01 2023" or "Sep 23 18:12" (the last year) as UTC seconds: a LIST time, to the day or the minute. */
function coarseListTime(raw: string): number {
  const m = /^(\w{3})\s+(\d{1,2})\s+(?:(\d{4})|(\d{1,2}):(\d{2}))$/.exec(raw.trim())
  if (!m) return 0
  const month = MONTHS.indexOf(m[1].toLowerCase())
  if (month < 0) return 0
  if (m[3]) return Date.UTC(+m[3], month, +m[2]) / 1000
  const now = new Date()
  let t = Date.UTC(now.getUTCFullYear(), month, +m[2], +m[4], +m[5])
  if (t > now.getTime() + 86_400_000) t = Date.UTC(now.getUTCFullYear() - 1, month, +m[2], +m[4], +m[5])
  return t / 1000
}
