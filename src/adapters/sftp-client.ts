import {EventEmitter} from 'node:events'
import type {ClientChannel} from 'ssh2'

import {type SourceAttrs, type SourceDirEntry, type SourceFs, SourceStatusError} from '../core/source.js'
import {SshError, type SshSession} from './ssh.js'

/**
 * A read-only SFTP v3 client over an ssh2 session channel.
 *
 * Why not ssh2's own SFTP: it decodes every file name as UTF-8 and encodes paths as UTF-8, so a name that is not
 * valid UTF-8 comes back mangled and cannot be opened again. Legacy boxes have such names, and the inventory must
 * keep them byte-exact. Paths here are Buffers end to end. Being read-only is deliberate too: nothing in the
 * migration writes to the legacy box over SFTP.
 */

const T = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  LSTAT: 7,
  FSTAT: 8,
  OPENDIR: 11,
  READDIR: 12,
  REALPATH: 16,
  STAT: 17,
  READLINK: 19,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105,
  EXTENDED: 200,
  EXTENDED_REPLY: 201,
} as const

const STATUS = {OK: 0, EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3} as const
const STATUS_NAMES = ['OK', 'EOF', 'NO_SUCH_FILE', 'PERMISSION_DENIED', 'FAILURE', 'BAD_MESSAGE', 'NO_CONNECTION', 'CONNECTION_LOST', 'OP_UNSUPPORTED']
const ATTR = {SIZE: 0x1, UIDGID: 0x2, PERMISSIONS: 0x4, ACMODTIME: 0x8, EXTENDED: 0x80000000} as const
const OPEN_READ = 0x1
/** uint32 length, byte type, uint32 id, and for DATA the uint32 length of the bytes */
const FRAME_HEADER = 13

export type Attrs = SourceAttrs

export type DirEntry = SourceDirEntry

export interface SftpServerLimits {
  maxPacketLen: number
  maxReadLen: number
  maxWriteLen: number
  maxOpenHandles?: number
}

/** An SFTP status other than OK, with the path it concerns. */
export class SftpStatusError extends SourceStatusError {
  constructor(
    readonly status: number,
    message: string,
    path?: Buffer,
  ) {
    super(message, STATUS_NAMES[status] ?? `STATUS_${status}`, status === STATUS.NO_SUCH_FILE ? 'not-found' : status === STATUS.PERMISSION_DENIED ? 'permission-denied' : 'other', path)
    this.name = 'SftpStatusError'
  }
}

/** A reply; a DATA reply that arrived in several SSH packets keeps them as `segments` (its bytes, uncopied). */
type Reply = {type: number; body: Buffer; segments?: Buffer[]}
type Pending = {resolve: (r: Reply) => void; reject: (e: Error) => void}

/** Reads SFTP wire types from a buffer. */
class Reader {
  private pos = 0
  constructor(private readonly buf: Buffer) {}
  u32(): number {
    const v = this.buf.readUInt32BE(this.pos)
    this.pos += 4
    return v
  }
  u64(): number {
    const v = this.buf.readBigUInt64BE(this.pos)
    this.pos += 8
    return Number(v)
  }
  get done(): boolean {
    return this.pos >= this.buf.length
  }
  bytes(): Buffer {
    const len = this.u32()
    const v = this.buf.subarray(this.pos, this.pos + len)
    this.pos += len
    return v
  }
  attrs(): Attrs {
    const flags = this.u32()
    const a: Attrs = {size: 0, uid: 0, gid: 0, mode: 0, atime: 0, mtime: 0}
    if (flags & ATTR.SIZE) a.size = this.u64()
    if (flags & ATTR.UIDGID) {
      a.uid = this.u32()
      a.gid = this.u32()
    }
    if (flags & ATTR.PERMISSIONS) a.mode = this.u32()
    if (flags & ATTR.ACMODTIME) {
      a.atime = this.u32()
      a.mtime = this.u32()
    }
    if (flags & ATTR.EXTENDED) {
      const count = this.u32()
      for (let i = 0; i < count; i++) {
        this.bytes()
        this.bytes()
      }
    }
    return a
  }
}

