import type Database from 'better-sqlite3'

import type {ListedObject} from './object-listing.js'
import type {SqliteStateStore} from './state.js'

export interface HeldObject {
  size: number
  etag?: string
  checksumAlgorithms: string[]
  checksumType?: string
}

/** One file of the saved source listing, with its manifest row and the object listed at its key (null: none). */
export interface ListingRow {
  owner: string
  path: Buffer
  size: number
  mtime: number
  error?: string
  problem?: {kind: string; reason: string}
  manifest?: {kind: 'file' | 'dir'; status: string; size: number; mtime: number; mode: number; uid: number; gid: number; key: string; sha256: string; crc: string; etag?: string}
  held: HeldObject | null
}

/** A synced empty-directory marker of the manifest, with the object listed at its key (null: none). */
export interface MarkerRow {
  owner: string
  path: Buffer
  key: string
  size: number
  mode: number
  uid: number
  gid: number
  sha256: string
  crc: string
  etag?: string
  held: HeldObject | null
}

type Joined = {o_size: number | null; o_etag: string | null; o_algorithms: string | null; o_type: string | null}
const heldOf = (r: Joined): HeldObject | null =>
  r.o_size === null ? null : {size: r.o_size, ...(r.o_etag ? {etag: r.o_etag} : {}), checksumAlgorithms: r.o_algorithms ? r.o_algorithms.split(',') : [], ...(r.o_type ? {checksumType: r.o_type} : {})}

const PAGE = 1000

/**
 * What a verify run listed in the bucket (TEMP: scratch space that disappears with the process), looked up by key
 * while the source files are accounted for; memory stays flat however many objects there are.
 */
export class ListedObjectsStore {
  private readonly db: Database.Database
  private readonly stmts: Record<string, Database.Statement>

