/**
 * Retries fn with exponential backoff and jitter while the error is transient. With `progressed`, an attempt that
 * made progress (it reports so once it failed, e.g. parts of a large file were stored) does not use up an attempt:
 * over a link that drops every few seconds a large upload still gets there, and progress is bounded by the work, so
 * the loop ends.
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  opts: {
    attempts: number
    baseMs: number
    maxMs?: number
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
