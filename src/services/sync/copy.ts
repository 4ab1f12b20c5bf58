/** The copy phase: the work list, largest first, `transfers` files at a time, recorded in the manifest in batches. */
import type {ManifestStore} from '../../adapters/manifest-store.js'
import {BufferPool, ByteBudget, TokenBucket} from '../../core/flow-control.js'
import {joinPath, type SyncRun} from './run.js'
import {type ManifestRow, type TransferDeps, transferFile} from './transfer.js'

const MiB = 1024 * 1024
/** Buffers held at once (whole small files, parts in flight), parts in flight per file, READs in flight per file. */
const TUNING = {budgetBytes: 128 * MiB, partConcurrency: 4, readAhead: 16}

/** Batches manifest writes: one transaction per few hundred small files instead of one per file. */
class ManifestWriter {
  private rows: ManifestRow[] = []
  private checked: Array<{owner: string; path: Buffer}> = []
  private timer?: NodeJS.Timeout
  constructor(
    private readonly store: ManifestStore,
    private readonly runId: number,
  ) {}
  add(row: ManifestRow): void {
    this.rows.push(row)
    this.schedule()
  }
  /** --checksum found the bytes the manifest has. */
  addChecked(file: {owner: string; path: Buffer}): void {
    this.checked.push(file)
    this.schedule()
  }
  flush(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (this.rows.length > 0) this.store.recordSynced(this.rows.splice(0), this.runId)
    if (this.checked.length > 0) this.store.markChecked(this.checked.splice(0))
  }
  private schedule(): void {
    if (this.rows.length + this.checked.length >= 500) this.flush()
    else this.timer ??= setTimeout(() => this.flush(), 200)
  }
}

/** Copies the work list, largest first, `transfers` files at a time; returns the keys of the files that failed. */
export async function copy(run: SyncRun, runId: number, expected: {files: number; bytes: number}): Promise<Set<string>> {
  const {store, pool, target, roots, opts, signal, result, report, deps} = run
  deps.events?.phase('copy', `copying ${expected.files} file(s)`)
  // The roots' raw bytes: result.roots holds them for display, escaped where they are not UTF-8.
  const rootOf = new Map(roots.map((r) => [r.owner, r.path]))
  const writer = new ManifestWriter(store, runId)
  const progress = {filesDone: 0, bytesDone: 0, bytesHashing: 0}
  const emit = () =>
    deps.events?.progress({filesDone: progress.filesDone, filesTotal: expected.files, bytesDone: progress.bytesDone, bytesTotal: expected.bytes, failed: result.counts.failed, bytesHashing: progress.bytesHashing})
  const transfer: TransferDeps = {
    pool,
    target,
    store,
    runId,
    budget: new ByteBudget(TUNING.budgetBytes),
    buffers: new BufferPool(TUNING.partConcurrency + 1),
    throttle: opts.bwlimit ? new TokenBucket(opts.bwlimit) : undefined,
    signal,
    partConcurrency: TUNING.partConcurrency,
    readAhead: TUNING.readAhead,
    log: deps.log,
    afterSwitch: result.switchedAt !== undefined,
    // progress moves as each part is stored and as large files are hashed, not only when a file completes
    onBytes: (n) => {
      progress.bytesDone += n
      result.bytes.copied += n
      emit()
    },
    onRead: (n) => {
      result.bytes.read += n
    },
    onHashing: (n) => {
      progress.bytesHashing += n
      emit()
    },
  }
  const failedKeys = new Set<string>()
  const work = store.todo()
  const worker = async () => {
    for (;;) {
      if (signal.aborted) return
      const next = work.next()
      if (next.done) return
      const t = next.value
      // after the switch every write compares S3's object with the manifest's version
      const known = t.action === 'check' || t.action === 'metadata' || transfer.afterSwitch ? store.get(t.owner, t.path) : undefined
      const outcome = await transferFile({...t, abs: joinPath(rootOf.get(t.owner)!, t.path)}, known, transfer)
      switch (outcome.status) {
        case 'copied':
          if (!outcome.recorded) writer.add(outcome.row)
          if (t.action === 'dir-marker') result.counts.dirMarkers++
          else if (outcome.metadataOnly) result.counts.metadataUpdated++
          else result.counts.copied++
          if (outcome.resumedParts > 0) result.counts.resumedUploads++
          break
        case 'unchanged':
          result.counts.unchanged++
          writer.addChecked(t)
          break
        case 'changed':
          result.counts.changedDuringRead++
          report.add(t.owner, t.path, 'changed-during-read', outcome.reason, t.key)
          break
        case 'vanished':
          result.counts.vanished++
          report.add(t.owner, t.path, 'vanished', outcome.reason, t.key)
          break
        case 'failed':
          result.counts.failed++
          failedKeys.add(t.key)
          report.add(t.owner, t.path, 'failed', outcome.reason, t.key)
          deps.log('sync.file.failed', {key: t.key, reason: outcome.reason})
          break
        case 'conflict':
          writer.add(outcome.row)
          result.counts.conflicts++
          report.add(t.owner, t.path, 'conflict', outcome.reason, t.key)
          break
        case 'interrupted':
          return
      }
      progress.filesDone++
      emit()
    }
  }
  try {
    await Promise.all(Array.from({length: Math.max(1, opts.transfers)}, worker))
  } finally {
    writer.flush()
    deps.log('sync.copy.done', {bytesCopied: result.bytes.copied, bytesRead: result.bytes.read})
  }
  return failedKeys
}
