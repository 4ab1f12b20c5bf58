import {CopyObjectCommand, DeleteObjectCommand, GetObjectTaggingCommand, PutObjectTaggingCommand, S3Client} from '@aws-sdk/client-s3'
import {PublishCommand, SNSClient} from '@aws-sdk/client-sns'

import {type CopyEvent, extractObjectEvents} from './event.js'
import {CLEAN, INFECTED} from './scan-status.js'

// S3 keeps at most 10 tags per object; the scanner adds one (sync's own tags must leave room for it).
export const MAX_TAGS = 10

export interface Verdict {
  bucket: string
  key: string
  // NO_THREATS_FOUND, THREATS_FOUND, or GuardDuty's UNSUPPORTED / ACCESS_DENIED / FAILED.
  status: string
  // Scanner and signature, for the message (ClamAV names it; GuardDuty's event lists threats).
  threat?: string
  scanner: string
}

export interface VerdictDeps {
  s3: Pick<S3Client, 'send'>
  // null: the scanner tags itself (GuardDuty); else the tag to write.
  tagKey: string | null
  quarantinePrefix: string
  notify: (message: {subject: string; text: string}) => Promise<void>
  // With a versioned bucket, the version that was scanned (tagging then names it, not a newer upload).
  versionId?: string
}

export interface VerdictResult {
  bucket: string
  key: string
  status: string
  quarantinedAs?: string
  notified: boolean
}

export class TagLimitError extends Error {
  override name = 'TagLimitError'
}

/** Writes the verdict tag, keeping the object's other tags (sync's, the user's). */
export async function tagVerdict(s3: VerdictDeps['s3'], bucket: string, key: string, tagKey: string, status: string, versionId?: string): Promise<void> {
  const current = await s3.send(new GetObjectTaggingCommand({Bucket: bucket, Key: key, VersionId: versionId}))
  const others = (current.TagSet ?? []).filter((tag) => tag.Key !== tagKey)
  if (others.length + 1 > MAX_TAGS) {
    throw new TagLimitError(`${key} already has ${others.length} tags; the scan tag ${tagKey} would exceed S3's limit of ${MAX_TAGS}`)
  }
  await s3.send(
    new PutObjectTaggingCommand({Bucket: bucket, Key: key, VersionId: versionId, Tagging: {TagSet: [...others, {Key: tagKey, Value: status}]}}),
  )
}

/** <quarantinePrefix><key>: the whole original key, so the owner and path stay visible. */
export const quarantineKey = (quarantinePrefix: string, key: string): string => `${quarantinePrefix}${key}`

/** A short mail: subject under SNS's 100 characters, body a few plain lines. */
export function verdictMessage(verdict: Verdict, quarantinedAs?: string): {subject: string; text: string} {
  const infected = verdict.status === INFECTED
  const name = verdict.key.split('/').pop() ?? verdict.key
  const head = infected ? 'Malware found' : `File not scanned (${verdict.status})`
  const subject = `${head}: ${name}`.slice(0, 99)
  const lines = [
    `${head} in an uploaded file.`,
    '',
    `File:    s3://${verdict.bucket}/${verdict.key}`,
    `Scanner: ${verdict.scanner}${verdict.threat ? ` (${verdict.threat})` : ''}`,
    infected
      ? `Moved to s3://${verdict.bucket}/${quarantinedAs} (users cannot read it); it was not copied to EFS.`
      : 'The file stays where it is, unreadable by users and not copied to EFS, until a scan finds it clean.',
  ]
  return {subject, text: `${lines.join('\n')}\n`}
}

/**
 * Applies one verdict: the tag (when this code is the scanner), then for an infected object a copy under the
 * quarantine prefix and the deletion of the original, and a notification for every verdict other than clean.
 * Throws on any failure, so the event is retried and finally dead-lettered: nothing is reported done that was not.
 */
export async function applyVerdict(verdict: Verdict, deps: VerdictDeps): Promise<VerdictResult> {
  const {bucket, key, status} = verdict
  if (deps.tagKey) await tagVerdict(deps.s3, bucket, key, deps.tagKey, status, deps.versionId)
  if (status === CLEAN) return {bucket, key, status, notified: false}
  let quarantinedAs: string | undefined
  if (status === INFECTED) {
    quarantinedAs = quarantineKey(deps.quarantinePrefix, key)
    // The copy keeps the tags (THREATS_FOUND included); S3 encrypts it with the bucket's default key.
    const source = `${bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`
    const version = deps.versionId ? `?versionId=${encodeURIComponent(deps.versionId)}` : ''
    await deps.s3.send(new CopyObjectCommand({Bucket: bucket, Key: quarantinedAs, CopySource: `${source}${version}`}))
    // With a version, that version alone is removed: a newer upload under the same name stays (it has its own scan).
    await deps.s3.send(new DeleteObjectCommand({Bucket: bucket, Key: key, VersionId: deps.versionId}))
  }
  await deps.notify(verdictMessage(verdict, quarantinedAs))
  return {bucket, key, status, quarantinedAs, notified: true}
}

/** A notifier publishing to an SNS topic. */
export function snsNotifier(sns: Pick<SNSClient, 'send'>, topicArn: string): VerdictDeps['notify'] {
  return async ({subject, text}) => {
    await sns.send(new PublishCommand({TopicArn: topicArn, Subject: subject, Message: text}))
  }
}

function env(name: string): string {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set`)
  return value
}

let s3: S3Client | undefined
let sns: SNSClient | undefined

/**
 * GuardDuty's scan results other than clean (MalwareScanning=guardduty). GuardDuty has tagged the object already;
 * this quarantines infected ones and mails every such verdict. A clean result is left alone (the copy rule has it).
 */
export async function processScanResults(event: CopyEvent, deps: VerdictDeps): Promise<VerdictResult[]> {
  const results: VerdictResult[] = []
  const threats = (event as {detail?: {scanResultDetails?: {threats?: Array<{name?: string}> | null}}}).detail?.scanResultDetails?.threats
  const threat = threats?.map((t) => t.name).filter(Boolean).join(', ') || undefined
  for (const item of extractObjectEvents(event)) {
    if ('malformed' in item) throw new Error(`unreadable scan result: ${item.malformed}`)
    if (item.kind !== 'scan-result' || item.scanStatus === undefined || item.scanStatus === CLEAN) continue
    // The quarantine copies the version GuardDuty scanned, not a newer upload.
    const verdict = {bucket: item.bucket, key: item.key, status: item.scanStatus, threat, scanner: 'GuardDuty Malware Protection'}
    const result = await applyVerdict(verdict, {...deps, versionId: item.versionId})
    process.stdout.write(`${JSON.stringify(result)}\n`)
    results.push(result)
  }
  return results
}

// Lambda entry point of the verdict function.
export async function handler(event: CopyEvent): Promise<VerdictResult[]> {
  s3 ??= new S3Client({})
  sns ??= new SNSClient({})
  return processScanResults(event, {s3, tagKey: null, quarantinePrefix: env('QUARANTINE_PREFIX'), notify: snsNotifier(sns, env('ALERT_TOPIC_ARN'))})
}
