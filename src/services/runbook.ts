import {CutoverStore, type StepRecord} from '../adapters/cutover-store.js'
import type {SqliteStateStore} from '../adapters/state.js'
import {CliError, ExitCode, type ExitCodeValue, errorMessage} from '../core/errors.js'
import {type Runbook, type RunbookStep, startIndex} from '../core/runbook.js'

export interface StepOutcome {
  summary: string
  details?: unknown
}

/** A step that could not do its job: the message says what happened, the suggestions what to do next. */
export class StepFailure extends CliError {
  constructor(message: string, opts: {exitCode?: ExitCodeValue; suggestions?: string[]; details?: unknown} = {}) {
    super(message, {exitCode: opts.exitCode ?? ExitCode.failure, code: 'STEP_FAILED', suggestions: opts.suggestions})
    this.details = opts.details
  }

  readonly details?: unknown
}

/** Steps after which the clients' way back needs rollback (unfreeze, the record as it was); before them nothing changed for clients. */
const CHANGES_LEGACY_SIDE = new Set<RunbookStep['type']>(['freeze', 'dns-switch', 'exec'])

export type StepHandler = (step: RunbookStep, run: {dryRun: boolean}) => Promise<StepOutcome>
export type StepHandlers = Record<RunbookStep['type'], StepHandler>

export interface StepResult {
  id: string
  type: string
  /** would-fail: a dry run found that the real run would stop at this step */
  status: 'done' | 'failed' | 'pending' | 'running' | 'would-run' | 'would-fail'
  startedAt?: string
  finishedAt?: string
  durationMs?: number
  summary?: string
  details?: unknown
}

export interface RunbookResult {
  runbook: string
  runId?: number
  outcome: 'complete' | 'unchanged' | 'dry-run'
  resumedAt?: string
  steps: StepResult[]
}

function toResult(r: StepRecord): StepResult {
  const out = (r.output ?? {}) as {summary?: string; details?: unknown; error?: string}
  const durationMs = r.startedAt && r.finishedAt ? Date.parse(r.finishedAt) - Date.parse(r.startedAt) : undefined
  return {id: r.stepId, type: r.type, status: r.status, startedAt: r.startedAt, finishedAt: r.finishedAt, durationMs, summary: out.summary ?? out.error, details: out.details}
}

/**
 * Runs a runbook step by step, keeping each step's status, start, end and output in the state database. A re-run
 * resumes at the first step not done (a step interrupted while running runs again); a complete run is not repeated.
 * --from restarts at a given step. --dry-run asks every step what it would do and changes nothing.
 */
export async function runRunbook(
  runbook: Runbook,
  opts: {from?: string; dryRun: boolean; onStep?: (step: RunbookStep, phase: 'start' | 'done' | 'failed', detail?: string) => void},
  deps: {state: SqliteStateStore; handlers: StepHandlers},
): Promise<RunbookResult> {
  const store = new CutoverStore(deps.state)
  const latest = store.latestRun(runbook.name, runbook.digest)
  const unfinished = latest && latest.status !== 'complete' ? latest : undefined
  const completed = new Set(unfinished ? unfinished.steps.filter((s) => s.status === 'done').map((s) => s.stepId) : [])
  const start = startIndex(runbook, completed, opts.from)
  if ('error' in start) throw new CliError(start.error, {exitCode: ExitCode.usage, code: 'NO_SUCH_STEP'})

  if (opts.dryRun) {
    // Every step is asked, even after one that would fail: the operator sees all the gaps at once.
    const steps: StepResult[] = []
    for (const step of runbook.steps.slice(start.index)) {
      try {
        const outcome = await deps.handlers[step.type](step, {dryRun: true})
        steps.push({id: step.id, type: step.type, status: 'would-run', summary: outcome.summary, details: outcome.details})
      } catch (err) {
        if (!(err instanceof CliError)) throw err
        steps.push({id: step.id, type: step.type, status: 'would-fail', summary: errorMessage(err), details: {suggestions: err.suggestions, ...(err instanceof StepFailure && err.details !== undefined ? {checks: err.details} : {})}})
      }
    }
    return {runbook: runbook.name, outcome: 'dry-run', steps}
  }

  if (latest?.status === 'complete' && opts.from === undefined) {
    return {runbook: runbook.name, runId: latest.id, outcome: 'unchanged', steps: latest.steps.map(toResult)}
  }

  const run = unfinished && opts.from === undefined ? unfinished : store.beginRun(runbook.name, runbook.digest, runbook.steps.map((s) => ({stepId: s.id, type: s.type})))
  if (run === unfinished) store.reopenRun(run.id)
  deps.state.audit({action: 'runbook.start', target: runbook.name, after: {runId: run.id, from: runbook.steps[start.index]?.id}, outcome: 'ok'})

  for (let idx = start.index; idx < runbook.steps.length; idx++) {
    const step = runbook.steps[idx]
    store.stepStarted(run.id, idx)
    opts.onStep?.(step, 'start')
    try {
      const outcome = await deps.handlers[step.type](step, {dryRun: false})
      store.stepFinished(run.id, idx, 'done', outcome)
      opts.onStep?.(step, 'done', outcome.summary)
    } catch (err) {
      store.stepFinished(run.id, idx, 'failed', {error: errorMessage(err), details: err instanceof StepFailure ? err.details : undefined})
      store.finishRun(run.id, 'failed')
      opts.onStep?.(step, 'failed', errorMessage(err))
      const cli = err instanceof CliError ? err : undefined
      const changed = runbook.steps.slice(0, idx).some((s, i) => CHANGES_LEGACY_SIDE.has(s.type) && (i >= start.index || completed.has(s.id)))
      throw new CliError(`step ${step.id} failed: ${errorMessage(err)}`, {
        exitCode: cli?.exitCode ?? ExitCode.failure,
        code: 'STEP_FAILED',
        suggestions: [
          ...(cli?.suggestions ?? []),
          `Fix it, then run the same command again: it resumes at ${step.id}.${changed ? ' To go back to the legacy box: sftp-cutover rollback.' : ''}`,
        ],
        cause: err,
      })
    }
  }
  store.finishRun(run.id, 'complete')
  const finished = store.latestRun(runbook.name, runbook.digest)!
  return {runbook: runbook.name, runId: run.id, outcome: 'complete', resumedAt: run === unfinished ? runbook.steps[start.index]?.id : undefined, steps: finished.steps.map(toResult)}
}
