import {bucketOfArn, judgeReplica, type ReplicaHead, sample} from '../../src/core/replica.js'

const expected = {size: 10, crc: 'AAAAAA==', sha256: 'ab'.repeat(32)}
const same: ReplicaHead = {size: 10, crc32: 'AAAAAA==', sha256: 'ab'.repeat(32), etag: '"e1"', encryption: 'aws:kms'}
const source = (status?: string, more: Partial<ReplicaHead> = {}): ReplicaHead => ({...same, replicationStatus: status, ...more})

describe('judgeReplica', () => {
  test('the same size, CRC-32 and sha256 is verified', () => {
    expect(judgeReplica(expected, {...same, replicationStatus: 'REPLICA'}, source('COMPLETED'))).toEqual({status: 'verified'})
  })

  test('absent while the source is PENDING is pending, not a problem', () => {
    expect(judgeReplica(expected, undefined, source('PENDING'))).toMatchObject({status: 'pending'})
  })

  test.each([
    ['FAILED', /replication FAILED/],
    ['COMPLETED', /deleted or overwritten/],
    [undefined, /no replication status.*Batch Replication/],
  ])('absent with the source %s is missing, saying why', (status, why) => {
    const v = judgeReplica(expected, undefined, source(status))
    expect(v).toMatchObject({status: 'missing', problem: 'missing'})
    expect((v as {detail: string}).detail).toMatch(why)
  })

  test('size, CRC-32 and sha256 differences are mismatches, in that order', () => {
    expect(judgeReplica(expected, {...same, size: 9, crc32: 'BBBBBB=='}, source('COMPLETED'))).toMatchObject({status: 'mismatch', problem: 'size'})
    expect(judgeReplica(expected, {...same, crc32: 'BBBBBB=='}, source('COMPLETED'))).toMatchObject({status: 'mismatch', problem: 'crc'})
    expect(judgeReplica(expected, {...same, crc32: undefined}, source('COMPLETED'))).toMatchObject({status: 'mismatch', problem: 'crc', detail: 'the replica holds no CRC32 for the object'})
    expect(judgeReplica(expected, {...same, sha256: 'cd'.repeat(32)}, source('COMPLETED'))).toMatchObject({status: 'mismatch', problem: 'sha256'})
  })

  test('a different replica while a newer source version is PENDING is pending', () => {
    expect(judgeReplica(expected, {...same, size: 3}, source('PENDING'))).toMatchObject({status: 'pending'})
  })

  test('ETags are compared only when neither copy is SSE-KMS', () => {
    expect(judgeReplica(expected, {...same, etag: '"other"'}, source('COMPLETED'))).toEqual({status: 'verified'})
    const s3 = {encryption: 'AES256'}
    expect(judgeReplica(expected, {...same, ...s3, etag: '"other"'}, source('COMPLETED', s3))).toMatchObject({status: 'mismatch', problem: 'etag'})
    expect(judgeReplica(expected, {...same, ...s3}, source('COMPLETED', s3))).toEqual({status: 'verified'})
  })
})

describe('sample', () => {
  test('keeps n of a longer stream and counts every item', () => {
    const {picked, seen} = sample(Array.from({length: 1000}, (_, i) => i), 10)
    expect(seen).toBe(1000)
    expect(picked).toHaveLength(10)
    expect(new Set(picked).size).toBe(10)
  })

  test('n undefined or larger than the stream keeps every item', () => {
    expect(sample([1, 2, 3], undefined).picked).toEqual([1, 2, 3])
    expect(sample([1, 2, 3], 5).picked).toEqual([1, 2, 3])
  })

  test('every item can be picked (not only the first n)', () => {
    // random() 0 puts each later item in slot 0; 0.999 keeps what is there
    expect(sample([1, 2, 3, 4], 1, () => 0).picked).toEqual([4])
    expect(sample([1, 2, 3, 4], 1, () => 0.999).picked).toEqual([1])
  })
})

test('bucketOfArn', () => {
  expect(bucketOfArn('arn:aws:s3:::sftp-replica')).toBe('sftp-replica')
  expect(bucketOfArn('arn:aws-cn:s3:::r')).toBe('r')
})
