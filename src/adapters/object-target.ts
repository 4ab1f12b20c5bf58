import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetBucketEncryptionCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
  type StorageClass,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import {SignatureV4} from '@smithy/signature-v4'
import {Agent as HttpAgent, request as httpRequest, type IncomingMessage} from 'node:http'
import {Agent as HttpsAgent, request as httpsRequest} from 'node:https'
import type {Readable} from 'node:stream'

import {awsErrorLine} from '../core/aws-errors.js'
import type {Encryption} from '../core/encryption.js'
import {CliError} from '../core/errors.js'

/** How objects are written: server-side encryption from the configuration and the storage class. */
export interface WriteSettings {
  /** SSE-KMS with this key when set; otherwise no encryption header, so the bucket's default encryption applies. */
  kmsKeyId?: string
  storageClass?: StorageClass
}

/** What an object is written with: user metadata (fixed) and tags (which change without a new version). */
export interface ObjectAttributes {
  metadata: Record<string, string>
  tags?: Record<string, string>
}

/** Tags as the x-amz-tagging header (and the SDK's Tagging) carries them: a URL query string. */
const taggingHeader = (tags: Record<string, string> = {}) =>
  Object.entries(tags)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&')

export interface WriteResult {
  etag?: string
  versionId?: string
}

/**
 * A conditional write: replace only the object with this ETag (If-Match), or write only where no object is
 * (If-None-Match: *). PutObject honours both on AWS, versitygw and moto; CompleteMultipartUpload on AWS and
 * versitygw (moto ignores If-Match there).
 */
export interface WriteCondition {
  ifMatch?: string
  ifNoneMatch?: '*'
}

/** S3 refused a conditional write: the object is no longer the one the condition named (or is gone, or now exists). */
export function isPreconditionFailure(err: unknown): boolean {
  const code = status(err)
  return code === 412 || code === 409 || (err as Error).name === 'NoSuchKey'
}

export interface RemotePart {
  partNumber: number
  etag: string
  size: number
}

export interface ObjectHead {
  size: number
  /** Base64 CRC-32 S3 stores for the object (HeadObject with ChecksumMode ENABLED), if any. */
  crc32?: string
  checksumType?: string
  metadata: Record<string, string>
  etag?: string
  versionId?: string
  /** The server-side encryption S3 reports for the object */
  encryption: Encryption
}

export interface CompletedPart {
  partNumber: number
  etag: string
  crc: string
}

/**
 * The S3 data plane as sync and verify use it: whole-object puts and multipart uploads that always carry a CRC-32
 * (S3 rejects bytes that do not match it), heads, reads and deletes. Keys are full object keys.
 */
export interface ObjectTarget {
  readonly bucket: string
  checkBucket(): Promise<void>
  put(key: string, body: Buffer, crc: string, attrs: ObjectAttributes, condition?: WriteCondition): Promise<WriteResult>
  createMultipart(key: string, attrs: ObjectAttributes): Promise<string>
  uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer, crc: string): Promise<string>
  /** The parts S3 holds for an upload; undefined when the upload no longer exists. */
  listParts(key: string, uploadId: string): Promise<RemotePart[] | undefined>
  completeMultipart(key: string, uploadId: string, parts: CompletedPart[], crc: string, condition?: WriteCondition): Promise<WriteResult>
  abortMultipart(key: string, uploadId: string): Promise<void>
  listMultipartUploads(prefix: string): AsyncIterable<{key: string; uploadId: string}>
  head(key: string): Promise<ObjectHead | undefined>
  /** The object's tags (of `versionId` when given); undefined when there is no such object or version. */
  tags(key: string, versionId?: string): Promise<Record<string, string> | undefined>
  /**
   * Sets these tags on the object and keeps every other tag it carries (a malware scanner's, say): a tag write
   * creates no version and no ObjectCreated event. With `versionId`, only that version is tagged. False when the
   * object (version) is gone. S3 allows 10 tags per object.
   */
  mergeTags(key: string, tags: Record<string, string>, versionId?: string): Promise<boolean>
  /** The bucket's default encryption; `none` when it has none configured. Throws what S3 answered otherwise. */
  defaultEncryption(): Promise<Encryption | 'none'>
  read(key: string): Promise<Readable>
  /** Deletes up to 1,000 keys per request; returns the keys S3 refused, with its reason. */
  deleteObjects(keys: string[]): Promise<Array<{key: string; reason: string}>>
  close(): void
}

