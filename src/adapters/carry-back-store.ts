import type Database from 'better-sqlite3'

import type {SqliteStateStore} from './state.js'

export type CarryBackStatus = 'planned' | 'verified' | 'failed' | 'reported' | 'replayed' | 'kept'

/** One object version carried back to the box (or one deletion seen in S3), as planned and as it ended. */
export interface CarryBackItem {
  key: string
  version: string
  owner: string
  /** path relative to the owner's root, as the user sees it under their home */
  relPath: Buffer
  action: 'new' | 'overwrite' | 'conflict' | 'dir' | 'deleted'
  /** absolute path on the box it is written to (for a conflict: the `.from-transfer-` name beside the file) */
  dest: Buffer
  size: number
  lastModified: string
  uid?: number
  gid?: number
  mode?: number
  sha256?: string
  s3Check?: string
  status: CarryBackStatus
  reason?: string
  plannedAt: string
  doneAt?: string
}

interface Row {
  key: string
  version: string
  owner: string
  rel_path: Buffer
  action: CarryBackItem['action']
  dest: Buffer
  size: number
  last_modified: string
  uid: number | null
  gid: number | null
  mode: number | null
  sha256: string | null
  s3_check: string | null
  status: CarryBackStatus
  reason: string | null
  planned_at: string
  done_at: string | null
}

const toItem = (r: Row): CarryBackItem => ({
  key: r.key,
  version: r.version,
  owner: r.owner,
  relPath: r.rel_path,
  action: r.action,
  dest: r.dest,
  size: r.size,
  lastModified: r.last_modified,
  uid: r.uid ?? undefined,
  gid: r.gid ?? undefined,
  mode: r.mode ?? undefined,
  sha256: r.sha256 ?? undefined,
  s3Check: r.s3_check ?? undefined,
  status: r.status,
  reason: r.reason ?? undefined,
  plannedAt: r.planned_at,
  doneAt: r.done_at ?? undefined,
})

/**
 * Carry-back state: each decision is written before the box is touched, so an interrupted rollback resumes with the
 * same decisions and skips what it verified. Reads the sync manifest (never writes it) for what the box held.
 */
export class CarryBackStore {
  private readonly db: Database.Database

  constructor(state: SqliteStateStore) {
    this.db = state.db
  }

  item(key: string, version: string): CarryBackItem | undefined {
    const r = this.db.prepare('SELECT * FROM carry_back_items WHERE key = ? AND version = ?').get(key, version) as Row | undefined
    return r ? toItem(r) : undefined
  }

  items(): CarryBackItem[] {
    return (this.db.prepare('SELECT * FROM carry_back_items ORDER BY owner, rel_path, last_modified').all() as Row[]).map(toItem)
  }

  plan(i: Omit<CarryBackItem, 'status' | 'plannedAt' | 'doneAt'> & {status?: CarryBackStatus}): void {
    this.db
      .prepare(
        `INSERT INTO carry_back_items (key, version, owner, rel_path, action, dest, size, last_modified, uid, gid, mode, sha256, s3_check, status, reason, planned_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(i.key, i.version, i.owner, i.relPath, i.action, i.dest, i.size, i.lastModified, i.uid ?? null, i.gid ?? null, i.mode ?? null, i.sha256 ?? null, i.s3Check ?? null, i.status ?? 'planned', i.reason ?? null, new Date().toISOString())
  }

  finish(key: string, version: string, f: {status: CarryBackStatus; reason?: string; sha256?: string; s3Check?: string}): void {
    this.db
      .prepare('UPDATE carry_back_items SET status = ?, reason = ?, sha256 = COALESCE(?, sha256), s3_check = COALESCE(?, s3_check), done_at = ? WHERE key = ? AND version = ?')
      .run(f.status, f.reason ?? null, f.sha256 ?? null, f.s3Check ?? null, new Date().toISOString(), key, version)
  }

  /** The last file verified at this box path: what the box holds there unless someone changed it since. */
  lastVerifiedAt(dest: Buffer): {size: number; mtime: number} | undefined {
    const r = this.db.prepare(`SELECT size, last_modified FROM carry_back_items WHERE dest = ? AND status = 'verified' AND action != 'dir' ORDER BY last_modified DESC LIMIT 1`).get(dest) as
      | {size: number; last_modified: string}
      | undefined
    return r ? {size: r.size, mtime: Math.floor(Date.parse(r.last_modified) / 1000)} : undefined
  }

  // Read-only views of the sync manifest

  /** True when the object at this key is the one sync put there (same ETag or version): it came from the box. */
  putBySync(key: string, etag: string | undefined, versionId: string | undefined): boolean {
    const r = this.db.prepare('SELECT etag, version_id FROM sync_manifest WHERE key = ?').get(key) as {etag: string | null; version_id: string | null} | undefined
    if (!r) return false
    return (versionId !== undefined && r.version_id === versionId) || (etag !== undefined && r.etag?.replace(/"/g, '') === etag)
  }

  manifestEntry(owner: string, relPath: Buffer): {size: number; mtime: number; mode: number; uid: number; gid: number; key: string; kind: string; status: string} | undefined {
    return this.db.prepare('SELECT size, mtime, mode, uid, gid, key, kind, status FROM sync_manifest WHERE owner = ? AND path = ?').get(owner, relPath) as
      | {size: number; mtime: number; mode: number; uid: number; gid: number; key: string; kind: string; status: string}
      | undefined
  }

  /** Modes sync recorded for the files directly in a directory (relative to the owner's root; empty = the root). */
  siblingModes(owner: string, relDir: Buffer): number[] {
    const prefix = relDir.length ? Buffer.concat([relDir, Buffer.from('/')]) : Buffer.alloc(0)
    const rows = this.db
      .prepare(
        `SELECT mode FROM sync_manifest WHERE owner = ? AND kind = 'file' AND status = 'synced' AND substr(path, 1, ?) = ? AND instr(substr(path, ? + 1), X'2F') = 0 LIMIT 500`,
      )
      .all(owner, prefix.length, prefix, prefix.length) as Array<{mode: number}>
    return rows.map((r) => r.mode)
  }

  /** Files sync copied, by key: what a key missing from S3 means was deleted there (unversioned buckets). */
  *syncedFiles(): Iterable<{owner: string; path: Buffer; key: string; size: number; mtime: number}> {
    yield* this.db.prepare(`SELECT owner, path, key, size, mtime FROM sync_manifest WHERE kind = 'file' AND status = 'synced' ORDER BY key`).iterate() as Iterable<{
      owner: string
      path: Buffer
      key: string
      size: number
      mtime: number
    }>
  }
}
