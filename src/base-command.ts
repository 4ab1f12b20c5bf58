import {existsSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'
import {Command, Flags, type Interfaces} from '@oclif/core'

import {createLogger, type Logger} from './adapters/logger.js'
import {describeHolder, ProjectLock} from './adapters/project-lock.js'
import {SqliteStateStore} from './adapters/state.js'
import {awsErrorLine, isAwsServiceError} from './core/aws-errors.js'
import {CliError, ExitCode, errorMessage, usageError} from './core/errors.js'
import {type Prompter, terminalPrompter} from './ui/prompter.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

/** Where a migration project lives: the configuration file and, beside it, the .sftp-cutover/ state directory. */
export interface ProjectPaths {
  configFile: string
  dir: string
  stateDir: string
  stateDb: string
  logFile: string
  reportsDir: string
}

export function projectPaths(configFile: string): ProjectPaths {
  const file = resolve(configFile)
  const dir = dirname(file)
  const stateDir = join(dir, '.sftp-cutover')
  return {configFile: file, dir, stateDir, stateDb: join(stateDir, 'state.db'), logFile: join(stateDir, 'sftp-cutover.log'), reportsDir: join(stateDir, 'reports')}
}

/** --wait, on every command that takes the project lock (see BaseCommand.changesProject). */
export const lockFlags = {
  wait: Flags.boolean({summary: 'When another command is changing this project, wait for it to finish instead of refusing.', default: false}),
}

/** Maps anything thrown to what the operator sees: a message, an exit code and what to do. */
function toCliError(err: Error & {oclif?: {exit?: number}}, commandId: string): CliError {
  if (err instanceof CliError) return err
  if (err.name === 'ExitPromptError' || err.name === 'AbortPromptError') return new CliError('cancelled at a prompt: nothing was changed', {code: 'CANCELLED', exitCode: ExitCode.cancelled})
  // oclif's own parse errors (unknown flag, missing value) are usage errors.
  if (err.oclif?.exit === 2 || /Missing required flag|Unexpected argument|Nonexistent flag|Expected --|Parsing --/.test(err.message)) {
    return usageError(err.message.split('\nSee more help')[0], [`Run sftp-cutover ${commandId} --help for the flags.`])
  }
  // An AWS answer nobody handled: one line (service, status, code, what to do), whatever its body was.
  if (isAwsServiceError(err)) return new CliError(awsErrorLine(err), {code: 'AWS_ERROR', suggestions: ['The log file in .sftp-cutover/ has the details.']})
  return new CliError(errorMessage(err), {code: 'UNEXPECTED', suggestions: ['Run again with --verbose; the log file in .sftp-cutover/ has the details.']})
}

/**
 * Every command extends this. It owns --json (the command's run() returns its typed result), error output with
 * exit codes and suggested actions, the log file, the state database and prompting (never without a terminal).
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    config: Flags.string({
      char: 'c',
      summary: 'Configuration file of the migration project.',
      default: 'sftp-cutover.yaml',
      env: 'SFTP_CUTOVER_CONFIG',
      helpGroup: 'GLOBAL',
    }),
    verbose: Flags.boolean({summary: 'Also write the log to stderr.', default: false, helpGroup: 'GLOBAL'}),
    prompt: Flags.boolean({
      summary: 'Ask for missing input on a terminal; --no-prompt never asks (also without a terminal).',
      allowNo: true,
      default: true,
      helpGroup: 'GLOBAL',
    }),
  }

  /** Tests replace this to script the questions; null means "never prompt". */
  static prompterOverride: Prompter | null | undefined

  protected flags!: BaseFlags<T>
  protected args!: BaseArgs<T>
  protected paths!: ProjectPaths
  private _logger?: Logger
  private _state?: SqliteStateStore
  private _lock?: ProjectLock

  public override async init(): Promise<void> {
    await super.init()
    const {flags, args} = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (this.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    })
    this.flags = flags as BaseFlags<T>
    this.args = args as BaseArgs<T>
    this.paths = projectPaths(this.flags.config)
    // Without a configuration there is no project to protect: the command fails on loading it.
    if (this.changesProject() && existsSync(this.paths.configFile)) await this.lockProject()
  }

  /**
   * Whether this run changes the project (its state database or AWS): such runs take the project lock, one at a
   * time. Read-only commands and dry runs keep the default.
   */
  protected changesProject(): boolean {
    return false
  }

  private async lockProject(): Promise<void> {
    const lock = new ProjectLock(this.state)
    const command = (this.id ?? 'unknown').replaceAll(':', ' ')
    const wait = (this.flags as {wait?: boolean}).wait ?? false
    const {tookOver} = await lock.acquire(command, {wait, onWait: (holder) => this.logToStderr(`Waiting for ${describeHolder(holder)} to finish...`)})
    this._lock = lock
    if (tookOver) {
      const message = `took over the project lock from ${describeHolder(tookOver)}: that process is gone`
      this.logger.warn({holder: tookOver}, message)
      this.logToStderr(`Warning: ${message}`)
    }
  }

  /** The run log, in the state directory once the project exists (init creates it). */
  protected get logger(): Logger {
    this._logger ??= createLogger({
      file: existsSync(this.paths.stateDir) || existsSync(this.paths.configFile) ? this.paths.logFile : undefined,
      verbose: this.flags.verbose,
      command: this.id ?? 'unknown',
    })
    return this._logger
  }

  protected get state(): SqliteStateStore {
    this._state ??= new SqliteStateStore(this.paths.stateDb)
    return this._state
  }

  /** A prompter when asking is allowed: a terminal on stdin, no --no-prompt, no --json. */
  protected prompter(): Prompter | undefined {
    const override = (this.ctor as typeof BaseCommand).prompterOverride
    if (override !== undefined) return override ?? undefined
    if (!this.flags.prompt || this.jsonEnabled() || !process.stdin.isTTY) return undefined
    return terminalPrompter()
  }

  /** Fails with a usage error naming the flags that would have answered the question. */
  protected cannotPrompt(what: string, flags: string[]): CliError {
    return usageError(`${what}, and prompting is off (no terminal, --no-prompt or --json)`, [`Pass ${flags.join(', ')}.`], 'PROMPT_NEEDED')
  }

  protected out(message: string): void {
    this.log(message)
  }

  /** The one-line hint after each step of the migration flow (init, doctor, inventory, ... cutover), as text only. */
  protected next(command: string): void {
    this.out(`Next: sftp-cutover ${command}`)
  }

  public override async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<void> {
    const cli = toCliError(err, (this.id ?? '').replaceAll(':', ' '))
    process.exitCode = cli.exitCode
    try {
      this._logger?.error({code: cli.code, exitCode: cli.exitCode, err: cli.code === 'UNEXPECTED' ? err : undefined}, cli.message)
    } catch {
      // logging must not hide the original error
    }
    if (this.jsonEnabled()) {
      this.logJson({error: {code: cli.code, message: cli.message, exitCode: cli.exitCode, suggestions: cli.suggestions}})
      return
    }
    const lines = [`Error: ${cli.message}`, ...cli.suggestions.map((s) => `  Fix: ${s}`)]
    process.stderr.write(lines.join('\n') + '\n')
  }

  public override async finally(err: Error | undefined): Promise<void> {
    this._lock?.release()
    this._state?.close()
    this._logger?.flush()
    await super.finally(err)
  }

  /** Sets the exit code for a run that finished but found problems (failed checks, findings, mismatches). */
  protected foundProblems(): void {
    process.exitCode = ExitCode.problems
  }
}