type S3Error = Error & {$metadata?: {httpStatusCode?: number}; $retryable?: unknown; Code?: string; code?: string}

const status = (err: unknown) => (err as S3Error).$metadata?.httpStatusCode
const isMissing = (err: unknown) => ['NoSuchKey', 'NotFound', 'NoSuchVersion'].includes((err as Error).name) || status(err) === 404

/** Worth another try after the SDK's own retries: throttling, 5xx, a corrupted body (BadDigest), the network. */
export function isTransientS3Error(err: unknown): boolean {
  const e = err as S3Error
  const code = status(err)
  if (code !== undefined && (code >= 500 || code === 429 || code === 408)) return true
  if (['BadDigest', 'SlowDown', 'RequestTimeout', 'InvalidPart', 'TimeoutError', 'XAmzContentSHA256Mismatch'].includes(e.name)) return true
  return ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN'].includes(e.code ?? '') || e.$retryable !== undefined
}

/** A key from a listing made with encoding-type=url (S3 encodes as HTML forms do: a space is "+"). */
export function urlDecodeKey(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '))
}

/** A short reason for reports, one line: S3, the status, the error code, the message and what to do; never request details. */
export function s3Reason(err: unknown): string {
  return awsErrorLine(err, 'S3')
}

// The CRC-32 header already protects the body end to end; hashing it again for the SigV4 payload signature (what
// the SDK does for a Buffer body over plain http) would cost a SHA-256 pass over every byte.
function unsignedPayload<T extends {middlewareStack: {add: (...args: never[]) => void}}>(command: T): T {
  ;(command.middlewareStack as unknown as {add: (mw: unknown, opts: unknown) => void}).add(
    (next: (args: {request: {headers: Record<string, string>}}) => Promise<unknown>) => (args: {request: {headers: Record<string, string>}}) => {
      args.request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD'
      return next(args)
    },
    {step: 'build', name: 'sftpCutoverUnsignedPayload'},
  )
  return command
}

/** Where requests for the bucket go, as the SDK resolved it for HeadBucket (endpoint rules, path or virtual host). */
interface BucketEndpoint {
  protocol: string
  hostname: string
  port?: number
  /** "/bucket" (path style) or "" (virtual host): object paths are <basePath>/<encoded key> */
  basePath: string
}

// Each segment percent-encoded as S3 signs it (RFC 3986 unreserved kept, and "/" between segments).
const encodeKey = (key: string) =>
  key
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/')

const TRANSIENT_CODES = new Set(['SlowDown', 'RequestTimeout', 'InternalError', 'ServiceUnavailable', 'RequestTimeTooSkewed'])
/** Error answers without a body (every HEAD), by status: the name the SDK gives them and what it means here. */
const BODYLESS_ERRORS: Record<number, [string, string]> = {
  400: ['BadRequest', 'S3 refused the request as malformed'],
  403: ['Forbidden', 'access denied: the credentials may not read this object (s3:GetObject), or a KMS key refuses them'],
  404: ['NotFound', 'no such object'],
  412: ['PreconditionFailed', 'the object is not the version asked for'],
  500: ['InternalError', 'S3 failed internally'],
  503: ['ServiceUnavailable', 'S3 is slowing requests down (throttled)'],
}

/**
 * PutObject, HeadObject and GetObject without the SDK's per-request machinery. Profiling 20,000 small files put the
 * SDK at about half a millisecond of CPU per request (middleware stack resolution, endpoint rules, schema
 * serialisation): about half of sync's CPU, and nearly all of verify's (100,000 HEADs took 75 s, CPU-bound). Here one
 * request is signed with the SDK's own SigV4 signer and credentials, sent on a keep-alive connection to the endpoint
 * the SDK resolved for the bucket, and retried with backoff on throttling, 5xx and network errors. Used only when that
 * endpoint is signed with plain SigV4; anything else goes through the SDK.
 */
