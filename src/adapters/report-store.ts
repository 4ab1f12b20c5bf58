import type {SqliteStateStore} from './state.js'

export interface SyncTotals {
  owner: string
  files: number
  dirs: number
  bytes: number
}

export interface SyncRunRow {
  id: number
  startedAt: string
  finishedAt?: string
  status: string
  summary?: unknown
}

export interface LastSyncRun {
  startedAt: string
  finishedAt?: string
  status: string
  summary?: unknown
}

/** Read-only queries over the sync tables for the migration report. */
export class ReportStore {
  constructor(private readonly state: SqliteStateStore) {}

  syncTotals(): SyncTotals[] {
    return this.state.db
      .prepare(
        `SELECT owner, SUM(kind = 'file') AS files, SUM(kind = 'dir') AS dirs, SUM(CASE WHEN kind = 'file' THEN size ELSE 0 END) AS bytes
         FROM sync_manifest WHERE status = 'synced' GROUP BY owner ORDER BY owner`,
      )
      .all() as SyncTotals[]
  }

  lastSyncRun(): LastSyncRun | undefined {
    const r = this.state.db.prepare('SELECT started_at, finished_at, status, summary_json FROM sync_runs ORDER BY id DESC LIMIT 1').get() as
      | {started_at: string; finished_at: string | null; status: string; summary_json: string | null}
      | undefined
    return r ? {startedAt: r.started_at, finishedAt: r.finished_at ?? undefined, status: r.status, summary: r.summary_json ? JSON.parse(r.summary_json) : undefined} : undefined
  }

  /** Every sync run, oldest first, with its summary (the run's result as sync recorded it). */
  syncRuns(): SyncRunRow[] {
    const rows = this.state.db.prepare('SELECT id, started_at, finished_at, status, summary_json FROM sync_runs ORDER BY id').all() as Array<{
      id: number
      started_at: string
      finished_at: string | null
      status: string
      summary_json: string | null
    }>
    return rows.map((r) => ({id: r.id, startedAt: r.started_at, finishedAt: r.finished_at ?? undefined, status: r.status, summary: r.summary_json ? JSON.parse(r.summary_json) : undefined}))
  }

  /** How many files the last sync run reported and did not copy, per owner. */
  syncProblemsPerOwner(): Map<string, number> {
    const rows = this.state.db
      .prepare('SELECT owner, COUNT(*) AS n FROM sync_problems WHERE run_id = (SELECT MAX(id) FROM sync_runs) GROUP BY owner')
      .all() as Array<{owner: string; n: number}>
    return new Map(rows.map((r) => [r.owner, r.n]))
  }

  /** The last files a sync run recorded as copied (owner and path), latest first. */
  copiedInRun(runId: number, limit: number): Array<{owner: string; path: Buffer}> {
    return this.state.db.prepare('SELECT owner, path FROM sync_manifest WHERE run_id = ? ORDER BY synced_at DESC LIMIT ?').all(runId, limit) as Array<{owner: string; path: Buffer}>
  }

  syncProblems(limit = 200): Array<{owner: string; path: Buffer; kind: string; reason: string}> {
    return this.state.db
      .prepare('SELECT owner, path, kind, reason FROM sync_problems WHERE run_id = (SELECT MAX(id) FROM sync_runs) ORDER BY owner, path LIMIT ?')
      .all(limit) as Array<{owner: string; path: Buffer; kind: string; reason: string}>
  }

  /** Every conflict any sync found after the switch (each is found once, by the run that wrote the box's version beside). */
  syncConflicts(limit = 1000): Array<{owner: string; path: Buffer; reason: string; at: string}> {
    return this.state.db
      .prepare(
        `SELECT p.owner, p.path, p.reason, r.started_at AS at FROM sync_problems p JOIN sync_runs r ON r.id = p.run_id WHERE p.kind = 'conflict' ORDER BY r.id, p.owner, p.path LIMIT ?`,
      )
      .all(limit) as Array<{owner: string; path: Buffer; reason: string; at: string}>
  }
}
