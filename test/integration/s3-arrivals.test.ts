/**
 * The carry-back's view of S3 (S3Arrivals) against moto: the latest version of each key and its delete markers in a
 * versioned bucket, exactly the version asked for, and the checksum S3 holds checked as the bytes arrive.
 */
import {CreateBucketCommand, DeleteObjectCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {randomBytes} from 'node:crypto'

import {S3Arrivals, type S3Current} from '../../src/adapters/s3-arrivals.js'
import {motoClientConfig} from '../peers/env.js'

const s3 = new S3Client(motoClientConfig())
afterAll(() => s3.destroy())

async function all(it: AsyncIterable<S3Current>): Promise<S3Current[]> {
  const out: S3Current[] = []
  for await (const o of it) out.push(o)
  return out.sort((a, b) => (a.key < b.key ? -1 : 1))
}

const text = async (o: {body: NodeJS.ReadableStream}) => {
  let s = ''
  for await (const c of o.body) s += (c as Buffer).toString()
  return s
}

it('in a versioned bucket: the latest version of each key, delete markers, and exactly the version asked for', async () => {
  const Bucket = `sct-arrivals-${randomBytes(4).toString('hex')}`
  await s3.send(new CreateBucketCommand({Bucket}))
  await s3.send(new PutBucketVersioningCommand({Bucket, VersioningConfiguration: {Status: 'Enabled'}}))
  const v1 = await s3.send(new PutObjectCommand({Bucket, Key: 'home/alice/a.txt', Body: 'first'}))
  const v2 = await s3.send(new PutObjectCommand({Bucket, Key: 'home/alice/a.txt', Body: 'second'}))
  await s3.send(new PutObjectCommand({Bucket, Key: 'home/alice/gone.txt', Body: 'x'}))
  await s3.send(new DeleteObjectCommand({Bucket, Key: 'home/alice/gone.txt'}))

  const arrivals = new S3Arrivals(s3, Bucket)
  expect(await arrivals.versioned()).toBe(true)
  const current = await all(arrivals.current('home/', true))
  expect(current.map((o) => ({key: o.key, versionId: o.versionId, deleted: o.deleted, size: o.size}))).toEqual([
    {key: 'home/alice/a.txt', versionId: v2.VersionId, deleted: false, size: 6},
    {key: 'home/alice/gone.txt', versionId: expect.any(String), deleted: true, size: 0},
  ])
  const old = await arrivals.open({key: 'home/alice/a.txt', versionId: v1.VersionId})
  expect(await text(old)).toBe('first')
  // the SDK's default CRC32 on upload is what S3 holds, and what the download was checked against
  expect(old.s3Check).toBe('CRC32')
})

it('in an unversioned bucket: the ETag pins the bytes; an object replaced since the listing is refused', async () => {
  const Bucket = `sct-arrivals-${randomBytes(4).toString('hex')}`
  await s3.send(new CreateBucketCommand({Bucket}))
  await s3.send(new PutObjectCommand({Bucket, Key: 'home/bob/b.txt', Body: 'listed'}))
  const arrivals = new S3Arrivals(s3, Bucket)
  expect(await arrivals.versioned()).toBe(false)
  const [listed] = await all(arrivals.current('home/', false))
  expect(await text(await arrivals.open(listed))).toBe('listed')
  await s3.send(new PutObjectCommand({Bucket, Key: 'home/bob/b.txt', Body: 'replaced'}))
  await expect(arrivals.open(listed)).rejects.toThrow(/PreconditionFailed|412|At least one of the pre-conditions/)
})
