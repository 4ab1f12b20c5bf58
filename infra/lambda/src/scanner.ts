import {PutEventsCommand, EventBridgeClient} from '@aws-sdk/client-eventbridge'
import {GetObjectCommand, HeadObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {SNSClient} from '@aws-sdk/client-sns'
import {Readable} from 'node:stream'

import {type ClamdAddress, scanStream} from './clamd.js'
import {startClamd} from './clamd-process.js'
import {type CopyEvent, extractObjectEvents, SCAN_RESULT_DETAIL_TYPE} from './event.js'
import {CLEAN, INFECTED} from './scan-status.js'
import {isDirectoryPlaceholder} from './target.js'
import {applyVerdict, snsNotifier, type VerdictDeps, type VerdictResult} from './verdict.js'

export const SCAN_RESULT_SOURCE = 'sftp-cutover.clamav'

export interface ScanLogEntry {
  // skipped-replaced: overwritten during the scan (unversioned bucket); the new upload's own event scans it.
  outcome: 'scanned' | 'skipped-event' | 'skipped-directory' | 'skipped-gone' | 'skipped-replaced' | 'failed'
  bucket?: string
  key?: string
  status?: string
  signature?: string
  quarantinedAs?: string
  error?: string
  ms?: number
}

export interface ScannerDeps extends Omit<VerdictDeps, 'tagKey' | 'versionId'> {
  s3: Pick<S3Client, 'send'>
  tagKey: string
  clamd: ClamdAddress
  // Publishes the scan result event that starts the EFS copy (same shape as GuardDuty's).
  publishResult: (entry: {bucket: string; key: string; status: string; eTag?: string; versionId?: string}) => Promise<void>
  log?: (entry: ScanLogEntry) => void
}

export class ScanBatchError extends Error {
  override name = 'ScanBatchError'
  constructor(readonly failures: ScanLogEntry[], total: number) {
    super(`${failures.length} of ${total} objects could not be scanned: ${failures.map((f) => `${f.key ?? '(unreadable)'}: ${f.error}`).join('; ')}`)
  }
}

async function scanOne(bucket: string, key: string, deps: ScannerDeps): Promise<ScanLogEntry> {
  const started = Date.now()
  try {
    const object = await deps.s3.send(new GetObjectCommand({Bucket: bucket, Key: key}))
    if (!(object.Body instanceof Readable)) throw new Error('GetObject returned no readable body')
    const verdict = await scanStream(deps.clamd, object.Body)
    // Without versions the tag would land on whatever is there now: a newer upload must not inherit this verdict.
    if (!object.VersionId) {
      const now = await deps.s3.send(new HeadObjectCommand({Bucket: bucket, Key: key}))
      if (now.ETag !== object.ETag) return {outcome: 'skipped-replaced', bucket, key, ms: Date.now() - started}
    }
    const status = verdict.infected ? INFECTED : CLEAN
    const signature = verdict.infected ? verdict.signature : undefined
    const result: VerdictResult = await applyVerdict(
      {bucket, key, status, threat: signature, scanner: 'ClamAV'},
      {...deps, versionId: object.VersionId},
    )
    await deps.publishResult({bucket, key, status, eTag: object.ETag, versionId: object.VersionId})
    return {outcome: 'scanned', bucket, key, status, signature, quarantinedAs: result.quarantinedAs, ms: Date.now() - started}
  } catch (error) {
    const name = (error as Error).name
    if (name === 'NoSuchKey') return {outcome: 'skipped-gone', bucket, key, ms: Date.now() - started}
    // No tag is written: the object stays unreadable and uncopied, and the invocation fails (retries, DLQ, alarm).
    return {outcome: 'failed', bucket, key, error: `${name}: ${(error as Error).message}`, ms: Date.now() - started}
  }
}

/** Scans every object the event names (one at a time), then fails the invocation if any could not be scanned. */
export async function scanEvent(event: CopyEvent, deps: ScannerDeps): Promise<ScanLogEntry[]> {
  const log = deps.log ?? ((entry: ScanLogEntry) => process.stdout.write(`${JSON.stringify(entry)}\n`))
  const entries: ScanLogEntry[] = []
  for (const item of extractObjectEvents(event)) {
    let entry: ScanLogEntry
    if ('malformed' in item) entry = {outcome: 'failed', bucket: item.bucket, key: item.key, error: item.malformed}
    else if (item.kind !== 'created') entry = {outcome: 'skipped-event', bucket: item.bucket, key: item.key}
    else if (isDirectoryPlaceholder(item.key)) entry = {outcome: 'skipped-directory', bucket: item.bucket, key: item.key}
    else entry = await scanOne(item.bucket, item.key, deps)
    log(entry)
    entries.push(entry)
  }
  const failures = entries.filter((entry) => entry.outcome === 'failed')
  if (failures.length > 0) throw new ScanBatchError(failures, entries.length)
  return entries
}

/** Publishes the scan result on the default event bus in GuardDuty's shape (the copy rule matches either). */
export function eventBridgePublisher(events: Pick<EventBridgeClient, 'send'>): ScannerDeps['publishResult'] {
  return async ({bucket, key, status, eTag, versionId}) => {
    const detail = {
      schemaVersion: '1.0',
      scanStatus: 'COMPLETED',
      resourceType: 'S3_OBJECT',
      s3ObjectDetails: {bucketName: bucket, objectKey: key, eTag, versionId},
      scanResultDetails: {scanResultStatus: status, threats: null},
    }
    const answer = await events.send(
      new PutEventsCommand({Entries: [{Source: SCAN_RESULT_SOURCE, DetailType: SCAN_RESULT_DETAIL_TYPE, Detail: JSON.stringify(detail)}]}),
    )
    if (answer.FailedEntryCount) throw new Error(`PutEvents failed: ${answer.Entries?.[0]?.ErrorMessage ?? 'unknown error'}`)
  }
}

function env(name: string): string {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set`)
  return value
}

let clients: {s3: S3Client; sns: SNSClient; events: EventBridgeClient} | undefined
let clamd: Promise<ClamdAddress> | undefined

// Lambda entry point (MalwareScanning=clamav, the container image): starts clamd once per container with the
// databases from DEFINITIONS_BUCKET/DEFINITIONS_PREFIX, then scans.
export async function handler(event: CopyEvent): Promise<ScanLogEntry[]> {
  clients ??= {s3: new S3Client({}), sns: new SNSClient({}), events: new EventBridgeClient({})}
  clamd ??= startClamd({s3: clients.s3, bucket: env('DEFINITIONS_BUCKET'), prefix: env('DEFINITIONS_PREFIX'), workDir: '/tmp/clamav'}).then(
    (started) => started.address,
  )
  // A failed start is retried on the next invocation, not cached.
  const address = await clamd.catch((error: unknown) => {
    clamd = undefined
    throw error
  })
  return scanEvent(event, {
    s3: clients.s3,
    tagKey: env('SCAN_TAG_KEY'),
    quarantinePrefix: env('QUARANTINE_PREFIX'),
    notify: snsNotifier(clients.sns, env('ALERT_TOPIC_ARN')),
    publishResult: eventBridgePublisher(clients.events),
    clamd: address,
  })
}
