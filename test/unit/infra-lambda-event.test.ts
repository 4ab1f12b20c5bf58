/** Pure parts of the S3-to-EFS copy function: event unwrapping, key decoding, target paths; verdict messages. */
import {extractObjectEvents, extractS3Records} from '../../infra/lambda/src/event.js'
import {quarantineKey, verdictMessage} from '../../infra/lambda/src/verdict.js'
import {decodeEventKey, isDirectoryPlaceholder, targetPath, UnsafeKeyError} from '../../infra/lambda/src/target.js'

const record = (key: string) => ({eventName: 'ObjectCreated:Put', s3: {bucket: {name: 'b'}, object: {key}}})
const sns = (message: string) => ({Sns: {Message: message}})

describe('decodeEventKey', () => {
  test.each([
    ['report+2024.csv', 'report 2024.csv'],
    ['c%2B%2B+notes.txt', 'c++ notes.txt'],
    ['donn%C3%A9es/%E6%97%A5%E6%9C%AC.txt', 'données/日本.txt'],
    ['a/b/c.txt', 'a/b/c.txt'],
    ['100%25.txt', '100%.txt'],
  ])('%s -> %s', (raw, key) => expect(decodeEventKey(raw)).toBe(key))

  test('throws on broken percent-encoding', () => expect(() => decodeEventKey('bad%E6.txt')).toThrow(URIError))
})

describe('targetPath', () => {
  test('maps the key under the mount', () => {
    expect(targetPath('/mnt/sftp', 'sftp/home/alice/a b.txt')).toBe('/mnt/sftp/sftp/home/alice/a b.txt')
  })

  test.each(['../escape', 'sftp/home/../../escape', '/etc/passwd', 'a//b', 'a/./b', 'a/b/..', 'nul\0byte'])(
    'refuses %j',
    (key) => expect(() => targetPath('/mnt/sftp', key)).toThrow(UnsafeKeyError),
  )

  test('names directory placeholders', () => {
    expect(isDirectoryPlaceholder('sftp/home/alice/dir/')).toBe(true)
    expect(isDirectoryPlaceholder('sftp/home/alice/file')).toBe(false)
  })
})

describe('extractS3Records', () => {
  test('unwraps every record of every SNS message', () => {
    const event = {
      Records: [
        sns(JSON.stringify({Records: [record('a'), record('b')]})),
        sns(JSON.stringify({Records: [record('c')]})),
      ],
    }
    expect(extractS3Records(event as never).map((item) => ('malformed' in item ? item : item.s3.object.key))).toEqual(['a', 'b', 'c'])
  })

  test('accepts a direct S3 event', () => {
    expect(extractS3Records({Records: [record('a')]} as never)).toEqual([record('a')])
  })

  test("ignores S3's test message", () => {
    expect(extractS3Records({Records: [sns(JSON.stringify({Service: 'Amazon S3', Event: 's3:TestEvent'}))]} as never)).toEqual([])
  })

  test('reports unreadable records instead of dropping them', () => {
    const event = {Records: [sns('not json'), sns(JSON.stringify({Records: [{foo: 1}]})), sns('{}'), {other: true}]}
    expect(extractS3Records(event as never)).toEqual([
      {malformed: 'SNS message is not JSON'},
      {malformed: 'SNS message holds a record that is not an S3 notification'},
      {malformed: 'SNS message has no S3 Records'},
      {malformed: 'record is neither an SNS nor an S3 notification record'},
    ])
  })
})

// The samples below are the published examples: S3's EventBridge "Object Created" event (Amazon S3 User Guide,
// "EventBridge event message structure") and GuardDuty's "Object Scan Result" event (GuardDuty User Guide,
// "Monitoring S3 object scans with Amazon EventBridge").
const objectCreatedSample = {
  version: '0',
  id: '17793124-05d4-b198-2fde-7ededc63b103',
  'detail-type': 'Object Created',
  source: 'aws.s3',
  account: '111122223333',
  time: '2021-11-12T00:00:00Z',
  region: 'ca-central-1',
  resources: ['arn:aws:s3:::amzn-s3-demo-bucket1'],
  detail: {
    version: '0',
    bucket: {name: 'amzn-s3-demo-bucket1'},
    object: {key: 'example-key', size: 5, etag: 'b1946ac92492d2347c6235b4d2611184', 'version-id': 'IYV3p45BT0ac8hjHg1houSdS1a.Mro8e', sequencer: '00617F08299329D189'},
    'request-id': 'N4N7GDK58NMKJ12R',
    requester: '123456789012',
    'source-ip-address': '1.2.3.4',
    reason: 'PutObject',
  },
}
const scanResultSample = (status: string, threats: Array<{name: string}> | null) => ({
  version: '0',
  id: '72c7d362-737a-6dce-fc78-9e27a0171419',
  'detail-type': 'GuardDuty Malware Protection Object Scan Result',
  source: 'aws.guardduty',
  account: '111122223333',
  time: '2024-02-28T01:01:01Z',
  region: 'us-east-1',
  resources: ['arn:aws:guardduty:us-east-1:111122223333:malware-protection-plan/b4c7f464ab3a4EXAMPLE'],
  detail: {
    schemaVersion: '1.0',
    scanStatus: 'COMPLETED',
    resourceType: 'S3_OBJECT',
    s3ObjectDetails: {bucketName: 'amzn-s3-demo-bucket', objectKey: 'sftp/home/alice/a b+c.txt', eTag: '0f343b0931126a20f133d67c2b018a3b', versionId: 'd41d8cd98f00b204e9800998ecf8427e', s3Throttled: false},
    scanResultDetails: {scanResultStatus: status, threats},
  },
})

