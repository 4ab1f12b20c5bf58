import type Database from 'better-sqlite3'

import type {FileEntry, FileType} from '../core/inventory-model.js'
import type {ManifestEntry, ManifestStat, ProblemKind, ScanEntry} from '../core/sync-plan.js'
import type {SqliteStateStore} from './state.js'

export interface SyncRun {
  id: number
  startedAt: string
  finishedAt?: string
  status: 'running' | 'complete' | 'interrupted' | 'failed'
  summary?: unknown
}

export interface UploadRecord {
  owner: string
  path: Buffer
  key: string
  uploadId?: string
  size: number
  mtime: number
  partSize: number
  crcAlgorithm: string
  /** Whole-file SHA-256 once every part was read ('' until then) */
  sha256: string
  /** CRC-32 of each part read so far, in order: parts 1..partCrcs.length are in hashState */
  partCrcs: number[]
  /** The SHA-256 state after those parts (hash-wasm save()); absent before the first part (or in a record of an older version) */
  hashState?: Uint8Array
}

export interface PartRecord {
  partNumber: number
  etag: string
  crc: string
  size: number
}

/** A file or directory marker the copy phase works on, in the order it is taken (largest first). */
export interface TodoEntry {
  seq: number
  owner: string
  path: Buffer
  action: 'copy' | 'check' | 'metadata' | 'dir-marker'
  key: string
  size: number
  mtime: number
  mode: number
  uid: number
  gid: number
}

export interface Problem {
  owner: string
  path: Buffer
  kind: ProblemKind
  reason: string
}

type ManifestRow = {
  owner: string
  path: Buffer
  kind: 'file' | 'dir'
  size: number
  mtime: number
  mode: number
  uid: number
  gid: number
  sha256: string
  crc: string
  crc_algorithm: string
  key: string
  etag: string | null
  version_id: string | null
  status: ManifestEntry['status']
  synced_at: string
  checked_at: string | null
}

type ScanRow = {owner: string; path: Buffer; type: FileType; size: number; mtime: number; mode: number; uid: number; gid: number; link_target: Buffer | null; error: string | null; empty: number}

const toManifest = (r: ManifestRow): ManifestEntry => ({
  owner: r.owner,
  path: r.path,
  kind: r.kind,
  size: r.size,
  mtime: r.mtime,
  mode: r.mode,
  uid: r.uid,
  gid: r.gid,
  sha256: r.sha256,
  crc: r.crc,
  crcAlgorithm: r.crc_algorithm,
  key: r.key,
  etag: r.etag ?? undefined,
  versionId: r.version_id ?? undefined,
  status: r.status,
  syncedAt: r.synced_at,
  checkedAt: r.checked_at ?? undefined,
})

const toScan = (r: ScanRow): ScanEntry => ({
  owner: r.owner,
  path: r.path,
  type: r.type,
  size: r.size,
  mtime: r.mtime,
  mode: r.mode,
  uid: r.uid,
  gid: r.gid,
  ...(r.link_target ? {linkTarget: r.link_target} : {}),
  ...(r.error ? {error: r.error} : {}),
  empty: r.empty === 1,
})

const PAGE = 1000

/** 4 bytes per CRC-32, big-endian */
function crcBlob(crcs: number[]): Buffer {
  const b = Buffer.alloc(crcs.length * 4)
  crcs.forEach((c, i) => b.writeUInt32BE(c >>> 0, i * 4))
  return b
}
const SCAN_PAGE = `SELECT s.owner, s.path, s.type, s.size, s.mtime, s.mode, s.uid, s.gid, s.link_target, s.error, s.empty,
         m.kind, m.size, m.mtime, m.mode, m.uid, m.gid, m.key, m.status, m.synced_at, m.checked_at
  FROM sync_scan s LEFT JOIN sync_manifest m ON m.owner = s.owner AND m.path = s.path
  WHERE (s.owner, s.path) > (:owner, :path) $unchanged ORDER BY s.owner, s.path LIMIT ${PAGE}`

/**
 * The sync tables of the state database: runs, the manifest (what S3 holds for each source file), multipart uploads
 * in progress with their parts, and per-run problems. The listing of the current run and its work list live in
 * TEMP tables: scratch space that disappears with the process, so memory stays flat however many files there are.
 */
export class ManifestStore {
  private readonly db: Database.Database
  private readonly stmts: Record<string, Database.Statement>

