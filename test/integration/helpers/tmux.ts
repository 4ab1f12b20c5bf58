/**
 * A real terminal for the CLI: a detached tmux session of a given size (Debian's tmux, installed by
 * scripts/install-peers.sh), whose screen the test reads and into which it types keys.
 */
import {execFileSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {CLI, cleanEnv} from './cli.js'

export interface Terminal {
  /** The screen as text (with `escapes`, its colours as ANSI sequences). */
  screen(opts?: {escapes?: boolean}): string
  /** Waits until the screen matches; fails naming what was on it. */
  waitFor(pattern: RegExp, timeoutMs?: number, opts?: {escapes?: boolean}): Promise<string>
  /** tmux key names: 'C-c', 'Enter', 'Escape', or text. */
  keys(...keys: string[]): void
  /** The CLI's exit code, once it has exited. */
  exitCode(timeoutMs?: number): Promise<number>
  close(): void
}

let n = 0

/** Runs `sftp-cutover ARGS` in a new 120x40 (by default) terminal, in `cwd`, with `env` added to a clean environment. */
export function startTerminal(args: string[], opts: {cwd: string; env?: NodeJS.ProcessEnv; width?: number; height?: number}): Terminal {
  const socket = `sct-${process.pid}-${++n}`
  const script = join(tmpdir(), `${socket}.sh`)
  const env = {...cleanEnv(), ...opts.env, TERM: 'xterm-256color'}
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`
  writeFileSync(
    script,
    [
      ...Object.entries(env).filter(([k]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k)).map(([k, v]) => `export ${k}=${quote(v ?? '')}`),
      // Ctrl-C goes to the whole foreground group: the shell must outlive it to report the CLI's exit code (a
      // handler, unlike an ignored signal, is not inherited by the CLI)
      "trap ':' INT",
      `cd ${quote(opts.cwd)}`,
      `${quote(process.execPath)} ${quote(CLI)} ${args.map(quote).join(' ')}`,
      'echo "[exit $?]"',
      'sleep 3600',
      '',
    ].join('\n'),
  )
  const tmux = (...a: string[]) => execFileSync('tmux', ['-L', socket, ...a], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
  tmux('new-session', '-d', '-x', String(opts.width ?? 120), '-y', String(opts.height ?? 40), `sh ${quote(script)}`)
  const screen = (o: {escapes?: boolean} = {}) => tmux('capture-pane', '-p', ...(o.escapes ? ['-e'] : []))
  const waitFor = async (pattern: RegExp, timeoutMs = 60_000, o: {escapes?: boolean} = {}) => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const text = screen(o)
      if (pattern.test(text)) return text
      if (Date.now() > deadline) throw new Error(`the terminal never showed ${pattern}; it shows:\n${text}`)
      await sleep(100)
    }
  }
  return {
    screen,
    waitFor,
    keys: (...keys) => void tmux('send-keys', ...keys),
    async exitCode(timeoutMs = 60_000) {
      const text = await waitFor(/\[exit \d+\]/, timeoutMs)
      return Number(/\[exit (\d+)\]/.exec(text)![1])
    },
    close() {
      try {
        tmux('kill-server')
      } catch {
        // already gone
      }
    },
  }
}