describe('extractObjectEvents', () => {
  test("reads S3's EventBridge Object Created event; its key is taken as is (EventBridge does not form-encode it)", () => {
    expect(extractObjectEvents(objectCreatedSample as never)).toEqual([{bucket: 'amzn-s3-demo-bucket1', key: 'example-key', kind: 'created'}])
    const spaced = structuredClone(objectCreatedSample)
    spaced.detail.object.key = 'sftp/home/alice/a b+c%41.txt'
    expect(extractObjectEvents(spaced as never)).toEqual([{bucket: 'amzn-s3-demo-bucket1', key: 'sftp/home/alice/a b+c%41.txt', kind: 'created'}])
  })

  test('other S3 EventBridge events are not copies', () => {
    const deleted = {...objectCreatedSample, 'detail-type': 'Object Deleted'}
    expect(extractObjectEvents(deleted as never)).toEqual([{bucket: 'amzn-s3-demo-bucket1', key: 'example-key', kind: 'other'}])
  })

  test("reads GuardDuty's scan result, clean or not", () => {
    expect(extractObjectEvents(scanResultSample('NO_THREATS_FOUND', null) as never)).toEqual([
      {bucket: 'amzn-s3-demo-bucket', key: 'sftp/home/alice/a b+c.txt', kind: 'scan-result', scanStatus: 'NO_THREATS_FOUND', versionId: 'd41d8cd98f00b204e9800998ecf8427e'},
    ])
    expect(extractObjectEvents(scanResultSample('THREATS_FOUND', [{name: 'EICAR-Test-File (not a virus)'}]) as never)).toEqual([
      {bucket: 'amzn-s3-demo-bucket', key: 'sftp/home/alice/a b+c.txt', kind: 'scan-result', scanStatus: 'THREATS_FOUND', versionId: 'd41d8cd98f00b204e9800998ecf8427e'},
    ])
  })

  test('S3 and SNS records keep working, decoded as before', () => {
    expect(extractObjectEvents({Records: [sns(JSON.stringify({Records: [record('a+b%2B.txt')]}))]} as never)).toEqual([
      {bucket: 'b', key: 'a b+.txt', kind: 'created'},
    ])
  })

  test('reports unreadable EventBridge events', () => {
    expect(extractObjectEvents({'detail-type': 'Scheduled Event', source: 'aws.events', detail: {}} as never)).toEqual([
      {malformed: 'EventBridge event "Scheduled Event" is neither an S3 object event nor a scan result'},
    ])
    const noStatus = scanResultSample('NO_THREATS_FOUND', null) as {detail: {scanResultDetails: unknown}}
    noStatus.detail.scanResultDetails = {}
    expect(extractObjectEvents(noStatus as never)).toEqual([
      {malformed: 'scan result event has no scanResultStatus', bucket: 'amzn-s3-demo-bucket', key: 'sftp/home/alice/a b+c.txt'},
    ])
  })
})

describe('verdict messages', () => {
  test('a non-scanned verdict says the file stays unreadable and uncopied', () => {
    const message = verdictMessage({bucket: 'b', key: 'sftp/home/alice/big.iso', status: 'UNSUPPORTED', scanner: 'GuardDuty Malware Protection'})
    expect(message).toEqual({
      subject: 'File not scanned (UNSUPPORTED): big.iso',
      text: [
        'File not scanned (UNSUPPORTED) in an uploaded file.',
        '',
        'File:    s3://b/sftp/home/alice/big.iso',
        'Scanner: GuardDuty Malware Protection',
        'The file stays where it is, unreadable by users and not copied to EFS, until a scan finds it clean.',
        '',
      ].join('\n'),
    })
  })

  test('subjects stay under SNS limit of 100 characters; quarantine keeps the whole key', () => {
    const message = verdictMessage({bucket: 'b', key: `sftp/home/a/${'x'.repeat(300)}`, status: 'THREATS_FOUND', scanner: 'ClamAV'}, 'q')
    expect(message.subject.length).toBeLessThan(100)
    expect(quarantineKey('sftp/quarantine/', 'sftp/home/a/f.exe')).toBe('sftp/quarantine/sftp/home/a/f.exe')
  })
})
