/**
 * Event paths of sftp-transfer.yaml against moto: S3's own EventBridge events (EventBus=eventbridge) matched by the
 * copy rule's pattern from the rendered template and handed to the copy function as they arrive, and GuardDuty's
 * scan results (MalwareScanning=guardduty; moto has no GuardDuty, so the published sample event is sent with the
 * bucket's names) through the verdict function.
 */
import {
  CreateBucketCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  ListObjectVersionsCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import {EventBridgeClient, PutRuleCommand, PutTargetsCommand} from '@aws-sdk/client-eventbridge'
import {randomBytes} from 'node:crypto'
import {existsSync} from 'node:fs'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {type LogEntry, processEvent, readObjectTag} from '../../infra/lambda/src/handler.js'
import {processScanResults} from '../../infra/lambda/src/verdict.js'
import {motoClientConfig} from '../peers/env.js'
import {COMBINATIONS, renderTemplate, REQUIRED_PARAMETERS} from './infra-render.js'
import {motoQueue} from './infra-sqs.js'

let s3: S3Client
let events: EventBridgeClient
let bucket: string
let work: string

beforeAll(async () => {
  s3 = new S3Client(motoClientConfig())
  events = new EventBridgeClient(motoClientConfig())
  bucket = `infra-events-${randomBytes(4).toString('hex')}`
  await s3.send(new CreateBucketCommand({Bucket: bucket}))
  work = await mkdtemp(path.join(tmpdir(), 'sftp-cutover-events-'))
})

afterAll(async () => {
  s3?.destroy()
  events?.destroy()
  if (work) await rm(work, {recursive: true, force: true})
})

type Pattern = {detail: Record<string, Record<string, unknown>>}

describe('EventBus=eventbridge', () => {
  test("moto's S3 EventBridge events pass the template's rule only under <Prefix>/home/, and the copy function copies them", async () => {
    const rendered = renderTemplate({...REQUIRED_PARAMETERS, ...COMBINATIONS.eventbridge})
    expect((rendered.Resources.Bucket.Properties as {NotificationConfiguration: unknown}).NotificationConfiguration).toEqual({
      EventBridgeConfiguration: {EventBridgeEnabled: true},
    })
    const pattern = structuredClone((rendered.Resources.CopyOnObjectCreatedRule.Properties as {EventPattern: Pattern}).EventPattern)
    expect(pattern.detail.object).toEqual({key: [{prefix: 'sftp/home/'}]})
    pattern.detail.bucket.name = [bucket]
    const queue = await motoQueue(`object-created-${randomBytes(4).toString('hex')}`)
    const rule = `copy-on-created-${randomBytes(4).toString('hex')}`
    await events.send(new PutRuleCommand({Name: rule, EventPattern: JSON.stringify(pattern)}))
    await events.send(new PutTargetsCommand({Rule: rule, Targets: [{Id: 'queue', Arn: queue.arn}]}))
    await s3.send(new PutBucketNotificationConfigurationCommand({Bucket: bucket, NotificationConfiguration: {EventBridgeConfiguration: {}}}))
    const key = 'sftp/home/alice/report 2024+v1 (final) é.csv'
    await s3.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: 'x,y\n'}))
    await s3.send(new PutObjectCommand({Bucket: bucket, Key: 'elsewhere/not-copied.txt', Body: 'no'}))

    const delivered = (await queue.receiveAll()).map((body) => JSON.parse(body) as {'detail-type': string; detail: {object: {key: string}}})

    expect(delivered).toHaveLength(1)
    expect(delivered[0]['detail-type']).toBe('Object Created')
    // The key arrives as is (the S3 notification format would have form-encoded it).
    expect(delivered[0].detail.object.key).toBe(key)
    const mount = path.join(work, 'mnt-eventbridge')
    const entries: LogEntry[] = await processEvent(delivered[0] as never, {s3, mountPath: mount, log: () => {}})
    expect(entries).toEqual([expect.objectContaining({outcome: 'copied', bucket, key, bytes: 4})])
    expect(await readFile(path.join(mount, key), 'utf8')).toBe('x,y\n')
  })
})