class DirectRequests {
  private readonly signer: SignatureV4
  private readonly agent: HttpAgent
  private readonly send: typeof httpRequest

  constructor(
    s3: S3Client,
    private readonly endpoint: BucketEndpoint,
  ) {
    const config = s3.config as unknown as {credentials: ConstructorParameters<typeof SignatureV4>[0]['credentials']; region: () => Promise<string>; sha256: ConstructorParameters<typeof SignatureV4>[0]['sha256']}
    this.signer = new SignatureV4({credentials: config.credentials, region: config.region, service: 's3', sha256: config.sha256, uriEscapePath: false, applyChecksum: false})
    const https = endpoint.protocol === 'https:'
    this.agent = https ? new HttpsAgent({keepAlive: true, maxSockets: 256}) : new HttpAgent({keepAlive: true, maxSockets: 256})
    this.send = https ? httpsRequest : httpRequest
  }

  async put(key: string, body: Buffer, headers: Record<string, string>): Promise<WriteResult> {
    const res = await this.request('PUT', key, headers, body)
    const echoed = res.headers['x-amz-checksum-crc32']
    if (echoed && echoed !== headers['x-amz-checksum-crc32']) throw Object.assign(new Error(`S3 stored CRC32 ${String(echoed)}, not the one sent`), {name: 'BadDigest'})
    return {etag: res.headers.etag, versionId: res.headers['x-amz-version-id'] as string | undefined}
  }

  /** HeadObject with the stored checksum; undefined when there is no such object. */
  async head(key: string): Promise<ObjectHead | undefined> {
    const res = await this.request('HEAD', key, {'x-amz-checksum-mode': 'ENABLED'}, undefined, [404])
    if (res.status === 404) return undefined
    const h = res.headers
    const metadata: Record<string, string> = {}
    for (const [name, value] of Object.entries(h)) if (name.startsWith('x-amz-meta-') && typeof value === 'string') metadata[name.slice(11)] = value
    const one = (name: string) => (typeof h[name] === 'string' ? (h[name] as string) : undefined)
    const encryption = {algorithm: one('x-amz-server-side-encryption'), kmsKeyId: one('x-amz-server-side-encryption-aws-kms-key-id')}
    return {size: Number(h['content-length'] ?? -1), crc32: one('x-amz-checksum-crc32'), checksumType: one('x-amz-checksum-type'), metadata, etag: one('etag'), versionId: one('x-amz-version-id'), encryption}
  }

  /** GetObject as a stream of the body: bounded memory for any size (verify --deep hashes it as it arrives). */
  async get(key: string): Promise<Readable> {
    return (await this.request('GET', key, {}, undefined, [], true)).stream!
  }

  destroy(): void {
    this.agent.destroy()
  }

