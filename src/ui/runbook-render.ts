import type {RunbookStep} from '../core/runbook.js'
import type {RunbookResult} from '../services/runbook.js'

/** One line per step event, for terminals and logs alike (a cutover night is often run under tmux or in CI). */
export function stepLine(step: RunbookStep, phase: 'start' | 'done' | 'failed', detail?: string): string {
  const mark = phase === 'start' ? '>>' : phase === 'done' ? 'ok' : '!!'
  return `${new Date().toISOString()} ${mark} ${step.id}${detail ? `: ${detail}` : ''}`
}

export function renderRunbookResult(r: RunbookResult): string {
  if (r.outcome === 'unchanged') return `Runbook ${r.runbook} already completed (run ${r.runId}); nothing to do. Use --from STEP to run steps again.`
  if (r.outcome === 'dry-run') {
    const failing = r.steps.filter((s) => s.status === 'would-fail')
    const verdict = failing.length
      ? [``, `The real run would stop at ${failing[0].id}: ${failing.length} step(s) would fail (${failing.map((s) => s.id).join(', ')}). Fix them, then run the dry run again.`]
      : []
    return [
      `Dry run of ${r.runbook}: nothing was changed.`,
      ...r.steps.flatMap((s) =>
        s.status === 'would-fail'
          ? [`  WOULD FAIL ${s.id}: ${s.summary ?? ''}`, ...((s.details as {suggestions?: string[]} | undefined)?.suggestions ?? []).map((f) => `    Fix: ${f}`)]
          : [`  ${s.id}: ${s.summary ?? ''}`],
      ),
      ...r.steps.flatMap((s) => (s.type === 'dns-switch' && s.status === 'would-run' && s.details ? ['', 'Route 53 change batch:', JSON.stringify((s.details as {changeBatch: unknown}).changeBatch, null, 2)] : [])),
      ...verdict,
    ].join('\n')
  }
  const total = r.steps.reduce((n, s) => n + (s.durationMs ?? 0), 0)
  return [`Runbook ${r.runbook} complete (run ${r.runId}${r.resumedAt ? `, resumed at ${r.resumedAt}` : ''}) in ${(total / 1000).toFixed(1)} s of steps:`, ...r.steps.map((s) => `  ${s.id.padEnd(12)} ${((s.durationMs ?? 0) / 1000).toFixed(1).padStart(7)} s  ${s.summary ?? ''}`)].join('\n')
}
