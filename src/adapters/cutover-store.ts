import type {ResourceRecordSet} from '@aws-sdk/client-route-53'
import type Database from 'better-sqlite3'

import type {AliasTarget} from '../core/dns-plan.js'
import type {SqliteStateStore} from './state.js'

export interface DnsRecordState {
  hostedZoneId: string
  recordName: string
  /** Record sets as they were before `dns prepare` lowered the TTL */
  beforeTtl?: ResourceRecordSet[]
  /** Address record sets as they were before the switch: what rollback restores */
  saved?: ResourceRecordSet[]
  target?: AliasTarget
  /** When the switch began (before the change was applied): rollback carries back what arrived in S3 from then on */
  switchStartedAt?: string
  switchedAt?: string
  rolledBackAt?: string
}

export type StepStatus = 'pending' | 'running' | 'done' | 'failed'

export interface StepRecord {
  idx: number
  stepId: string
  type: string
  status: StepStatus
  startedAt?: string
  finishedAt?: string
  output?: unknown
}

export interface RunbookRun {
  id: number
  runbook: string
  digest: string
  startedAt: string
  finishedAt?: string
  status: 'running' | 'complete' | 'failed'
  steps: StepRecord[]
}

const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v))
const parse = <T>(v: string | null): T | undefined => (v === null ? undefined : (JSON.parse(v) as T))

/** Cutover state: the DNS record as it was (for rollback) and each runbook step's status, start, end and output. */
export class CutoverStore {
  private readonly db: Database.Database

  constructor(state: SqliteStateStore) {
    this.db = state.db
  }

  dnsRecord(hostedZoneId: string, recordName: string): DnsRecordState | undefined {
    const r = this.db.prepare('SELECT * FROM dns_records WHERE hosted_zone_id = ? AND record_name = ?').get(hostedZoneId, recordName.toLowerCase()) as
      | {before_ttl_json: string | null; saved_json: string | null; target_json: string | null; switch_started_at: string | null; switched_at: string | null; rolled_back_at: string | null}
      | undefined
    if (!r) return undefined
    return {
      hostedZoneId,
      recordName,
      beforeTtl: parse(r.before_ttl_json),
      saved: parse(r.saved_json),
      target: parse(r.target_json),
      switchStartedAt: r.switch_started_at ?? undefined,
      switchedAt: r.switched_at ?? undefined,
      rolledBackAt: r.rolled_back_at ?? undefined,
    }
  }

  saveDnsRecord(s: DnsRecordState): void {
    this.db
      .prepare(
        `INSERT INTO dns_records (hosted_zone_id, record_name, before_ttl_json, saved_json, target_json, switch_started_at, switched_at, rolled_back_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (hosted_zone_id, record_name) DO UPDATE SET before_ttl_json = excluded.before_ttl_json, saved_json = excluded.saved_json,
           target_json = excluded.target_json, switch_started_at = excluded.switch_started_at, switched_at = excluded.switched_at, rolled_back_at = excluded.rolled_back_at`,
      )
      .run(s.hostedZoneId, s.recordName.toLowerCase(), json(s.beforeTtl), json(s.saved), json(s.target), s.switchStartedAt ?? null, s.switchedAt ?? null, s.rolledBackAt ?? null)
  }

  /** The latest run of this runbook (same name and steps), if any. */
  latestRun(runbook: string, digest: string): RunbookRun | undefined {
    const r = this.db.prepare('SELECT * FROM runbook_runs WHERE runbook = ? AND digest = ? ORDER BY id DESC LIMIT 1').get(runbook, digest) as
      | {id: number; runbook: string; digest: string; started_at: string; finished_at: string | null; status: RunbookRun['status']}
      | undefined
    return r ? this.withSteps(r) : undefined
  }

  lastRun(): RunbookRun | undefined {
    const r = this.db.prepare('SELECT * FROM runbook_runs ORDER BY id DESC LIMIT 1').get() as
      | {id: number; runbook: string; digest: string; started_at: string; finished_at: string | null; status: RunbookRun['status']}
      | undefined
    return r ? this.withSteps(r) : undefined
  }

  private withSteps(r: {id: number; runbook: string; digest: string; started_at: string; finished_at: string | null; status: RunbookRun['status']}): RunbookRun {
    const steps = (this.db.prepare('SELECT * FROM runbook_steps WHERE run_id = ? ORDER BY idx').all(r.id) as Array<{
      idx: number
      step_id: string
      type: string
      status: StepStatus
      started_at: string | null
      finished_at: string | null
      output_json: string | null
    }>).map((s) => ({idx: s.idx, stepId: s.step_id, type: s.type, status: s.status, startedAt: s.started_at ?? undefined, finishedAt: s.finished_at ?? undefined, output: parse(s.output_json)}))
    return {id: r.id, runbook: r.runbook, digest: r.digest, startedAt: r.started_at, finishedAt: r.finished_at ?? undefined, status: r.status, steps}
  }

  beginRun(runbook: string, digest: string, steps: Array<{stepId: string; type: string}>): RunbookRun {
    const id = Number(this.db.prepare(`INSERT INTO runbook_runs (runbook, digest, started_at, status) VALUES (?, ?, ?, 'running')`).run(runbook, digest, new Date().toISOString()).lastInsertRowid)
    const insert = this.db.prepare(`INSERT INTO runbook_steps (run_id, idx, step_id, type, status) VALUES (?, ?, ?, ?, 'pending')`)
    this.db.transaction(() => steps.forEach((s, i) => insert.run(id, i, s.stepId, s.type)))()
    return this.latestRun(runbook, digest)!
  }

  reopenRun(id: number): void {
    this.db.prepare(`UPDATE runbook_runs SET status = 'running', finished_at = NULL WHERE id = ?`).run(id)
  }

  stepStarted(runId: number, idx: number): void {
    this.db.prepare(`UPDATE runbook_steps SET status = 'running', started_at = ?, finished_at = NULL, output_json = NULL WHERE run_id = ? AND idx = ?`).run(new Date().toISOString(), runId, idx)
  }

  stepFinished(runId: number, idx: number, status: 'done' | 'failed' | 'pending', output?: unknown): void {
    this.db.prepare('UPDATE runbook_steps SET status = ?, finished_at = ?, output_json = ? WHERE run_id = ? AND idx = ?').run(status, new Date().toISOString(), json(output), runId, idx)
  }

  finishRun(runId: number, status: 'complete' | 'failed'): void {
    this.db.prepare('UPDATE runbook_runs SET status = ?, finished_at = ? WHERE id = ?').run(status, new Date().toISOString(), runId)
  }
}
