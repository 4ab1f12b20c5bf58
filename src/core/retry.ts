export interface RetryPolicy {
  attempts: number
  baseMs: number
  maxMs: number
}

/**
 * The retry policies, by name. Each kind of failure is retried at one level only, so the attempts do not multiply:
 * a dropped link to the box is `reconnect` (reading goes on where it stopped), an S3 error that outlived the SDK's
 * own retries is `file` (the file's copy starts again, keeping the parts S3 holds), a direct S3 request is
 * `s3Request`, opening a connection is `connect`.
 */
export const RETRY = {
  /** A file's copy after an S3 error (throttling, 5xx, BadDigest) the SDK's retries did not get past */
  file: {attempts: 3, baseMs: 1000, maxMs: 30_000},
  /** A new connection to the box after one dropped mid-read; an attempt that read more does not count */
  reconnect: {attempts: 5, baseMs: 500, maxMs: 5_000},
  /** One PutObject/HeadObject/GetObject sent without the SDK (adapters/object-target.ts's direct path) */
  s3Request: {attempts: 6, baseMs: 200, maxMs: 20_000},
  /** Opening an SSH connection */
  connect: {attempts: 5, baseMs: 500, maxMs: 30_000},
} as const satisfies Record<string, RetryPolicy>

/**
 * Retries fn with exponential backoff and jitter while the error is transient. With `progressed`, an attempt that
 * made progress (it reports so once it failed, e.g. parts of a large file were stored) does not use up an attempt:
 * over a link that drops every few seconds a large upload still gets there, and progress is bounded by the work, so
 * the loop ends.
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  opts: Partial<RetryPolicy> & {
    attempts: number
    baseMs: number
    isTransient: (err: unknown) => boolean
    progressed?: () => boolean
    onRetry?: (err: unknown, attempt: number, delayMs: number) => void
  },
): Promise<T> {
  for (let attempt = 1; ; ) {
    try {
      return await fn(attempt)
    } catch (err) {
      if (!opts.isTransient(err)) throw err
      const counted = !opts.progressed?.()
      if (counted && attempt >= opts.attempts) throw err
      const delay = Math.min(opts.maxMs ?? 30_000, opts.baseMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2)
      opts.onRetry?.(err, attempt, delay)
      await new Promise((resolve) => setTimeout(resolve, delay))
      if (counted) attempt++
    }
  }
}
