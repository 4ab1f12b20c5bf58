import type {S3Event, S3EventRecord, SNSEvent, SNSEventRecord} from 'aws-lambda'

import {decodeEventKey} from './target.js'

/** S3's EventBridge event for a new object (EventBus=eventbridge). Its key is the plain key, not form-encoded. */
export interface EventBridgeObjectCreated {
  source: 'aws.s3'
  'detail-type': 'Object Created'
  detail: {bucket: {name: string}; object: {key: string; size?: number; etag?: string; 'version-id'?: string}}
}

/** GuardDuty's scan result event; the ClamAV scanner publishes the same shape with source sftp-cutover.clamav. */
export interface ScanResultEvent {
  source: string
  'detail-type': typeof SCAN_RESULT_DETAIL_TYPE
  detail: {
    s3ObjectDetails: {bucketName: string; objectKey: string; eTag?: string; versionId?: string}
    scanResultDetails: {scanResultStatus: string; threats?: Array<{name: string}> | null}
  }
}

export const SCAN_RESULT_DETAIL_TYPE = 'GuardDuty Malware Protection Object Scan Result'

// The function is subscribed to the SNS topic the bucket publishes to; a direct S3 notification, S3's EventBridge
// event and a malware scan result are accepted too.
export type CopyEvent = S3Event | SNSEvent | EventBridgeObjectCreated | ScanResultEvent

// A record the function could not read: reported as a failure instead of stopping the other records.
export interface MalformedRecord {
  malformed: string
  bucket?: string
  key?: string
}

/** One object named by an event, whatever its shape: the key decoded, and the scan verdict when it is one. */
export interface ObjectEvent {
  bucket: string
  key: string
  // ObjectCreated (S3, SNS, EventBridge) or a scan result; anything else is skipped.
  kind: 'created' | 'scan-result' | 'other'
  scanStatus?: string
  // The version a scan result is about (versioned bucket, e.g. with replication).
  versionId?: string
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null

export function extractObjectEvents(event: CopyEvent): Array<ObjectEvent | MalformedRecord> {
  if (isObject(event) && typeof (event as {'detail-type'?: unknown})['detail-type'] === 'string') return [fromEventBridge(event)]
  return extractS3Records(event as S3Event | SNSEvent).map((item) => ('malformed' in item ? item : fromS3Record(item)))
}

function fromS3Record(record: S3EventRecord): ObjectEvent | MalformedRecord {
  const bucket = record.s3.bucket.name
  try {
    const key = decodeEventKey(record.s3.object.key)
    return {bucket, key, kind: record.eventName.startsWith('ObjectCreated:') ? 'created' : 'other'}
  } catch {
    return {malformed: 'key is not valid percent-encoding', bucket, key: record.s3.object.key}
  }
}

function fromEventBridge(event: object): ObjectEvent | MalformedRecord {
  const {source, detail} = event as {source?: unknown; detail?: unknown}
  const detailType = (event as {'detail-type': string})['detail-type']
  if (detailType === SCAN_RESULT_DETAIL_TYPE) {
    const details = isObject(detail) ? detail.s3ObjectDetails : undefined
    const result = isObject(detail) ? detail.scanResultDetails : undefined
    if (!isObject(details) || typeof details.bucketName !== 'string' || typeof details.objectKey !== 'string') {
      return {malformed: 'scan result event names no S3 object'}
    }
    if (!isObject(result) || typeof result.scanResultStatus !== 'string') {
      return {malformed: 'scan result event has no scanResultStatus', bucket: details.bucketName, key: details.objectKey}
    }
    const versionId = typeof details.versionId === 'string' ? details.versionId : undefined
    return {bucket: details.bucketName, key: details.objectKey, kind: 'scan-result', scanStatus: result.scanResultStatus, ...(versionId ? {versionId} : {})}
  }
  if (source === 'aws.s3' && isObject(detail) && isObject(detail.bucket) && isObject(detail.object)) {
    const {name} = detail.bucket
    const {key} = detail.object
    if (typeof name === 'string' && typeof key === 'string') {
      return {bucket: name, key, kind: detailType === 'Object Created' ? 'created' : 'other'}
    }
  }
  return {malformed: `EventBridge event "${detailType}" is neither an S3 object event nor a scan result`}
}

export function extractS3Records(event: S3Event | SNSEvent): Array<S3EventRecord | MalformedRecord> {
  const records: unknown[] = Array.isArray(event?.Records) ? event.Records : []
  return records.flatMap((record): Array<S3EventRecord | MalformedRecord> => {
    if (isSnsRecord(record)) return recordsOfSnsMessage(record.Sns.Message)
    if (isS3Record(record)) return [record]
    return [{malformed: 'record is neither an SNS nor an S3 notification record'}]
  })
}

function recordsOfSnsMessage(message: string): Array<S3EventRecord | MalformedRecord> {
  let body: unknown
  try {
    body = JSON.parse(message)
  } catch {
    return [{malformed: 'SNS message is not JSON'}]
  }
  // S3 sends {"Event": "s3:TestEvent"} without Records when the notification is first configured.
  if (isObject(body) && body.Event === 's3:TestEvent') return []
  if (!isObject(body) || !Array.isArray(body.Records)) return [{malformed: 'SNS message has no S3 Records'}]
  return body.Records.map((record: unknown) =>
    isS3Record(record) ? record : {malformed: 'SNS message holds a record that is not an S3 notification'},
  )
}

function isSnsRecord(record: unknown): record is SNSEventRecord {
  return isObject(record) && isObject(record.Sns) && typeof record.Sns.Message === 'string'
}

function isS3Record(record: unknown): record is S3EventRecord {
  if (!isObject(record) || typeof record.eventName !== 'string' || !isObject(record.s3)) return false
  const {bucket, object} = record.s3
  return isObject(bucket) && typeof bucket.name === 'string' && isObject(object) && typeof object.key === 'string'
}
