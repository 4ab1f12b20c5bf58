/**
 * The object store as sync and verify use it (the port): S3ObjectTarget (s3-object-target.ts) implements it over the
 * SDK and direct signed requests (s3-direct.ts); the rules for S3's errors are in s3-errors.ts.
 */
import type {StorageClass} from '@aws-sdk/client-s3'
import type {Readable} from 'node:stream'

import type {Encryption} from '../core/encryption.js'

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
