import {entryOf, type FindRecord, type TreeLister} from '../core/find-listing.js'
import {retry, RETRY} from '../core/retry.js'
import {fileTypeOf, isTransientSourceError, type SourceFs, type SourcePool, SourceStatusError} from '../core/source.js'
import type {FileEntry} from '../core/inventory-model.js'

export interface WalkRoot {
  owner: string
  /** Absolute path on the server, raw bytes */
  path: Buffer
}

export interface WalkEvents {
  /** A batch of entries, parents before children. Called synchronously: a slow consumer slows the walk. */
  entries(batch: FileEntry[]): void
  /** A directory with nothing in it (Transfer shows it only if a "dir/" object exists). */
  emptyDir?(owner: string, path: Buffer): void
  /** The root's own st_mode (symlink followed), when the listing brings it (find does; the SFTP walk does not) */
  root?(owner: string, mode: number): void
}

export interface WalkStats {
  files: number
  dirs: number
  bytes: number
  errors: number
}

const SLASH = Buffer.from('/')
const join = (a: Buffer, b: Buffer) => (a.length === 0 ? b : Buffer.concat([a, SLASH, b]))

/**
 * Walks the roots on the box, listing up to `concurrency` directories at once across the pool, depth first (a stack)
 * so that the work list holds directories still to list, not files. Symlinks are recorded with their target and never followed (no loops). A directory that
 * cannot be read is recorded with the error and the walk goes on.
 */
export async function walkRoots(pool: SourcePool, roots: WalkRoot[], events: WalkEvents, opts: {concurrency: number}): Promise<WalkStats> {
  const stats: WalkStats = {files: 0, dirs: 0, bytes: 0, errors: 0}
  const stack: Array<{root: WalkRoot; rel: Buffer}> = roots.map((root) => ({root, rel: Buffer.alloc(0)})).reverse()

  const listDir = async (root: WalkRoot, rel: Buffer): Promise<void> => {
    const abs = rel.length === 0 ? root.path : join(root.path, rel)
    let batch: FileEntry[]
    const subdirs: Buffer[] = []
    try {
      // A dropped connection is replaced by the pool; the listing is simply asked again.
      batch = await retry(() => pool.withSource(async (sftp) => {
        const listed = await sftp.readdir(abs)
        const out: FileEntry[] = []
        for (const e of listed) {
          const type = fileTypeOf(e.attrs.mode)
          const path = join(rel, e.name)
          const entry: FileEntry = {owner: root.owner, path, type, size: e.attrs.size, mtime: e.attrs.mtime, mode: e.attrs.mode, uid: e.attrs.uid, gid: e.attrs.gid}
          if (e.links !== undefined) entry.links = e.links
          if (type === 'symlink') entry.linkTarget = await readlink(sftp, join(root.path, path))
          if (type === 'dir') subdirs.push(path)
          out.push(entry)
        }
        return out
      }), {...RETRY.reconnect, isTransient: isTransientSourceError})
    } catch (err) {
      if (!(err instanceof SourceStatusError)) throw err
      stats.errors++
      // Record the failure on the directory itself (the root has no entry of its own yet).
      const attrs = rel.length === 0 ? undefined : await pool.withSource((s) => s.lstat(abs)).catch(() => undefined)
      events.entries([
        {owner: root.owner, path: rel, type: 'dir', size: 0, mtime: attrs?.mtime ?? 0, mode: attrs?.mode ?? 0o040000, uid: attrs?.uid ?? 0, gid: attrs?.gid ?? 0, error: `${err.statusName}: ${err.message}`},
      ])
      return
    }
    for (const e of batch) {
      if (e.type === 'dir') stats.dirs++
      else {
        stats.files++
        if (e.type === 'file') stats.bytes += e.size
      }
    }
    if (batch.length > 0) events.entries(batch)
    else if (rel.length > 0) events.emptyDir?.(root.owner, rel)
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push({root, rel: subdirs[i]})
  }

  // Workers take directories from the stack; one that finds it empty waits while others may still add to it.
  let busy = 0
  let wake: (() => void) | undefined
  const worker = async (): Promise<void> => {
    for (;;) {
      const next = stack.pop()
      if (!next) {
        if (busy === 0) {
          wake?.()
          return
        }
        await new Promise<void>((resolve) => {
          const previous = wake
          wake = () => {
            previous?.()
            resolve()
          }
        })
        continue
      }
      busy++
      try {
        await listDir(next.root, next.rel)
      } finally {
        busy--
        const w = wake
        wake = undefined
        w?.()
      }
    }
  }
  await Promise.all(Array.from({length: Math.max(1, opts.concurrency)}, worker))
  return stats
}

