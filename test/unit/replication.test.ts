/** doctor's judgement of a bucket's replication (src/core/replication.ts), on rules as GetBucketReplication returns them. */
import type {ReplicationRule} from '@aws-sdk/client-s3'

import {assessReplication} from '../../src/core/replication.js'

// The rule infra/sftp-transfer.yaml writes with ReplicaBucketArn.
const templateRule = (changes: Partial<ReplicationRule> = {}): ReplicationRule => ({
  ID: 'UsersData',
  Status: 'Enabled',
  Priority: 1,
  Filter: {Prefix: 'sftp/home/'},
  DeleteMarkerReplication: {Status: 'Disabled'},
  SourceSelectionCriteria: {SseKmsEncryptedObjects: {Status: 'Enabled'}},
  Destination: {Bucket: 'arn:aws:s3:::sftp-replica', EncryptionConfiguration: {ReplicaKmsKeyID: 'arn:aws:kms:eu-west-1:123456789012:key/k'}},
  ...changes,
})
const assess = (rules: ReplicationRule[], sampled: Record<string, number>, versioning: string | undefined = 'Enabled') =>
  assessReplication({bucket: 'b', rules, versioning, sampled})

describe('assessReplication', () => {
  test('passes when every sampled object is replicated', () => {
    expect(assess([templateRule()], {COMPLETED: 20})).toEqual({
      status: 'pass',
      detail: 'b: 1 rule(s) enabled to arn:aws:s3:::sftp-replica; delete markers not replicated; of 20 sampled objects under sftp/home/: 20 COMPLETED',
    })
  })

  test('warns on PENDING and on objects without a status (written before replication)', () => {
    expect(assess([templateRule()], {COMPLETED: 3, PENDING: 1}).status).toBe('warn')
    expect(assess([templateRule({DeleteMarkerReplication: {Status: 'Enabled'}})], {'no status': 2})).toMatchObject({
      status: 'warn',
      detail: 'b: 1 rule(s) enabled to arn:aws:s3:::sftp-replica; delete markers replicated; of 2 sampled objects under sftp/home/: 2 no status',
    })
  })

  test('fails on a FAILED object, a rule without SSE-KMS objects, no enabled rule, or versioning off', () => {
    expect(assess([templateRule()], {COMPLETED: 1, FAILED: 1}).status).toBe('fail')
    expect(assess([templateRule({SourceSelectionCriteria: undefined})], {})).toMatchObject({
      status: 'fail',
      detail:
        'b: 1 rule(s) enabled to arn:aws:s3:::sftp-replica; delete markers not replicated; no object under sftp/home/ to sample; ' +
        "SSE-KMS objects are not selected, so none of this bucket's objects (all SSE-KMS) replicate",
    })
    expect(assess([templateRule({Status: 'Disabled'})], {})).toMatchObject({status: 'fail', detail: 'b has 1 replication rule(s), none enabled'})
    expect(assess([templateRule()], {}, 'Suspended')).toMatchObject({status: 'fail', detail: 'b replicates but its versioning is Suspended: S3 replicates nothing'})
    expect(assessReplication({bucket: 'b', rules: [templateRule()], versioning: undefined, sampled: {}}).detail).toBe('b replicates but its versioning is off: S3 replicates nothing')
  })
})
