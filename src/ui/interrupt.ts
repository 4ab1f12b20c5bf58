import {ExitCode} from '../core/errors.js'

/**
 * Ctrl-C (or SIGTERM) for long commands: the first asks the work to stop starting new things and to record what is
 * in flight; a second one exits at once (state written so far is consistent: every write is a transaction).
 */
export function interruptible(what: string): {signal: AbortSignal; dispose(): void} {
  const controller = new AbortController()
  const handler = () => {
    if (controller.signal.aborted) {
      process.stderr.write(`\n${what}: stopped; the next run continues from what was recorded\n`)
      process.exit(ExitCode.failure)
    }
    process.stderr.write(`\n${what}: interrupted; finishing what is in flight and recording it (Ctrl-C again to stop at once)\n`)
    controller.abort()
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', handler)
      process.off('SIGTERM', handler)
    },
  }
}