describe('MalwareScanning=guardduty', () => {
  const TAG = 'GuardDutyMalwareScanStatus'
  const result = (key: string, status: string, threats: Array<{name: string}> | null = null) => ({
    version: '0',
    id: randomBytes(8).toString('hex'),
    'detail-type': 'GuardDuty Malware Protection Object Scan Result',
    source: 'aws.guardduty',
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: ['arn:aws:guardduty:us-east-1:123456789012:malware-protection-plan/b4c7f464ab3a4EXAMPLE'],
    detail: {
      schemaVersion: '1.0',
      scanStatus: 'COMPLETED',
      resourceType: 'S3_OBJECT',
      s3ObjectDetails: {bucketName: bucket, objectKey: key, eTag: '0f343b0931126a20f133d67c2b018a3b', s3Throttled: false},
      scanResultDetails: {scanResultStatus: status, threats},
    },
  })
  const put = async (key: string, status?: string) =>
    s3.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: `body of ${key}`, Tagging: status ? `${TAG}=${status}` : undefined}))
  const copy = (event: unknown, mount: string) =>
    processEvent(event as never, {s3, mountPath: mount, log: () => {}, scan: {tagKey: TAG, readTag: (b, k, n) => readObjectTag(s3, b, k, n)}})

  test('an infected object is quarantined and mailed; an unsupported one is mailed and stays; neither is copied', async () => {
    const infected = 'sftp/home/bob/payload.exe'
    const unsupported = 'sftp/home/bob/encrypted.zip'
    await put(infected, 'THREATS_FOUND')
    await put(unsupported, 'UNSUPPORTED')
    const mails: Array<{subject: string; text: string}> = []
    const deps = {s3, tagKey: null, quarantinePrefix: 'sftp/quarantine/', notify: async (m: {subject: string; text: string}) => void mails.push(m)}

    const results = [
      ...(await processScanResults(result(infected, 'THREATS_FOUND', [{name: 'EICAR-Test-File (not a virus)'}]) as never, deps)),
      ...(await processScanResults(result(unsupported, 'UNSUPPORTED') as never, deps)),
    ]

    expect(results).toEqual([
      {bucket, key: infected, status: 'THREATS_FOUND', quarantinedAs: `sftp/quarantine/${infected}`, notified: true},
      {bucket, key: unsupported, status: 'UNSUPPORTED', quarantinedAs: undefined, notified: true},
    ])
    expect(mails.map((m) => m.subject)).toEqual(['Malware found: payload.exe', 'File not scanned (UNSUPPORTED): encrypted.zip'])
    expect(mails[0].text).toContain('Scanner: GuardDuty Malware Protection (EICAR-Test-File (not a virus))')
    // GuardDuty's tag travels with the quarantined copy; the original is gone.
    const moved = await s3.send(new GetObjectTaggingCommand({Bucket: bucket, Key: `sftp/quarantine/${infected}`}))
    expect(moved.TagSet).toEqual([{Key: TAG, Value: 'THREATS_FOUND'}])
    const mount = path.join(work, 'mnt-guardduty')
    expect((await copy(result(infected, 'THREATS_FOUND'), mount))[0]).toMatchObject({outcome: 'skipped-not-clean', scanStatus: 'THREATS_FOUND'})
    expect((await copy(result(unsupported, 'UNSUPPORTED'), mount))[0]).toMatchObject({outcome: 'skipped-not-clean', scanStatus: 'UNSUPPORTED'})
    expect(existsSync(path.join(mount, infected))).toBe(false)
    expect(existsSync(path.join(mount, unsupported))).toBe(false)
  })

  test('a clean result copies a clean-tagged object, but not one replaced by an unscanned upload since', async () => {
    const clean = 'sftp/home/carol/ok.txt'
    const replaced = 'sftp/home/carol/replaced.txt'
    await put(clean, 'NO_THREATS_FOUND')
    // Scanned clean, then overwritten: the new upload has no tag yet.
    await put(replaced)
    const mount = path.join(work, 'mnt-clean')

    expect(await processScanResults(result(clean, 'NO_THREATS_FOUND') as never, {s3, tagKey: null, quarantinePrefix: 'q/', notify: async () => {}})).toEqual([])
    expect((await copy(result(clean, 'NO_THREATS_FOUND'), mount))[0]).toMatchObject({outcome: 'copied', key: clean})
    expect((await copy(result(replaced, 'NO_THREATS_FOUND'), mount))[0]).toMatchObject({outcome: 'skipped-not-clean', scanStatus: undefined})
    expect(await readFile(path.join(mount, clean), 'utf8')).toBe(`body of ${clean}`)
    expect(existsSync(path.join(mount, replaced))).toBe(false)
  })

  test('in a versioned bucket the scanned version is quarantined and removed; a newer upload under the name stays', async () => {
    const versioned = `infra-events-v-${randomBytes(4).toString('hex')}`
    await s3.send(new CreateBucketCommand({Bucket: versioned}))
    await s3.send(new PutBucketVersioningCommand({Bucket: versioned, VersioningConfiguration: {Status: 'Enabled'}}))
    const key = 'sftp/home/dave/report.xlsm'
    const infected = await s3.send(new PutObjectCommand({Bucket: versioned, Key: key, Body: 'infected v1', Tagging: `${TAG}=THREATS_FOUND`}))
    await s3.send(new PutObjectCommand({Bucket: versioned, Key: key, Body: 'newer v2'}))
    const event = result(key, 'THREATS_FOUND') as {detail: {s3ObjectDetails: {bucketName: string; versionId?: string}}}
    event.detail.s3ObjectDetails.bucketName = versioned
    event.detail.s3ObjectDetails.versionId = infected.VersionId

    await processScanResults(event as never, {s3, tagKey: null, quarantinePrefix: 'sftp/quarantine/', notify: async () => {}})

    const text = async (k: string) => (await s3.send(new GetObjectCommand({Bucket: versioned, Key: k}))).Body?.transformToString()
    expect(await text(`sftp/quarantine/${key}`)).toBe('infected v1')
    expect(await text(key)).toBe('newer v2')
    const {Versions = []} = await s3.send(new ListObjectVersionsCommand({Bucket: versioned, Prefix: 'sftp/home/'}))
    expect(Versions.map((v) => v.VersionId)).not.toContain(infected.VersionId)
  })
})
