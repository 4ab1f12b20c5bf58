import type Database from 'better-sqlite3'

import type {Account, FileEntry, FileType, Finding, HostKey, Severity} from '../core/inventory-model.js'
import type {SqliteStateStore} from './state.js'

export interface InventoryRun {
  id: number
  startedAt: string
  finishedAt?: string
  status: 'running' | 'complete' | 'failed'
  accountsSource?: string
  /** The readings that failed when accounts were read (set: accounts or keys may be missing from this run) */
  accountsIncomplete?: string[]
  host: string
  summary?: InventorySummary
}

export interface OwnerSummary {
  owner: string
  files: number
  dirs: number
  bytes: number
  other: number
  errors: number
}

export interface InventorySummary {
  owners: OwnerSummary[]
  findings: Record<Severity, number>
  accounts: number
  hostKeys: number
}

export interface FileChange {
  owner: string
  path: Buffer
  change: 'added' | 'removed' | 'changed'
}

/** Rows per commit while the walk writes: bounded work per commit, few commits. */
const ROWS_PER_COMMIT = 10_000

type FileRow = {owner: string; path: Buffer; type: FileType; size: number; mtime: number; mode: number; uid: number; gid: number; link_target: Buffer | null; error: string | null}

/** The inventory's tables in the state database: runs, accounts, host keys, files and findings. */
export class InventoryStore {
  private readonly db: Database.Database
  private readonly insertFile: Database.Statement
  private readonly insertFinding: Database.Statement
  /** Rows written since the last commit, between beginWrites and endWrites; undefined outside. */
  private uncommitted?: number

