import {
  GetBucketReplicationCommand,
  GetBucketVersioningCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ReplicationRule,
  type S3Client,
} from '@aws-sdk/client-s3'

import {assessReplication, rulePrefix} from '../core/replication.js'
import type {Check} from './doctor.js'

/**
 * The bucket's cross-region replication (infra option ReplicaBucketArn): its rules, versioning, and the replication
 * status S3 reports on a sample of objects under the first enabled rule's prefix. Undefined when the bucket has no
 * replication configuration (the option is off: nothing to report).
 */
export async function replicationCheck(s3: Pick<S3Client, 'send'>, bucket: string, sampleSize = 20): Promise<Check | undefined> {
  let rules: ReplicationRule[]
  try {
    const {ReplicationConfiguration} = await s3.send(new GetBucketReplicationCommand({Bucket: bucket}))
    rules = ReplicationConfiguration?.Rules ?? []
  } catch (err) {
    if ((err as {name?: string}).name === 'ReplicationConfigurationNotFoundError') return undefined
    throw err
  }
  const {Status: versioning} = await s3.send(new GetBucketVersioningCommand({Bucket: bucket}))
  const sampled: Record<string, number> = {}
  const rule = rules.find((candidate) => candidate.Status === 'Enabled')
  if (rule && versioning === 'Enabled') {
    const {Contents = []} = await s3.send(new ListObjectsV2Command({Bucket: bucket, Prefix: rulePrefix(rule), MaxKeys: sampleSize}))
    for (const object of Contents) {
      const head = await s3.send(new HeadObjectCommand({Bucket: bucket, Key: object.Key}))
      const status = head.ReplicationStatus ?? 'no status'
      sampled[status] = (sampled[status] ?? 0) + 1
    }
  }
  return {id: 's3.replication', title: 'S3 replication', ...assessReplication({bucket, rules, versioning, sampled})}
}
