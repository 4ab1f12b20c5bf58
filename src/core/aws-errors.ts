/**
 * What an AWS (or S3-compatible) error says, in one line: service, HTTP status, error code, message and what to do.
 * Error bodies are not always the service's XML or JSON: a proxy, load balancer or the wrong endpoint answers with
 * an HTML page, which must not reach the operator as markup over many lines. Pure logic, no I/O.
 */

type AwsError = {name?: string; message?: string; Code?: string; $metadata?: {httpStatusCode?: number}; $service?: string}

const MAX_MESSAGE = 160

/** True for errors the AWS SDK (or our direct S3 requests) raised for an answer of the service. */
export function isAwsServiceError(err: unknown): boolean {
  return httpStatusOf(err) !== undefined
}

/** The HTTP status of the service's answer, when the error is one (the SDK's $metadata, read here only). */
export function httpStatusOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null ? (err as AwsError).$metadata?.httpStatusCode : undefined
}

/** The service an SDK error came from: as our clients tag it, or by its exception class (S3ServiceException -> S3). */
export function serviceOf(err: unknown): string | undefined {
  const tagged = (err as AwsError).$service
  if (typeof tagged === 'string') return tagged
  for (let p = Object.getPrototypeOf(err); p && p !== Error.prototype; p = Object.getPrototypeOf(p)) {
    const m = /^(.+)ServiceException$/.exec((p.constructor as {name?: string})?.name ?? '')
    if (m) return m[1]
  }
  return undefined
}

const looksLikeMarkup = (text: string) => /<(!doctype|html|head|body|title|\?xml|[a-z][a-z0-9]*[\s>/])/i.test(text)

/** One line of text from a message that may be an HTML or XML page: its title or message, tags and breaks removed. */
export function oneLine(text: string): string {
  let t = text
  if (looksLikeMarkup(t)) {
    const inner = /<(title|Message|h1)[^>]*>([^<]*)</i.exec(t)?.[2]
    t = inner ?? t.replace(/<[^>]*>/g, ' ')
  }
  t = t.replace(/\s+/g, ' ').trim()
  return t.length > MAX_MESSAGE ? `${t.slice(0, MAX_MESSAGE - 1)}…` : t
}

/**
 * The status line's text ("Forbidden"). Node's table is taken when needed: an ESM import of node:http evaluates
 * its lazy exports, which loads undici, 15 ms of every command's start-up.
 */
function statusText(status: number | undefined): string | undefined {
  return status === undefined ? undefined : process.getBuiltinModule('node:http').STATUS_CODES[status]
}

/** What to do about an error, by status and code. */
function advice(status: number | undefined, code: string, markup: boolean): string | undefined {
  if (markup) return 'the answer is a web page, not the service\'s: check the endpoint and any proxy in between'
  if (code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed' || status === 301) return 'the bucket is in another region: check target.region'
  if (code === 'NoSuchBucket') return 'check target.bucket'
  if (code === 'InvalidAccessKeyId' || code === 'SignatureDoesNotMatch' || code === 'ExpiredToken') return 'check the AWS credentials (profile, environment, SSO session)'
  if (code === 'NotImplemented' || status === 501) return 'the endpoint does not implement this request'
  if (status === 403) return 'check that the credentials\' IAM policy (and the KMS key policy) allow it'
  if (status !== undefined && status >= 500) return 'the service or a proxy in front of it failed: run again later'
  return undefined
}

/** "S3 HTTP 403 AccessDenied: Access Denied; check that …": one line whatever the body was. */
export function awsErrorLine(err: unknown, service = serviceOf(err) ?? 'AWS'): string {
  const e = err as AwsError
  const status = httpStatusOf(err)
  const raw = e.message ?? String(err)
  // The SDK names an error it could not parse "Unknown" or by the status, with a message about deserialization.
  const unparsed = /Deserialization error|char '.' is not expected|Unexpected close tag|Non-whitespace before first tag/i.test(raw)
  const markup = unparsed || looksLikeMarkup(raw)
  const code = e.Code ?? (e.name && !['Error', 'Unknown', 'UnknownError'].includes(e.name) && !/^\d+$/.test(e.name) ? e.name : '')
  const message = unparsed ? (statusText(status) ?? 'an answer that is not the service\'s') : oneLine(raw)
  const todo = advice(status, code, markup)
  return `${service}${status ? ` HTTP ${status}` : ''}${code ? ` ${code}` : ''}: ${message || 'no message'}${todo ? `; ${todo}` : ''}`
}
