/** Pure parts of the S3-to-EFS copy function: event unwrapping, key decoding, target paths. */
import {extractS3Records} from '../../infra/lambda/src/event.js'
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
