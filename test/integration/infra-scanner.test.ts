/**
 * The ClamAV scanner (infra/lambda/src/scanner.ts) against a real clamd from Debian's packages, started here with a
 * one-signature database made by sigtool for the EICAR test file (freshclam cannot reach its mirrors here), objects
 * in versitygw, verdict mails through moto's SNS (read back from an SQS queue subscribed to the topic), and scan
 * results through moto's EventBridge with the copy rule's pattern from the rendered template. The copy function is
 * then driven by those results: the EFS copy runs for a clean object only.
 */
import {CreateBucketCommand, GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand, PutObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {EventBridgeClient, PutRuleCommand, PutTargetsCommand} from '@aws-sdk/client-eventbridge'
import {CreateTopicCommand, SNSClient, SubscribeCommand} from '@aws-sdk/client-sns'
import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync} from 'node:fs'
import {mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {Readable} from 'node:stream'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {ping, scanStream} from '../../infra/lambda/src/clamd.js'
import {clamdConfig, startClamd, waitForClamd} from '../../infra/lambda/src/clamd-process.js'
import {uploadDefinitions} from '../../infra/lambda/src/definitions.js'
import {processEvent, readObjectTag, type LogEntry} from '../../infra/lambda/src/handler.js'
import {eventBridgePublisher, ScanBatchError, scanEvent, type ScanLogEntry, type ScannerDeps} from '../../infra/lambda/src/scanner.js'
import {snsNotifier} from '../../infra/lambda/src/verdict.js'
import {motoClientConfig, versitygwClientConfig} from '../peers/env.js'
import {COMBINATIONS, REQUIRED_PARAMETERS, renderTemplate} from './infra-render.js'
import {motoQueue} from './infra-sqs.js'

// The EICAR anti-virus test file: harmless, and detected by every scanner by design.
const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!H+H*'
const TAG_KEY = 'MalwareScanStatus'
const QUARANTINE = 'sftp/quarantine/'

let work: string
let databaseDir: string
let clamd: ChildProcess | undefined
let socket: {path: string}
let s3: S3Client
let bucket: string
let sns: Mailbox

interface Mailbox {
  notify: ScannerDeps['notify']
  received: () => Promise<Array<{Subject?: string; Message: string}>>
}

beforeAll(async () => {
  for (const binary of ['/usr/sbin/clamd', '/usr/bin/sigtool']) {
    if (!existsSync(binary)) throw new Error(`${binary} not found: run \`bash scripts/install-peers.sh\` (installs clamav-daemon)`)
  }
  work = await mkdtemp(path.join(tmpdir(), 'sftp-cutover-clamd-'))
  databaseDir = path.join(work, 'db')
  await mkdir(databaseDir)
  await writeFile(path.join(work, 'eicar.com'), EICAR)
  const sig = spawnSync('/usr/bin/sigtool', ['--md5', 'eicar.com'], {cwd: work, encoding: 'utf8'})
  if (sig.status !== 0) throw new Error(`sigtool failed: ${sig.stderr}`)
  await writeFile(path.join(databaseDir, 'test.hdb'), sig.stdout)
  socket = {path: path.join(work, 'clamd.sock')}
  const config = path.join(work, 'clamd.conf')
  await writeFile(config, clamdConfig({databaseDir, socket}))
  const child = spawn('/usr/sbin/clamd', [`--config-file=${config}`], {stdio: ['ignore', 'ignore', 'pipe']})
  clamd = child
  let stderr = ''
  child.stderr?.on('data', (data: Buffer) => (stderr += data.toString()))
  let exited: string | undefined
  child.on('exit', (code) => (exited = `code ${code}: ${stderr}`))
  await waitForClamd(socket, 60_000, () => exited)

  s3 = new S3Client(versitygwClientConfig())
  bucket = `infra-scan-${randomBytes(4).toString('hex')}`
  await s3.send(new CreateBucketCommand({Bucket: bucket}))

  // Verdict mails: a real SNS publish to moto, read back through an SQS subscription.
  const snsClient = new SNSClient(motoClientConfig())
  const topic = await snsClient.send(new CreateTopicCommand({Name: `alerts-${randomBytes(4).toString('hex')}`}))
  const queue = await motoQueue(`alerts-${randomBytes(4).toString('hex')}`)
  await snsClient.send(new SubscribeCommand({TopicArn: topic.TopicArn, Protocol: 'sqs', Endpoint: queue.arn}))
  sns = {
    notify: snsNotifier(snsClient, topic.TopicArn as string),
    received: async () => (await queue.receiveAll()).map((body) => JSON.parse(body) as {Subject?: string; Message: string}),
  }
})

afterAll(async () => {
  clamd?.kill('SIGTERM')
  s3?.destroy()
  if (work) await rm(work, {recursive: true, force: true})
})

const created = (key: string) => ({
  version: '0',
  id: randomBytes(8).toString('hex'),
  'detail-type': 'Object Created' as const,
  source: 'aws.s3' as const,
  account: '123456789012',
  time: new Date().toISOString(),
  region: 'us-east-1',
  resources: [`arn:aws:s3:::${bucket}`],
  detail: {version: '0', bucket: {name: bucket}, object: {key, size: 1}, reason: 'PutObject'},
})

async function tags(key: string): Promise<Record<string, string>> {
  const {TagSet} = await s3.send(new GetObjectTaggingCommand({Bucket: bucket, Key: key}))
  return Object.fromEntries((TagSet ?? []).map((tag) => [tag.Key, tag.Value]))
}

async function exists(key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({Bucket: bucket, Key: key}))
    return true
  } catch (error) {
    if ((error as Error).name === 'NotFound' || (error as Error).name === 'NoSuchKey') return false
    throw error
  }
}

