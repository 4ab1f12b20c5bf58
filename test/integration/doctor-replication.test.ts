/**
 * doctor's replication check (the infra option ReplicaBucketArn) against moto's S3: what it reads (configuration,
 * versioning, sampled objects). moto 5.2.5's GetBucketReplication answers every rule with Filter Prefix "",
 * delete markers Disabled and no SourceSelectionCriteria whatever was put, so against moto the check always finds
 * SSE-KMS objects unselected; the judgement of real configurations is unit-tested (test/unit/replication.test.ts).
 */
import {
  CreateBucketCommand,
  PutBucketReplicationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import {randomBytes} from 'node:crypto'

import {replicationCheck} from '../../src/services/doctor-replication.js'
import {motoClientConfig} from '../peers/env.js'

let s3: S3Client
beforeAll(() => {
  s3 = new S3Client(motoClientConfig())
})
afterAll(() => s3?.destroy())

async function bucket(options: {versioning?: 'Enabled' | 'Suspended'; replication?: {sseKms: boolean; deletes: boolean}; keys?: string[]}): Promise<string> {
  const name = `repl-${randomBytes(4).toString('hex')}`
  await s3.send(new CreateBucketCommand({Bucket: name}))
  if (options.versioning) await s3.send(new PutBucketVersioningCommand({Bucket: name, VersioningConfiguration: {Status: options.versioning}}))
  if (options.replication) {
    await s3.send(
      new PutBucketReplicationCommand({
        Bucket: name,
        ReplicationConfiguration: {
          Role: 'arn:aws:iam::123456789012:role/replication',
          Rules: [
            {
              ID: 'UsersData',
              Status: 'Enabled',
              Priority: 1,
              Filter: {Prefix: 'sftp/home/'},
              DeleteMarkerReplication: {Status: options.replication.deletes ? 'Enabled' : 'Disabled'},
              SourceSelectionCriteria: options.replication.sseKms ? {SseKmsEncryptedObjects: {Status: 'Enabled'}} : undefined,
              Destination: {Bucket: 'arn:aws:s3:::sftp-replica', EncryptionConfiguration: {ReplicaKmsKeyID: 'arn:aws:kms:eu-west-1:123456789012:key/k'}},
            },
          ],
        },
      }),
    )
  }
  for (const key of options.keys ?? []) await s3.send(new PutObjectCommand({Bucket: name, Key: key, Body: key}))
  return name
}

describe('doctor: S3 replication', () => {
  test('no check when the bucket does not replicate', async () => {
    expect(await replicationCheck(s3, await bucket({}))).toBeUndefined()
  })

  test('reads the rule as moto returns it, samples the objects, and fails on what moto drops (SSE-KMS selection)', async () => {
    const name = await bucket({versioning: 'Enabled', replication: {sseKms: true, deletes: false}, keys: ['sftp/home/a/1.txt', 'sftp/home/b/2.txt', 'other/3.txt']})
    expect(await replicationCheck(s3, name)).toEqual({
      id: 's3.replication',
      title: 'S3 replication',
      status: 'fail',
      detail:
        `${name}: 1 rule(s) enabled to arn:aws:s3:::sftp-replica; delete markers not replicated; of 3 sampled objects under /: 3 no status; ` +
        "SSE-KMS objects are not selected, so none of this bucket's objects (all SSE-KMS) replicate",
      fix: 'Select SSE-KMS objects in the rule (SourceSelectionCriteria; the template does).',
    })
  })

  test('fails when versioning is suspended', async () => {
    const suspended = await bucket({versioning: 'Enabled', replication: {sseKms: true, deletes: false}})
    await s3.send(new PutBucketVersioningCommand({Bucket: suspended, VersioningConfiguration: {Status: 'Suspended'}}))
    expect(await replicationCheck(s3, suspended)).toMatchObject({status: 'fail', detail: `${suspended} replicates but its versioning is Suspended: S3 replicates nothing`})
  })
})
