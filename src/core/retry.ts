/** Retries fn with exponential backoff and jitter while the error is transient. */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  opts: {attempts: number; baseMs: number; maxMs?: number; isTransient: (err: unknown) => boolean; onRetry?: (err: unknown, attempt: number, delayMs: number) => void},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt)
    } catch (err) {
      if (attempt >= opts.attempts || !opts.isTransient(err)) throw err
      const delay = Math.min(opts.maxMs ?? 30_000, opts.baseMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2)
      opts.onRetry?.(err, attempt, delay)
      await new Promise((resolve) => setTimeout(resolve, delay))
    }
  }
}
