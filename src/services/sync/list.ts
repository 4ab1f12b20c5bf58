/** The list phase: the walk of every root into the scan table, symbolic links followed when asked, .ssh notes. */
import {errorMessage} from '../../core/errors.js'
import {displayPath} from '../../core/findings.js'
import type {PathFilter} from '../../core/globs.js'
import type {FileEntry} from '../../core/inventory-model.js'
import {SSH_DIR} from '../../core/permission-findings.js'
import {fileTypeOf} from '../../core/source.js'
import {isWithin} from '../../core/sync-plan.js'
import {walkRoots} from '../walk.js'
import {joinPath, type SyncRun} from './run.js'

/** Lists every root into the scan table (and, with --symlinks follow, what the links point to). */
export async function list(run: SyncRun, filter: PathFilter, concurrency: number) {
  const {pool, roots, store, opts, result, deps} = run
  deps.events?.phase('list', `listing ${roots.length} director${roots.length === 1 ? 'y' : 'ies'} on the source`)
  store.resetScan()
  const add = (batch: FileEntry[], prefix?: Buffer) => {
    const kept: FileEntry[] = []
    for (const e of batch) {
      const path = prefix ? joinPath(prefix, e.path) : e.path
      // A failed listing is kept whatever the filters say: it guards what is below it from looking deleted.
      if (e.error || filter(path)) kept.push(prefix ? {...e, path} : e)
      else result.counts.excluded++
    }
    result.counts.listed += kept.length
    store.addScan(kept)
  }
  await walkRoots(pool, roots, {entries: (batch) => add(batch), emptyDir: (owner, path) => store.markEmpty(owner, path)}, {concurrency})
  if (opts.symlinks === 'follow') await followSymlinks(run, add, concurrency)
}

/**
 * --symlinks follow: a link to a file is copied as that file; a link to a directory is walked under the link's
 * name unless the directory is already being copied (inside a root or an earlier followed link): that covers loops.
 */
async function followSymlinks(run: SyncRun, add: (batch: FileEntry[], prefix: Buffer) => void, concurrency: number) {
  const {pool, roots, store, deps} = run
  const walked: Buffer[] = []
  for (const r of roots) walked.push(await pool.withSource((s) => s.realpath(r.path)).catch(() => r.path))
  const rootOf = new Map(roots.map((r) => [r.owner, r.path]))
  for (let links = store.scanSymlinks(); links.length > 0; links = store.scanSymlinks()) {
    for (const link of links) {
      const abs = joinPath(rootOf.get(link.owner)!, link.path)
      const keep = (error: string) => store.updateScan(link.owner, link.path, {...link, error})
      try {
        const st = await pool.withSource((s) => s.stat(abs))
        const type = fileTypeOf(st.mode)
        if (type !== 'dir') {
          store.updateScan(link.owner, link.path, {type, size: st.size, mtime: st.mtime, mode: st.mode, uid: st.uid, gid: st.gid})
          continue
        }
        const real = await pool.withSource((s) => s.realpath(abs))
        if (walked.some((w) => isWithin(real, w) || isWithin(w, real))) {
          keep(`symbolic link to ${displayPath(real)}, a directory that is copied anyway or contains the link (a loop): skipped`)
          continue
        }
        walked.push(real)
        store.updateScan(link.owner, link.path, {type: 'dir', size: 0, mtime: st.mtime, mode: st.mode, uid: st.uid, gid: st.gid})
        const stats = await walkRoots(
          pool,
          [{owner: link.owner, path: abs}],
          {entries: (batch) => add(batch, link.path), emptyDir: (owner, path) => store.markEmpty(owner, joinPath(link.path, path))},
          {concurrency},
        )
        if (stats.files + stats.dirs === 0) store.markEmpty(link.owner, link.path)
      } catch (err) {
        deps.log('sync.symlink.unreadable', {path: displayPath(link.path), reason: errorMessage(err)})
        keep(`symbolic link whose target cannot be read (${errorMessage(err)}): skipped`)
      }
    }
  }
}

/** Says which homes' .ssh directories were left out (a note: by design, not a problem). */
export async function noteSshDirs(run: SyncRun): Promise<void> {
  const {pool, roots, report} = run
  for (const r of roots) {
    const st = await pool.withSource((s) => s.lstat(joinPath(r.path, Buffer.from(SSH_DIR)))).catch(() => undefined)
    if (st && fileTypeOf(st.mode) === 'dir') report.add(r.owner, Buffer.from(SSH_DIR), 'ssh-dir', 'the home\'s .ssh directory is not copied (the legacy login\'s keys; Transfer keys come from users import): --include-ssh-dirs copies it')
  }
}