function packet(type: number, id: number | undefined, ...fields: Array<Buffer | number | bigint>): Buffer {
  const parts: Buffer[] = []
  for (const f of fields) {
    if (Buffer.isBuffer(f)) {
      const len = Buffer.allocUnsafe(4)
      len.writeUInt32BE(f.length)
      parts.push(len, f)
    } else if (typeof f === 'bigint') {
      const b = Buffer.allocUnsafe(8)
      b.writeBigUInt64BE(f)
      parts.push(b)
    } else {
      const b = Buffer.allocUnsafe(4)
      b.writeUInt32BE(f)
      parts.push(b)
    }
  }
  const head = Buffer.allocUnsafe(id === undefined ? 5 : 9)
  const bodyLen = parts.reduce((n, p) => n + p.length, 0)
  head.writeUInt32BE(head.length - 4 + bodyLen, 0)
  head[4] = type
  if (id !== undefined) head.writeUInt32BE(id, 5)
  return Buffer.concat([head, ...parts])
}

const asPath = (p: Buffer | string): Buffer => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)

export class SftpClient extends EventEmitter implements SourceFs {
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private chunks: Buffer[] = []
  private outbox: Buffer[] = []
  private buffered = 0
  private closedError?: Error
  private versionWaiter?: (r: Reply) => void
  readonly extensions = new Map<string, string>()
  limits: SftpServerLimits = {maxPacketLen: 34000, maxReadLen: 32768, maxWriteLen: 32768}

  private constructor(private readonly channel: ClientChannel) {
    super()
    channel.on('data', (d: Buffer) => this.onData(d))
    channel.on('close', () => this.onClose(new SshError('the SFTP channel closed', 'SSH_FAILED', {transient: true})))
    channel.on('error', (err: Error) => this.onClose(new SshError(`the SFTP channel failed: ${err.message}`, 'SSH_FAILED', {transient: true, cause: err})))
  }

  /** Opens the sftp subsystem, negotiates version 3 and reads the server's limits (limits@openssh.com). */
  static async open(session: SshSession): Promise<SftpClient> {
    const channel = await new Promise<ClientChannel>((resolve, reject) => {
      session.client.subsys('sftp', (err, ch) => {
        if (!err) return resolve(ch)
        // Refused on a live connection: the server has no SFTP (not worth retrying). Failed because the connection
        // went away meanwhile (ssh2 emits 'close' before failing pending requests): a new connection may well work.
        if (session.closed) reject(new SshError(`the connection closed while opening the SFTP subsystem: ${err.message}`, 'SSH_FAILED', {transient: true, cause: err}))
        else reject(new SshError(`the SFTP subsystem is not available: ${err.message}`, 'SSH_FAILED', {cause: err}))
      })
    })
    const client = new SftpClient(channel)
    await client.init()
    return client
  }

  private async init(): Promise<void> {
    const version = await new Promise<Reply>((resolve, reject) => {
      this.versionWaiter = resolve
      this.once('close', reject)
      this.channel.write(packet(T.INIT, undefined, 3))
    })
    this.removeAllListeners('close')
    const r = new Reader(version.body)
    const v = r.u32()
    if (v !== 3) throw new SshError(`the server speaks SFTP version ${v}, not 3`, 'SSH_FAILED')
    while (!r.done) {
      const name = r.bytes().toString('latin1')
      this.extensions.set(name, r.bytes().toString('latin1'))
    }
    if (this.extensions.has('limits@openssh.com')) {
      const reply = await this.request(T.EXTENDED, Buffer.from('limits@openssh.com'))
      if (reply.type === T.EXTENDED_REPLY) {
        const lr = new Reader(reply.body)
        const maxPacketLen = lr.u64()
        const maxReadLen = lr.u64()
        const maxWriteLen = lr.u64()
        const maxOpenHandles = lr.u64()
        this.limits = {
          maxPacketLen: maxPacketLen || this.limits.maxPacketLen,
          maxReadLen: maxReadLen || this.limits.maxReadLen,
          maxWriteLen: maxWriteLen || this.limits.maxWriteLen,
          maxOpenHandles: maxOpenHandles || undefined,
        }
      }
    }
  }

  get closed(): boolean {
    return this.closedError !== undefined
  }

  private onClose(err: Error): void {
    if (this.closedError) return
    this.closedError = err
    for (const p of this.pending.values()) p.reject(err)
    this.pending.clear()
    this.emit('close', err)
  }

