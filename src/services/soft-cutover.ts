/**
 * The soft cutover's drain step: after the switch, keep copying the legacy box until it has been quiet for a while,
 * and say who still connects to it (stragglers) as they appear. The freeze comes after it.
 */
import {errorMessage, ExitCode} from '../core/errors.js'
import type {PartsDeps} from './migration-parts.js'
import {StepFailure, type StepOutcome} from './runbook.js'
import {findStragglers} from './stragglers.js'
import type {SyncOptions} from './sync.js'
import {quietLine, syncUntilQuiet} from './sync-until-quiet.js'

export async function drainLegacyBox(deps: PartsDeps, options: Omit<SyncOptions, 'dryRun'>, quietMs: number, dryRun: boolean): Promise<StepOutcome> {
  if (dryRun) return {summary: `would repeat the delta until the legacy box has been quiet for ${quietMs / 1000} s, reporting who still connects to it`}
  const say = (line: string, detail?: Record<string, unknown>) => {
    deps.log(line, detail)
    deps.progress?.(line)
  }
  const seen = new Map<string, {user: string; address: string; logins: number; failures: number; last: string}>()
  let unreadable: string | undefined
  const r = await syncUntilQuiet(
    deps.config,
    {...options, dryRun: false},
    {
      quietMs,
      onPass: async (p) => {
        say(quietLine(p))
        try {
          const s = await findStragglers(deps.config, {}, {state: deps.state, env: deps.env, askSecret: deps.askSecret})
          if (!s.legacy.source && !unreadable) {
            unreadable = s.legacy.unread.map((u) => `${u.source}: ${u.reason}`).join('; ')
            say(`stragglers: could not read the legacy sshd log (${unreadable})`)
          }
          for (const row of s.legacy.rows) {
            const k = `${row.user} ${row.address}`
            if (!seen.has(k)) say(`straggler: ${row.user} from ${row.address} still connects to the legacy box (${row.logins} login(s), ${row.failures} refused, last ${row.last})`, {straggler: row})
            seen.set(k, row)
          }
        } catch (err) {
          if (!unreadable) say(`stragglers: ${(unreadable = errorMessage(err))}`)
        }
      },
    },
    {state: deps.state, aws: deps.aws, env: deps.env, askSecret: deps.askSecret, log: deps.log},
  )
  const stragglers = [...seen.values()]
  const details = {passes: r.passes, copied: r.copied, conflicts: r.conflicts, quietForMs: r.quietForMs, lastChange: r.lastChange, stragglers, ...(unreadable ? {stragglersUnread: unreadable} : {})}
  if (r.last.interrupted) throw new StepFailure('the drain was interrupted', {details})
  if (r.conflicts > 0) throw new StepFailure(`the drain found ${r.conflicts} path(s) changed both on the legacy box and through Transfer: S3's objects kept, the box's versions written beside them as <name>.from-legacy-<time> (see the sync problems in the report); resolve them, then resume`, {exitCode: ExitCode.problems, details})
  if (r.last.counts.failed > 0) throw new StepFailure(`the drain left ${r.last.counts.failed} failed file(s)`, {exitCode: ExitCode.problems, details})
  return {
    summary: `quiet for ${Math.round(r.quietForMs / 1000)} s after ${r.passes} pass(es), ${r.copied} file(s) copied; ${stragglers.length ? `stragglers: ${stragglers.map((s) => `${s.user}@${s.address}`).join(', ')}` : 'no stragglers seen'}${unreadable ? ' (sshd log unreadable)' : ''}`,
    details,
  }
}
