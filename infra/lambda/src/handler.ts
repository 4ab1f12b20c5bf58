import {S3Client} from '@aws-sdk/client-s3'
import type {S3EventRecord} from 'aws-lambda'
import {copyObjectToFile, type ObjectReader} from './copy.js'
import {type CopyEvent, extractS3Records, type MalformedRecord} from './event.js'
import {decodeEventKey, isDirectoryPlaceholder, targetPath, UnsafeKeyError} from './target.js'

export type Outcome = 'copied' | 'skipped-directory' | 'skipped-gone' | 'skipped-event' | 'rejected' | 'failed'

// One JSON line per record. Holds only names, sizes and digests: never the event's identity fields or credentials.
export interface LogEntry {
  outcome: Outcome
  bucket?: string
  key?: string
  bytes?: number
  sha256?: string
  sha256Verified?: boolean
  mtime?: number | null
  mtimeInvalid?: boolean
  error?: string
  ms?: number
}

export interface CopyDeps {
  s3: ObjectReader
  mountPath: string
  log?: (entry: LogEntry) => void
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

async function processRecord(record: S3EventRecord, deps: CopyDeps): Promise<LogEntry> {
  const started = Date.now()
  const bucket = record.s3.bucket.name
  let key: string
  try {
    key = decodeEventKey(record.s3.object.key)
  } catch {
    return {outcome: 'rejected', bucket, key: record.s3.object.key, error: 'key is not valid percent-encoding'}
  }
  if (!record.eventName.startsWith('ObjectCreated:')) return {outcome: 'skipped-event', bucket, key}
  if (isDirectoryPlaceholder(key)) return {outcome: 'skipped-directory', bucket, key}
  try {
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
async function run(items: Array<S3EventRecord | MalformedRecord>, deps: CopyDeps): Promise<LogEntry[]> {
  const log = deps.log ?? writeJsonLine
  const entries: LogEntry[] = []
  for (const item of items) {
    const entry: LogEntry = 'malformed' in item ? {outcome: 'rejected', error: item.malformed} : await processRecord(item, deps)
    log(entry)
    entries.push(entry)
  }
  const failures = entries.filter((entry) => entry.outcome === 'failed' || entry.outcome === 'rejected')
  if (failures.length > 0) throw new CopyBatchError(failures, entries.length)
  return entries
}

export const processRecords = (records: S3EventRecord[], deps: CopyDeps): Promise<LogEntry[]> => run(records, deps)

export const processEvent = (event: CopyEvent, deps: CopyDeps): Promise<LogEntry[]> => run(extractS3Records(event), deps)

let client: S3Client | undefined

// Lambda entry point: EFS_MOUNT_PATH is the function's LocalMountPath; credentials come from the default chain.
export async function handler(event: CopyEvent): Promise<LogEntry[]> {
  const mountPath = process.env.EFS_MOUNT_PATH
  if (!mountPath) throw new Error('EFS_MOUNT_PATH is not set')
  client ??= new S3Client({})
  return processEvent(event, {s3: client, mountPath})
}
