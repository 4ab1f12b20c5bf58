/**
 * Stand-ins for sync's two ports, for unit tests of the sync engine without peers (the integration tests run the same
 * engine against OpenSSH sshd, versitygw and moto):
 *
 * - MemoryTarget: an ObjectTarget holding objects, multipart uploads and tags in memory. It checks what S3 checks
 *   (each part's CRC-32, the full-object CRC-32 at completion, If-Match / If-None-Match) and counts every call.
 * - FakeSource: a SourcePool over an in-memory tree of files and directories, serving reads in chunks and counting
 *   the bytes read. A fake, not a protocol: SFTP's behaviour (pipelining, reconnects) is tested against sshd.
 */
import type {Readable} from 'node:stream'
import {Readable as ReadableStream} from 'node:stream'

import type {CompletedPart, ObjectAttributes, ObjectHead, ObjectTarget, RemotePart, WriteCondition, WriteResult} from '../../../src/adapters/object-target.js'
import {crc32, crc32Base64} from '../../../src/core/crc32.js'
import {type SourceAttrs, type SourceDirEntry, type SourceFs, type SourcePool, SourceStatusError} from '../../../src/core/source.js'

interface StoredObject {
  body: Buffer
  metadata: Record<string, string>
  tags: Record<string, string>
  crc: string
  etag: string
  versionId: string
}

const s3Error = (name: string, status: number) => Object.assign(new Error(name), {name, $metadata: {httpStatusCode: status}})

export class MemoryTarget implements ObjectTarget {
  readonly bucket = 'memory'
  readonly objects = new Map<string, StoredObject>()
  readonly calls: string[] = []
  private readonly uploads = new Map<string, {key: string; attrs: ObjectAttributes; parts: Map<number, {body: Buffer; etag: string; crc: string}>}>()
  private serial = 0
  /** Throws this error for UploadPart number n (a fault the test injects). */
  failPart?: (partNumber: number) => Error | undefined

  async checkBucket(): Promise<void> {}
  close(): void {}

  async put(key: string, body: Buffer, crc: string, attrs: ObjectAttributes, condition: WriteCondition = {}): Promise<WriteResult> {
    this.calls.push(`put ${key}`)
    if (crc32Base64(crc32(body)) !== crc) throw s3Error('BadDigest', 400)
    this.checkCondition(key, condition)
    return this.store(key, body, crc, attrs)
  }

  async createMultipart(key: string, attrs: ObjectAttributes): Promise<string> {
    this.calls.push(`create ${key}`)
    const id = `upload-${++this.serial}`
    this.uploads.set(id, {key, attrs, parts: new Map()})
    return id
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer, crc: string): Promise<string> {
    this.calls.push(`part ${key} ${partNumber}`)
    const failure = this.failPart?.(partNumber)
    if (failure) throw failure
    const upload = this.uploads.get(uploadId)
    if (!upload) throw s3Error('NoSuchUpload', 404)
    if (crc32Base64(crc32(body)) !== crc) throw s3Error('BadDigest', 400)
    const etag = `"p${partNumber}-${crc}"`
    upload.parts.set(partNumber, {body: Buffer.from(body), etag, crc})
    return etag
  }

  async listParts(_key: string, uploadId: string): Promise<RemotePart[] | undefined> {
    const upload = this.uploads.get(uploadId)
    return upload && [...upload.parts].map(([partNumber, p]) => ({partNumber, etag: p.etag, size: p.body.length}))
  }

  async completeMultipart(key: string, uploadId: string, parts: CompletedPart[], crc: string, condition: WriteCondition = {}): Promise<WriteResult> {
    this.calls.push(`complete ${key}`)
    const upload = this.uploads.get(uploadId)
    if (!upload) throw s3Error('NoSuchUpload', 404)
    const body = Buffer.concat(parts.map((p) => upload.parts.get(p.partNumber)!.body))
    if (crc32Base64(crc32(body)) !== crc) throw s3Error('BadDigest', 400)
    this.checkCondition(key, condition)
    this.uploads.delete(uploadId)
    return this.store(key, body, crc, upload.attrs)
  }

  async abortMultipart(_key: string, uploadId: string): Promise<void> {
    this.uploads.delete(uploadId)
  }

  async *listMultipartUploads(prefix: string): AsyncIterable<{key: string; uploadId: string}> {
    for (const [uploadId, u] of this.uploads) if (u.key.startsWith(prefix)) yield {key: u.key, uploadId}
  }

  async head(key: string): Promise<ObjectHead | undefined> {
    const o = this.objects.get(key)
    return o && {size: o.body.length, crc32: o.crc, checksumType: 'FULL_OBJECT', metadata: {...o.metadata}, etag: o.etag, versionId: o.versionId, encryption: {}}
  }

  async tags(key: string, versionId?: string): Promise<Record<string, string> | undefined> {
    const o = this.objects.get(key)
    return o && (versionId === undefined || o.versionId === versionId) ? {...o.tags} : undefined
  }