  private async request(method: Method, key: string, headers: Record<string, string>, body?: Buffer, expected: number[] = [], stream = false): Promise<DirectResponse> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(method, key, headers, body, expected, stream)
      } catch (err) {
        if (attempt >= 6 || !isTransientS3Error(err)) throw err
        await new Promise((resolve) => setTimeout(resolve, Math.min(20_000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2)))
      }
    }
  }

  /** One request; with `stream`, a successful answer's body is handed over unread (errors are always read). */
  private async once(method: Method, key: string, headers: Record<string, string>, body: Buffer | undefined, expected: number[], stream: boolean): Promise<DirectResponse> {
    const {protocol, hostname, port, basePath} = this.endpoint
    const host = port ? `${hostname}:${port}` : hostname
    const signed = await this.signer.sign({
      method,
      protocol,
      hostname,
      port,
      path: `${basePath}/${encodeKey(key)}`,
      query: {},
      headers: {host, ...(body ? {'content-length': String(body.length)} : {}), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...headers},
    })
    const res = await new Promise<DirectResponse>((resolve, reject) => {
      const req = this.send({agent: this.agent, method, hostname, port, path: signed.path, headers: signed.headers, timeout: 120_000}, (r) => {
        const ok = (r.statusCode ?? 0) >= 200 && (r.statusCode ?? 0) < 300
        if (stream && ok) return resolve({status: r.statusCode ?? 0, headers: r.headers, body: Buffer.alloc(0), stream: r})
        const chunks: Buffer[] = []
        r.on('data', (c: Buffer) => chunks.push(c))
        r.on('end', () => resolve({status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks)}))
        r.on('error', reject)
      })
      req.on('timeout', () => req.destroy(Object.assign(new Error('no answer from S3 within 120 s'), {code: 'ETIMEDOUT'})))
      req.on('error', reject)
      req.end(body)
    })
    if ((res.status >= 200 && res.status < 300) || expected.includes(res.status)) return res
    // HEAD answers carry no body: the status is all there is, named as the SDK names it.
    const text = res.body.toString('utf8')
    const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? BODYLESS_ERRORS[res.status]?.[0] ?? `HTTP${res.status}`
    const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? (text.slice(0, 200) || BODYLESS_ERRORS[res.status]?.[1] || `HTTP ${res.status}`)
    throw Object.assign(new Error(message), {name: code, $metadata: {httpStatusCode: res.status}, ...(TRANSIENT_CODES.has(code) ? {$retryable: {}} : {})})
  }
}

type Method = 'PUT' | 'HEAD' | 'GET'

interface DirectResponse {
  status: number
  headers: IncomingMessage['headers']
  body: Buffer
  /** The unread body of a successful streamed GET */
  stream?: IncomingMessage
}

