import {awsErrorLine, oneLine} from '../../src/core/aws-errors.js'

const sdkError = (name: string, message: string, status: number, extra: Record<string, unknown> = {}) => Object.assign(new Error(message), {name, $metadata: {httpStatusCode: status}, ...extra})

describe('AWS errors in one line', () => {
  it('names the service, status, code and what to do', () => {
    expect(awsErrorLine(sdkError('AccessDenied', 'Access Denied', 403, {$service: 'S3'}))).toBe("S3 HTTP 403 AccessDenied: Access Denied; check that the credentials' IAM policy (and the KMS key policy) allow it")
    expect(awsErrorLine(sdkError('NoSuchBucket', 'The specified bucket does not exist', 404), 'S3')).toBe('S3 HTTP 404 NoSuchBucket: The specified bucket does not exist; check target.bucket')
    expect(awsErrorLine(sdkError('NotImplemented', 'not implemented', 501, {$service: 'S3'}))).toMatch(/; the endpoint does not implement this request$/)
  })

  it('turns an HTML page into its title, on one line, and says it is not the service speaking', () => {
    const html = '<html>\r\n<head><title>502 Bad Gateway</title></head>\n<body>\n<h1>502 Bad Gateway</h1>\n</body></html>'
    const line = awsErrorLine(sdkError('BadGateway', html, 502, {$service: 'S3'}))
    expect(line).toBe("S3 HTTP 502 BadGateway: 502 Bad Gateway; the answer is a web page, not the service's: check the endpoint and any proxy in between")
    expect(oneLine('<p>first\nsecond</p>')).toBe('first second')
  })

  it('says so when the SDK could not parse the body, with the HTTP reason', () => {
    const e = sdkError('Unknown', "char 'D' is not expected.:1:1\n  Deserialization error: to see the raw response, inspect the hidden field {error}.$response on this object.", 403, {$service: 'S3'})
    expect(awsErrorLine(e)).toBe("S3 HTTP 403: Forbidden; the answer is a web page, not the service's: check the endpoint and any proxy in between")
  })
})
