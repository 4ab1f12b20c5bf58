import {ListObjectsV2Command, type S3Client} from '@aws-sdk/client-s3'

import {urlDecodeKey} from './object-target.js'

/** One object as ListObjectsV2 shows it: what a normal verify compares with the manifest without a HEAD. */
export interface ListedObject {
  key: string
  size: number
  /** As S3 sends it, with its quotes */
  etag?: string
  /** The checksum algorithms S3 holds for the object, where the store says (AWS does; empty when it does not) */
  checksumAlgorithms: string[]
  /** FULL_OBJECT or COMPOSITE, where the store says */
  checksumType?: string
  lastModified?: Date
}

/** Lists a bucket's objects under a prefix, a page (up to 1,000 keys, one request) at a time. */
export interface ObjectLister {
  pages(prefix: string): AsyncIterable<ListedObject[]>
}

export class S3ObjectLister implements ObjectLister {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async *pages(prefix: string): AsyncIterable<ListedObject[]> {
    let token: string | undefined
    for (;;) {
      // Keys with control characters cannot travel in XML 1.0: ask for them URL-encoded, and decode them only when the
      // store says it encoded them (stores that ignore encoding-type send them raw).
      const out = await this.s3.send(new ListObjectsV2Command({Bucket: this.bucket, Prefix: prefix, MaxKeys: 1000, ContinuationToken: token, EncodingType: 'url'}))
      const decode = out.EncodingType === 'url' ? urlDecodeKey : (k: string) => k
      yield (out.Contents ?? []).map((o) => ({
        key: decode(o.Key ?? ''),
        size: o.Size ?? -1,
        etag: o.ETag,
        checksumAlgorithms: o.ChecksumAlgorithm ?? [],
        checksumType: o.ChecksumType,
        lastModified: o.LastModified,
      }))
      if (!out.IsTruncated || !out.NextContinuationToken) return
      token = out.NextContinuationToken
    }
  }
}
