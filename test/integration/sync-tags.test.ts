/**
 * A chmod or chown at the source changes only the object's tag: against moto with a versioned bucket whose S3 events
 * go to EventBridge, matched by the copy rule of the rendered template into a queue (what would invoke the EFS copy
 * function). The first sync's objects reach the copy function; the re-sync after a chmod/chown creates no version
 * and no Object Created event, keeps a tag a malware scanner set, and verify --deep reads the new mode from the tag.
 */
import {GetObjectTaggingCommand, ListObjectVersionsCommand, PutBucketNotificationConfigurationCommand, PutBucketVersioningCommand, PutObjectTaggingCommand, type S3Client} from '@aws-sdk/client-s3'
import {EventBridgeClient, PutRuleCommand, PutTargetsCommand} from '@aws-sdk/client-eventbridge'
import {randomBytes} from 'node:crypto'
import {chmodSync, chownSync, mkdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {processEvent} from '../../infra/lambda/src/handler.js'
import type {SyncResult} from '../../src/services/sync.js'
import type {VerifyResult} from '../../src/services/verify.js'
import {motoClientConfig} from '../peers/env.js'
import {type SshdPeer, startSshd} from '../peers/index.js'
import {COMBINATIONS, renderTemplate, REQUIRED_PARAMETERS} from './infra-render.js'
import {motoQueue} from './infra-sqs.js'
import {makeProject, moto, newBucket, removeScratch, s3Of, scratchDir, sha256} from './sync-helpers.js'

const MiB = 1024 * 1024
const SCAN_TAG = 'GuardDutyMalwareScanStatus'
let sshd: SshdPeer
let s3: S3Client
let events: EventBridgeClient

beforeAll(async () => {
  sshd = await startSshd()
  s3 = s3Of(moto())
  events = new EventBridgeClient(motoClientConfig())
})

afterAll(async () => {
  s3?.destroy()
  events?.destroy()
  await sshd?.stop()
  removeScratch()
})

const tagsOf = async (bucket: string, key: string) =>
  Object.fromEntries(((await s3.send(new GetObjectTaggingCommand({Bucket: bucket, Key: key}))).TagSet ?? []).map((t) => [t.Key!, t.Value!]))

it('a chmod or chown at the source rewrites a tag: no new version, no Object Created event for the copy function, and verify sees the new mode', async () => {
  const root = join(sshd.dir, 'tagroot')
  mkdirSync(root)
  const small = join(root, 'small.txt')
  const big = join(root, 'big.bin')
  writeFileSync(small, 'a small file\n')
  writeFileSync(big, randomBytes(20 * MiB + 3))
  chmodSync(small, 0o640)
  const bucket = await newBucket(moto(), 'tags')
  await s3.send(new PutBucketVersioningCommand({Bucket: bucket, VersioningConfiguration: {Status: 'Enabled'}}))
  const rendered = renderTemplate({...REQUIRED_PARAMETERS, ...COMBINATIONS.eventbridge})
  const pattern = structuredClone((rendered.Resources.CopyOnObjectCreatedRule.Properties as {EventPattern: {detail: Record<string, Record<string, unknown>>}}).EventPattern)
  pattern.detail.bucket.name = [bucket]
  const queue = await motoQueue(`sync-tags-${randomBytes(4).toString('hex')}`)
  const rule = `sync-tags-${randomBytes(4).toString('hex')}`
  await events.send(new PutRuleCommand({Name: rule, EventPattern: JSON.stringify(pattern)}))
  await events.send(new PutTargetsCommand({Rule: rule, Targets: [{Id: 'queue', Arn: queue.arn}]}))
  await s3.send(new PutBucketNotificationConfigurationCommand({Bucket: bucket, NotificationConfiguration: {EventBridgeConfiguration: {}}}))
  // The template's copy rule matches keys under sftp/home/.
  const project = makeProject({sshd, s3: moto(), bucket, prefix: 'sftp', roots: [root]})
  const keys = {small: 'sftp/home/tagroot/small.txt', big: 'sftp/home/tagroot/big.bin'}

  const first = await project.run(['sync', '--json'])
  expect(first.code).toBe(0)
  expect(first.json<SyncResult>().counts.copied).toBe(2)
  const delivered = (await queue.receiveAll()).map((body) => JSON.parse(body) as {'detail-type': string; detail: {object: {key: string; 'version-id': string}}})
  // moto completes a multipart upload through its own PutObject and sends Object Created for both (AWS sends one):
  // one event per key and version.
  const created = [...new Map(delivered.map((e) => [`${e.detail.object.key} ${e.detail.object['version-id']}`, e])).values()]
  expect(created.map((e) => `${e['detail-type']} ${e.detail.object.key}`).sort()).toEqual([`Object Created ${keys.big}`, `Object Created ${keys.small}`])
  // What the copy function does with them: the bytes land on the mount.
  const mount = scratchDir('mount-')
  for (const event of created) expect(await processEvent(event as never, {s3, mountPath: mount, log: () => {}})).toEqual([expect.objectContaining({outcome: 'copied'})])
  expect(sha256(await readFile(join(mount, keys.big)))).toBe(sha256(readFileSync(big)))
  // A malware scanner tags the large object; sync must keep that tag.
  await s3.send(new PutObjectTaggingCommand({Bucket: bucket, Key: keys.big, Tagging: {TagSet: [...Object.entries(await tagsOf(bucket, keys.big)).map(([Key, Value]) => ({Key, Value})), {Key: SCAN_TAG, Value: 'NO_THREATS_FOUND'}]}}))

  chmodSync(small, 0o600)
  chownSync(big, statSync(big).uid, statSync(big).gid === 0 ? 1 : 0)
  const second = await project.run(['sync', '--json'])
  expect(second.code).toBe(0)
  const result = second.json<SyncResult>()
  expect(result.counts).toMatchObject({copied: 0, metadataUpdated: 2})
  expect(result.bytes).toMatchObject({copied: 0, read: 0})

  const versions = await s3.send(new ListObjectVersionsCommand({Bucket: bucket, Prefix: 'sftp/'}))
  expect((versions.Versions ?? []).map((v) => v.Key).sort()).toEqual([keys.big, keys.small])
  expect(await queue.receiveAll()).toEqual([])
  const posix = (p: string) => `mode=${statSync(p).mode.toString(8)} uid=${statSync(p).uid} gid=${statSync(p).gid}`
  expect(await tagsOf(bucket, keys.small)).toEqual({'sftp-cutover-posix': posix(small)})
  expect(await tagsOf(bucket, keys.big)).toEqual({'sftp-cutover-posix': posix(big), 'sftp-cutover-sha256': sha256(readFileSync(big)), [SCAN_TAG]: 'NO_THREATS_FOUND'})

  const clean = await project.run(['verify', '--deep', '--json'])
  expect(clean.json<VerifyResult>().mismatches).toEqual([])
  expect(clean.code).toBe(0)
  // The mode verify compares is the tag's: put the old one back behind sync's back and verify --deep says so.
  await s3.send(new PutObjectTaggingCommand({Bucket: bucket, Key: keys.small, Tagging: {TagSet: [{Key: 'sftp-cutover-posix', Value: posix(small).replace('mode=100600', 'mode=100640')}]}}))
  const stale = await project.run(['verify', '--deep', '--json'])
  expect(stale.json<VerifyResult>().mismatches).toEqual([
    expect.objectContaining({key: keys.small, problem: 'attributes', detail: expect.stringMatching(/tag is "mode=100640 .*", the source's is "mode=100600 /)}),
  ])
  expect(stale.code).toBe(3)
}, 200_000)
