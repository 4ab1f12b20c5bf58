/** The finish phase: --source-hash on the box, --delete, and the multipart uploads no longer needed. */
import type {SourceHasher} from '../../adapters/source-hasher.js'
import {homeKeyPrefix} from '../../core/key-mapping.js'
import {type ManifestEntry, ownsObject} from '../../core/sync-plan.js'
import {joinPath, type SyncRun} from './run.js'

/**
 * Hashes the files this run recorded with sha256sum on the box and compares with the SHA-256 of the bytes read over
 * SFTP. A difference (a file rewritten after it was read with its size and mtime kept, or bytes damaged on the way)
 * is a problem, and the file's manifest row is dropped so that the next run copies it again.
 */
export async function checkAtSource(run: SyncRun, runId: number, hasher: SourceHasher) {
  const {store, roots, signal, result, report, deps} = run
  deps.events?.phase('source-hash', 'hashing the copied files on the source (sha256sum) to compare with what was read')
  const rootOf = new Map(roots.map((r) => [r.owner, r.path]))
  const absOf = (m: ManifestEntry) => joinPath(rootOf.get(m.owner)!, m.path)
  const files = (function* () {
    for (const m of store.filesOfRun(runId)) if (rootOf.has(m.owner)) yield m
  })()
  await hasher.hash(
    files,
    absOf,
    (digests) => {
      const redo: ManifestEntry[] = []
      for (const [m, sha] of digests) {
        result.counts.sourceHashed++
        if (sha === undefined) {
          report.add(m.owner, m.path, 'vanished', 'sha256sum on the source could not read it (deleted or unreadable since it was copied)', m.key)
        } else if (sha !== m.sha256) {
          result.counts.sourceHashMismatched++
          redo.push(m)
          report.add(m.owner, m.path, 'source-hash-mismatch', `sha256sum on the source says ${sha}, the bytes read over SFTP hash to ${m.sha256}: it changed after it was read, or the read was damaged; the next run copies it again`, m.key)
        }
      }
      store.removeEntries(redo)
    },
    () => signal.aborted,
  )
  result.interrupted = signal.aborted
  deps.log('sync.source-hash', {hashed: result.counts.sourceHashed, mismatched: result.counts.sourceHashMismatched})
}

export async function applyDeletions(run: SyncRun, candidates: ManifestEntry[]) {
  const {target, store, opts, result, report, deps} = run
  if (!opts.delete || result.counts.deletedAtSource === 0) return
  if (result.counts.deletedAtSource > opts.maxDelete) {
    result.deletions.refused = `${result.counts.deletedAtSource} objects would be deleted, more than --max-delete ${opts.maxDelete}: nothing was deleted`
    report.add('', Buffer.alloc(0), 'delete-refused', `${result.deletions.refused}. Check the source (a missing mount deletes everything), then raise --max-delete.`)
    return
  }
  deps.events?.phase('delete', `deleting ${candidates.length} object(s) whose file is gone from the source`)
  if (result.switchedAt !== undefined) candidates = await keepForeignObjects(run, candidates)
  const refused = new Map((await target.deleteObjects(candidates.map((m) => m.key))).map((r) => [r.key, r.reason]))
  const gone = candidates.filter((m) => !refused.has(m.key))
  store.removeEntries(gone)
  for (const m of candidates) {
    const reason = refused.get(m.key)
    if (reason) report.add(m.owner, m.path, 'failed', `deleting ${m.key} failed: ${reason}`, m.key)
  }
  result.counts.deleted = gone.length
  result.counts.failed += refused.size
  result.deletions.deleted = gone.length
  deps.log('sync.deleted', {count: gone.length, refused: refused.size})
}

/**
 * After the switch, an object is deleted only while it is the version sync wrote (a HEAD each; DeleteObjects' per-key
 * ETag condition is not honoured by moto or versitygw): one a client replaced through Transfer is kept, a conflict.
 */
async function keepForeignObjects(run: SyncRun, candidates: ManifestEntry[]): Promise<ManifestEntry[]> {
  const {target, result, report, deps} = run
  const ours: ManifestEntry[] = []
  for (const m of candidates) {
    const held = await target.head(m.key)
    if (!held || ownsObject(held, m, m)) {
      ours.push(m)
      continue
    }
    result.counts.conflicts++
    deps.log('sync.conflict', {key: m.key, kept: true})
    report.add(m.owner, m.path, 'conflict', 'deleted on the legacy box, but S3 holds another version than sync wrote (uploaded through Transfer since the switch): not deleted', m.key)
  }
  return ours
}

/**
 * After a run that was not interrupted: abort multipart uploads this tool no longer needs. Uploads recorded for a
 * file that failed in this run stay (the next run resumes them); every other upload under the users' home prefixes
 * (killed before its id was recorded, or left by a file that is now unchanged, deleted or excluded) is aborted.
 */
export async function cleanUpUploads(run: SyncRun, failed: Set<string>) {
  const {target, store, roots, result, deps} = run
  const prefix = run.config.target.prefix
  deps.events?.phase('cleanup', 'aborting multipart uploads that are no longer needed')
  const keep = new Set<string>()
  for (const u of store.uploads()) {
    if (u.uploadId && failed.has(u.key)) keep.add(u.uploadId)
    else {
      if (u.uploadId) await target.abortMultipart(u.key, u.uploadId)
      store.dropUpload(u.owner, u.path)
      if (u.uploadId) result.counts.abortedUploads++
    }
  }
  // After the switch, an upload sync did not record may be a client's, in progress through Transfer: left alone.
  if (result.switchedAt !== undefined) return
  for (const r of roots) {
    for await (const u of target.listMultipartUploads(`${homeKeyPrefix(prefix, r.owner)}/`)) {
      if (keep.has(u.uploadId)) continue
      await target.abortMultipart(u.key, u.uploadId)
      result.counts.abortedUploads++
      deps.log('sync.multipart.aborted', {key: u.key})
    }
  }
}
