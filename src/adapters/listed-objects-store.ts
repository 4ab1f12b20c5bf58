import type Database from 'better-sqlite3'

import type {ListedObject} from './object-listing.js'
import type {SqliteStateStore} from './state.js'

export interface HeldObject {
  size: number
  etag?: string
  checksumAlgorithms: string[]
  checksumType?: string
}

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
      get: this.db.prepare('SELECT size, etag, checksum_algorithms, checksum_type FROM temp.verify_objects WHERE key = ?').raw(true),
      expect: this.db.prepare('UPDATE temp.verify_objects SET expected = 1 WHERE key = ?'),
      count: this.db.prepare('SELECT COUNT(*) FROM temp.verify_objects').pluck(),
    }
  }

  add(owner: string, objects: ListedObject[]): void {
    this.db.transaction(() => {
      for (const o of objects) {
        this.stmts.insert.run(o.key, owner, o.size, o.etag ?? null, o.checksumAlgorithms.join(','), o.checksumType ?? null, o.lastModified?.toISOString() ?? null)
      }
    })()
  }

  count(): number {
    return this.stmts.count.get() as number
  }

  get(key: string): HeldObject | undefined {
    const r = this.stmts.get.get(key) as [number, string | null, string, string | null] | undefined
    if (!r) return undefined
    return {size: r[0], etag: r[1] ?? undefined, checksumAlgorithms: r[2] ? r[2].split(',') : [], ...(r[3] ? {checksumType: r[3]} : {})}
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
