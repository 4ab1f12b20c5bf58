/**
 * verify, as the built CLI, after a sync from a private sshd to versitygw, with the EFS copy made by the infra
 * Lambda's own code (processRecords over the synced objects, a temp directory standing in for the mount): it catches
 * an object overwritten through S3, bytes changed behind S3's back (--deep), a source file changed in place with its
 * size and mtime kept (--source-hash, over exec and over SFTP; sync --checksum then copies it), and missing, changed
 * and extra files on EFS.
 */
import {PutObjectCommand, type S3Client} from '@aws-sdk/client-s3'
import type {S3EventRecord} from 'aws-lambda'
import {appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {processRecords} from '../../infra/lambda/src/handler.js'
import type {SyncResult} from '../../src/services/sync.js'
import type {Mismatch, VerifyResult} from '../../src/services/verify.js'
import {type SshdPeer, startSshd} from '../peers/index.js'
import {listKeys, makeProject, newBucket, type Project, removeScratch, type S3Peer, s3Of, seedInventory, startS3Proxy, versitygw} from './sync-helpers.js'

let sshd: SshdPeer
let peer: S3Peer
let s3: S3Client
let bucket: string
let project: Project
let efs: string
let home: string
let upload: string

const record = (key: string): S3EventRecord =>
  ({
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    eventName: 'ObjectCreated:Put',
    s3: {bucket: {name: bucket}, object: {key: encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/')}},
  }) as unknown as S3EventRecord

const brief = (m: Mismatch) => `${m.where} ${m.problem} ${m.key}`

beforeAll(async () => {
  sshd = await startSshd({sampleTree: true})
  peer = versitygw()
  s3 = s3Of(peer)
  bucket = await newBucket(peer, 'verify')
  home = sshd.users.keyUser.sampleTree!.root
  upload = sshd.users.chrootUser.sampleTree!.root
  efs = mkdtempSync(join(tmpdir(), 'sct-efs-'))
  project = makeProject({sshd, s3: peer, bucket, roots: [home, upload], prefix: 'sftp'})
  const r = await project.run(['sync', '--json'])
  expect(r.code).toBe(0)
  // The Lambda copies each new object to <mount>/<key>, as it would on the S3 notifications.
  const keys = await listKeys(s3, bucket)
  await processRecords(keys.map(record), {s3, mountPath: efs, log: () => undefined})
})

afterAll(async () => {
  s3?.destroy()
  await sshd?.stop()
  rmSync(efs, {recursive: true, force: true})
  removeScratch()
})

const user = () => sshd.users.keyUser.name
const key = (rel: string) => `sftp/home/${user()}/${rel}`

it('finds S3 and the EFS copy in order', async () => {
  const r = await project.run(['verify', '--efs-path', efs, '--json'])
  const result = r.json<VerifyResult>()
  expect(result.mismatches).toEqual([])
  expect(r.code).toBe(0)
  expect(result.basis).toBe('listing')
  expect(result.files.verified).toBe(result.files.total)
  expect(result.counts.efs).toMatchObject({missing: 0, changed: 0, extra: 0})
  expect(result.counts.efs!.checked).toBeGreaterThan(20)
  expect(result.ok).toBe(result.checked)
})

it('says which objects S3 refuses to show (HeadObject 403, which has no body) and what permission that means', async () => {
  const denied = key('readme.txt')
  const proxy = await startS3Proxy(peer.config.endpoint, {fail: (method, path) => (method === 'HEAD' && decodeURIComponent(path).endsWith(`/${denied}`) ? 403 : undefined)})
  const yaml = join(project.dir, 'sftp-cutover.yaml')
  const config = readFileSync(yaml, 'utf8')
  try {
    writeFileSync(yaml, config.replace(/s3Endpoint: .*/, `s3Endpoint: ${proxy.url}`))
    const r = await project.run(['verify', '--json'])
    const result = r.json<VerifyResult>()
    expect(r.code).toBe(3)
    expect(result.mismatches.map(brief)).toEqual([`s3 unreadable ${denied}`])
    expect(result.mismatches[0].detail).toBe(
      "HeadObject failed: S3 HTTP 403 Forbidden: access denied: the credentials may not read this object (s3:GetObject), or a KMS key refuses them; check that the credentials' IAM policy (and the KMS key policy) allow it",
    )
    expect(proxy.failed()).toBe(1)
  } finally {
    writeFileSync(yaml, config)
    await proxy.close()
  }
})

it('--source-hash catches a source file changed in place with its size and mtime kept; sync --checksum copies it', async () => {
  const file = join(home, 'docs/guide.md')
  const before = statSync(file)
  const text = readFileSync(file, 'utf8')
  writeFileSync(file, text.replace('Guide', 'GUIDE'))
  utimesSync(file, before.atime, before.mtime)
  expect(statSync(file).size).toBe(before.size)

  // A plain sync sees the same size and mtime and copies nothing.
  expect((await project.run(['sync', '--json'])).json<SyncResult>().counts.copied).toBe(0)
  for (const method of ['exec', 'sftp']) {
    const r = await project.run(['verify', '--source-hash', '--source-hash-method', method, '--json'])
    const result = r.json<VerifyResult>()
    expect(r.code).toBe(3)
    expect(result.counts.source).toMatchObject({method, mismatched: 1})
    expect(result.mismatches.map(brief)).toEqual([`source changed ${key('docs/guide.md')}`])
  }
  const checked = (await project.run(['sync', '--checksum', '--json'])).json<SyncResult>()
  expect(checked.counts.copied).toBe(1)
  expect(checked.counts.checked).toBeGreaterThan(20)
  const after = await project.run(['verify', '--source-hash', '--json'])
  expect(after.json<VerifyResult>().mismatches).toEqual([])
  // The EFS copy is now stale (the Lambda would copy the new object): bring it in line for the next test.
  await processRecords([record(key('docs/guide.md'))], {s3, mountPath: efs, log: () => undefined})
})

it('catches an object overwritten through S3, bytes changed behind S3 (--deep), and missing, changed and extra EFS files', async () => {
  // Through S3: different bytes under the same key (the SDK sends its own CRC32, which is not ours).
  const readme = key('readme.txt')
  await s3.send(new PutObjectCommand({Bucket: bucket, Key: readme, Body: readFileSync(join(home, 'readme.txt'), 'utf8').toUpperCase()}))
  // Behind S3: the same number of bytes overwritten in versitygw's data directory; HeadObject still reports the
  // stored size, CRC32 and metadata, so only a download (--deep) can tell.
  const q1 = key('docs/reports/2024/q1.csv')
  const onDisk = join(peer.dataDir!, bucket, q1)
  const original = readFileSync(onDisk)
  writeFileSync(onDisk, Buffer.alloc(original.length, 0x41))
  // On EFS: one copy gone, one changed, one file nobody synced.
  rmSync(join(efs, key('docs/reports/2024/q2.csv')))
  appendFileSync(join(efs, key('.hidden.txt')), 'edited on EFS\n')
  writeFileSync(join(efs, key('stray.tmp')), 'left behind\n')

  const plain = await project.run(['verify', '--efs-path', efs, '--json'])
  const result = plain.json<VerifyResult>()
  expect(plain.code).toBe(3)
  expect(result.mismatches.map(brief).sort()).toEqual(
    [`s3 crc ${readme}`, `efs missing ${key('docs/reports/2024/q2.csv')}`, `efs changed ${key('.hidden.txt')}`, `efs extra ${key('stray.tmp')}`].sort(),
  )
  expect(result.counts.efs).toMatchObject({missing: 1, changed: 1, extra: 1})
  expect(result.mismatches.find((m) => m.key === readme)!.detail).toMatch(/CRC32/)

  const deep = await project.run(['verify', '--deep', '--json'])
  const deepResult = deep.json<VerifyResult>()
  expect(deep.code).toBe(3)
  expect(deepResult.mismatches.map(brief).sort()).toEqual([`s3 content ${q1}`, `s3 crc ${readme}`])
  expect(deepResult.counts.deep!.mismatched).toBe(1)
})

it('without a manifest it checks the last inventory (existence and size), and without either it says what to run', async () => {
  const empty = makeProject({sshd, s3: peer, bucket, roots: [home]})
  const r = await empty.run(['verify', '--json'])
  expect(r.code).toBe(2)
  expect(r.json<{error: {code: string}}>().error.code).toBe('NOTHING_TO_VERIFY')

  const fresh = makeProject({sshd, s3: peer, bucket, prefix: 'sftp'})
  const file = (path: string, size: number) => ({owner: user(), path: Buffer.from(path), type: 'file' as const, size, mtime: 0, mode: 0o100644, uid: 0, gid: 0})
  seedInventory(fresh.stateDb, [{name: user(), uid: 0, gid: 0, dataRoot: home}], [file('data/chunk-32k.bin', 32 * 1024), file('never-synced.txt', 5)])
  const byInventory = await fresh.run(['verify', '--json'])
  const result = byInventory.json<VerifyResult>()
  expect(result.basis).toBe('inventory')
  expect(result.checked).toBe(2)
  expect(result.mismatches.map(brief)).toEqual([`s3 missing ${key('never-synced.txt')}`])
})

it('--source-hash falls back to reading over SFTP when the login may not run commands (chrooted, internal-sftp)', async () => {
  const chrooted = sshd.users.chrootUser
  const own = await newBucket(peer, 'chroot')
  const project = makeProject({sshd, s3: peer, bucket: own, roots: ['/upload'], login: chrooted})
  expect((await project.run(['sync', '--json'])).code).toBe(0)
  const auto = await project.run(['verify', '--source-hash', '--json'])
  const result = auto.json<VerifyResult>()
  expect(result.counts.source).toMatchObject({method: 'sftp', mismatched: 0})
  expect(result.counts.source!.checked).toBeGreaterThan(5)
  expect(auto.code).toBe(0)
  const exec = await project.run(['verify', '--source-hash', '--source-hash-method', 'exec', '--json'])
  expect(exec.code).toBe(2)
  expect(exec.json<{error: {message: string}}>().error.message).toMatch(/cannot run sha256sum/)
})
