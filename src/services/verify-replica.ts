/**
 * verify --replica: a random sample of the synced files, each looked up in the cross-region replica bucket (the
 * infra option ReplicaBucketArn) and compared with what sync recorded (size, CRC-32, sha256) and with the source
 * object (ETag where comparable). The replica is target.replicaBucket, else the destination of the bucket's enabled
 * replication rule; only files under that rule's prefix are eligible.
 */
import {
  GetBucketLocationCommand,
  GetBucketReplicationCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  type ReplicationRule,
  type S3Client,
} from '@aws-sdk/client-s3'

import type {ManifestStore} from '../adapters/manifest-store.js'
import {isMissing, s3Reason} from '../adapters/s3-errors.js'
import type {Config} from '../core/config.js'
import {usageError} from '../core/errors.js'
import {displayPath} from '../core/findings.js'
import {bucketOfArn, judgeReplica, type ReplicaHead, sample} from '../core/replica.js'
import {rulePrefix} from '../core/replication.js'
import {type ManifestEntry, SHA256_TAG} from '../core/sync-plan.js'

export interface ReplicaOptions {
  /** How many synced files to check; undefined checks every eligible one */
  sample?: number
  concurrency: number
}

export interface ReplicaFinding {
  owner: string
  path: string
  key: string
  /** pending: not replicated yet (not a problem); the others are problems */
  status: 'pending' | 'missing' | 'mismatch' | 'unreadable'
  problem?: 'missing' | 'size' | 'crc' | 'sha256' | 'etag' | 'unreadable'
  detail: string
}

export interface ReplicaResult {
  bucket: string
  /** Where the replica bucket's name came from */
  bucketFrom: 'target.replicaBucket' | 'the replication configuration'
  region: string
  regionFrom: 'target.replicaRegion' | 'GetBucketLocation' | 'target.region'
  /** The replication rule's prefix ('' for the whole bucket): only synced files under it are eligible */
  prefix: string
  /** Synced files under the prefix, and how many of them were checked */
  eligible: number
  sampled: number
  verified: number
  pending: number
  mismatched: number
  missing: number
  unreadable: number
  /** Every sampled file that is not verified */
  findings: ReplicaFinding[]
}

export interface ReplicaDeps {
  /** The source bucket's client */
  s3: Pick<S3Client, 'send'>
  /** A client for the replica's region (same credentials and endpoint as the source's) */
  replicaS3: (region: string) => Pick<S3Client, 'send'>
  signal?: AbortSignal
}

/** Sampled files, problems and pending ones are counted here; exit 3 when any problem. */
export function replicaProblems(r: ReplicaResult | undefined): number {
  return r ? r.mismatched + r.missing + r.unreadable : 0
}

export async function verifyReplica(config: Config, store: ManifestStore, opts: ReplicaOptions, deps: ReplicaDeps): Promise<ReplicaResult> {
  const source = config.target.bucket
  const rules = await replicationRules(deps.s3, source, config.target.replicaBucket !== undefined)
  const configured = config.target.replicaBucket
  const rule = rules.find((r) => r.Status === 'Enabled' && (configured === undefined || bucketOfArn(r.Destination?.Bucket ?? '') === configured))
  const bucket = configured ?? (rule?.Destination?.Bucket ? bucketOfArn(rule.Destination.Bucket) : undefined)
  if (!bucket) {
    throw usageError(
      `${source} has no enabled replication rule and target.replicaBucket is not set: verify --replica does not know which bucket holds the replica`,
      ['Deploy the stack with ReplicaBucketArn, or run sftp-cutover config set target.replicaBucket <bucket> (and target.replicaRegion <region>).'],
      'NO_REPLICA',
    )
  }
  const prefix = rule ? rulePrefix(rule) : ''
  const {region, regionFrom} = await replicaRegion(config, deps.s3, bucket)
  const replica = deps.replicaS3(region)

  const eligible = (function* () {
    for (const m of store.entries()) if (m.kind === 'file' && m.status === 'synced' && m.key.startsWith(prefix)) yield m
  })()
  const {picked, seen} = sample(eligible, opts.sample)
  const result: ReplicaResult = {
    bucket,
    bucketFrom: configured ? 'target.replicaBucket' : 'the replication configuration',
    region,
    regionFrom,
    prefix,
    eligible: seen,
    sampled: 0,
    verified: 0,
    pending: 0,
    mismatched: 0,
    missing: 0,
    unreadable: 0,
    findings: [],
  }
  const queue = picked.values()
  const worker = async () => {
    for (let next = queue.next(); !next.done && !deps.signal?.aborted; next = queue.next()) await checkOne(next.value, source, bucket, deps.s3, replica, result)
  }
  await Promise.all(Array.from({length: Math.max(1, Math.min(opts.concurrency, picked.length))}, worker))
  return result
}