  /**
   * Frames replies out of the channel's byte stream: uint32 length, byte type, body. A frame inside one chunk is a
   * view of it; a DATA frame spread over chunks (a 255 KiB READ reply arrives in ~8 SSH packets) is passed on as
   * views of those chunks: copying them into one buffer cost a copy of every byte read and most of the GC time.
   */
  private onData(data: Buffer): void {
    this.chunks.push(data)
    this.buffered += data.length
    for (;;) {
      if (this.buffered < 4) return
      // The header (length, type, id, DATA's length) must be contiguous: join the first chunks while they are tiny.
      while (this.chunks[0].length < FRAME_HEADER && this.chunks.length > 1) this.chunks.splice(0, 2, Buffer.concat([this.chunks[0], this.chunks[1]]))
      const len = this.chunks[0].readUInt32BE(0)
      if (this.buffered < 4 + len) return
      this.buffered -= 4 + len
      const first = this.chunks.shift()!
      if (first.length >= 4 + len) {
        if (first.length > 4 + len) this.chunks.unshift(first.subarray(4 + len))
        this.dispatch(first[4], first.subarray(5, 4 + len))
        continue
      }
      const pieces = [first.subarray(4)]
      let need = len - pieces[0].length
      while (need > 0) {
        const chunk = this.chunks.shift()!
        if (chunk.length > need) this.chunks.unshift(chunk.subarray(need))
        pieces.push(chunk.subarray(0, need))
        need -= pieces[pieces.length - 1].length
      }
      const head = pieces[0]
      if (head[0] === T.DATA) {
        // type, id, uint32 data length, then the bytes
        this.dispatch(T.DATA, head.subarray(1, 9), [head.subarray(9), ...pieces.slice(1)].filter((p) => p.length > 0))
      } else {
        const frame = Buffer.concat(pieces)
        this.dispatch(frame[0], frame.subarray(1))
      }
    }
  }

  private dispatch(type: number, body: Buffer, segments?: Buffer[]): void {
    if (type === T.VERSION) {
      this.versionWaiter?.({type, body})
      return
    }
    const id = body.readUInt32BE(0)
    const p = this.pending.get(id)
    if (!p) return
    this.pending.delete(id)
    p.resolve({type, body: body.subarray(4), segments})
  }

