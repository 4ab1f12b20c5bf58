import type {S3Event, S3EventRecord, SNSEvent, SNSEventRecord} from 'aws-lambda'

// The function is subscribed to the SNS topic the bucket publishes to; a direct S3 notification is accepted too.
export type CopyEvent = S3Event | SNSEvent

// A record the function could not read: reported as a failure instead of stopping the other records.
export interface MalformedRecord {
  malformed: string
}

export function extractS3Records(event: CopyEvent): Array<S3EventRecord | MalformedRecord> {
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

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}

function isSnsRecord(record: unknown): record is SNSEventRecord {
  return isObject(record) && isObject(record.Sns) && typeof record.Sns.Message === 'string'
}

function isS3Record(record: unknown): record is S3EventRecord {
  if (!isObject(record) || typeof record.eventName !== 'string' || !isObject(record.s3)) return false
  const {bucket, object} = record.s3
  return isObject(bucket) && typeof bucket.name === 'string' && isObject(object) && typeof object.key === 'string'
}
