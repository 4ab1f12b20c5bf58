import {GetObjectTaggingCommand, S3Client} from '@aws-sdk/client-s3'
import type {S3EventRecord} from 'aws-lambda'
import {copyObjectToFile, type ObjectReader} from './copy.js'
import {type CopyEvent, extractObjectEvents, type MalformedRecord, type ObjectEvent} from './event.js'
import {CLEAN} from './scan-status.js'
import {isDirectoryPlaceholder, targetPath, UnsafeKeyError} from './target.js'

export type Outcome =
  | 'copied'
  | 'skipped-directory'
  | 'skipped-gone'
  | 'skipped-event'
  // Malware scanning is on and the object is not (or no longer) tagged clean: never copied.
  | 'skipped-not-clean'
  | 'rejected'
  | 'failed'

// One JSON line per record. Holds only names, sizes and digests: never the event's identity fields or credentials.
export interface LogEntry {
  outcome: Outcome
  bucket?: string
  key?: string
  bytes?: number
  sha256?: string
  sha256Verified?: boolean
  crc32Verified?: boolean
  mtime?: number | null
  mtimeInvalid?: boolean
  // With scanning: the scan verdict the event or the object's tag gave (absent: untagged, never scanned).
  scanStatus?: string
  error?: string
  ms?: number
}

export interface CopyDeps {
  s3: ObjectReader
  mountPath: string
  log?: (entry: LogEntry) => void
  // With malware scanning on: copy only objects whose tag `tagKey` reads NO_THREATS_FOUND when the copy starts.
  scan?: {tagKey: string; readTag: (bucket: string, key: string, tagKey: string) => Promise<string | undefined>}
}

export class CopyBatchError extends Error {
  override name = 'CopyBatchError'
  constructor(readonly failures: LogEntry[], total: number) {
    super(
      `${failures.length} of ${total} records failed: ` +
        failures.map((failure) => `${failure.key ?? '(unreadable record)'}: ${failure.error}`).join('; '),
    )
  }
}

const writeJsonLine = (entry: LogEntry): void => {
  process.stdout.write(`${JSON.stringify(entry)}\n`)
}

async function processRecord(record: ObjectEvent, deps: CopyDeps): Promise<LogEntry> {
  const started = Date.now()
  const {bucket, key} = record
  if (record.kind === 'other') return {outcome: 'skipped-event', bucket, key}
  if (isDirectoryPlaceholder(key)) return {outcome: 'skipped-directory', bucket, key}
  if (deps.scan && record.scanStatus !== undefined && record.scanStatus !== CLEAN) {
    return {outcome: 'skipped-not-clean', bucket, key, scanStatus: record.scanStatus}
  }
  try {
    if (deps.scan) {
      // The tag, not the event, decides: an ObjectCreated event comes before any scan, and the object may have been
      // replaced (and not yet scanned) since a clean verdict.
      const scanStatus = await deps.scan.readTag(bucket, key, deps.scan.tagKey)
      if (scanStatus !== CLEAN) return {outcome: 'skipped-not-clean', bucket, key, scanStatus, ms: Date.now() - started}
    }
    const result = await copyObjectToFile(deps.s3, bucket, key, targetPath(deps.mountPath, key))
    return {outcome: 'copied', bucket, key, ...result, ms: Date.now() - started}
  } catch (error) {
    const name = (error as Error).name
    // Deleted or renamed (e.g. a client's temporary upload name) before this event was handled: nothing to copy.
    if (name === 'NoSuchKey') return {outcome: 'skipped-gone', bucket, key, ms: Date.now() - started}
    const outcome = error instanceof UnsafeKeyError ? 'rejected' : 'failed'
    return {outcome, bucket, key, error: `${name}: ${(error as Error).message}`, ms: Date.now() - started}
  }
}

// Handles every record, one at a time (memory stays that of one stream), then fails the invocation if any record
// failed so Lambda retries it and finally sends it to the dead-letter queue. Copies are idempotent.
async function run(items: Array<ObjectEvent | MalformedRecord>, deps: CopyDeps): Promise<LogEntry[]> {
  const log = deps.log ?? writeJsonLine
  const entries: LogEntry[] = []
  for (const item of items) {
    const entry: LogEntry =
      'malformed' in item ? {outcome: 'rejected', bucket: item.bucket, key: item.key, error: item.malformed} : await processRecord(item, deps)
    log(entry)
    entries.push(entry)
  }
  const failures = entries.filter((entry) => entry.outcome === 'failed' || entry.outcome === 'rejected')
  if (failures.length > 0) throw new CopyBatchError(failures, entries.length)
  return entries
}

export const processRecords = (records: S3EventRecord[], deps: CopyDeps): Promise<LogEntry[]> =>
  run(extractObjectEvents({Records: records}), deps)

export const processEvent = (event: CopyEvent, deps: CopyDeps): Promise<LogEntry[]> => run(extractObjectEvents(event), deps)

/** The value of one tag of an object, or undefined when it has none. */
export async function readObjectTag(s3: S3Client, bucket: string, key: string, tagKey: string): Promise<string | undefined> {
  const {TagSet} = await s3.send(new GetObjectTaggingCommand({Bucket: bucket, Key: key}))
  return TagSet?.find((tag) => tag.Key === tagKey)?.Value
}

let client: S3Client | undefined

// Lambda entry point: EFS_MOUNT_PATH is the function's LocalMountPath; credentials come from the default chain.
export async function handler(event: CopyEvent): Promise<LogEntry[]> {
  const mountPath = process.env.EFS_MOUNT_PATH
  if (!mountPath) throw new Error('EFS_MOUNT_PATH is not set')
  const s3 = (client ??= new S3Client({}))
  // Set by the template when MalwareScanning is on.
  const tagKey = process.env.SCAN_TAG_KEY
  const scan = tagKey ? {tagKey, readTag: (bucket: string, key: string, name: string) => readObjectTag(s3, bucket, key, name)} : undefined
  return processEvent(event, {s3, mountPath, scan})
}
