import {CliError, ExitCode} from './errors.js'

/**
 * A file the operator handed us (users.csv, bundle.json) is wrong. The message names the file, and the line and
 * field when known, so it can be fixed without guessing; exits 2 like other usage errors.
 */
export class InputError extends CliError {
  readonly file: string
  readonly line?: number
  readonly field?: string

  constructor(message: string, where: {file: string; line?: number; field?: string; suggestions?: string[]; cause?: unknown}) {
    super(message, {exitCode: ExitCode.usage, code: 'BAD_INPUT', suggestions: where.suggestions, cause: where.cause})
    this.name = 'InputError'
    this.file = where.file
    this.line = where.line
    this.field = where.field
  }
}