  constructor(state: SqliteStateStore) {
    this.db = state.db
    this.insertFile = this.db.prepare(
      `INSERT OR REPLACE INTO inventory_files (run_id, owner, path, type, size, mtime, mode, uid, gid, link_target, error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    this.insertFinding = this.db.prepare('INSERT INTO inventory_findings (run_id, rule, severity, subject, reason, fix) VALUES (?, ?, ?, ?, ?, ?)')
  }

  /** Starts a run; a run left 'running' by an interrupted process is marked failed. */
  beginRun(host: string): number {
    this.db.prepare(`UPDATE inventory_runs SET status = 'failed', finished_at = ? WHERE status = 'running'`).run(new Date().toISOString())
    return Number(this.db.prepare(`INSERT INTO inventory_runs (started_at, status, host) VALUES (?, 'running', ?)`).run(new Date().toISOString(), host).lastInsertRowid)
  }

  addAccounts(runId: number, accounts: Account[]): void {
    const stmt = this.db.prepare('INSERT OR REPLACE INTO inventory_accounts (run_id, name, account_json) VALUES (?, ?, ?)')
    this.db.transaction(() => accounts.forEach((a) => stmt.run(runId, a.name, JSON.stringify(a))))()
  }

  addHostKeys(runId: number, keys: HostKey[]): void {
    const stmt = this.db.prepare('INSERT OR REPLACE INTO inventory_host_keys (run_id, type, bits, fingerprint, public_key) VALUES (?, ?, ?, ?, ?)')
    this.db.transaction(() => keys.forEach((k) => stmt.run(runId, k.type, k.bits ?? null, k.fingerprint, k.publicKey)))()
  }

  addFiles(runId: number, entries: FileEntry[]): void {
    this.writing(entries.length, () => {
      for (const e of entries) {
        this.insertFile.run(runId, e.owner, e.path, e.type, e.size, e.mtime, e.mode, e.uid, e.gid, e.linkTarget ?? null, e.error ?? null)
      }
    })
  }

  addFindings(runId: number, findings: Finding[]): void {
    if (findings.length === 0) return
    this.writing(findings.length, () => findings.forEach((f) => this.insertFinding.run(runId, f.rule, f.severity, f.subject, f.reason, f.fix)))
  }

  /**
   * From here to endWrites, addFiles and addFindings write inside a transaction that commits every ROWS_PER_COMMIT
   * rows: the walk hands over each directory as it arrives, so its rows leave JS memory at once (held in batches,
   * they outlived the young generation), and commits stay few. Outside, each call is its own transaction.
   */
  beginWrites(): void {
    this.uncommitted ??= 0
  }

  /** Commits what was written since beginWrites. */
  endWrites(): void {
    const open = this.db.inTransaction && this.uncommitted !== undefined
    this.uncommitted = undefined
    if (open) this.db.exec('COMMIT')
  }

  private writing(rows: number, write: () => void): void {
    if (this.uncommitted === undefined) return this.db.transaction(write)()
    if (!this.db.inTransaction) this.db.exec('BEGIN')
    try {
      write()
    } catch (err) {
      this.uncommitted = undefined
      this.db.exec('ROLLBACK')
      throw err
    }
    this.uncommitted += rows
    if (this.uncommitted >= ROWS_PER_COMMIT) {
      this.db.exec('COMMIT')
      this.uncommitted = 0
    }
  }

  /** Ends a run and keeps only it and the complete run before it (what "changed since last time" needs). */
  finishRun(runId: number, status: 'complete' | 'failed', accountsSource: string, summary?: InventorySummary): void {
    this.db
      .prepare('UPDATE inventory_runs SET status = ?, finished_at = ?, accounts_source = ?, summary_json = ? WHERE id = ?')
      .run(status, new Date().toISOString(), accountsSource, summary ? JSON.stringify(summary) : null, runId)
    if (status !== 'complete') return
    const previous = this.previousCompleteRun(runId)
    this.db.prepare('DELETE FROM inventory_runs WHERE id NOT IN (?, ?)').run(runId, previous?.id ?? runId)
  }

  /** Records that the run read accounts only in part, and which readings failed. */
  setAccountsIncomplete(runId: number, readings: string[]): void {
    this.db.prepare('UPDATE inventory_runs SET accounts_incomplete = ? WHERE id = ?').run(readings.length ? JSON.stringify(readings) : null, runId)
  }

  latestCompleteRun(): InventoryRun | undefined {
    return this.toRun(this.db.prepare(`SELECT * FROM inventory_runs WHERE status = 'complete' ORDER BY id DESC LIMIT 1`).get())
  }

  previousCompleteRun(beforeId: number): InventoryRun | undefined {
    return this.toRun(this.db.prepare(`SELECT * FROM inventory_runs WHERE status = 'complete' AND id < ? ORDER BY id DESC LIMIT 1`).get(beforeId))
  }

  private toRun(row: unknown): InventoryRun | undefined {
    if (!row) return undefined
    const r = row as {
      id: number
      started_at: string
      finished_at: string | null
      status: InventoryRun['status']
      accounts_source: string | null
      accounts_incomplete: string | null
      host: string
      summary_json: string | null
    }
    return {
      id: r.id,
      startedAt: r.started_at,
      finishedAt: r.finished_at ?? undefined,
      status: r.status,
      accountsSource: r.accounts_source ?? undefined,
      ...(r.accounts_incomplete ? {accountsIncomplete: JSON.parse(r.accounts_incomplete) as string[]} : {}),
      host: r.host,
      summary: r.summary_json ? (JSON.parse(r.summary_json) as InventorySummary) : undefined,
    }
  }

  accounts(runId: number): Account[] {
    return (this.db.prepare('SELECT account_json FROM inventory_accounts WHERE run_id = ? ORDER BY name').all(runId) as Array<{account_json: string}>).map(
      (r) => JSON.parse(r.account_json) as Account,
    )
  }

  hostKeys(runId: number): HostKey[] {
    return (this.db.prepare('SELECT type, bits, fingerprint, public_key FROM inventory_host_keys WHERE run_id = ? ORDER BY type').all(runId) as Array<{
      type: string
      bits: number | null
      fingerprint: string
      public_key: string
    }>).map((r) => ({type: r.type, bits: r.bits ?? undefined, fingerprint: r.fingerprint, publicKey: r.public_key}))
  }

  findings(runId: number): Finding[] {
    return this.db
      .prepare(
        `SELECT rule, severity, subject, reason, fix FROM inventory_findings WHERE run_id = ?
         ORDER BY CASE severity WHEN 'blocker' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, rule, subject`,
      )
      .all(runId) as Finding[]
  }

  summarize(runId: number, accounts: number, hostKeys: number): InventorySummary {
    const owners = this.db
      .prepare(
        `SELECT owner,
                SUM(type = 'file') AS files, SUM(type = 'dir') AS dirs,
                SUM(CASE WHEN type = 'file' THEN size ELSE 0 END) AS bytes,
                SUM(type NOT IN ('file', 'dir')) AS other, SUM(error IS NOT NULL) AS errors
         FROM inventory_files WHERE run_id = ? GROUP BY owner ORDER BY owner`,
      )
      .all(runId) as OwnerSummary[]
    const findings: Record<Severity, number> = {blocker: 0, warning: 0, info: 0}
    for (const r of this.db.prepare('SELECT severity, COUNT(*) AS n FROM inventory_findings WHERE run_id = ? GROUP BY severity').all(runId) as Array<{severity: Severity; n: number}>) {
      findings[r.severity] = r.n
    }
    return {owners, findings, accounts, hostKeys}
  }

  /**
   * Files added, removed or changed (size, mtime, type or mode) between two runs: counts and the first `examples`
   * paths. Counted with inner joins over the primary key (added = files - matched): an outer join, or counting in
   * JS, took several times longer on 100,000 files.
   */
  fileChanges(previousId: number, currentId: number, examples: number): {counts: Record<FileChange['change'], number>; examples: FileChange[]} {
    const count = (sql: string, ...params: number[]) => (this.db.prepare(`SELECT COUNT(*) AS n ${sql}`).get(...params) as {n: number}).n
    const both = 'FROM inventory_files c JOIN inventory_files p ON p.run_id = ? AND p.owner = c.owner AND p.path = c.path WHERE c.run_id = ?'
    const differs = 'AND (p.size != c.size OR p.mtime != c.mtime OR p.type != c.type OR p.mode != c.mode)'
    const onlyIn = `FROM inventory_files c WHERE c.run_id = ?
       AND NOT EXISTS (SELECT 1 FROM inventory_files p WHERE p.run_id = ? AND p.owner = c.owner AND p.path = c.path)`
    const matched = count(both, previousId, currentId)
    const counts = {
      added: count('FROM inventory_files WHERE run_id = ?', currentId) - matched,
      removed: count('FROM inventory_files WHERE run_id = ?', previousId) - matched,
      changed: count(`${both} ${differs}`, previousId, currentId),
    }
    const queries: Array<[FileChange['change'], string, number[]]> = [
      ['added', onlyIn, [currentId, previousId]],
      ['removed', onlyIn, [previousId, currentId]],
      ['changed', `${both} ${differs}`, [previousId, currentId]],
    ]
    const found: FileChange[] = []
    for (const [change, from, params] of queries) {
      const limit = Math.min(counts[change], examples - found.length)
      if (limit <= 0) continue
      const rows = this.db.prepare(`SELECT c.owner, c.path ${from} ORDER BY c.owner, c.path LIMIT ?`).all(...params, limit) as Array<{owner: string; path: Buffer}>
      for (const r of rows) found.push({...r, change})
    }
    return {counts, examples: found}
  }

  /** Regular files' owner, path, size and mtime, in no particular order: what the reports' charts count (half the time of files()). */
  regularFiles(runId: number): Iterable<{owner: string; path: Buffer; size: number; mtime: number}> {
    return this.db.prepare(`SELECT owner, path, size, mtime FROM inventory_files WHERE run_id = ? AND type = 'file'`).iterate(runId) as Iterable<{owner: string; path: Buffer; size: number; mtime: number}>
  }

  *files(runId: number): IterableIterator<FileEntry> {
    const rows = this.db.prepare('SELECT * FROM inventory_files WHERE run_id = ? ORDER BY owner, path').iterate(runId) as Iterable<FileRow>
    for (const r of rows) {
      yield {
        owner: r.owner,
        path: r.path,
        type: r.type,
        size: r.size,
        mtime: r.mtime,
        mode: r.mode,
        uid: r.uid,
        gid: r.gid,
        ...(r.link_target ? {linkTarget: r.link_target} : {}),
        ...(r.error ? {error: r.error} : {}),
      }
    }
  }
}