async function readlink(sftp: SourceFs, path: Buffer): Promise<Buffer | undefined> {
  try {
    return await sftp.readlink(path)
  } catch {
    return undefined
  }
}

const BATCH = 1000
const isUnder = (path: Buffer, dir: Buffer) => path.length > dir.length && path[dir.length] === 0x2f && path.subarray(0, dir.length).equals(dir)

/**
 * The same walk from one stream per root (find over SSH exec): the same entries, empty directories and unreadable
 * directories (recorded with the error, as the SFTP walk records them) as walkRoots. Roots are listed `concurrency`
 * at a time. Warnings: what went wrong after a listing began (find's own errors), per root.
 */
export async function walkRootsWithLister(lister: TreeLister, roots: WalkRoot[], events: WalkEvents, opts: {concurrency: number}): Promise<WalkStats & {warnings: string[]}> {
  const stats = {files: 0, dirs: 0, bytes: 0, errors: 0, warnings: [] as string[]}
  const listRoot = async (root: WalkRoot) => {
    let batch: FileEntry[] = []
    const flush = () => {
      if (batch.length > 0) events.entries(batch)
      batch = []
    }
    // Directories entered and not yet left (find lists depth first, parents before children), and whether each had an entry.
    const open: Array<{path: Buffer; entries: number}> = []
    const leave = (until?: Buffer) => {
      while (open.length > 0 && (until === undefined || !isUnder(until, open[open.length - 1].path))) {
        const dir = open.pop()!
        if (dir.entries === 0) events.emptyDir?.(root.owner, dir.path)
      }
    }
    const onRecord = (r: FindRecord) => {
      if (r.path.length === 0) {
        if (!r.unreadable) return events.root?.(root.owner, r.mode)
        stats.errors++
        // as the SFTP walk: the root has no entry of its own, its attributes are not read
        batch.push({owner: root.owner, path: r.path, type: 'dir', size: 0, mtime: 0, mode: 0o040000, uid: 0, gid: 0, error: entryOf(root.owner, r).error})
        return
      }
      leave(r.path)
      if (open.length > 0) open[open.length - 1].entries++
      const entry = entryOf(root.owner, {...r, unreadable: false})
      batch.push(entry)
      if (entry.type === 'dir') stats.dirs++
      else {
        stats.files++
        if (entry.type === 'file') stats.bytes += entry.size
      }
      if (r.unreadable) {
        stats.errors++
        batch.push(entryOf(root.owner, r))
      } else if (entry.type === 'dir') open.push({path: r.path, entries: 0})
      if (batch.length >= BATCH) flush()
    }
    const {warnings} = await lister.list(root.path, onRecord)
    leave()
    flush()
    stats.warnings.push(...warnings.map((w) => `${root.owner} (${root.path.toString('utf8')}): ${w}`))
  }
  const queue = [...roots]
  await Promise.all(
    Array.from({length: Math.max(1, Math.min(opts.concurrency, roots.length))}, async () => {
      for (let root = queue.shift(); root; root = queue.shift()) await listRoot(root)
    }),
  )
  return stats
}