  async mergeTags(key: string, tags: Record<string, string>, versionId?: string): Promise<boolean> {
    this.calls.push(`tag ${key}`)
    const o = this.objects.get(key)
    if (!o || (versionId !== undefined && o.versionId !== versionId)) return false
    o.tags = {...o.tags, ...tags}
    return true
  }

  async defaultEncryption(): Promise<'none'> {
    return 'none'
  }

  async read(key: string): Promise<Readable> {
    return ReadableStream.from([this.objects.get(key)!.body])
  }

  async deleteObjects(keys: string[]): Promise<Array<{key: string; reason: string}>> {
    for (const k of keys) this.objects.delete(k)
    return []
  }

  /** Multipart uploads not completed or aborted */
  get openUploads(): number {
    return this.uploads.size
  }

  private checkCondition(key: string, condition: WriteCondition): void {
    const held = this.objects.get(key)
    if (condition.ifMatch !== undefined && held?.etag !== condition.ifMatch) throw s3Error('PreconditionFailed', 412)
    if (condition.ifNoneMatch === '*' && held) throw s3Error('PreconditionFailed', 412)
  }

  private store(key: string, body: Buffer, crc: string, attrs: ObjectAttributes): WriteResult {
    const o = {body: Buffer.from(body), metadata: {...attrs.metadata}, tags: {...attrs.tags}, crc, etag: `"e${++this.serial}"`, versionId: `v${this.serial}`}
    this.objects.set(key, o)
    return {etag: o.etag, versionId: o.versionId}
  }
}

interface FakeNode {
  data?: Buffer
  attrs: SourceAttrs
}

export class FakeSource implements SourcePool {
  readonly nodes = new Map<string, FakeNode>()
  bytesRead = 0
  readonly size = 1
  private handles = new Map<string, string>()
  private serial = 0

  /** A file at an absolute path (parent directories are made). */
  file(path: string, data: Buffer, attrs: Partial<SourceAttrs> = {}): void {
    this.dir(path.slice(0, path.lastIndexOf('/')) || '/')
    this.nodes.set(path, {data, attrs: {size: data.length, uid: 1000, gid: 1000, mode: 0o100644, atime: 1_700_000_000, mtime: 1_700_000_000, ...attrs}})
  }

  dir(path: string): void {
    for (let p = path; p && p !== '/' && !this.nodes.has(p); p = p.slice(0, p.lastIndexOf('/')) || '/') {
      this.nodes.set(p, {attrs: {size: 0, uid: 0, gid: 0, mode: 0o040755, atime: 1_700_000_000, mtime: 1_700_000_000}})
    }
  }

  chmod(path: string, mode: number): void {
    const n = this.nodes.get(path)!
    n.attrs = {...n.attrs, mode: (n.attrs.mode & 0o170000) | mode}
  }

  async withSource<T>(fn: (fs: SourceFs) => Promise<T>): Promise<T> {
    return fn(this.fs)
  }

  async warm(): Promise<void> {}
  async close(): Promise<void> {}

  private node(path: Buffer | string): FakeNode {
    const n = this.nodes.get(path.toString())
    if (!n) throw new SourceStatusError(`no such file: ${path.toString()}`, 'NO_SUCH_FILE', 'not-found', Buffer.from(path))
    return n
  }

  private readonly fs: SourceFs = {
    limits: {maxReadLen: 256 * 1024},
    realpath: async (path) => Buffer.from(path),
    lstat: async (path) => this.node(path).attrs,
    stat: async (path) => this.node(path).attrs,
    readlink: async (path) => {
      throw new SourceStatusError(`not a link: ${path.toString()}`, 'FAILURE', 'other')
    },
    readdir: async (path) => {
      const dir = path.toString()
      const out: SourceDirEntry[] = []
      for (const [p, n] of this.nodes) {
        if (p.startsWith(`${dir}/`) && !p.slice(dir.length + 1).includes('/')) out.push({name: Buffer.from(p.slice(dir.length + 1)), attrs: n.attrs})
      }
      return out
    },
    openRead: async (path) => {
      this.node(path)
      const handle = `h${++this.serial}`
      this.handles.set(handle, path.toString())
      return Buffer.from(handle)
    },
    fstat: async (handle) => this.node(this.handles.get(handle.toString())!).attrs,
    close: async (handle) => void this.handles.delete(handle.toString()),
    readRange: async (handle, offset, length, _inFlight, onChunk) => {
      const data = this.node(this.handles.get(handle.toString())!).data!
      const end = Math.min(data.length, offset + length)
      for (let at = offset; at < end; at += this.fs.limits.maxReadLen) {
        const chunk = data.subarray(at, Math.min(end, at + this.fs.limits.maxReadLen))
        this.bytesRead += chunk.length
        await onChunk(chunk)
      }
      return Math.max(0, end - offset)
    },
  }
}
