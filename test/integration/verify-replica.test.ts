/**
 * verify --replica against real peers: two buckets on versitygw stand for the source and the cross-region replica
 * (the test copies the objects into the replica as S3 replication would: same bytes, metadata and CRC-32), one
 * replica object corrupted, one left out. The S3 endpoint is a counting proxy, so the test also sees that verify
 * without --replica sends nothing to the replica. Then the replication rule as S3 answers it (canned by the proxy:
 * versitygw answers GetBucketReplication 501) for its prefix, and moto, whose bucket has a replication configuration
 * (moto answers every rule with prefix ""), for finding the replica bucket from it. Neither peer replicates or reports x-amz-replication-status, so the PENDING
 * verdicts are unit-tested (test/unit/replica.test.ts).
 */
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketReplicationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import type {VerifyResult} from '../../src/services/verify.js'
import {type SshdPeer, startSshd} from '../peers/index.js'
import {listKeys, makeProject, moto, newBucket, removeScratch, type S3Peer, s3Of, startS3Proxy, versitygw} from './sync-helpers.js'

let sshd: SshdPeer

beforeAll(async () => {
  sshd = await startSshd()
})

afterAll(async () => {
  await sshd?.stop()
  removeScratch()
})

/** What replication does: the object's bytes, user metadata and CRC-32 in the replica bucket, under the same key. */
async function replicate(s3: S3Client, from: string, to: string, key: string, corrupt = false): Promise<void> {
  const got = await s3.send(new GetObjectCommand({Bucket: from, Key: key}))
  const body = Buffer.from(await got.Body!.transformToByteArray())
  if (corrupt) body[0] ^= 0xff // same size, other bytes: only the checksum can tell
  await s3.send(new PutObjectCommand({Bucket: to, Key: key, Body: body, Metadata: got.Metadata, ChecksumAlgorithm: 'CRC32'}))
}

function sourceTree(name: string): string {
  const root = join(sshd.dir, name)
  mkdirSync(root)
  for (const f of ['a.txt', 'b.txt', 'c.txt', 'd.txt']) writeFileSync(join(root, f), `${f} ${'x'.repeat(100)}\n`)
  return root
}

it('versitygw: the corrupted replica object is a mismatch, the one left out missing, the rest verified; exit 3', async () => {
  const peer = versitygw()
  const root = sourceTree('replica-vgw')
  const bucket = await newBucket(peer, 'repl-src')
  const replicaBucket = await newBucket(peer, 'repl-dst')
  const proxy = await startS3Proxy(peer.config.endpoint)
  const s3 = s3Of(peer)
  try {
    const project = makeProject({sshd, s3: peer, s3Endpoint: proxy.url, bucket, roots: [root]})
    expect((await project.run(['sync', '--json'])).code).toBe(0)
    const keys = await listKeys(s3, bucket)
    const key = (file: string) => keys.find((k) => k.endsWith(`/${file}`))!
    await replicate(s3, bucket, replicaBucket, key('a.txt'))
    await replicate(s3, bucket, replicaBucket, key('b.txt'))
    await replicate(s3, bucket, replicaBucket, key('c.txt'), true)
    // d.txt is left out

    // Without --replica: the main path only, nothing sent to the replica bucket.
    const plain = await project.run(['verify', '--json'])
    expect(plain.code).toBe(0)
    expect(plain.json<VerifyResult>().replica).toBeUndefined()
    expect(proxy.requests.filter((r) => r.path.startsWith(`/${replicaBucket}`))).toEqual([])

    // versitygw has no replication configuration to read: the replica is named in the configuration.
    const none = await project.run(['verify', '--replica'])
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/target\.replicaBucket/)
    expect((await project.run(['config', 'set', 'target.replicaRegion', 'not a region'])).code).toBe(2)
    expect((await project.run(['config', 'set', 'target.replicaBucket', replicaBucket])).code).toBe(0)
    expect((await project.run(['config', 'set', 'target.replicaRegion', peer.config.region])).code).toBe(0)

    const all = await project.run(['verify', '--replica', '--replica-all', '--json'])
    expect(all.code).toBe(3)
    const r = all.json<VerifyResult>()
    expect(r.files).toEqual({total: 4, verified: 4, notCopied: 0}) // the source copy itself is fine
    expect(r.replica).toMatchObject({
      bucket: replicaBucket,
      bucketFrom: 'target.replicaBucket',
      region: peer.config.region,
      regionFrom: 'target.replicaRegion',
      prefix: '',
      eligible: 4,
      sampled: 4,
      verified: 2,
      pending: 0,
      missing: 1,
      mismatched: 1,
      unreadable: 0,
    })
    const findings = r.replica!.findings.map((f) => `${f.status} ${f.problem} ${f.key}`).sort()
    expect(findings).toEqual([`mismatch crc ${key('c.txt')}`, `missing missing ${key('d.txt')}`])
    expect(r.replica!.findings.find((f) => f.status === 'missing')!.detail).toMatch(/no replication status/)
    expect(proxy.requests.some((q) => q.method === 'HEAD' && q.path === `/${replicaBucket}/${key('a.txt')}`)).toBe(true)

    const text = await project.run(['verify', '--replica', '--replica-all'])
    expect(text.code).toBe(3)
    expect(text.stdout).toContain('4 sampled of 4 synced files in the bucket: 2 verified, 0 pending, 1 missing, 1 mismatched')
    expect(text.stdout).toMatch(/REPLICA CRC \S+\/c\.txt .*the replica reports CRC32/)
    expect(text.stdout).toMatch(/REPLICA MISSING \S+\/d\.txt/)

    // A sample of 2 of the 4.
    const some = await project.run(['verify', '--replica', '--replica-sample', '2', '--json'])
    expect(some.json<VerifyResult>().replica).toMatchObject({eligible: 4, sampled: 2})
    expect((await project.run(['verify', '--replica-sample', '2'])).code).toBe(2) // needs --replica

    // Once the replica holds every object as the source does, the check is clean.
    await replicate(s3, bucket, replicaBucket, key('c.txt'))
    await replicate(s3, bucket, replicaBucket, key('d.txt'))
    const clean = await project.run(['verify', '--replica', '--replica-all', '--json'])
    expect(clean.code).toBe(0)
    expect(clean.json<VerifyResult>().replica).toMatchObject({sampled: 4, verified: 4, missing: 0, mismatched: 0})
  } finally {
    s3.destroy()
    await proxy.close()
  }
})

