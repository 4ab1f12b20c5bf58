import {execFile} from 'node:child_process'
import {join} from 'node:path'

import {commandFlags, runMessages, suggestionProblems} from './suggestions.js'

const ROOT = join(import.meta.dirname, '..', '..', '..')
export const CLI = join(ROOT, 'bin', 'run.js')

export interface CliRun {
  code: number
  stdout: string
  stderr: string
  json<T = Record<string, unknown>>(): T
}

/** The command id an argument list runs ("users import" for users import --dry-run). */
function commandOf(args: string[]): string | undefined {
  const words = args.slice(0, args.findIndex((a) => a.startsWith('-')) >>> 0)
  for (let n = Math.min(3, words.length); n > 0; n--) if (commandFlags().has(words.slice(0, n).join(' '))) return words.slice(0, n).join(' ')
  return undefined
}

/**
 * Runs the built CLI (dist/, built by scripts/test.sh) as a separate process, as an engineer would: stdin is not a
 * terminal, so it must never prompt. Fails when a message of the run tells the operator to run a command or flag
 * that does not exist (every test that produces an error checks its suggestions this way).
 */
export function runCli(args: string[], opts: {cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      {cwd: opts.cwd, env: {...cleanEnv(), ...opts.env}, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 256 * 1024 * 1024},
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as {code?: unknown}).code === 'number' ? ((err as {code: number}).code) : 1) : 0
        const wrong = runMessages(stdout, stderr).flatMap((m) => suggestionProblems(m, commandOf(args)).map((p) => `${p}\n    in: ${m.trim()}`))
        if (wrong.length > 0) return reject(new Error(`sftp-cutover ${args.join(' ')} suggested what does not exist:\n  ${wrong.join('\n  ')}`))
        resolve({
          code,
          stdout,
          stderr,
          json<T>() {
            try {
              return JSON.parse(stdout) as T
            } catch {
              throw new Error(`not JSON (exit ${code}):\n${stdout}\n--- stderr\n${stderr}`)
            }
          },
        })
      },
    )
  })
}

/** The test process's environment without anything that would steer the CLI (config, AWS settings). */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('SFTP_CUTOVER_') && k !== 'SFTP_CUTOVER_PEERS') continue
    if (k.startsWith('AWS_') || k === 'NODE_OPTIONS' || k.startsWith('JEST')) continue
    env[k] = v
  }
  return env
}
