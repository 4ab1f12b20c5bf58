/** Exit codes, documented in the README. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  /** The command ran to the end but found problems (failed checks, blocking findings, mismatches). */
  problems: 3,
  /** Cancelled at a prompt (Ctrl-C or Esc), nothing changed: 128 + SIGINT, as shells report an interrupted command. */
  cancelled: 130,
} as const

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

/**
 * An error meant for the operator: a message that says what is wrong, the exit code, and what to do about it.
 * Anything else thrown is a bug or an unexpected outside failure and exits 1.
 */
export class CliError extends Error {
  readonly exitCode: ExitCodeValue
  readonly code: string
  readonly suggestions: string[]

  constructor(message: string, opts: {exitCode?: ExitCodeValue; code?: string; suggestions?: string[]; cause?: unknown} = {}) {
    super(message, {cause: opts.cause})
    this.name = 'CliError'
    this.exitCode = opts.exitCode ?? ExitCode.failure
    this.code = opts.code ?? 'FAILED'
    this.suggestions = opts.suggestions ?? []
  }
}

export function usageError(message: string, suggestions: string[] = [], code = 'USAGE'): CliError {
  return new CliError(message, {exitCode: ExitCode.usage, code, suggestions})
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
