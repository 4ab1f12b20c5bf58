import {retry, RETRY} from '../core/retry.js'
import type {SourceFs, SourcePool} from '../core/source.js'
import {SftpClient} from './sftp-client.js'
import {type ConnectOptions, type SshCredentials, SshError, SshSession, type SshTarget} from './ssh.js'

interface PooledConnection {
  session: SshSession
  sftp: SftpClient
  leases: number
  closed: boolean
}

export interface SftpPoolOptions {
  /** SSH connections, one SFTP channel each. */
  connections: number
  /** Operations sharing one channel at once (SFTP pipelines requests on a channel). */
  perConnection: number
  connectAttempts?: number
  backoffMs?: number
  connect?: ConnectOptions
  onEvent?: (event: string, detail: Record<string, unknown>) => void
}

/**
 * A pool of SFTP channels over separate SSH connections. Dropped connections are replaced on the next lease,
 * with backoff on transient failures (host key and authentication errors are never retried).
 */
export class SftpPool implements SourcePool {
  private readonly conns: PooledConnection[] = []
  private opening = 0
  private readonly waiters: Array<() => void> = []
  private closed = false

  constructor(
    private readonly target: SshTarget,
    private readonly creds: SshCredentials,
    private readonly opts: SftpPoolOptions,
  ) {}

  async withSource<T>(fn: (sftp: SourceFs) => Promise<T>): Promise<T> {
    const conn = await this.lease()
    try {
      return await fn(conn.sftp)
    } finally {
      conn.leases--
      this.waiters.shift()?.()
    }
  }

  /** Opens every connection now, in parallel, so that work starting later does not wait for handshakes one by one. */
  async warm(): Promise<void> {
    const missing = this.opts.connections - this.conns.length - this.opening
    this.opening += missing
    try {
      await Promise.all(Array.from({length: missing}, () => this.open()))
    } finally {
      this.opening -= missing
      this.wakeAll()
    }
  }

  /**
   * Opens an SFTP channel on a connection that is already open for something else (the inventory's accounts
   * session) and makes it one of the pool's: one handshake fewer. The pool closes it with the others. When the server
   * refuses the channel there (MaxSessions), the session is left as it was and the pool opens its own connections.
   */
  async adopt(session: SshSession): Promise<void> {
    this.opening++
    try {
      await this.add(session, false)
    } catch (err) {
      if (err instanceof SshError && this.closed) throw err
      this.opts.onEvent?.('sftp.adopt.refused', {reason: (err as Error).message})
    } finally {
      this.opening--
      this.wakeAll()
    }
  }

  /** Number of live connections (for tests and progress output). */
  get size(): number {
    return this.conns.length
  }

  private async lease(): Promise<PooledConnection> {
    for (;;) {
      if (this.closed) throw new SshError('the SFTP pool is closed', 'SSH_FAILED')
      const live = this.conns.filter((c) => !c.closed)
      const idle = live.filter((c) => c.leases < this.opts.perConnection).sort((a, b) => a.leases - b.leases)[0]
      // Open another connection before doubling up once every existing one is busy.
      if ((!idle || idle.leases > 0) && live.length + this.opening < this.opts.connections) {
        this.opening++
        try {
          const conn = await this.open()
          conn.leases++
          return conn
        } finally {
          this.opening--
          // On failure, work waiting for this connection tries itself (and fails on its own) instead of waiting forever.
          this.wakeAll()
        }
      }
      if (idle) {
        idle.leases++
        return idle
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
  }

  private async open(): Promise<PooledConnection> {
    return retry(
      async () => this.add(await SshSession.connect(this.target, this.creds, this.opts.connect)),
      {
        ...RETRY.connect,
        attempts: this.opts.connectAttempts ?? RETRY.connect.attempts,
        baseMs: this.opts.backoffMs ?? RETRY.connect.baseMs,
        isTransient: (err) => err instanceof SshError && err.transient && !this.closed,
        onRetry: (err, attempt, delayMs) => this.opts.onEvent?.('sftp.connect.retry', {attempt, delayMs: Math.round(delayMs), reason: (err as Error).message}),
      },
    )
  }

  /** An SFTP channel on the session, added to the pool (the session is closed when that fails, if the pool opened it). */
  private async add(session: SshSession, own = true): Promise<PooledConnection> {
    let sftp: SftpClient
    try {
      sftp = await SftpClient.open(session)
    } catch (err) {
      if (own) session.close()
      throw err
    }
    if (this.closed) {
      // closed while this connection was being opened: do not leave it behind
      session.close()
      throw new SshError('the SFTP pool is closed', 'SSH_FAILED')
    }
    const conn: PooledConnection = {session, sftp, leases: 0, closed: false}
    const drop = () => {
      if (conn.closed) return
      conn.closed = true
      const i = this.conns.indexOf(conn)
      if (i >= 0) this.conns.splice(i, 1)
      this.opts.onEvent?.('sftp.connection.closed', {remaining: this.conns.length})
      // Wake everyone waiting: they will open a replacement.
      this.wakeAll()
    }
    session.client.on('close', drop)
    sftp.on('close', drop)
    this.conns.push(conn)
    // Work that asked for a connection while this one was being opened (by warm()) may take it now.
    this.wakeAll()
    return conn
  }

  async close(): Promise<void> {
    this.closed = true
    for (const c of this.conns.splice(0)) {
      c.closed = true
      c.session.close()
    }
    this.wakeAll()
  }

  private wakeAll(): void {
    for (const w of this.waiters.splice(0)) w()
  }
}
