import {Listr, ListrLogger, ProcessOutput} from 'listr2'

import {formatBytes} from './format.js'

/** Progress of a long copy: files and bytes done out of the planned totals. */
export interface ProgressStats {
  filesDone: number
  filesTotal: number
  bytesDone: number
  bytesTotal: number
  failed: number
}

export interface Progress {
  /** A new phase (listing, planning, copying...), described in one line. */
  phase(detail: string): void
  update(stats: ProgressStats): void
  /** Ends the display (idempotent); `title` replaces the last phase's. */
  end(title?: string): Promise<void>
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

/** Bytes per second over the last 10 seconds of samples: steadier than since-start, quicker than an average. */
function rateMeter(): (bytes: number) => number {
  const samples: Array<{at: number; bytes: number}> = []
  return (bytes) => {
    const at = Date.now()
    samples.push({at, bytes})
    while (samples.length > 2 && at - samples[0].at > 10_000) samples.shift()
    const first = samples[0]
    const seconds = (at - first.at) / 1000
    return seconds > 0.5 ? (bytes - first.bytes) / seconds : 0
  }
}

export function describeProgress(s: ProgressStats, rate: number): string {
  const eta = rate > 0 && s.bytesTotal > s.bytesDone ? `, ETA ${formatDuration(((s.bytesTotal - s.bytesDone) / rate) * 1000)}` : ''
  const failed = s.failed > 0 ? `, ${s.failed} failed` : ''
  if (s.bytesTotal === 0) return `${s.filesDone}/${s.filesTotal} files${failed}`
  return `${s.filesDone}/${s.filesTotal} files, ${formatBytes(s.bytesDone)}/${formatBytes(s.bytesTotal)}, ${formatBytes(Math.round(rate))}/s${eta}${failed}`
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
    let speed = 0
    const line = (text: string) => stream.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`)
    return {
      phase: (detail) => line(detail),
      update: (s) => {
        latest = s
        speed = rate(s.bytesDone)
        if (Date.now() - last >= interval) {
          last = Date.now()
          line(describeProgress(s, speed))
        }
      },
      end: async (title) => {
        if (latest) line(describeProgress(latest, speed))
        if (title) line(title)
        latest = undefined
      },
    }
  }
  let ended = false
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
      const speed = rate(s.bytesDone)
      if (Date.now() - lastRender < 200 && s.filesDone < s.filesTotal) return
      lastRender = Date.now()
      setOutput(describeProgress(s, speed))
    },
    end: async (title) => {
      if (!ended && title) setTitle(title)
      ended = true
      finish()
      await running
    },
  }
}
