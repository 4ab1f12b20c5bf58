import {Listr, ListrLogger, ProcessOutput} from 'listr2'

import {formatBytes} from './format.js'

/** Progress of long work (a copy, a verify, a walk): files and bytes done out of the totals, when they are known. */
export interface ProgressStats {
  filesDone: number
  /** undefined while the total is not known (a walk) */
  filesTotal?: number
  bytesDone: number
  /** 0 or undefined when the work is counted in files only */
  bytesTotal?: number
  failed: number
  /** what filesDone counts, "files" unless said (e.g. "files listed") */
  noun?: string
  /** bytes read by --checksum re-hashes in progress, so that the line moves while a large file is checked */
  bytesHashing?: number
}

export interface Progress {
  /** A new phase (listing, planning, copying...), described in one line. */
  phase(detail: string): void
  update(stats: ProgressStats): void
  /** Ends the display (idempotent); `title` replaces the last phase's; `warn` shows it as not completed (interrupted). */
  end(title?: string, opts?: {warn?: boolean}): Promise<void>
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

export interface Rates {
  bytesPerSecond: number
  filesPerSecond: number
}

/** Files and bytes per second over the last 10 seconds of samples: steadier than since-start, quicker than an average. */
export function rateMeter(now: () => number = Date.now): (s: ProgressStats) => Rates {
  const samples: Array<{at: number; bytes: number; files: number}> = []
  return (s) => {
    const at = now()
    // a sample every 100 ms at most: updates come per part or file, thousands a second with small files
    if (samples.length === 0 || at - samples[samples.length - 1].at >= 100) samples.push({at, bytes: s.bytesDone, files: s.filesDone})
    while (samples.length > 2 && at - samples[0].at > 10_000) samples.shift()
    const first = samples[0]
    const seconds = (at - first.at) / 1000
    if (seconds <= 0.5) return {bytesPerSecond: 0, filesPerSecond: 0}
    return {bytesPerSecond: (s.bytesDone - first.bytes) / seconds, filesPerSecond: (s.filesDone - first.files) / seconds}
  }
}

/**
 * Time left, from both rates measured in this run: the files left at the file rate (the per-file cost that dominates
 * with many small files) and the bytes left at the byte rate; the work takes at least the longer of the two.
 * Undefined when there is nothing left or neither rate is measured yet.
 */
export function estimateMs(s: ProgressStats, r: Rates): number | undefined {
  const filesLeft = s.filesTotal === undefined ? 0 : s.filesTotal - s.filesDone
  const bytesLeft = (s.bytesTotal ?? 0) - s.bytesDone
  if (filesLeft <= 0 && bytesLeft <= 0) return undefined
  // a rate not measured yet (no file finished inside one large file; only empty files) says nothing either way
  const byFiles = filesLeft > 0 && r.filesPerSecond > 0 ? filesLeft / r.filesPerSecond : undefined
  const byBytes = bytesLeft > 0 && r.bytesPerSecond > 0 ? bytesLeft / r.bytesPerSecond : undefined
  if (byFiles === undefined && byBytes === undefined) return undefined
  return Math.max(byFiles ?? 0, byBytes ?? 0) * 1000
}

const perSecond = (n: number) => (n >= 100 ? Math.round(n).toString() : n >= 10 ? n.toFixed(0) : n.toFixed(1))

export function describeProgress(s: ProgressStats, r: Rates): string {
  const noun = s.noun ?? 'files'
  const parts = [s.filesTotal === undefined ? `${s.filesDone} ${noun}` : `${s.filesDone}/${s.filesTotal} ${noun}`]
  const bytes = (s.bytesTotal ?? 0) > 0
  if (bytes) parts.push(`${formatBytes(s.bytesDone)}/${formatBytes(s.bytesTotal!)}`)
  else if (s.bytesDone > 0) parts.push(formatBytes(s.bytesDone))
  parts.push(`${bytes || s.bytesDone > 0 ? `${formatBytes(Math.round(r.bytesPerSecond))}/s, ` : ''}${perSecond(r.filesPerSecond)} ${noun.split(' ')[0]}/s`)
  const eta = estimateMs(s, r)
  if (eta !== undefined) parts.push(`ETA ${formatDuration(eta)}`)
  if (s.bytesHashing) parts.push(`re-hashing: ${formatBytes(s.bytesHashing)} read (--checksum)`)
  if (s.failed > 0) parts.push(`${s.failed} failed`)
  return parts.join(', ')
}

/**
 * 'tty': a listr2 task on stderr whose title is the phase and whose output line shows files, bytes, rate and ETA.
 * 'plain' (no terminal): a line on stderr per phase and every `intervalMs` while copying. 'off': nothing (--json).
 */
export function createProgress(mode: 'tty' | 'plain' | 'off', opts: {stream?: NodeJS.WriteStream; intervalMs?: number} = {}): Progress {
  const stream = opts.stream ?? process.stderr
  const rate = rateMeter()
  if (mode === 'off') return {phase: () => undefined, update: () => undefined, end: async () => undefined}
  if (mode === 'plain') {
    const interval = opts.intervalMs ?? 10_000
    let last = 0
    let latest: ProgressStats | undefined
    let speed: Rates = {bytesPerSecond: 0, filesPerSecond: 0}
    const line = (text: string) => stream.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`)
    return {
      phase: (detail) => line(detail),
      update: (s) => {
        latest = s
        speed = rate(s)
        if (Date.now() - last >= interval) {
          last = Date.now()
          line(describeProgress(s, speed))
        }
      },
      end: async (title, opts) => {
        if (latest) line(describeProgress(latest, speed))
        if (title) line(opts?.warn ? `WARNING: ${title}` : title)
        latest = undefined
      },
    }
  }
  let ended = false
  let warned = false
  let finish: () => void = () => undefined
  const finished = new Promise<void>((resolve) => (finish = resolve))
  let setTitle: (t: string) => void = () => undefined
  let setOutput: (t: string) => void = () => undefined
  let pendingTitle = 'starting'
  const listr = new Listr(
    [
      {
        title: pendingTitle,
        task: async (_ctx, task) => {
          setTitle = (t) => (task.title = t)
          setOutput = (t) => (task.output = t)
          task.title = pendingTitle
          await finished
          // an interrupted run is not a completed one: listr2 shows a skipped task in yellow, not a green check
          if (warned) task.skip(task.title)
        },
      },
    ],
    {
      registerSignalListeners: false,
      exitOnError: false,
      rendererOptions: {logger: new ListrLogger({processOutput: new ProcessOutput(stream, stream)}), collapseSubtasks: false},
    },
  )
  const running = listr.run().catch(() => undefined)
  let lastRender = 0
  return {
    phase: (detail) => {
      pendingTitle = detail
      setTitle(detail)
    },
    update: (s) => {
      const speed = rate(s)
      if (Date.now() - lastRender < 200 && s.filesDone !== s.filesTotal) return
      lastRender = Date.now()
      setOutput(describeProgress(s, speed))
    },
    end: async (title, opts) => {
      if (!ended && title) setTitle(title)
      if (!ended) warned = opts?.warn ?? false
      ended = true
      finish()
      await running
    },
  }
}
