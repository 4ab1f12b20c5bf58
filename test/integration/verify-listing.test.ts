/**
 * verify without --deep: it lists the bucket under each home and compares every object with the manifest (size,
 * ETag, checksum type), HEADing only what differs and a random sample of the rest. As the built CLI against a private
 * OpenSSH sshd and versitygw, with a recording HTTP proxy in front of S3 that counts the requests (and refuses the
 * listing in the last test).
 */
import {DeleteObjectCommand, PutObjectCommand, type S3Client} from '@aws-sdk/client-s3'
import {copyFileSync, mkdirSync, readFileSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {CutoverStore} from '../../src/adapters/cutover-store.js'
import {SqliteStateStore} from '../../src/adapters/state.js'
import {ListedObjectsStore} from '../../src/adapters/listed-objects-store.js'
import {S3ObjectLister} from '../../src/adapters/object-listing.js'
import {listHomes, type VerifyResult} from '../../src/services/verify.js'
import {type SshdPeer, startSshd} from '../peers/index.js'
import {makeProject, newBucket, type Project, removeScratch, type S3Peer, s3Of, startS3Proxy, versitygw} from './sync-helpers.js'

const FILES = 24
let sshd: SshdPeer
let peer: S3Peer
let s3: S3Client
let bucket: string
let proxy: Awaited<ReturnType<typeof startS3Proxy>>
let project: Project
const home = 'home/listed'

beforeAll(async () => {
  sshd = await startSshd()
  peer = versitygw()
  s3 = s3Of(peer)
  bucket = await newBucket(peer, 'vlist')
  const root = join(sshd.dir, 'listed')
  mkdirSync(join(root, 'sub'), {recursive: true})
  mkdirSync(join(root, 'empty'))
  for (let i = 0; i < FILES; i++) writeFileSync(join(root, i % 2 ? 'sub' : '', `f${i}.txt`), `file ${i}\n`)
  proxy = await startS3Proxy(peer.config.endpoint)
  project = makeProject({sshd, s3: peer, s3Endpoint: proxy.url, bucket, roots: [root]})
  const sync = await project.run(['sync', '--json'])
  expect(sync.code).toBe(0)
}, 120_000)

afterAll(async () => {
  s3?.destroy()
  await proxy?.close()
  await sshd?.stop()
  removeScratch()
})

const heads = () => proxy.requests.filter((q) => q.method === 'HEAD' && q.path.startsWith(`/${bucket}/`) && q.path !== `/${bucket}/`)
const listings = () => proxy.requests.filter((q) => q.method === 'GET' && q.query.includes('list-type=2'))

it('checks every object against the listing and HEADs only the sample, which the output and the JSON count', async () => {
  proxy.requests.length = 0
  const r = await project.run(['verify', '--sample', '5', '--json'])
  expect(r.code).toBe(0)
  const v = r.json<VerifyResult>()
  // 24 files and the empty directory's marker
  expect(v.counts.s3).toMatchObject({method: 'listing', checked: FILES + 1, listed: FILES + 1, mismatched: 0, differed: 0, sampled: 5, headed: 5, extra: 0})
  expect(v.files).toEqual({total: FILES, verified: FILES, notCopied: 0})
  expect(heads()).toHaveLength(5)
  expect(listings().length).toBeGreaterThanOrEqual(1)
  expect(listings().every((q) => q.query.includes('prefix=home%2Flisted%2F'))).toBe(true)

  const text = await project.run(['verify', '--sample', '3'])
  expect(text.code).toBe(0)
  expect(text.stdout).toContain(`S3 (s3://${bucket}): ${FILES + 1} checked against the listing (${FILES + 1} objects listed: size, ETag, checksum type), 0 mismatched, 0 extra`)
  expect(text.stdout).toContain('0 that differed from the listing, 3 sampled at random of those that matched (--sample N); the rest was checked by listing only')
  expect(text.stdout).toContain(`${FILES} of ${FILES} source files verified`)
}, 120_000)

it('finds an object whose bytes were replaced behind sync\'s back, a missing object and an extra one, HEADing only those', async () => {
  // Same size, other bytes: only the ETag in the listing tells.
  await s3.send(new PutObjectCommand({Bucket: bucket, Key: `${home}/f0.txt`, Body: 'FILE 0\n'}))
  await s3.send(new DeleteObjectCommand({Bucket: bucket, Key: `${home}/sub/f1.txt`}))
  await s3.send(new PutObjectCommand({Bucket: bucket, Key: `${home}/stray.txt`, Body: 'not from the legacy box\n'}))
  // the home folder placeholder users import writes is not extra
  await s3.send(new PutObjectCommand({Bucket: bucket, Key: `${home}/`, Body: ''}))
  try {
    proxy.requests.length = 0
    const r = await project.run(['verify', '--sample', '0', '--json'])
    expect(r.code).toBe(3)
    const v = r.json<VerifyResult>()
    expect(v.mismatches.map((m) => `${m.where} ${m.problem} ${m.key}`).sort()).toEqual([`s3 crc ${home}/f0.txt`, `s3 extra ${home}/stray.txt`, `s3 missing ${home}/sub/f1.txt`])
    expect(v.counts.s3).toMatchObject({method: 'listing', differed: 2, sampled: 0, headed: 2, mismatched: 2, extra: 1})
    expect(v.files).toEqual({total: FILES, verified: FILES - 2, notCopied: 0})
    expect(heads().map((q) => q.path).sort()).toEqual([`/${bucket}/${home}/f0.txt`, `/${bucket}/${home}/sub/f1.txt`])
  } finally {
    // back to what the source holds: a new mtime makes sync copy both files again
    await s3.send(new DeleteObjectCommand({Bucket: bucket, Key: `${home}/stray.txt`}))
    const later = new Date(Date.now() + 10_000)
    for (const f of ['f0.txt', 'sub/f1.txt']) utimesSync(join(sshd.dir, 'listed', f), later, later)
    expect((await project.run(['sync', '--json'])).code).toBe(0)
  }
}, 120_000)

it('after the switch to Transfer, objects written since are counted apart, not as extra', async () => {
  const dns = {hostedZoneId: 'Z0TESTZONE', recordName: 'sftp.example.internal'}
  const yaml = join(project.dir, 'sftp-cutover.yaml')
  const before = readFileSync(yaml, 'utf8')
  writeFileSync(yaml, `${before}dns:\n  hostedZoneId: ${dns.hostedZoneId}\n  recordName: ${dns.recordName}\n`)
  const state = new SqliteStateStore(project.stateDb)
  const record = new CutoverStore(state)
  // versitygw's LastModified has whole seconds: the switch began a little before the upload
  const switchStartedAt = new Date(Date.now() - 5_000).toISOString()
  record.saveDnsRecord({...dns, saved: [], switchStartedAt, switchedAt: switchStartedAt})
  await s3.send(new PutObjectCommand({Bucket: bucket, Key: `${home}/partner-upload.csv`, Body: 'a,b\n'}))
  try {
    const r = await project.run(['verify', '--sample', '0', '--json'])
    expect(r.json<VerifyResult>().counts.s3).toMatchObject({extra: 0, sinceSwitch: 1})
    expect(r.code).toBe(0)
    // rolled back: nothing writes to S3 but sync, so the same object is extra
    record.saveDnsRecord({...dns, saved: [], switchStartedAt, switchedAt: switchStartedAt, rolledBackAt: new Date().toISOString()})
    const back = await project.run(['verify', '--sample', '0', '--json'])
    expect(back.code).toBe(3)
    expect(back.json<VerifyResult>().mismatches.map((m) => `${m.problem} ${m.key}`)).toEqual([`extra ${home}/partner-upload.csv`])
  } finally {
    state.db.prepare('DELETE FROM dns_records').run()
    state.close()
    writeFileSync(yaml, before)
    await s3.send(new DeleteObjectCommand({Bucket: bucket, Key: `${home}/partner-upload.csv`}))
  }
}, 120_000)

it('lists a home in ranges side by side (split at manifest keys), each key once', async () => {
  const state = new SqliteStateStore(project.stateDb)
  const client = s3Of(peer, proxy.url)
  try {
    const listed = new ListedObjectsStore(state)
    proxy.requests.length = 0
    // 25 keys (24 files and a marker) split every 4th: 6 split keys, 7 ranges of one page each
    expect(await listHomes('', new S3ObjectLister(client, bucket), listed, undefined, 4)).toBeUndefined()
    // and the home folder placeholder the test before left
    expect(listed.count()).toBe(FILES + 2)
    expect(listings()).toHaveLength(7)
    expect(listings().filter((q) => q.query.includes('start-after=')).length).toBe(6)
    expect([...listed.unknown()].map((o) => o.key)).toEqual([`${home}/`])
    listed.clear()
  } finally {
    client.destroy()
    state.close()
  }
}, 60_000)

it('HEADs every object, and says why, when the listing is refused', async () => {
  const refusing = await startS3Proxy(peer.config.endpoint, {
    answer: (q) => (q.method === 'GET' && q.query.includes('list-type=2') ? {status: 403, contentType: 'application/xml', body: '<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>'} : undefined),
  })
  try {
    const other = makeProject({sshd, s3: peer, s3Endpoint: refusing.url, bucket, roots: [join(sshd.dir, 'listed')]})
    // the state of the synced project, so the other project's verify has the same manifest
    mkdirSync(join(other.dir, '.sftp-cutover'), {recursive: true})
    copyFileSync(project.stateDb, other.stateDb)
    const r = await other.run(['verify', '--json'])
    expect(r.code).toBe(0)
    const v = r.json<VerifyResult>()
    expect(v.counts.s3).toMatchObject({method: 'head', checked: FILES + 1, headed: FILES + 1, sampled: 0, listed: 0})
    expect(v.counts.s3.reason).toMatch(/^ListObjectsV2 failed: .*AccessDenied/)
    expect(refusing.requests.filter((q) => q.method === 'HEAD' && q.path.startsWith(`/${bucket}/`) && q.path !== `/${bucket}/`)).toHaveLength(FILES + 1)
  } finally {
    await refusing.close()
  }
}, 120_000)
