import {retry} from '../core/retry.js'
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
      }), {attempts: 5, baseMs: 500, isTransient: isTransientSourceError})
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