  constructor(state: SqliteStateStore) {
    this.db = state.db
    this.db.exec(`
      CREATE TEMP TABLE IF NOT EXISTS sync_scan (
        owner TEXT NOT NULL, path BLOB NOT NULL, type TEXT NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL,
        mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, link_target BLOB, error TEXT,
        empty INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (owner, path)
      ) WITHOUT ROWID;
      CREATE TEMP TABLE IF NOT EXISTS sync_todo (
        seq INTEGER PRIMARY KEY, owner TEXT NOT NULL, path BLOB NOT NULL, action TEXT NOT NULL, key TEXT NOT NULL,
        size INTEGER NOT NULL, mtime INTEGER NOT NULL, mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL,
        rank INTEGER NOT NULL -- minus the size: largest first, paged with an ascending row-value comparison
      );
      CREATE INDEX IF NOT EXISTS temp.sync_todo_order ON sync_todo (rank, seq);
    `)
    this.stmts = {
      scanInsert: this.db.prepare(
        'INSERT OR REPLACE INTO sync_scan (owner, path, type, size, mtime, mode, uid, gid, link_target, error, empty) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)',
      ),
      scanEmpty: this.db.prepare('UPDATE sync_scan SET empty = 1 WHERE owner = ? AND path = ?'),
      scanUpdate: this.db.prepare('UPDATE sync_scan SET type = ?, size = ?, mtime = ?, mode = ?, uid = ?, gid = ?, error = ? WHERE owner = ? AND path = ?'),
      scanPage: this.db.prepare(SCAN_PAGE.replace('$unchanged', '')).raw(true),
      // The same, without the files whose size, mtime, mode, owner and key (base || owner || '/' || path) match a
      // synced manifest row: on a re-sync of 100,000 unchanged files, handing each row to JS cost ~300 ms.
      scanPageChanged: this.db
        .prepare(
          SCAN_PAGE.replace(
            '$unchanged',
            // "IS NOT 1": without a manifest row the test is NULL, and the row must stay.
            `AND (s.type = 'file' AND s.error IS NULL AND m.kind = 'file' AND m.status = 'synced' AND m.size = s.size AND m.mtime = s.mtime
              AND m.mode = s.mode AND m.uid = s.uid AND m.gid = s.gid AND m.key = :base || s.owner || '/' || CAST(s.path AS TEXT)) IS NOT 1`,
          ),
        )
        .raw(true),
      scanCount: this.db.prepare('SELECT COUNT(*) FROM sync_scan').pluck(),
      todoInsert: this.db.prepare('INSERT INTO sync_todo (owner, path, action, key, size, mtime, mode, uid, gid, rank) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      todoPage: this.db.prepare(`SELECT * FROM sync_todo WHERE (rank, seq) > (?, ?) ORDER BY rank, seq LIMIT ${PAGE}`),
      manifestGet: this.db.prepare('SELECT * FROM sync_manifest WHERE owner = ? AND path = ?'),
      manifestUpsert: this.db.prepare(
        `INSERT INTO sync_manifest (owner, path, kind, size, mtime, mode, uid, gid, sha256, crc, crc_algorithm, key, etag, version_id, status, synced_at, run_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'synced', ?, ?)
         ON CONFLICT (owner, path) DO UPDATE SET kind = excluded.kind, size = excluded.size, mtime = excluded.mtime, mode = excluded.mode,
           uid = excluded.uid, gid = excluded.gid, sha256 = excluded.sha256, crc = excluded.crc, crc_algorithm = excluded.crc_algorithm,
           key = excluded.key, etag = excluded.etag, version_id = excluded.version_id, status = 'synced', synced_at = excluded.synced_at,
           run_id = excluded.run_id`,
      ),
      manifestStatus: this.db.prepare('UPDATE sync_manifest SET status = ? WHERE owner = ? AND path = ?'),
      manifestChecked: this.db.prepare('UPDATE sync_manifest SET checked_at = ? WHERE owner = ? AND path = ?'),
      manifestDelete: this.db.prepare('DELETE FROM sync_manifest WHERE owner = ? AND path = ?'),
      manifestByKey: this.db.prepare('SELECT 1 FROM sync_manifest WHERE key = ? LIMIT 1'),
      uploadGet: this.db.prepare('SELECT * FROM sync_uploads WHERE owner = ? AND path = ?'),
      uploadBegin: this.db.prepare(
        `INSERT OR REPLACE INTO sync_uploads (owner, path, key, upload_id, size, mtime, part_size, crc_algorithm, sha256, part_crcs, started_at)
         VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      uploadSetId: this.db.prepare('UPDATE sync_uploads SET upload_id = ? WHERE owner = ? AND path = ?'),
      uploadHashed: this.db.prepare('UPDATE sync_uploads SET part_crcs = ?, hash_state = ?, sha256 = ? WHERE owner = ? AND path = ?'),
      uploadDelete: this.db.prepare('DELETE FROM sync_uploads WHERE owner = ? AND path = ?'),
      partsDelete: this.db.prepare('DELETE FROM sync_upload_parts WHERE upload_id = ?'),
      partInsert: this.db.prepare('INSERT OR REPLACE INTO sync_upload_parts (upload_id, part_number, etag, crc, size) VALUES (?, ?, ?, ?, ?)'),
      parts: this.db.prepare('SELECT part_number, etag, crc, size FROM sync_upload_parts WHERE upload_id = ? ORDER BY part_number'),
      problemInsert: this.db.prepare('INSERT INTO sync_problems (run_id, owner, path, kind, reason) VALUES (?, ?, ?, ?, ?)'),
    }
  }

  // Runs

  /** Starts a run; one left 'running' by a killed process is marked interrupted. */
  beginRun(options: unknown): number {
    this.db.prepare(`UPDATE sync_runs SET status = 'interrupted', finished_at = ? WHERE status = 'running'`).run(new Date().toISOString())
    return Number(this.db.prepare(`INSERT INTO sync_runs (started_at, status, options_json) VALUES (?, 'running', ?)`).run(new Date().toISOString(), JSON.stringify(options)).lastInsertRowid)
  }

  /** The newest run before this one: when it began, how it ended ('running' if its process was killed) and its options. */
  lastRun(): {startedAt: string; status: SyncRun['status']; options: Record<string, unknown>} | undefined {
    const r = this.db.prepare('SELECT started_at, status, options_json FROM sync_runs ORDER BY id DESC LIMIT 1').get() as
      | {started_at: string; status: SyncRun['status']; options_json: string | null}
      | undefined
    return r && {startedAt: r.started_at, status: r.status, options: JSON.parse(r.options_json ?? '{}') as Record<string, unknown>}
  }

  /** The options the newest complete run used (what the cutover's final delta carries over). */
  lastCompleteRun(): {id: number; options: Record<string, unknown>} | undefined {
    const r = this.db.prepare(`SELECT id, options_json FROM sync_runs WHERE status = 'complete' ORDER BY id DESC LIMIT 1`).get() as {id: number; options_json: string | null} | undefined
    return r && {id: r.id, options: JSON.parse(r.options_json ?? '{}') as Record<string, unknown>}
  }

  finishRun(id: number, status: SyncRun['status'], summary: unknown): void {
    this.db.prepare('UPDATE sync_runs SET status = ?, finished_at = ?, summary_json = ? WHERE id = ?').run(status, new Date().toISOString(), JSON.stringify(summary), id)
  }

  // The last complete listing (what verify accounts for)

  /**
   * Keeps this run's listing once it is complete: its regular files (after --include/--exclude, symbolic links
   * followed) and the directories that could not be listed. Replaces the previous run's in one transaction.
   */
  saveListing(runId: number): void {
    this.db.transaction(() => {
      this.db.exec('DELETE FROM sync_listing')
      this.db
        .prepare(
          `INSERT INTO sync_listing (owner, path, type, size, mtime, error)
           SELECT owner, path, type, size, mtime, error FROM temp.sync_scan WHERE (type = 'file' AND error IS NULL) OR (type = 'dir' AND error IS NOT NULL)`,
        )
        .run()
      this.db.prepare('UPDATE sync_runs SET listed_at = ? WHERE id = ?').run(new Date().toISOString(), runId)
    })()
  }

  /** The run whose listing sync_listing holds: its id, when it listed, its status and options. */
  listingRun(): {id: number; listedAt: string; status: SyncRun['status']; options: Record<string, unknown>} | undefined {
    const r = this.db.prepare('SELECT id, listed_at, status, options_json FROM sync_runs WHERE listed_at IS NOT NULL ORDER BY id DESC LIMIT 1').get() as
      | {id: number; listed_at: string; status: SyncRun['status']; options_json: string | null}
      | undefined
    return r && {id: r.id, listedAt: r.listed_at, status: r.status, options: JSON.parse(r.options_json ?? '{}') as Record<string, unknown>}
  }

  /** Files of the listing in sync_listing. */
  listingCount(): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM sync_listing WHERE type = 'file'`).get() as {n: number}).n
  }

  // The listing of this run (TEMP)

  resetScan(): void {
    this.db.exec('DELETE FROM sync_scan; DELETE FROM sync_todo;')
  }

  addScan(entries: FileEntry[]): void {
    this.db.transaction(() => {
      for (const e of entries) {
        this.stmts.scanInsert.run(e.owner, e.path, e.type, e.size, e.mtime, e.mode, e.uid, e.gid, e.linkTarget ?? null, e.error ?? null)
      }
    })()
  }

  markEmpty(owner: string, path: Buffer): void {
    this.stmts.scanEmpty.run(owner, path)
  }

  /** Replaces a followed symlink's attributes by its target's (or records why it could not be followed). */
  updateScan(owner: string, path: Buffer, e: {type: FileType; size: number; mtime: number; mode: number; uid: number; gid: number; error?: string}): void {
    this.stmts.scanUpdate.run(e.type, e.size, e.mtime, e.mode, e.uid, e.gid, e.error ?? null, owner, path)
  }

  /** Symbolic links not yet followed (one that could not be is kept with the reason in `error`). */
  scanSymlinks(): ScanEntry[] {
    return (this.db.prepare(`SELECT * FROM sync_scan WHERE type = 'symlink' AND error IS NULL ORDER BY owner, path`).all() as ScanRow[]).map(toScan)
  }

  /** Directories the walk could not list: nothing under them counts as deleted at the source. */
  scanErrors(): Array<{owner: string; path: Buffer}> {
    return this.db.prepare(`SELECT owner, path FROM sync_scan WHERE error IS NOT NULL AND type = 'dir'`).all() as Array<{owner: string; path: Buffer}>
  }

  /**
   * Every listed entry with what the manifest says of it, in pages (a read cursor cannot stay open while we write).
   * Rows come as arrays and only the columns the plan needs: a re-sync walks every file through here.
   */
  /** Entries listed in this run. */
  scanCount(): number {
    return this.stmts.scanCount.get() as number
  }

  /**
   * The listing joined with the manifest, in (owner, path) order. With `unchangedKeyBase` (the key base of
   * homesKeyBase), files that are plainly unchanged (same size, mtime, mode, uid, gid and key as a synced row) are
   * left out: the caller counts them as scanCount() minus what it was given.
   */
  *scanWithManifest(unchangedKeyBase?: string): IterableIterator<{entry: ScanEntry; manifest?: ManifestStat}> {
    const page = unchangedKeyBase === undefined ? this.stmts.scanPage : this.stmts.scanPageChanged
    let owner = ''
    let path: Buffer = Buffer.alloc(0)
    for (;;) {
      const rows = page.all({owner, path, ...(unchangedKeyBase === undefined ? {} : {base: unchangedKeyBase})}) as unknown[][]
      for (const r of rows) {
        const entry: ScanEntry = {
          owner: r[0] as string,
          path: r[1] as Buffer,
          type: r[2] as FileType,
          size: r[3] as number,
          mtime: r[4] as number,
          mode: r[5] as number,
          uid: r[6] as number,
          gid: r[7] as number,
          ...(r[8] ? {linkTarget: r[8] as Buffer} : {}),
          ...(r[9] ? {error: r[9] as string} : {}),
          empty: r[10] === 1,
        }
        const manifest =
          r[11] === null
            ? undefined
            : ({kind: r[11], size: r[12], mtime: r[13], mode: r[14], uid: r[15], gid: r[16], key: r[17], status: r[18], syncedAt: r[19], checkedAt: r[20] ?? undefined} as ManifestStat)
        yield {entry, manifest}
      }
      if (rows.length < PAGE) return
      owner = rows[rows.length - 1][0] as string
      path = rows[rows.length - 1][1] as Buffer
    }
  }

  addTodo(entries: Array<Omit<TodoEntry, 'seq'>>): void {
    this.db.transaction(() => {
      for (const t of entries) this.stmts.todoInsert.run(t.owner, t.path, t.action, t.key, t.size, t.mtime, t.mode, t.uid, t.gid, -t.size)
    })()
  }

  /** The work list, largest first (large files start early and small ones fill in around them). */
  *todo(): IterableIterator<TodoEntry> {
    let rank = -Number.MAX_SAFE_INTEGER
    let seq = -1
    for (;;) {
      const rows = this.stmts.todoPage.all(rank, seq) as Array<TodoEntry & {rank: number}>
      yield* rows
      if (rows.length < PAGE) return
      rank = rows[rows.length - 1].rank
      seq = rows[rows.length - 1].seq
    }
  }

  // The manifest

  get(owner: string, path: Buffer): ManifestEntry | undefined {
    const r = this.stmts.manifestGet.get(owner, path) as ManifestRow | undefined
    return r ? toManifest(r) : undefined
  }

  hasKey(key: string): boolean {
    return this.stmts.manifestByKey.get(key) !== undefined
  }

  /** Records what was copied, many rows per transaction. */
  recordSynced(rows: Array<Omit<ManifestEntry, 'status' | 'syncedAt'>>, runId: number): void {
    const now = new Date().toISOString()
    this.db.transaction(() => {
      for (const m of rows) {
        this.stmts.manifestUpsert.run(m.owner, m.path, m.kind, m.size, m.mtime, m.mode, m.uid, m.gid, m.sha256, m.crc, m.crcAlgorithm, m.key, m.etag ?? null, m.versionId ?? null, now, runId)
      }
    })()
  }

  /** The files this run recorded (copied, or metadata replaced), in pages: the caller may write between them. */
  *filesOfRun(runId: number): IterableIterator<ManifestEntry> {
    const page = this.db.prepare(
      `SELECT * FROM sync_manifest WHERE run_id = ? AND kind = 'file' AND (owner, path) > (?, ?) ORDER BY owner, path LIMIT ${PAGE}`,
    )
    let after: [string, Buffer] = ['', Buffer.alloc(0)]
    for (;;) {
      const rows = page.all(runId, ...after) as ManifestRow[]
      yield* rows.map(toManifest)
      if (rows.length < PAGE) return
      after = [rows[rows.length - 1].owner, rows[rows.length - 1].path]
    }
  }

  /** --checksum re-hashed these files and found the bytes the manifest has. */
  markChecked(files: Array<{owner: string; path: Buffer}>): void {
    const now = new Date().toISOString()
    this.db.transaction(() => files.forEach((f) => this.stmts.manifestChecked.run(now, f.owner, f.path)))()
  }

  setStatus(owner: string, path: Buffer, status: ManifestEntry['status']): void {
    this.stmts.manifestStatus.run(status, owner, path)
  }

  removeEntries(entries: Array<{owner: string; path: Buffer}>): void {
    this.db.transaction(() => entries.forEach((e) => this.stmts.manifestDelete.run(e.owner, e.path)))()
  }

  /** Manifest rows of these owners that this run's listing did not see (candidates for "deleted at the source"). */
  *notInScan(owners: string[]): IterableIterator<ManifestEntry> {
    if (owners.length === 0) return
    const stmt = this.db.prepare(
      `SELECT m.* FROM sync_manifest m WHERE m.owner IN (${owners.map(() => '?').join(', ')})
       AND NOT EXISTS (SELECT 1 FROM sync_scan s WHERE s.owner = m.owner AND s.path = m.path)
       AND (m.owner, m.path) > (?, ?) ORDER BY m.owner, m.path LIMIT ${PAGE}`,
    )
    let owner = ''
    let path: Buffer = Buffer.alloc(0)
    for (;;) {
      const rows = stmt.all(...owners, owner, path) as ManifestRow[]
      yield* rows.map(toManifest)
      if (rows.length < PAGE) return
      owner = rows[rows.length - 1].owner
      path = rows[rows.length - 1].path
    }
  }

  /** Every manifest row (optionally of some owners), in pages. */
  *entries(owners?: string[]): IterableIterator<ManifestEntry> {
    const only = owners && owners.length > 0 ? `owner IN (${owners.map(() => '?').join(', ')}) AND ` : ''
    const stmt = this.db.prepare(`SELECT * FROM sync_manifest WHERE ${only}(owner, path) > (?, ?) ORDER BY owner, path LIMIT ${PAGE}`)
    let owner = ''
    let path: Buffer = Buffer.alloc(0)
    for (;;) {
      const rows = stmt.all(...(owners ?? []), owner, path) as ManifestRow[]
      yield* rows.map(toManifest)
      if (rows.length < PAGE) return
      owner = rows[rows.length - 1].owner
      path = rows[rows.length - 1].path
    }
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM sync_manifest').get() as {n: number}).n
  }

  owners(): string[] {
    return (this.db.prepare('SELECT DISTINCT owner FROM sync_manifest ORDER BY owner').all() as Array<{owner: string}>).map((r) => r.owner)
  }

  // Multipart uploads in progress

  upload(owner: string, path: Buffer): UploadRecord | undefined {
    const r = this.stmts.uploadGet.get(owner, path) as
      | {
          owner: string
          path: Buffer
          key: string
          upload_id: string | null
          size: number
          mtime: number
          part_size: number
          crc_algorithm: string
          sha256: string
          part_crcs: Buffer
          hash_state: Buffer | null
        }
      | undefined
    if (!r) return undefined
    const partCrcs: number[] = []
    for (let i = 0; i + 4 <= r.part_crcs.length; i += 4) partCrcs.push(r.part_crcs.readUInt32BE(i))
    return {
      owner: r.owner,
      path: r.path,
      key: r.key,
      uploadId: r.upload_id ?? undefined,
      size: r.size,
      mtime: r.mtime,
      partSize: r.part_size,
      crcAlgorithm: r.crc_algorithm,
      sha256: r.sha256,
      partCrcs,
      ...(r.hash_state ? {hashState: r.hash_state} : {}),
    }
  }

  uploads(): UploadRecord[] {
    return (this.db.prepare('SELECT owner, path FROM sync_uploads ORDER BY owner, path').all() as Array<{owner: string; path: Buffer}>).map((r) => this.upload(r.owner, r.path)!)
  }

  /** Written before CreateMultipartUpload, so an upload started just before a kill is still known to be ours. */
  beginUpload(u: Omit<UploadRecord, 'uploadId' | 'hashState'>): void {
    this.stmts.uploadBegin.run(u.owner, u.path, u.key, u.size, u.mtime, u.partSize, u.crcAlgorithm, u.sha256, crcBlob(u.partCrcs), new Date().toISOString())
  }

  /**
   * Another part was read: its CRC, the SHA-256 state after it and (after the last part) the digest. Written before
   * the part is sent, so every part S3 holds is covered by the saved state.
   */
  saveHash(owner: string, path: Buffer, partCrcs: number[], hashState: Uint8Array, sha256 = ''): void {
    this.stmts.uploadHashed.run(crcBlob(partCrcs), Buffer.from(hashState), sha256, owner, path)
  }

  setUploadId(owner: string, path: Buffer, uploadId: string): void {
    this.stmts.uploadSetId.run(uploadId, owner, path)
  }

  addPart(uploadId: string, p: PartRecord): void {
    this.stmts.partInsert.run(uploadId, p.partNumber, p.etag, p.crc, p.size)
  }

  parts(uploadId: string): PartRecord[] {
    return (this.stmts.parts.all(uploadId) as Array<{part_number: number; etag: string; crc: string; size: number}>).map((r) => ({partNumber: r.part_number, etag: r.etag, crc: r.crc, size: r.size}))
  }

  dropUpload(owner: string, path: Buffer): void {
    const u = this.upload(owner, path)
    this.db.transaction(() => {
      if (u?.uploadId) this.stmts.partsDelete.run(u.uploadId)
      this.stmts.uploadDelete.run(owner, path)
    })()
  }

  /** CompleteMultipartUpload succeeded: the manifest row and the end of the upload record, in one transaction. */
  completeUpload(row: Omit<ManifestEntry, 'status' | 'syncedAt'>, runId: number): void {
    this.db.transaction(() => {
      this.recordSynced([row], runId)
      this.dropUpload(row.owner, row.path)
    })()
  }

  // Problems

  addProblems(runId: number, problems: Problem[]): void {
    this.db.transaction(() => problems.forEach((p) => this.stmts.problemInsert.run(runId, p.owner, p.path, p.kind, p.reason)))()
  }
}