  private request(type: number, ...fields: Array<Buffer | number | bigint>): Promise<Reply> {
    if (this.closedError) return Promise.reject(this.closedError)
    const id = this.nextId
    this.nextId = (this.nextId + 1) >>> 0 || 1
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, {resolve, reject})
      this.send(packet(type, id, ...fields))
    })
  }

  /**
   * Queues a request and writes everything queued in this tick as one channel write: each write is an SSH packet
   * (padding, cipher, a syscall), and requests come in bursts (pipelined reads, the next listing after a reply).
   */
  private send(request: Buffer): void {
    this.outbox.push(request)
    if (this.outbox.length === 1) process.nextTick(() => this.flushOutbox())
  }

  private flushOutbox(): void {
    const out = this.outbox
    this.outbox = []
    if (!this.closedError) this.channel.write(out.length === 1 ? out[0] : Buffer.concat(out))
  }

  /**
   * True for a STATUS reply with this code. Checked before building an Error: capturing a stack trace for every
   * directory's and every file's end (EOF) or every CLOSE showed up in profiles.
   */
  private static is(reply: Reply, code: number): boolean {
    return reply.type === T.STATUS && reply.body.readUInt32BE(0) === code
  }

  private static status(reply: Reply, path?: Buffer): SftpStatusError {
    const r = new Reader(reply.body)
    const code = r.u32()
    let message = STATUS_NAMES[code] ?? `status ${code}`
    try {
      const text = r.bytes().toString('utf8')
      if (text) message = text
    } catch {
      // SFTP v3 servers may omit the message
    }
    return new SftpStatusError(code, message, path)
  }

  private expect(type: number, reply: Reply, path?: Buffer): Reader {
    if (reply.type === type) return new Reader(reply.body)
    if (reply.type === T.STATUS) throw SftpClient.status(reply, path)
    throw new SshError(`unexpected SFTP reply type ${reply.type}`, 'SSH_FAILED')
  }

  async realpath(path: Buffer | string): Promise<Buffer> {
    const p = asPath(path)
    const r = this.expect(T.NAME, await this.request(T.REALPATH, p), p)
    r.u32()
    return Buffer.from(r.bytes())
  }

  async lstat(path: Buffer | string): Promise<Attrs> {
    const p = asPath(path)
    return this.expect(T.ATTRS, await this.request(T.LSTAT, p), p).attrs()
  }

  async stat(path: Buffer | string): Promise<Attrs> {
    const p = asPath(path)
    return this.expect(T.ATTRS, await this.request(T.STAT, p), p).attrs()
  }

  async readlink(path: Buffer | string): Promise<Buffer> {
    const p = asPath(path)
    const r = this.expect(T.NAME, await this.request(T.READLINK, p), p)
    r.u32()
    return Buffer.from(r.bytes())
  }

  /** Every entry of a directory except . and .., with lstat attributes as the server reports them. */
  async readdir(path: Buffer | string): Promise<DirEntry[]> {
    const p = asPath(path)
    const handle = Buffer.from(this.expect(T.HANDLE, await this.request(T.OPENDIR, p), p).bytes())
    const entries: DirEntry[] = []
    try {
      for (;;) {
        const reply = await this.request(T.READDIR, handle)
        if (SftpClient.is(reply, STATUS.EOF)) break
        const r = this.expect(T.NAME, reply, p)
        const count = r.u32()
        for (let i = 0; i < count; i++) {
          const name = Buffer.from(r.bytes())
          // "-rw-r--r--    2 alice  staff  12 Jan  1 00:00 name": the link count is the second field.
          const links = /^[-a-z][-rwxsStTl]{9}\S*\s+(\d+)\s/.exec(Buffer.from(r.bytes()).toString('latin1'))?.[1]
          const attrs = r.attrs()
          if ((name.length === 1 && name[0] === 0x2e) || (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e)) continue
          entries.push(links === undefined ? {name, attrs} : {name, attrs, links: Number(links)})
        }
      }
    } finally {
      // Not awaited: the server answers in order, and nothing here depends on the reply (a listing of 1,000
      // directories spent a quarter of its round trips waiting for CLOSE).
      this.close(handle).catch(() => undefined)
    }
    return entries
  }

  async openRead(path: Buffer | string): Promise<Buffer> {
    const p = asPath(path)
    return Buffer.from(this.expect(T.HANDLE, await this.request(T.OPEN, p, OPEN_READ, 0), p).bytes())
  }

  async fstat(handle: Buffer): Promise<Attrs> {
    return this.expect(T.ATTRS, await this.request(T.FSTAT, handle)).attrs()
  }

  async close(handle: Buffer): Promise<void> {
    const reply = await this.request(T.CLOSE, handle)
    if (SftpClient.is(reply, STATUS.OK)) return
    throw SftpClient.status(reply)
  }

  /** One READ; null at end of file. The server may return fewer bytes than asked. */
  async read(handle: Buffer, offset: number, length: number): Promise<Buffer | null> {
    const parts = await this.readSegments(handle, offset, length)
    return parts && (parts.length === 1 ? parts[0] : Buffer.concat(parts))
  }

  /** One READ, its bytes as they arrived (views of the SSH packets); null at end of file. */
  private async readSegments(handle: Buffer, offset: number, length: number): Promise<Buffer[] | null> {
    const reply = await this.request(T.READ, handle, BigInt(offset), length)
    if (reply.type === T.DATA) return reply.segments ?? [new Reader(reply.body).bytes()]
    if (SftpClient.is(reply, STATUS.EOF)) return null
    throw SftpClient.status(reply)
  }

  /**
   * Reads [offset, offset+length) with up to `inFlight` READs of the server's maximum size outstanding, delivering
   * the bytes in order. A short read is followed up with a READ for the rest; EOF before the end ends early (the
   * file shrank), and the caller sees fewer bytes than asked.
   */
  async readRange(handle: Buffer, offset: number, length: number, inFlight: number, onChunk: (chunk: Buffer) => void | Promise<void>): Promise<number> {
    const size = this.limits.maxReadLen
    const end = offset + length
    let next = offset
    let delivered = 0
    let eof = false
    const queue: Array<{at: number; len: number; reply: Promise<Buffer[] | null>}> = []
    const issue = () => {
      while (!eof && queue.length < inFlight && next < end) {
        const len = Math.min(size, end - next)
        const reply = this.readSegments(handle, next, len)
        // Replies still queued when the range ends early (an error, a throwing onChunk) must not become unhandled
        // rejections when the channel closes later; the one awaited still throws.
        reply.catch(() => undefined)
        queue.push({at: next, len, reply})
        next += len
      }
    }
    const deliver = async (parts: Buffer[]): Promise<number> => {
      let n = 0
      for (const part of parts) {
        await onChunk(part)
        n += part.length
      }
      delivered += n
      return n
    }
    issue()
    while (queue.length > 0) {
      const head = queue.shift()!
      let data = await head.reply
      let at = head.at
      let want = head.len
      for (;;) {
        if (data === null) break
        const got = await deliver(data)
        if (got >= want) break
        // short read: ask for the rest of this slot before moving on
        at += got
        want -= got
        data = await this.readSegments(handle, at, want)
      }
      if (data === null) {
        eof = true
        await Promise.allSettled(queue.map((q) => q.reply))
        queue.length = 0
        break
      }
      issue()
    }
    return delivered
  }

  end(): void {
    this.channel.close()
  }
}

