import type {ReplicationRule} from '@aws-sdk/client-s3'

export interface ReplicationAssessment {
  status: 'pass' | 'warn' | 'fail'
  detail: string
  fix?: string
}

/** The prefix a replication rule applies to ('' for the whole bucket). */
export function rulePrefix(rule: ReplicationRule): string {
  return rule.Filter?.Prefix ?? rule.Filter?.And?.Prefix ?? rule.Prefix ?? ''
}

/**
 * Judges a bucket's replication from its rules, its versioning and the replication status S3 reports on a sample
 * of objects (status name, or 'no status', -> count). Every object of the infra template's bucket is SSE-KMS, so a
 * rule that does not select SSE-KMS objects replicates nothing.
 */
export function assessReplication(input: {
  bucket: string
  rules: ReplicationRule[]
  versioning: string | undefined
  sampled: Record<string, number>
}): ReplicationAssessment {
  const {bucket, rules, versioning, sampled} = input
  const enabled = rules.filter((rule) => rule.Status === 'Enabled')
  if (enabled.length === 0) {
    return {status: 'fail', detail: `${bucket} has ${rules.length} replication rule(s), none enabled`, fix: 'Enable the rule (redeploy the stack with ReplicaBucketArn).'}
  }
  if (versioning !== 'Enabled') {
    return {
      status: 'fail',
      detail: `${bucket} replicates but its versioning is ${versioning ?? 'off'}: S3 replicates nothing`,
      fix: 'Turn versioning on (the template does with ReplicaBucketArn).',
    }
  }
  const rule = enabled[0]
  const prefix = rulePrefix(rule) || '/'
  const total = Object.values(sampled).reduce((sum, n) => sum + n, 0)
  const parts = [
    `${enabled.length} rule(s) enabled to ${rule.Destination?.Bucket}`,
    `delete markers ${rule.DeleteMarkerReplication?.Status === 'Enabled' ? '' : 'not '}replicated`,
    total
      ? `of ${total} sampled objects under ${prefix}: ${Object.entries(sampled)
          .map(([status, n]) => `${n} ${status}`)
          .join(', ')}`
      : `no object under ${prefix} to sample`,
  ]
  if (rule.SourceSelectionCriteria?.SseKmsEncryptedObjects?.Status !== 'Enabled') {
    parts.push("SSE-KMS objects are not selected, so none of this bucket's objects (all SSE-KMS) replicate")
    return {status: 'fail', detail: `${bucket}: ${parts.join('; ')}`, fix: 'Select SSE-KMS objects in the rule (SourceSelectionCriteria; the template does).'}
  }
  const detail = `${bucket}: ${parts.join('; ')}`
  if (sampled.FAILED) {
    return {status: 'fail', detail, fix: 'Check the replication role, the replica bucket (versioned) and the replica key policy; see the FAILED objects with head-object.'}
  }
  // Objects written before replication was on (or outside its filter) have no status: only Batch Replication copies them.
  if (sampled.PENDING || sampled['no status']) {
    return {status: 'warn', detail, fix: 'PENDING clears as S3 catches up; objects with no status predate replication: copy them with S3 Batch Replication.'}
  }
  return {status: 'pass', detail}
}