async function checkOne(m: ManifestEntry, sourceBucket: string, replicaBucket: string, s3: Pick<S3Client, 'send'>, replica: Pick<S3Client, 'send'>, result: ReplicaResult): Promise<void> {
  result.sampled++
  const base = {owner: m.owner, path: displayPath(m.path), key: m.key}
  let replicaHead: ReplicaHead | undefined
  let sourceHead: ReplicaHead | undefined
  try {
    replicaHead = await head(replica, replicaBucket, m.key)
    sourceHead = await head(s3, sourceBucket, m.key)
  } catch (err) {
    result.unreadable++
    result.findings.push({...base, status: 'unreadable', problem: 'unreadable', detail: `HeadObject failed: ${s3Reason(err)}`})
    return
  }
  const verdict = judgeReplica({size: m.size, crc: m.crc, sha256: m.sha256}, replicaHead, sourceHead)
  if (verdict.status === 'verified') result.verified++
  else if (verdict.status === 'pending') {
    result.pending++
    result.findings.push({...base, status: 'pending', detail: verdict.detail})
  } else {
    if (verdict.status === 'missing') result.missing++
    else result.mismatched++
    result.findings.push({...base, status: verdict.status, problem: verdict.problem, detail: verdict.detail})
  }
}

/** The object's head, or undefined when the bucket does not hold it. */
async function head(s3: Pick<S3Client, 'send'>, bucket: string, key: string): Promise<ReplicaHead | undefined> {
  let h: HeadObjectCommandOutput
  try {
    h = await s3.send(new HeadObjectCommand({Bucket: bucket, Key: key, ChecksumMode: 'ENABLED'}))
  } catch (err) {
    if (isMissing(err)) return undefined
    throw err
  }
  // A multipart object's sha256 is in a tag (S3 replication copies tags, and later tag changes, to the replica).
  const sha256 = h.Metadata?.sha256 ?? (await s3.send(new GetObjectTaggingCommand({Bucket: bucket, Key: key, VersionId: h.VersionId}))).TagSet?.find((t) => t.Key === SHA256_TAG)?.Value
  return {
    size: h.ContentLength ?? -1,
    crc32: h.ChecksumCRC32,
    etag: h.ETag,
    sha256,
    encryption: h.ServerSideEncryption,
    replicationStatus: h.ReplicationStatus,
  }
}

/**
 * The source bucket's replication rules ([] when it has none). A bucket whose configuration cannot be read is an
 * error unless target.replicaBucket names the replica (then the whole bucket is sampled).
 */
async function replicationRules(s3: Pick<S3Client, 'send'>, bucket: string, configured: boolean): Promise<ReplicationRule[]> {
  try {
    const {ReplicationConfiguration} = await s3.send(new GetBucketReplicationCommand({Bucket: bucket}))
    return ReplicationConfiguration?.Rules ?? []
  } catch (err) {
    if ((err as {name?: string}).name === 'ReplicationConfigurationNotFoundError' || configured) return []
    throw usageError(`the replication configuration of ${bucket} cannot be read (GetBucketReplication: ${s3Reason(err)})`, [
      'Allow s3:GetReplicationConfiguration, or name the replica with sftp-cutover config set target.replicaBucket <bucket>.',
    ])
  }
}

/** target.replicaRegion, else where S3 says the bucket is, else target.region. */
async function replicaRegion(config: Config, s3: Pick<S3Client, 'send'>, bucket: string): Promise<{region: string; regionFrom: ReplicaResult['regionFrom']}> {
  if (config.target.replicaRegion) return {region: config.target.replicaRegion, regionFrom: 'target.replicaRegion'}
  try {
    const {LocationConstraint} = await s3.send(new GetBucketLocationCommand({Bucket: bucket}))
    // No constraint is us-east-1; EU is the legacy name of eu-west-1.
    const region = !LocationConstraint ? 'us-east-1' : LocationConstraint === 'EU' ? 'eu-west-1' : LocationConstraint
    return {region, regionFrom: 'GetBucketLocation'}
  } catch {
    return {region: config.target.region, regionFrom: 'target.region'}
  }
}
