/** S3's errors as sync and verify judge them: worth another try, a refused condition, a missing object, a reason. */
import {awsErrorLine} from '../core/aws-errors.js'

type S3Error = Error & {$metadata?: {httpStatusCode?: number}; $retryable?: unknown; Code?: string; code?: string}

export const status = (err: unknown) => (err as S3Error).$metadata?.httpStatusCode
export const isMissing = (err: unknown) => ['NoSuchKey', 'NotFound', 'NoSuchVersion'].includes((err as Error).name) || status(err) === 404

/** Worth another try after the SDK's own retries: throttling, 5xx, a corrupted body (BadDigest), the network. */
export function isTransientS3Error(err: unknown): boolean {
  const e = err as S3Error
  const code = status(err)
  if (code !== undefined && (code >= 500 || code === 429 || code === 408)) return true
  if (['BadDigest', 'SlowDown', 'RequestTimeout', 'InvalidPart', 'TimeoutError', 'XAmzContentSHA256Mismatch'].includes(e.name)) return true
  return ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN'].includes(e.code ?? '') || e.$retryable !== undefined
}

/** A short reason for reports, one line: S3, the status, the error code, the message and what to do; never request details. */
export function s3Reason(err: unknown): string {
  return awsErrorLine(err, 'S3')
}

/** S3 refused a conditional write: the object is no longer the one the condition named (or is gone, or now exists). */
export function isPreconditionFailure(err: unknown): boolean {
  const code = status(err)
  return code === 412 || code === 409 || (err as Error).name === 'NoSuchKey'
}