function deps(overrides: Partial<ScannerDeps> = {}): ScannerDeps & {logged: ScanLogEntry[]; published: unknown[]} {
  const logged: ScanLogEntry[] = []
  const published: unknown[] = []
  return {
    s3,
    tagKey: TAG_KEY,
    quarantinePrefix: QUARANTINE,
    clamd: socket,
    notify: sns.notify,
    publishResult: async (result) => {
      published.push(result)
    },
    log: (entry) => logged.push(entry),
    logged,
    published,
    ...overrides,
  }
}

// The copy function as the template configures it with MalwareScanning=clamav.
async function copy(event: unknown, mount: string): Promise<LogEntry[]> {
  return processEvent(event as never, {
    s3,
    mountPath: mount,
    log: () => {},
    scan: {tagKey: TAG_KEY, readTag: (b, k, name) => readObjectTag(s3, b, k, name)},
  })
}

// sync's tags (mode, uid, gid, mtime, sha256) on the same object: the scanner must keep them.
const SYNC_TAGS = {mode: '0644', uid: '1001', gid: '1001', mtime: '1700000000', sha256: 'a'.repeat(64)}
const tagging = (values: Record<string, string>) => new URLSearchParams(values).toString()

describe('ClamAV scanner against a real clamd', () => {
  test('clamd answers PING', async () => {
    expect(await ping(socket)).toBe(true)
  })

  test('a clean file is tagged NO_THREATS_FOUND (sync tags kept), nobody is mailed, and only then copied to EFS', async () => {
    const key = 'sftp/home/alice/report 2024+final.csv'
    await s3.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: 'a,b\n1,2\n', Tagging: tagging(SYNC_TAGS)}))
    const mount = path.join(work, 'mnt-clean')
    await mkdir(mount)
    // Before the scan: the ObjectCreated event does not copy an unscanned object.
    expect((await copy(created(key), mount))[0]).toMatchObject({outcome: 'skipped-not-clean', scanStatus: undefined})
    expect(existsSync(path.join(mount, key))).toBe(false)

    const d = deps()
    const entries = await scanEvent(created(key), d)

    expect(entries).toEqual([expect.objectContaining({outcome: 'scanned', key, status: 'NO_THREATS_FOUND'})])
    expect(await tags(key)).toEqual({...SYNC_TAGS, [TAG_KEY]: 'NO_THREATS_FOUND'})
    expect(Object.keys(await tags(key))).toHaveLength(6)
    expect(d.published).toEqual([expect.objectContaining({bucket, key, status: 'NO_THREATS_FOUND'})])
    expect((await copy(created(key), mount))[0]).toMatchObject({outcome: 'copied', key})
    expect(await readFile(path.join(mount, key), 'utf8')).toBe('a,b\n1,2\n')
  })

  test('the EICAR file is tagged THREATS_FOUND, moved to the quarantine prefix, mailed, and never copied', async () => {
    const key = 'sftp/home/bob/invoice.pdf.exe'
    await s3.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: EICAR, Tagging: tagging({uid: '1002'})}))
    const mount = path.join(work, 'mnt-eicar')
    await mkdir(mount)
    const d = deps()

    const entries = await scanEvent(created(key), d)

    expect(entries).toEqual([
      expect.objectContaining({outcome: 'scanned', key, status: 'THREATS_FOUND', quarantinedAs: `${QUARANTINE}${key}`}),
    ])
    expect(entries[0].signature).toMatch(/^eicar\.com\.UNOFFICIAL$/)
    expect(await exists(key)).toBe(false)
    expect(await tags(`${QUARANTINE}${key}`)).toEqual({uid: '1002', [TAG_KEY]: 'THREATS_FOUND'})
    const mails = await sns.received()
    expect(mails).toHaveLength(1)
    expect(mails[0].Subject).toBe('Malware found: invoice.pdf.exe')
    expect(mails[0].Message).toBe(
      [
        'Malware found in an uploaded file.',
        '',
        `File:    s3://${bucket}/${key}`,
        'Scanner: ClamAV (eicar.com.UNOFFICIAL)',
        `Moved to s3://${bucket}/${QUARANTINE}${key} (users cannot read it); it was not copied to EFS.`,
        '',
      ].join('\n'),
    )
    // The scan result event and a late ObjectCreated event both leave EFS untouched.
    const result = {'detail-type': 'GuardDuty Malware Protection Object Scan Result', source: 'sftp-cutover.clamav', detail: {
      s3ObjectDetails: {bucketName: bucket, objectKey: key},
      scanResultDetails: {scanResultStatus: 'THREATS_FOUND', threats: null},
    }}
    expect((await copy(result, mount))[0]).toMatchObject({outcome: 'skipped-not-clean', scanStatus: 'THREATS_FOUND'})
    expect((await copy(created(key), mount))[0].outcome).toBe('skipped-gone')
    expect(existsSync(path.join(mount, key))).toBe(false)
  })

  test('with clamd down the object stays untagged, the invocation fails naming it, and nothing is copied', async () => {
    const key = 'sftp/home/carol/while-clamd-is-down.txt'
    await s3.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: 'hello\n'}))
    const d = deps({clamd: {path: path.join(work, 'no-such-clamd.sock')}})

    const failure = await scanEvent(created(key), d).catch((error: unknown) => error)

    expect(failure).toBeInstanceOf(ScanBatchError)
    expect((failure as Error).message).toMatch(/^1 of 1 objects could not be scanned: sftp\/home\/carol\/while-clamd-is-down\.txt: ClamdError: clamd connection failed/)
    expect(d.logged).toEqual([expect.objectContaining({outcome: 'failed', key})])
    expect(await tags(key)).toEqual({})
    expect(d.published).toEqual([])
    const mount = path.join(work, 'mnt-down')
    await mkdir(mount)
    expect((await copy(created(key), mount))[0]).toMatchObject({outcome: 'skipped-not-clean', scanStatus: undefined})
    expect(existsSync(path.join(mount, key))).toBe(false)
  })

  test('an object that already has 10 tags fails visibly instead of losing a tag', async () => {
    const key = 'sftp/home/dave/ten-tags.txt'
    const ten = Object.fromEntries(Array.from({length: 10}, (_, i) => [`t${i}`, String(i)]))
    await s3.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: 'x', Tagging: tagging(ten)}))

    const failure = await scanEvent(created(key), deps()).catch((error: unknown) => error)

    expect((failure as Error).message).toContain('TagLimitError: sftp/home/dave/ten-tags.txt already has 10 tags')
    expect(await tags(key)).toEqual(ten)
  })

  test("the scan result reaches the copy through EventBridge with the template's rule pattern", async () => {
    const rendered = renderTemplate({...REQUIRED_PARAMETERS, ...COMBINATIONS.clamav})
    const pattern = structuredClone(rendered.Resources.CopyOnCleanScanRule.Properties) as {EventPattern: {detail: {s3ObjectDetails: {bucketName: unknown}}}}
    pattern.EventPattern.detail.s3ObjectDetails.bucketName = [bucket]
    const events = new EventBridgeClient(motoClientConfig())
    const queue = await motoQueue(`scan-results-${randomBytes(4).toString('hex')}`)
    const rule = `copy-on-clean-${randomBytes(4).toString('hex')}`
    await events.send(new PutRuleCommand({Name: rule, EventPattern: JSON.stringify(pattern.EventPattern)}))
    await events.send(new PutTargetsCommand({Rule: rule, Targets: [{Id: 'queue', Arn: queue.arn}]}))
    const clean = 'sftp/home/erin/clean file.txt'
    const infected = 'sftp/home/erin/eicar.txt'
    await s3.send(new PutObjectCommand({Bucket: bucket, Key: clean, Body: 'fine\n'}))
    await s3.send(new PutObjectCommand({Bucket: bucket, Key: infected, Body: EICAR}))

    const d = deps({publishResult: eventBridgePublisher(events)})
    await scanEvent(created(clean), d)
    await scanEvent(created(infected), d)
    await sns.received()

    // Only the clean verdict matches the rule; the copy function takes it as it arrives.
    const delivered = (await queue.receiveAll()).map((body) => JSON.parse(body) as unknown)
    expect(delivered).toHaveLength(1)
    const mount = path.join(work, 'mnt-eventbridge')
    await mkdir(mount)
    const entries = await copy(delivered[0], mount)
    expect(entries).toEqual([expect.objectContaining({outcome: 'copied', key: clean})])
    expect(await readFile(path.join(mount, clean), 'utf8')).toBe('fine\n')
  })

  test("the Lambda's cold start: databases stored by the definitions function are loaded into a clamd it starts", async () => {
    const prefix = 'sftp/clamav-definitions/'
    expect(await uploadDefinitions(s3, bucket, prefix, databaseDir)).toEqual(['test.hdb'])
    const started = await startClamd({s3, bucket, prefix, workDir: path.join(work, 'lambda-tmp'), clamdPath: '/usr/sbin/clamd'})
    try {
      expect(await scanStream(started.address, Readable.from([Buffer.from(EICAR)]))).toEqual({infected: true, signature: 'eicar.com.UNOFFICIAL'})
      expect(await scanStream(started.address, Readable.from([Buffer.from('just text\n')]))).toEqual({infected: false})
    } finally {
      started.clamd.kill('SIGTERM')
    }
    // Without a manifest (the definitions function never ran) the start fails and says why.
    await expect(startClamd({s3, bucket, prefix: 'sftp/nothing-here/', workDir: path.join(work, 'lambda-tmp2'), clamdPath: '/usr/sbin/clamd'})).rejects.toThrow(
      `no ClamAV databases at s3://${bucket}/sftp/nothing-here/manifest.json (has the definitions function run?)`,
    )
  })

  test('a file overwritten while it is scanned does not pass its verdict on to the new upload', async () => {
    const key = 'sftp/home/frank/overwritten.txt'
    await s3.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: 'first, clean'}))
    // An S3 client that lets a client's new upload land right after the scanner has read the object.
    const racing = {
      send: async (command: unknown) => {
        const answer = await s3.send(command as never)
        if (command instanceof GetObjectCommand) await s3.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: EICAR}))
        return answer
      },
    }
    const d = deps({s3: racing as never})

    expect(await scanEvent(created(key), d)).toEqual([expect.objectContaining({outcome: 'skipped-replaced', key})])
    expect(await tags(key)).toEqual({})
    expect(d.published).toEqual([])
    // The new upload's own event scans it.
    expect(await scanEvent(created(key), deps())).toEqual([expect.objectContaining({outcome: 'scanned', status: 'THREATS_FOUND'})])
  })
})
