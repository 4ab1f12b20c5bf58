/**
 * One sync run's context, handed to each phase (list, plan, copy, finish) instead of long argument lists: the
 * configuration and options, the ports (source pool, object target, manifest store), the roots, the run id, the
 * result being filled in and the report of problems and notes.
 */
import type {ManifestStore, Problem} from '../../adapters/manifest-store.js'
import type {ObjectTarget} from '../../adapters/object-target.js'
import type {Config} from '../../core/config.js'
import {displayPath} from '../../core/findings.js'
import type {SourcePool} from '../../core/source.js'
import {PROBLEM_KINDS, type ProblemKind} from '../../core/sync-plan.js'
import type {SyncDeps, SyncItem, SyncOptions, SyncResult} from '../sync.js'
import type {SyncRoot} from '../sync-roots.js'

const LIST_LIMIT = 1000
const SLASH = Buffer.from('/')
export const joinPath = (a: Buffer, b: Buffer) => (a.length === 0 ? b : b.length === 0 ? a : Buffer.concat([a, SLASH, b]))

export class SyncRun {
  constructor(
    readonly config: Config,
    readonly opts: SyncOptions,
    readonly deps: SyncDeps,
    readonly pool: SourcePool,
    readonly target: ObjectTarget,
    readonly store: ManifestStore,
    readonly roots: SyncRoot[],
    /** undefined in a dry run (nothing is recorded) */
    readonly runId: number | undefined,
    readonly result: SyncResult,
    readonly report: Report,
    readonly signal: AbortSignal,
  ) {}
}

/** Collects problems and notes: all into the state database, the first LIST_LIMIT of each into the result. */
export class Report {
  problems: SyncItem[] = []
  notes: SyncItem[] = []
  truncated = false
  private pending: Problem[] = []
  constructor(
    private readonly store: ManifestStore,
    private readonly runId: number | undefined,
  ) {}
  add(owner: string, path: Buffer, kind: ProblemKind, reason: string, key?: string): void {
    const list = PROBLEM_KINDS.has(kind) ? this.problems : this.notes
    if (list.length < LIST_LIMIT) list.push({owner, path: displayPath(path), ...(key ? {key} : {}), kind, reason})
    else this.truncated = true
    if (this.runId === undefined) return
    this.pending.push({owner, path, kind, reason})
    if (this.pending.length >= 500) this.flush()
  }
  flush(): void {
    if (this.runId !== undefined && this.pending.length > 0) this.store.addProblems(this.runId, this.pending.splice(0))
  }
}
