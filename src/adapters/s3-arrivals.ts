import {GetBucketVersioningCommand, GetObjectCommand, ListObjectsV2Command, ListObjectVersionsCommand, type S3Client} from '@aws-sdk/client-s3'
import {createHash} from 'node:crypto'
import {type Readable, Transform} from 'node:stream'

/** The current state of one key: its latest version, or a delete marker (versioned buckets). */
export interface S3Current {
  key: string
  /** the version id, or the ETag when the bucket is not versioned: identifies exactly these bytes */
  version: string
  versionId?: string
  etag?: string
  size: number
  lastModified: Date
  deleted: boolean
}

export interface OpenedObject {
  body: Readable
  /** which checksum S3 held for the object and was checked against the bytes as they arrived ('none' when none) */
  s3Check: string
}

const ALGORITHMS = ['CRC64NVME', 'CRC32', 'CRC32C', 'SHA256', 'SHA1'] as const
const unquote = (etag?: string) => etag?.replace(/^"|"$/g, '')

/** Reads what clients put into the bucket through Transfer: listings by key prefix and single object versions. */
export class S3Arrivals {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  /** Versioning on (or suspended): old versions and delete markers exist and are listed. */
  async versioned(): Promise<boolean> {
    const r = await this.s3.send(new GetBucketVersioningCommand({Bucket: this.bucket}))
    return r.Status === 'Enabled' || r.Status === 'Suspended'
  }

  /** Every key under the prefix with its current state (versioned buckets: the latest version or delete marker). */
  async *current(prefix: string, versioned: boolean): AsyncIterable<S3Current> {
    if (!versioned) {
      let token: string | undefined
      do {
        const page = await this.s3.send(new ListObjectsV2Command({Bucket: this.bucket, Prefix: prefix, ContinuationToken: token}))
        for (const o of page.Contents ?? []) {
          const etag = unquote(o.ETag)!
          yield {key: o.Key!, version: etag, etag, size: o.Size ?? 0, lastModified: o.LastModified!, deleted: false}
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined
      } while (token)
      return
    }
    let keyMarker: string | undefined
    let versionMarker: string | undefined
    for (;;) {
      const page = await this.s3.send(new ListObjectVersionsCommand({Bucket: this.bucket, Prefix: prefix, KeyMarker: keyMarker, VersionIdMarker: versionMarker}))
      for (const v of page.Versions ?? []) {
        if (!v.IsLatest) continue
        yield {key: v.Key!, version: v.VersionId ?? 'null', versionId: v.VersionId, etag: unquote(v.ETag), size: v.Size ?? 0, lastModified: v.LastModified!, deleted: false}
      }
      for (const d of page.DeleteMarkers ?? []) {
        if (d.IsLatest) yield {key: d.Key!, version: d.VersionId ?? 'null', versionId: d.VersionId, size: 0, lastModified: d.LastModified!, deleted: true}
      }
      if (!page.IsTruncated) return
      keyMarker = page.NextKeyMarker
      versionMarker = page.NextVersionIdMarker
    }
  }

  /**
   * Opens exactly this version (by version id, or If-Match on the ETag). The stream fails when the bytes do not match
   * the checksum S3 holds: a full-object checksum is checked by the SDK (ChecksumMode), otherwise a single-part,
   * non-KMS ETag (the MD5 of the bytes) is checked here.
   */
  async open(o: {key: string; versionId?: string; etag?: string}): Promise<OpenedObject> {
    const r = await this.s3.send(
      new GetObjectCommand({Bucket: this.bucket, Key: o.key, ChecksumMode: 'ENABLED', ...(o.versionId ? {VersionId: o.versionId} : {IfMatch: o.etag ? `"${o.etag}"` : undefined})}),
    )
    const body = r.Body as Readable
    const held = ALGORITHMS.find((a) => {
      const v = r[`Checksum${a}`]
      return typeof v === 'string' && !/-\d+$/.test(v)
    })
    if (held && r.ChecksumType !== 'COMPOSITE') return {body, s3Check: held}
    const etag = unquote(r.ETag)
    if (!etag || !/^[0-9a-f]{32}$/.test(etag) || r.ServerSideEncryption === 'aws:kms' || r.ServerSideEncryption === 'aws:kms:dsse') return {body, s3Check: 'none'}
    const md5 = createHash('md5')
    const check = new Transform({
      transform(chunk: Buffer, _enc, done) {
        md5.update(chunk)
        done(null, chunk)
      },
      flush(done) {
        const got = md5.digest('hex')
        done(got === etag ? null : new Error(`the bytes read from S3 do not match its ETag (MD5 ${got}, ETag ${etag})`))
      },
    })
    body.once('error', (err) => check.destroy(err))
    return {body: body.pipe(check), s3Check: 'MD5 (ETag)'}
  }
}
