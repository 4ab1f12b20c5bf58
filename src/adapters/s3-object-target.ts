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
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import type {Readable} from 'node:stream'

import type {Encryption} from '../core/encryption.js'
import {CliError} from '../core/errors.js'
import type {CompletedPart, ObjectAttributes, ObjectHead, ObjectTarget, RemotePart, WriteCondition, WriteResult, WriteSettings} from './object-target.js'
import {DirectRequests, taggingHeader} from './s3-direct.js'
import {isMissing, s3Reason, status} from './s3-errors.js'

/** A key from a listing made with encoding-type=url (S3 encodes as HTML forms do: a space is "+"). */
export function urlDecodeKey(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '))
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
