/**
 * Judging one object of the cross-region replica (verify --replica) against what sync recorded for it, and picking
 * the sample. Pure: the heads are read by services/verify-replica.ts.
 */

/** What HeadObject (ChecksumMode ENABLED) reports for an object, in the replica or the source bucket. */
export interface ReplicaHead {
  size: number
  crc32?: string
  etag?: string
  sha256?: string
  encryption?: string
  /** The source object's x-amz-replication-status (PENDING, COMPLETED, FAILED), REPLICA on a replica */
  replicationStatus?: string
}

/** What the manifest recorded when sync copied the file. */
export interface ReplicaExpected {
  size: number
  crc?: string
  sha256?: string
}

export type ReplicaVerdict =
  | {status: 'verified'}
  | {status: 'pending'; detail: string}
  | {status: 'missing' | 'mismatch'; problem: 'missing' | 'size' | 'crc' | 'sha256' | 'etag'; detail: string}

/**
 * A replica absent while the source says PENDING is on its way, not a problem; absent otherwise it is missing (with
 * why, from the source's status). A replica present is compared on size, the CRC-32 and sha256 sync recorded, and
 * the ETag when neither copy is SSE-KMS (S3 does not promise equal ETags for objects re-encrypted with another key).
 */
export function judgeReplica(expected: ReplicaExpected, replica: ReplicaHead | undefined, source: ReplicaHead | undefined): ReplicaVerdict {
  const status = source?.replicationStatus
  if (!replica) {
    if (status === 'PENDING') return {status: 'pending', detail: 'not in the replica yet; the source object is PENDING replication'}
    const why =
      source === undefined
        ? 'the source object is gone too'
        : status === 'FAILED'
          ? 'S3 reports replication FAILED for the source object (check the replication role, the replica bucket and its key)'
          : status === 'COMPLETED'
            ? 'the source object is COMPLETED, so the replica was deleted or overwritten afterwards'
            : 'the source object has no replication status: it was written before replication was on or outside its rule (copy it with S3 Batch Replication)'
    return {status: 'missing', problem: 'missing', detail: `not in the replica: ${why}`}
  }
  // A newer version of the source may be replicating while the replica still holds the older one.
  const pending = status === 'PENDING'
  const differs = (problem: 'size' | 'crc' | 'sha256' | 'etag', detail: string): ReplicaVerdict =>
    pending ? {status: 'pending', detail: `${detail}; the source object is PENDING replication`} : {status: 'mismatch', problem, detail}
  if (replica.size !== expected.size) return differs('size', `the replica holds ${replica.size} bytes, the source had ${expected.size}`)
  if (expected.crc !== undefined && replica.crc32 !== expected.crc) {
    return differs('crc', replica.crc32 ? `the replica reports CRC32 ${replica.crc32}, the copy computed ${expected.crc}` : 'the replica holds no CRC32 for the object')
  }
  if (expected.sha256 !== undefined && replica.sha256 !== expected.sha256) {
    return differs('sha256', replica.sha256 ? `the replica's sha256 metadata is ${replica.sha256}, the source's was ${expected.sha256}` : 'the replica has no sha256 metadata')
  }
  if (source?.etag && replica.etag && source.encryption !== 'aws:kms' && replica.encryption !== 'aws:kms' && source.etag !== replica.etag) {
    return differs('etag', `the replica's ETag is ${replica.etag}, the source's ${source.etag}`)
  }
  return {status: 'verified'}
}

/** The bucket name of a replication rule's destination (an ARN, arn:aws:s3:::name). */
export function bucketOfArn(arn: string): string {
  return arn.replace(/^arn:aws[a-z-]*:s3:::/, '')
}

/**
 * A uniform random sample of at most n items of a stream of unknown length (reservoir sampling, Algorithm R):
 * memory stays at n whatever the manifest's size. n undefined keeps every item.
 */
export function sample<T>(items: Iterable<T>, n: number | undefined, random: () => number = Math.random): {picked: T[]; seen: number} {
  const picked: T[] = []
  let seen = 0
  for (const item of items) {
    seen++
    if (n === undefined || picked.length < n) picked.push(item)
    else {
      const j = Math.floor(random() * seen)
      if (j < n) picked[j] = item
    }
  }
  return {picked, seen}
}