  constructor(state: SqliteStateStore) {
    this.db = state.db
    // The TEMP schema's own page cache (64 MiB, not the default 2 MiB): inserting 100,000 keys in four interleaved
    // ranges otherwise spent most of its time re-reading pages of the temp file.
    this.db.pragma('temp.cache_size = -65536')
    this.db.exec(`
      CREATE TEMP TABLE IF NOT EXISTS verify_objects (
        key TEXT PRIMARY KEY, owner TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT, checksum_algorithms TEXT NOT NULL,
        checksum_type TEXT, last_modified TEXT, expected INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID;
      DELETE FROM temp.verify_objects;
    `)
    this.stmts = {
      insert: this.db.prepare(
        'INSERT OR REPLACE INTO temp.verify_objects (key, owner, size, etag, checksum_algorithms, checksum_type, last_modified) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      expect: this.db.prepare('UPDATE temp.verify_objects SET expected = 1 WHERE key = ?'),
      count: this.db.prepare('SELECT COUNT(*) FROM temp.verify_objects').pluck(),
    }
  }

  add(owner: string, objects: ListedObject[]): void {
    this.db.transaction(() => {
      for (const o of objects) {
        const modified = o.lastModified ? new Date(o.lastModified) : undefined
        this.stmts.insert.run(o.key, owner, o.size, o.etag ?? null, o.checksumAlgorithms.join(','), o.checksumType ?? null, modified && !Number.isNaN(modified.getTime()) ? modified.toISOString() : null)
      }
    })()
  }

  count(): number {
    return this.stmts.count.get() as number
  }

  /**
   * The saved source listing (sync_listing) joined with the manifest and with what was listed in the bucket, in
   * (owner, path) pages: one query per 1,000 files instead of two lookups per file.
   */
  *listing(runId: number): IterableIterator<ListingRow> {
    const page = this.db.prepare(
      `SELECT l.owner, l.path, l.size, l.mtime, l.error,
              (SELECT p.kind || char(0) || p.reason FROM sync_problems p WHERE p.run_id = ? AND p.owner = l.owner AND p.path = l.path LIMIT 1) AS problem,
              m.kind, m.status, m.size AS m_size, m.mtime AS m_mtime, m.mode, m.uid, m.gid, m.key, m.sha256, m.crc, m.etag,
              o.size AS o_size, o.etag AS o_etag, o.checksum_algorithms AS o_algorithms, o.checksum_type AS o_type
       FROM sync_listing l
       LEFT JOIN sync_manifest m ON m.owner = l.owner AND m.path = l.path
       LEFT JOIN temp.verify_objects o ON o.key = m.key
       WHERE (l.owner, l.path) > (?, ?) ORDER BY l.owner, l.path LIMIT ${PAGE}`,
    )
    let after: [string, Buffer] = ['', Buffer.alloc(0)]
    for (;;) {
      const rows = page.all(runId, ...after) as Array<
        Joined & {owner: string; path: Buffer; size: number; mtime: number; error: string | null; problem: string | null; kind: 'file' | 'dir' | null; status: string; m_size: number; m_mtime: number; mode: number; uid: number; gid: number; key: string; sha256: string; crc: string; etag: string | null}
      >
      for (const r of rows) {
        const [kind, reason] = r.problem === null ? [] : r.problem.split('\0')
        yield {
          owner: r.owner,
          path: r.path,
          size: r.size,
          mtime: r.mtime,
          ...(r.error === null ? {} : {error: r.error}),
          ...(kind === undefined ? {} : {problem: {kind, reason}}),
          ...(r.kind === null ? {} : {manifest: {kind: r.kind, status: r.status, size: r.m_size, mtime: r.m_mtime, mode: r.mode, uid: r.uid, gid: r.gid, key: r.key, sha256: r.sha256, crc: r.crc, ...(r.etag ? {etag: r.etag} : {})}}),
          held: heldOf(r),
        }
      }
      if (rows.length < PAGE) return
      after = [rows[rows.length - 1].owner, rows[rows.length - 1].path]
    }
  }

  /** The manifest's synced empty-directory markers, with what was listed at their keys. */
  *markers(): IterableIterator<MarkerRow> {
    const rows = this.db
      .prepare(
        `SELECT m.owner, m.path, m.key, m.size, m.mode, m.uid, m.gid, m.sha256, m.crc, m.etag, o.size AS o_size, o.etag AS o_etag, o.checksum_algorithms AS o_algorithms, o.checksum_type AS o_type
         FROM sync_manifest m LEFT JOIN temp.verify_objects o ON o.key = m.key WHERE m.kind = 'dir' AND m.status = 'synced' ORDER BY m.owner, m.path`,
      )
      .all() as Array<Joined & {owner: string; path: Buffer; key: string; size: number; mode: number; uid: number; gid: number; sha256: string; crc: string; etag: string | null}>
    for (const r of rows) yield {owner: r.owner, path: r.path, key: r.key, size: r.size, mode: r.mode, uid: r.uid, gid: r.gid, sha256: r.sha256, crc: r.crc, ...(r.etag ? {etag: r.etag} : {}), held: heldOf(r)}
  }

  /**
   * Every `every`-th key the manifest holds under a home prefix (ending in "/"), in key order (S3's order: UTF-8
   * bytes): where a listing of that prefix can be split into ranges listed side by side.
   */
  splitKeys(prefix: string, every: number): string[] {
    const end = `${prefix.slice(0, -1)}${String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)}`
    const next = this.db.prepare(`SELECT key FROM sync_manifest WHERE key > ? AND key < ? ORDER BY key LIMIT 1 OFFSET ${every - 1}`).pluck()
    const keys: string[] = []
    for (let k = next.get(prefix, end) as string | undefined; k !== undefined; k = next.get(k, end) as string | undefined) keys.push(k)
    return keys
  }

  /** Keys of listed source files that sync has not copied: an object there is an older copy, not an extra one. */
  markExpected(keys: string[]): void {
    this.db.transaction(() => keys.forEach((k) => this.stmts.expect.run(k)))()
  }

  /** Owners of the saved source listing and of the manifest: the homes whose objects verify lists. */
  homeOwners(): string[] {
    return (this.db.prepare('SELECT owner FROM sync_listing UNION SELECT owner FROM sync_manifest ORDER BY 1').pluck().all() as string[])
  }

  /** Listed objects that no manifest row names and no listed source file maps to, in key order. */
  *unknown(): IterableIterator<{key: string; owner: string; lastModified?: string}> {
    const page = this.db.prepare(
      `SELECT o.key, o.owner, o.last_modified FROM temp.verify_objects o
       WHERE o.expected = 0 AND o.key > ? AND NOT EXISTS (SELECT 1 FROM sync_manifest m WHERE m.key = o.key) ORDER BY o.key LIMIT ${PAGE}`,
    )
    let after = ''
    for (;;) {
      const rows = page.all(after) as Array<{key: string; owner: string; last_modified: string | null}>
      for (const r of rows) yield {key: r.key, owner: r.owner, ...(r.last_modified ? {lastModified: r.last_modified} : {})}
      if (rows.length < PAGE) return
      after = rows[rows.length - 1].key
    }
  }

  clear(): void {
    this.db.exec('DELETE FROM temp.verify_objects')
  }
}
