import {type ChildProcess, execFile, spawn} from 'node:child_process'
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {setTimeout as sleep} from 'node:timers/promises'

const SETPRIV = '/usr/bin/setpriv'
const TAIL_BYTES = 8192

/** A long-running peer process with its output tail kept for error messages. */
export interface ManagedProcess {
  readonly name: string
  readonly pid: number
  readonly child: ChildProcess
  /** The last few KiB of stdout and stderr, interleaved. */
  tail(): string
  /** Set once the process has exited. */
  exit(): {code: number | null; signal: NodeJS.Signals | null} | undefined
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>
}

/**
 * Spawns `command` (an absolute path). When util-linux `setpriv` is there, the child gets a parent-death
 * signal (SIGTERM), so a peer does not outlive a test run that is killed with SIGKILL.
 */
export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: {cwd?: string; env?: NodeJS.ProcessEnv} = {},
): ManagedProcess {
  const [file, argv] = existsSync(SETPRIV)
    ? [SETPRIV, ['--pdeathsig', 'TERM', '--', command, ...args]]
    : [command, args]
  const child = spawn(file, argv, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let tail = ''
  const append = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-TAIL_BYTES)
  }
  child.stdout?.on('data', append)
  child.stderr?.on('data', append)
  let exitInfo: {code: number | null; signal: NodeJS.Signals | null} | undefined
  let spawnError: Error | undefined
  const exited = new Promise<void>((resolve) => {
    child.once('error', (error) => {
      spawnError = error
      exitInfo ??= {code: null, signal: null}
      resolve()
    })
    child.once('exit', (code, signal) => {
      exitInfo = {code, signal}
      resolve()
    })
  })
  const managed: ManagedProcess = {
    name,
    get pid() {
      return child.pid ?? -1
    },
    child,
    tail: () => (spawnError ? `${spawnError.message}\n${tail}` : tail),
    exit: () => exitInfo,
    exited,
    async stop(graceMs = 5000) {
      if (exitInfo) return
      child.kill('SIGTERM')
      // Cancel the grace timer once the process is gone, so it does not keep the event loop alive.
      const grace = new AbortController()
      const timer = sleep(graceMs, 'timeout' as const, {signal: grace.signal}).catch(() => 'cancelled' as const)
      const outcome = await Promise.race([exited.then(() => 'exited' as const), timer])
      grace.abort()
      if (outcome === 'timeout') {
        child.kill('SIGKILL')
        await exited
      }
    },
  }
  return managed
}

/** Error text for a peer that did not come up: what happened plus its output tail. */
export function startFailure(proc: ManagedProcess, what: string): Error {
  const info = proc.exit()
  const state = info ? `exited (code ${info.code}, signal ${info.signal})` : 'still running'
  const tail = proc.tail().trim()
  return new Error(`${proc.name} ${what}; process ${state}.${tail ? `\n--- ${proc.name} output (tail) ---\n${tail}` : ''}`)
}

/**
 * Polls `probe` until it returns true. Fails at once if the process exits, or after `timeoutMs`.
 */
export async function waitUntilReady(
  proc: ManagedProcess,
  probe: () => Promise<boolean>,
  {timeoutMs = 20_000, intervalMs = 100, what = 'did not become ready'}: {timeoutMs?: number; intervalMs?: number; what?: string} = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (proc.exit()) throw startFailure(proc, 'exited before it was ready')
    if (await probe().catch(() => false)) return
    if (proc.exit()) throw startFailure(proc, 'exited before it was ready')
    if (Date.now() > deadline) throw startFailure(proc, `${what} within ${timeoutMs} ms`)
    await sleep(intervalMs)
  }
}

/** True when the output tail says the port was taken (so the caller can retry on another port). */
export function portWasTaken(proc: ManagedProcess): boolean {
  return /address already in use|EADDRINUSE|bind.*in use/i.test(proc.tail())
}

/** Runs a short command to completion; rejects with its stderr on a non-zero exit. */
export async function run(
  command: string,
  args: string[],
  options: {input?: string; cwd?: string} = {},
): Promise<{stdout: string; stderr: string}> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, {cwd: options.cwd, maxBuffer: 16 * 1024 * 1024}, (error, stdout, stderr) => {
      if (error) {
        const code = (error as NodeJS.ErrnoException & {code?: unknown}).code
        reject(
          Object.assign(new Error(`${command} ${args.join(' ')} failed (exit ${String(code)}): ${String(stderr).trim() || error.message}`), {
            exitCode: typeof code === 'number' ? code : undefined,
            stderr: String(stderr),
          }),
        )
        return
      }
      resolve({stdout: String(stdout), stderr: String(stderr)})
    })
    if (options.input !== undefined) child.stdin?.end(options.input)
    else child.stdin?.end()
  })
}

/** Pids of all live descendants of `pid` (from /proc), deepest last. */
export function descendantPids(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // pid (comm) state ppid ...; comm may contain spaces and parens
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      const list = children.get(ppid) ?? []
      list.push(Number(entry))
      children.set(ppid, list)
    } catch {
      // process went away
    }
  }
  const out: number[] = []
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c)
      walk(c)
    }
  }
  walk(pid)
  return out
}

/** Pids of live processes whose real uid is `uid`. */
export function pidsOfUid(uid: number): number[] {
  const out: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8')
      const match = /^Uid:\s+(\d+)/m.exec(status)
      if (match && Number(match[1]) === uid) out.push(Number(entry))
    } catch {
      // process went away
    }
  }
  return out
}

/** Sends `signal` to each pid, ignoring ones that are already gone. */
export function killPids(pids: number[], signal: NodeJS.Signals = 'SIGTERM'): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal)
    } catch {
      // already gone
    }
  }
}

/** True while a process with this pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return true
  }
}

/** Waits until none of `pids` is alive, up to `timeoutMs`; returns the ones still alive. */
export async function waitGone(pids: number[], timeoutMs = 3000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs
  let alive = pids.filter(isAlive)
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(50)
    alive = alive.filter(isAlive)
  }
  return alive
}