export class S3ObjectTarget implements ObjectTarget {
  private direct?: DirectRequests

  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    private readonly settings: WriteSettings = {},
  ) {}

  private get encryption() {
    const sc = this.settings.storageClass && this.settings.storageClass !== 'STANDARD' ? {StorageClass: this.settings.storageClass} : {}
    // Without a key, no header: a header would override the bucket's default (SSE-KMS in the reference architecture).
    return this.settings.kmsKeyId ? {ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: this.settings.kmsKeyId, ...sc} : sc
  }

  /** Checks the bucket answers, and learns from that request where (and how signed) its objects are written. */
  async checkBucket(): Promise<void> {
    const command = new HeadBucketCommand({Bucket: this.bucket})
    let seen: {protocol: string; hostname: string; port?: number; path: string; headers: Record<string, string>} | undefined
    ;(command.middlewareStack as unknown as {add: (mw: unknown, opts: unknown) => void}).add(
      (next: (args: {request: typeof seen}) => Promise<unknown>) => (args: {request: typeof seen}) => {
        seen = args.request
        return next(args)
      },
      {step: 'finalizeRequest', priority: 'low', name: 'sftpCutoverEndpoint'},
    )
    try {
      await this.s3.send(command)
    } catch (err) {
      const code = status(err)
      const what = code === 404 ? 'does not exist' : code === 403 ? 'is not accessible with these credentials (403)' : `cannot be reached: ${s3Reason(err)}`
      throw new CliError(`the bucket ${this.bucket} ${what}`, {
        code: 'BUCKET_UNAVAILABLE',
        suggestions: ['Check target.bucket, target.region and the S3 endpoint, and that the credentials may write to the bucket (sftp-cutover doctor checks them).'],
        cause: err,
      })
    }
    const auth = seen?.headers.authorization ?? seen?.headers.Authorization ?? ''
    if (seen && auth.startsWith('AWS4-HMAC-SHA256 ') && !seen.path.includes('?')) {
      this.direct?.destroy()
      this.direct = new DirectRequests(this.s3, {protocol: seen.protocol, hostname: seen.hostname, port: seen.port, basePath: seen.path.replace(/\/+$/, '')})
    }
  }

  async put(key: string, body: Buffer, crc: string, {metadata, tags}: ObjectAttributes, condition: WriteCondition = {}): Promise<WriteResult> {
    const tagging = taggingHeader(tags)
    if (this.direct) {
      const {kmsKeyId, storageClass} = this.settings
      const headers: Record<string, string> = {'x-amz-checksum-crc32': crc, 'x-amz-sdk-checksum-algorithm': 'CRC32'}
      if (condition.ifMatch) headers['if-match'] = condition.ifMatch
      if (condition.ifNoneMatch) headers['if-none-match'] = condition.ifNoneMatch
      if (kmsKeyId) Object.assign(headers, {'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': kmsKeyId})
      if (storageClass && storageClass !== 'STANDARD') headers['x-amz-storage-class'] = storageClass
      for (const [k, v] of Object.entries(metadata)) headers[`x-amz-meta-${k}`] = v
      if (tagging) headers['x-amz-tagging'] = tagging
      return this.direct.put(key, body, headers)
    }
    const out = await this.s3.send(
      unsignedPayload(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentLength: body.length,
          ChecksumAlgorithm: 'CRC32',
          ChecksumCRC32: crc,
          Metadata: metadata,
          Tagging: tagging || undefined,
          IfMatch: condition.ifMatch,
          IfNoneMatch: condition.ifNoneMatch,
          ...this.encryption,
        }),
      ),
    )
    return {etag: out.ETag, versionId: out.VersionId}
  }

  /** Closes the connections of the direct path (the SDK client is closed by its owner). */
  close(): void {
    this.direct?.destroy()
  }

  async createMultipart(key: string, {metadata, tags}: ObjectAttributes): Promise<string> {
    const out = await this.s3.send(
      new CreateMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        ChecksumAlgorithm: 'CRC32',
        ChecksumType: 'FULL_OBJECT',
        Metadata: metadata,
        Tagging: taggingHeader(tags) || undefined,
        ...this.encryption,
      }),
    )
    if (!out.UploadId) throw new Error(`CreateMultipartUpload for ${key} returned no UploadId`)
    return out.UploadId
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer, crc: string): Promise<string> {
    const out = await this.s3.send(
      unsignedPayload(
        new UploadPartCommand({Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: body.length, ChecksumAlgorithm: 'CRC32', ChecksumCRC32: crc}),
      ),
    )
    if (!out.ETag) throw new Error(`UploadPart ${partNumber} of ${key} returned no ETag`)
    return out.ETag
  }

  async listParts(key: string, uploadId: string): Promise<RemotePart[] | undefined> {
    const parts: RemotePart[] = []
    let marker: string | undefined
    try {
      for (;;) {
        const out = await this.s3.send(new ListPartsCommand({Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker}))
        for (const p of out.Parts ?? []) parts.push({partNumber: p.PartNumber ?? 0, etag: p.ETag ?? '', size: p.Size ?? -1})
        if (!out.IsTruncated || !out.NextPartNumberMarker) return parts
        marker = out.NextPartNumberMarker
      }
    } catch (err) {
      if ((err as Error).name === 'NoSuchUpload' || status(err) === 404) return undefined
      throw err
    }
  }

  async completeMultipart(key: string, uploadId: string, parts: CompletedPart[], crc: string, condition: WriteCondition = {}): Promise<WriteResult> {
    const out = await this.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        UploadId: uploadId,
        IfMatch: condition.ifMatch,
        IfNoneMatch: condition.ifNoneMatch,
        ChecksumType: 'FULL_OBJECT',
        ChecksumCRC32: crc,
        MultipartUpload: {Parts: parts.map((p) => ({PartNumber: p.partNumber, ETag: p.etag, ChecksumCRC32: p.crc}))},
      }),
    )
    return {etag: out.ETag, versionId: out.VersionId}
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    try {
      await this.s3.send(new AbortMultipartUploadCommand({Bucket: this.bucket, Key: key, UploadId: uploadId}))
    } catch (err) {
      if ((err as Error).name !== 'NoSuchUpload' && status(err) !== 404) throw err
    }
  }

  async *listMultipartUploads(prefix: string): AsyncIterable<{key: string; uploadId: string}> {
    let keyMarker: string | undefined
    let uploadIdMarker: string | undefined
    for (;;) {
      // Keys with control characters cannot travel in XML 1.0: ask for them URL-encoded, and decode them only when the
      // store says it encoded them (stores that ignore encoding-type send them raw).
      const out = await this.s3.send(new ListMultipartUploadsCommand({Bucket: this.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker, EncodingType: 'url'}))
      const decode = out.EncodingType === 'url' ? urlDecodeKey : (k: string) => k
      for (const u of out.Uploads ?? []) if (u.Key && u.UploadId) yield {key: decode(u.Key), uploadId: u.UploadId}
      if (!out.IsTruncated) return
      keyMarker = out.NextKeyMarker === undefined ? undefined : decode(out.NextKeyMarker)
      uploadIdMarker = out.NextUploadIdMarker
    }
  }

  async head(key: string): Promise<ObjectHead | undefined> {
    if (this.direct) return this.direct.head(key)
    try {
      const out = await this.s3.send(new HeadObjectCommand({Bucket: this.bucket, Key: key, ChecksumMode: 'ENABLED'}))
      const encryption = {algorithm: out.ServerSideEncryption, kmsKeyId: out.SSEKMSKeyId}
      return {size: out.ContentLength ?? -1, crc32: out.ChecksumCRC32, checksumType: out.ChecksumType, metadata: out.Metadata ?? {}, etag: out.ETag, versionId: out.VersionId, encryption}
    } catch (err) {
      if ((err as Error).name === 'NotFound' || (err as Error).name === 'NoSuchKey' || status(err) === 404) return undefined
      throw err
    }
  }

  async tags(key: string, versionId?: string): Promise<Record<string, string> | undefined> {
    try {
      const out = await this.s3.send(new GetObjectTaggingCommand({Bucket: this.bucket, Key: key, VersionId: versionId}))
      return Object.fromEntries((out.TagSet ?? []).map((t) => [t.Key ?? '', t.Value ?? '']))
    } catch (err) {
      if (isMissing(err)) return undefined
      throw err
    }
  }

  async mergeTags(key: string, tags: Record<string, string>, versionId?: string): Promise<boolean> {
    const held = await this.tags(key, versionId)
    if (!held) return false
    const merged = {...held, ...tags}
    if (Object.entries(tags).every(([k, v]) => held[k] === v)) return true
    try {
      const TagSet = Object.entries(merged).map(([Key, Value]) => ({Key, Value}))
      await this.s3.send(new PutObjectTaggingCommand({Bucket: this.bucket, Key: key, VersionId: versionId, Tagging: {TagSet}}))
      return true
    } catch (err) {
      if (isMissing(err)) return false
      throw err
    }
  }

  async defaultEncryption(): Promise<Encryption | 'none'> {
    try {
      const out = await this.s3.send(new GetBucketEncryptionCommand({Bucket: this.bucket}))
      const rule = out.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault
      return rule?.SSEAlgorithm ? {algorithm: rule.SSEAlgorithm, kmsKeyId: rule.KMSMasterKeyID} : 'none'
    } catch (err) {
      if ((err as Error).name === 'ServerSideEncryptionConfigurationNotFoundError') return 'none'
      throw err
    }
  }

  async read(key: string): Promise<Readable> {
    if (this.direct) return this.direct.get(key)
    const out = await this.s3.send(new GetObjectCommand({Bucket: this.bucket, Key: key}))
    return out.Body as Readable
  }

  async deleteObjects(keys: string[]): Promise<Array<{key: string; reason: string}>> {
    const refused: Array<{key: string; reason: string}> = []
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000)
      const out = await this.s3.send(new DeleteObjectsCommand({Bucket: this.bucket, Delete: {Objects: batch.map((Key) => ({Key})), Quiet: true}}))
      for (const e of out.Errors ?? []) refused.push({key: e.Key ?? '', reason: `${e.Code ?? 'Error'}: ${e.Message ?? ''}`})
    }
    return refused
  }
}
