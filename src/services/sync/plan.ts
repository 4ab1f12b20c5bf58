/** The plan phase: the listing compared with the manifest in SQLite (no S3 request), the work list, deletions. */
import type {ManifestStore, TodoEntry} from '../../adapters/manifest-store.js'
import {displayPath} from '../../core/findings.js'
import type {PathFilter} from '../../core/globs.js'
import {homesKeyBase} from '../../core/key-mapping.js'
import {isWithin, type ManifestEntry, planEntry} from '../../core/sync-plan.js'
import type {SyncRun} from './run.js'

/**
 * When the last run was a --checksum run that did not finish (interrupted, failed, or killed while 'running'), the
 * time its pass began: this run re-hashes only the files not hashed since. Otherwise a --checksum run starts afresh.
 */
export function unfinishedChecksumPass(store: ManifestStore): string | undefined {
  const last = store.lastRun()
  if (!last || last.status === 'complete' || last.options.checksum !== true) return undefined
  return typeof last.options.checksumSince === 'string' ? last.options.checksumSince : last.startedAt
}

/** Compares the listing with the manifest (SQLite only) and writes the work list; returns what copying will cover. */
export function plan(run: SyncRun): {files: number; bytes: number} {
  const {store, config, opts, result, report, deps} = run
  deps.events?.phase('plan', `comparing ${result.counts.listed} entries with the manifest`)
  let todo: Array<Omit<TodoEntry, 'seq'>> = []
  const flush = () => {
    store.addTodo(todo)
    todo = []
  }
  // Plainly unchanged files are counted in SQLite, not handed over one by one (unless --checksum re-hashes them).
  const base = opts.checksum ? undefined : homesKeyBase(config.target.prefix)
  let seen = 0
  for (const {entry, manifest} of store.scanWithManifest(base)) {
    seen++
    const p = planEntry(entry, manifest, {prefix: config.target.prefix, checksum: opts.checksum, checksumSince: result.checksumSince, allowControlChars: opts.allowControlChars})
    switch (p.action) {
      case 'checked-earlier':
        result.counts.checkedEarlier++
      // falls through: the file is as unchanged as the pass found it
      case 'unchanged':
        result.counts.unchanged++
        if (manifest?.status === 'source-deleted' && !opts.dryRun) store.setStatus(entry.owner, entry.path, 'synced')
        break
      case 'none':
        break
      case 'skip':
        result.counts.skipped++
        report.add(entry.owner, entry.path, p.kind, p.reason)
        break
      default: {
        const size = p.action === 'dir-marker' ? 0 : entry.size
        todo.push({owner: entry.owner, path: entry.path, action: p.action, key: p.key, size, mtime: entry.mtime, mode: entry.mode, uid: entry.uid, gid: entry.gid})
        if (p.action === 'check') result.counts.checked++
        else if (p.action === 'metadata') result.counts.toUpdateMetadata++
        else {
          result.counts.toCopy++
          result.bytes.toCopy += size
        }
        if (todo.length >= 1000) flush()
      }
    }
  }
  flush()
  if (base !== undefined) result.counts.unchanged += store.scanCount() - seen
  return {files: result.counts.toCopy + result.counts.checked + result.counts.toUpdateMetadata, bytes: result.bytes.toCopy}
}

/** Manifest rows whose file is gone from the source (not below a directory that could not be listed, not excluded). */
export function findDeletions(run: SyncRun, filter: PathFilter): ManifestEntry[] {
  const {store, roots, opts, result, deps} = run
  const unreadable = store.scanErrors()
  const kept: ManifestEntry[] = []
  for (const m of store.notInScan(roots.map((r) => r.owner))) {
    if (unreadable.some((u) => u.owner === m.owner && isWithin(m.path, u.path)) || !filter(m.path)) continue
    result.counts.deletedAtSource++
    if (result.deletions.examples.length < 20) result.deletions.examples.push(`${m.owner}/${displayPath(m.path)}`)
    // Only up to --max-delete+1 are kept: beyond that nothing is deleted anyway.
    if (kept.length <= opts.maxDelete) kept.push(m)
    if (!opts.delete && !opts.dryRun && m.status === 'synced') store.setStatus(m.owner, m.path, 'source-deleted')
  }
  result.deletions.candidates = result.counts.deletedAtSource
  if (result.counts.deletedAtSource > 0) deps.log('sync.deleted-at-source', {count: result.counts.deletedAtSource, delete: opts.delete})
  return kept
}
