import {randomUUID} from 'node:crypto'
import {hostname} from 'node:os'
import {setTimeout as sleep} from 'node:timers/promises'

import {CliError, ExitCode} from '../core/errors.js'
import type {SqliteStateStore} from './state.js'

/** Who holds the project: what the refused command is told, and what the log says on a takeover. */
export interface LockHolder {
  command: string
  pid: number
  host: string
  startedAt: string
}

interface LockRow extends LockHolder {
  token: string
}

/** Whether the process that took the lock is gone: only knowable on the same host. */
function holderGone(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return false
  try {
    process.kill(holder.pid, 0)
    return false
  } catch (err) {
    // EPERM: the process exists but belongs to someone else
    return (err as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

export function describeHolder(h: LockHolder): string {
  return `sftp-cutover ${h.command} (pid ${h.pid} on ${h.host}, since ${h.startedAt})`
}

/**
 * The project lock, a row in the state database: one command that changes the project (its state or AWS) at a time.
 * Taking it is one INSERT, so two processes cannot both win; a holder whose process has died (same host) is taken over.
 */
export class ProjectLock {
  private token?: string

  constructor(private readonly state: SqliteStateStore) {}

  private current(): LockRow | undefined {
    const row = this.state.db.prepare('SELECT command, pid, host, started_at, token FROM project_lock WHERE id = 1').get() as
      | {command: string; pid: number; host: string; started_at: string; token: string}
      | undefined
    return row && {command: row.command, pid: row.pid, host: row.host, startedAt: row.started_at, token: row.token}
  }

  /** One attempt: the lock, or who holds it. `tookOver` is the dead holder replaced, for the log. */
  tryAcquire(command: string): {ok: true; tookOver?: LockHolder} | {ok: false; holder: LockHolder} {
    const token = randomUUID()
    let tookOver: LockHolder | undefined
    const held = this.current()
    if (held && holderGone(held)) {
      // only the one who deletes this exact row takes over; a concurrent taker finds it gone and competes on the INSERT
      if (this.state.db.prepare('DELETE FROM project_lock WHERE id = 1 AND token = ?').run(held.token).changes === 1) tookOver = held
    }
    const inserted = this.state.db
      .prepare('INSERT INTO project_lock (id, command, pid, host, started_at, token) VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING')
      .run(command, process.pid, hostname(), new Date().toISOString(), token)
    if (inserted.changes === 1) {
      this.token = token
      return {ok: true, tookOver}
    }
    const holder = this.current()
    // released between the INSERT and the SELECT: try again
    if (!holder) return this.tryAcquire(command)
    return {ok: false, holder}
  }

  /**
   * Takes the lock, or fails naming the holder; with `wait`, polls until the holder is done (`onWait` once, to say
   * who is waited for).
   */
  async acquire(command: string, opts: {wait: boolean; pollMs?: number; onWait?: (holder: LockHolder) => void; signal?: AbortSignal}): Promise<{tookOver?: LockHolder}> {
    let told = false
    for (;;) {
      const r = this.tryAcquire(command)
      if (r.ok) return {tookOver: r.tookOver}
      if (!opts.wait || opts.signal?.aborted) {
        throw new CliError(`the project is in use by ${describeHolder(r.holder)}: one command that changes it at a time`, {
          exitCode: ExitCode.failure,
          code: 'PROJECT_LOCKED',
          suggestions: ['Wait for it to finish, or run this command again with --wait to start when it is done.'],
        })
      }
      if (!told) opts.onWait?.(r.holder)
      told = true
      await sleep(opts.pollMs ?? 1000)
    }
  }

  /** Gives the lock back, if this process still holds it. */
  release(): void {
    if (!this.token) return
    this.state.db.prepare('DELETE FROM project_lock WHERE id = 1 AND token = ?').run(this.token)
    this.token = undefined
  }
}
