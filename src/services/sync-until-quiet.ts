/**
 * sync --until-quiet: the soft cutover's way of draining the legacy box while clients still write to it. The delta
 * is repeated until a pass that starts at least DURATION after the last change finds nothing to copy: then no file
 * changed (as far as a listing can see) for that long.
 */
import {setTimeout as sleep} from 'node:timers/promises'

import {ReportStore} from '../adapters/report-store.js'
import type {Config} from '../core/config.js'
import {displayPath} from '../core/findings.js'
import {runSync, type SyncDeps, type SyncOptions, type SyncResult} from './sync.js'

export interface QuietProgress {
  pass: number
  /** files (and metadata changes, failures, files changing while read) this pass saw */
  changed: number
  quietForMs: number
  quietMs: number
  lastChange?: {at: string; copied: number; examples: string[]}
}

export interface UntilQuietResult {
  passes: number
  quietForMs: number
  /** files copied over all passes */
  copied: number
  /** after the switch: conflicts over all passes (each is found once, by the pass that wrote the box's version beside) */
  conflicts: number
  lastChange?: QuietProgress['lastChange']
  /** the last pass (the quiet one, unless interrupted) */
  last: SyncResult
}

/** A pass saw a change: something to copy, metadata to update, or a file that failed or changed while read. */
const changesIn = (r: SyncResult) => r.counts.toCopy + r.counts.toUpdateMetadata + r.counts.failed + r.counts.changedDuringRead

export async function syncUntilQuiet(
  config: Config,
  opts: SyncOptions,
  quiet: {quietMs: number; onPass?: (p: QuietProgress) => void | Promise<void>},
  deps: SyncDeps,
): Promise<UntilQuietResult> {
  const interval = Math.min(60_000, Math.max(1000, Math.floor(quiet.quietMs / 4)))
  let quietSince: number | undefined
  let lastChange: QuietProgress['lastChange']
  let copied = 0
  let conflicts = 0
  for (let pass = 1; ; pass++) {
    const started = Date.now()
    quietSince ??= started
    const r = await runSync(config, opts, deps)
    copied += r.counts.copied
    conflicts += r.counts.conflicts
    const changed = changesIn(r)
    if (changed > 0) {
      quietSince = Date.now()
      const examples = r.runId === undefined ? [] : new ReportStore(deps.state).copiedInRun(r.runId, 3).map((f) => `${f.owner}/${displayPath(f.path)}`)
      lastChange = {at: new Date(quietSince).toISOString(), copied: r.counts.copied, examples}
    }
    // quiet from the end of the last pass that saw a change until this pass listed the box
    const quietForMs = changed > 0 ? 0 : started - quietSince
    await quiet.onPass?.({pass, changed, quietForMs, quietMs: quiet.quietMs, lastChange})
    if (r.interrupted || deps.signal?.aborted || (changed === 0 && quietForMs >= quiet.quietMs)) return {passes: pass, quietForMs, copied, conflicts, lastChange, last: r}
    const wait = Math.min(interval, Math.max(0, quietSince + quiet.quietMs - Date.now()))
    await sleep(wait, undefined, {signal: deps.signal}).catch(() => undefined)
  }
}

const seconds = (ms: number) => `${Math.round(ms / 1000)}s`

/** The line after each pass: how long the box has been quiet and what came in last (sync and the soft cutover). */
export function quietLine(p: QuietProgress): string {
  const last = p.lastChange ? `; last change ${p.lastChange.at}: ${p.lastChange.copied} file(s) copied${p.lastChange.examples.length ? ` (${p.lastChange.examples.join(', ')})` : ''}` : '; no change since the first pass'
  return `pass ${p.pass}: ${p.changed ? `${p.changed} change(s)` : 'nothing changed'}, quiet for ${seconds(p.quietForMs)} of ${seconds(p.quietMs)}${last}`
}
