import {FTPError} from 'basic-ftp'

import {retry, RETRY} from '../core/retry.js'
import type {SourceFs, SourcePool} from '../core/source.js'
import {type FtpCredentials, FtpError, FtpSession, type FtpSessionOptions, type FtpTarget} from './ftp-client.js'

export interface FtpPoolOptions {
  /** Control connections: one per concurrent operation (FTP carries one transfer per control connection). */
  connections: number
  connectAttempts?: number
  backoffMs?: number
  session?: FtpSessionOptions
  onEvent?: (event: string, detail: Record<string, unknown>) => void
}

/**
 * FTP sessions, each lent to one caller at a time. A session that dropped (or was given up after a read stopped
 * midway) is replaced on the next lease, with backoff on transient failures; certificate and login refusals are
 * never retried.
 */
export class FtpPool implements SourcePool {
  private readonly idle: FtpSession[] = []
  private live = 0
  private readonly waiters: Array<() => void> = []
  private closed = false
  private readonly all = new Set<FtpSession>()
  /** Lowered when the server refuses more logins (421) than it already has from us: the pool works with those. */
  private limit: number

  constructor(
    private readonly target: FtpTarget,
    private readonly creds: FtpCredentials,
    private readonly opts: FtpPoolOptions,
  ) {
    this.limit = opts.connections
  }

  /** The server said it has too many users (421) while some of ours are open: use those, open no more. */
  private capped(err: unknown): boolean {
    const tooMany = err instanceof FtpError && err.cause instanceof FTPError && err.cause.code === 421
    if (!tooMany || this.all.size === 0) return false
    this.limit = this.all.size
    this.opts.onEvent?.('ftp.pool.capped', {connections: this.limit, reason: (err as Error).message})
    return true
  }

  get size(): number {
    return this.all.size
  }

  async withSource<T>(fn: (fs: SourceFs) => Promise<T>): Promise<T> {
    const session = await this.lease()
    try {
      return await fn(session)
    } finally {
      if (!session.closed && !this.closed) this.idle.push(session)
      this.waiters.shift()?.()
    }
  }

  async warm(): Promise<void> {
    const missing = this.limit - this.live
    if (missing <= 0) return
    this.live += missing
    const opened = await Promise.allSettled(Array.from({length: missing}, () => this.open()))
    for (const r of opened) {
      if (r.status === 'fulfilled') this.idle.push(r.value)
      else this.live--
    }
    this.wakeAll()
    const failed = opened.find((r) => r.status === 'rejected' && !this.capped(r.reason))
    if (failed) throw (failed as PromiseRejectedResult).reason
  }

  private async lease(): Promise<FtpSession> {
    for (;;) {
      if (this.closed) throw new FtpError('the FTP pool is closed', 'FTP_FAILED')
      const ready = this.idle.pop()
      if (ready) {
        if (!ready.closed) return ready
        continue
      }
      if (this.live < this.limit) {
        this.live++
        try {
          return await this.open()
        } catch (err) {
          this.live--
          this.wakeAll()
          if (this.capped(err)) continue
          throw err
        }
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
  }

  private open(): Promise<FtpSession> {
    return retry(
      async () => {
        const session = await FtpSession.connect(this.target, this.creds, this.opts.session)
        if (this.closed) {
          session.end()
          throw new FtpError('the FTP pool is closed', 'FTP_FAILED')
        }
        this.all.add(session)
        session.onClose(() => {
          if (!this.all.delete(session)) return
          this.live--
          const i = this.idle.indexOf(session)
          if (i >= 0) this.idle.splice(i, 1)
          this.opts.onEvent?.('ftp.connection.closed', {remaining: this.all.size})
          this.wakeAll()
        })
        return session
      },
      {
        ...RETRY.connect,
        attempts: this.opts.connectAttempts ?? RETRY.connect.attempts,
        baseMs: this.opts.backoffMs ?? RETRY.connect.baseMs,
        isTransient: (err) => err instanceof FtpError && err.transient && !this.closed,
        onRetry: (err, attempt, delayMs) => this.opts.onEvent?.('ftp.connect.retry', {attempt, delayMs: Math.round(delayMs), reason: (err as Error).message}),
      },
    )
  }

  async close(): Promise<void> {
    this.closed = true
    for (const s of [...this.all]) s.end()
    this.idle.length = 0
    this.wakeAll()
  }

  private wakeAll(): void {
    for (const w of this.waiters.splice(0)) w()
  }
}