it('versitygw behind a proxy that answers GetBucketReplication: only files under the rule prefix are eligible', async () => {
  const peer = versitygw()
  const root = join(sshd.dir, 'replica-prefix')
  mkdirSync(join(root, 'sub'), {recursive: true})
  for (const f of ['a.txt', 'b.txt', 'sub/c.txt', 'sub/d.txt']) writeFileSync(join(root, f), `${f}\n`)
  const bucket = await newBucket(peer, 'repl-src')
  const replicaBucket = await newBucket(peer, 'repl-dst')
  let rulePrefix = ''
  // versitygw does not implement bucket replication (501): the proxy answers as S3 does for a bucket with one rule.
  const proxy = await startS3Proxy(peer.config.endpoint, {
    answer: ({method, path, query}) =>
      method === 'GET' && path.replace(/\/$/, '') === `/${bucket}` && /[?&]replication(=|&|$)/.test(query)
        ? {
            status: 200,
            contentType: 'application/xml',
            body: `<?xml version="1.0" encoding="UTF-8"?><ReplicationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Role>arn:aws:iam::123456789012:role/replication</Role><Rule><ID>home</ID><Status>Enabled</Status><Priority>1</Priority><Filter><Prefix>${rulePrefix}</Prefix></Filter><DeleteMarkerReplication><Status>Disabled</Status></DeleteMarkerReplication><Destination><Bucket>arn:aws:s3:::${replicaBucket}</Bucket></Destination></Rule></ReplicationConfiguration>`,
          }
        : undefined,
  })
  const s3 = s3Of(peer)
  try {
    const project = makeProject({sshd, s3: peer, s3Endpoint: proxy.url, bucket, roots: [root]})
    expect((await project.run(['sync', '--json'])).code).toBe(0)
    const keys = await listKeys(s3, bucket)
    const inSub = keys.filter((k) => k.includes('/sub/'))
    expect(inSub).toHaveLength(2)
    rulePrefix = inSub[0].slice(0, inSub[0].lastIndexOf('/') + 1)
    for (const k of inSub) await replicate(s3, bucket, replicaBucket, k)

    const v = await project.run(['verify', '--replica', '--json'])
    expect(v.code).toBe(0)
    expect(v.json<VerifyResult>().replica).toMatchObject({bucket: replicaBucket, bucketFrom: 'the replication configuration', prefix: rulePrefix, eligible: 2, sampled: 2, verified: 2})
    // a.txt and b.txt are outside the rule: never looked up in the replica; its region came from GetBucketLocation
    expect(proxy.requests.filter((r) => r.method === 'HEAD' && r.path.startsWith(`/${replicaBucket}/`)).map((r) => r.path.slice(replicaBucket.length + 2)).sort()).toEqual(inSub)
    expect(v.json<VerifyResult>().replica!.regionFrom).toBe('GetBucketLocation')
  } finally {
    s3.destroy()
    await proxy.close()
  }
})

it('moto: the replica bucket comes from the bucket replication configuration, its region from GetBucketLocation', async () => {
  const peer: S3Peer = moto()
  const root = sourceTree('replica-moto')
  const bucket = await newBucket(peer, 'repl-src')
  const replicaBucket = await newBucket(peer, 'repl-dst')
  const s3 = s3Of(peer)
  try {
    for (const b of [bucket, replicaBucket]) await s3.send(new PutBucketVersioningCommand({Bucket: b, VersioningConfiguration: {Status: 'Enabled'}}))
    await s3.send(
      new PutBucketReplicationCommand({
        Bucket: bucket,
        ReplicationConfiguration: {
          Role: 'arn:aws:iam::123456789012:role/replication',
          Rules: [{ID: 'home', Status: 'Enabled', Priority: 1, Filter: {Prefix: ''}, DeleteMarkerReplication: {Status: 'Disabled'}, Destination: {Bucket: `arn:aws:s3:::${replicaBucket}`}}],
        },
      }),
    )
    const project = makeProject({sshd, s3: peer, bucket, roots: [root]})
    expect((await project.run(['sync', '--json'])).code).toBe(0)
    const keys = await listKeys(s3, bucket)
    expect(keys).toHaveLength(4)
    for (const k of keys.slice(0, 3)) await replicate(s3, bucket, replicaBucket, k)
    // moto records no replication status on the source object (real S3 would say PENDING or COMPLETED)
    expect((await s3.send(new HeadObjectCommand({Bucket: bucket, Key: keys[3]}))).ReplicationStatus).toBeUndefined()

    const v = await project.run(['verify', '--replica', '--json'])
    expect(v.code).toBe(3)
    expect(v.json<VerifyResult>().replica).toMatchObject({
      bucket: replicaBucket,
      bucketFrom: 'the replication configuration',
      regionFrom: 'GetBucketLocation',
      eligible: 4,
      sampled: 4,
      verified: 3,
      missing: 1,
      mismatched: 0,
    })
    expect(v.json<VerifyResult>().replica!.findings.map((f) => f.key)).toEqual([keys[3]])
  } finally {
    s3.destroy()
  }
})
