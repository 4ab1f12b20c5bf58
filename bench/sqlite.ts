/**
 * SQLite engines for the state database (issue #12): better-sqlite3 (native, prebuilt binaries in its npm package)
 * beside Node's built-in node:sqlite, on the statements the stores run most, against the project's own schema
 * (state.ts MIGRATIONS), in a file database in WAL mode as the state store opens it:
 *   - insert 100,000 inventory file rows, committed every 10,000 (the inventory walk);
 *   - read them back in (owner, path) order as row objects (inventory diff and reports);
 *   - page through them 1,000 at a time joined with the manifest (the re-sync's scan);
 *   - upsert 20,000 manifest rows, 1,000 per transaction (sync recording copied files);
 *   - 20,000 point look-ups by primary key.
 * Each engine runs --repeat times (default 5), alternating; the table shows medians and node:sqlite's ratio.
 *
 *   npx tsx bench/sqlite.ts [--repeat 5] [--files 100000]
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {DatabaseSync} from 'node:sqlite'
import Database from 'better-sqlite3'

import {MIGRATIONS} from '../src/adapters/state.js'

const argv = process.argv.slice(2)
const flag = (name: string, fallback: number): number => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : fallback)
const REPEAT = flag('--repeat', 5)
const FILES = flag('--files', 100_000)
const UPSERTS = Math.min(20_000, FILES)
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]

/** The little the stores need of an engine. */
interface Engine {
  exec(sql: string): void
  prepare(sql: string): {run(...params: unknown[]): unknown; get(...params: unknown[]): unknown; all(...params: unknown[]): unknown[]; iterate(...params: unknown[]): Iterable<unknown>}
  close(): void
}

const engines: Record<string, (file: string) => Engine> = {
  'better-sqlite3': (file) => new Database(file) as unknown as Engine,
  'node:sqlite': (file) => new DatabaseSync(file) as unknown as Engine,
}

const owners = Array.from({length: 20}, (_, i) => `user${String(i).padStart(2, '0')}`)
const pathOf = (i: number): Buffer => Buffer.from(`incoming/d${String(i % 200).padStart(3, '0')}/file-${String(i).padStart(6, '0')}.dat`)

function inTransaction(db: Engine, fn: () => void): void {
  db.exec('BEGIN')
  try {
    fn()
    db.exec('COMMIT')
  } catch (err) {
    db.exec('ROLLBACK')
    throw err
  }
}

function runOnce(open: (file: string) => Engine): Record<string, number> {
  const dir = mkdtempSync(join(tmpdir(), 'sct-bench-sqlite-'))
  const db = open(join(dir, 'state.db'))
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON')
  for (const m of MIGRATIONS) inTransaction(db, () => db.exec(`${m.sql}; PRAGMA user_version = ${m.version}`))
  db.prepare(`INSERT INTO inventory_runs (id, started_at, status, host) VALUES (1, 'now', 'running', 'bench')`).run()
  const times: Record<string, number> = {}
  const timed = (name: string, fn: () => void): void => {
    const t = performance.now()
    fn()
    times[name] = performance.now() - t
  }

  const insert = db.prepare('INSERT INTO inventory_files (run_id, owner, path, type, size, mtime, mode, uid, gid, link_target, error) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
  timed('insert 100k inventory rows', () => {
    for (let start = 0; start < FILES; start += 10_000) {
      inTransaction(db, () => {
        for (let i = start; i < Math.min(FILES, start + 10_000); i++) insert.run(owners[i % 20], pathOf(i), 'file', i * 7, 1_700_000_000 + i, 0o100644, 1000, 1000, null, null)
      })
    }
  })
  let bytes = 0
  timed('read them in order (objects)', () => {
    for (const row of db.prepare('SELECT * FROM inventory_files WHERE run_id = 1 ORDER BY owner, path').iterate()) bytes += (row as {path: Uint8Array}).path.byteLength
  })
  db.exec(`INSERT INTO sync_manifest (owner, path, kind, size, mtime, mode, uid, gid, sha256, crc, crc_algorithm, key, status, synced_at)
           SELECT owner, path, 'file', size, mtime, mode, uid, gid, 'x', 'y', 'CRC32', owner || '/' || CAST(path AS TEXT), 'synced', 'now' FROM inventory_files`)
  const page = db.prepare(`SELECT f.owner, f.path, f.size, f.mtime, m.size, m.mtime, m.key FROM inventory_files f
    LEFT JOIN sync_manifest m ON m.owner = f.owner AND m.path = f.path
    WHERE f.run_id = 1 AND (f.owner, f.path) > (?, ?) ORDER BY f.owner, f.path LIMIT 1000`)
  let paged = 0
  timed('page 1,000 at a time, joined with the manifest', () => {
    let last: [string, Uint8Array] = ['', Buffer.alloc(0)]
    for (;;) {
      const rows = page.all(...last) as Array<{owner: string; path: Uint8Array}>
      if (rows.length === 0) break
      paged += rows.length
      const end = rows[rows.length - 1]
      last = [end.owner, end.path]
    }
  })
  const upsert = db.prepare(`INSERT INTO sync_manifest (owner, path, kind, size, mtime, mode, uid, gid, sha256, crc, crc_algorithm, key, etag, status, synced_at)
    VALUES (?, ?, 'file', ?, ?, ?, ?, ?, ?, ?, 'CRC32', ?, ?, 'synced', ?)
    ON CONFLICT (owner, path) DO UPDATE SET size = excluded.size, mtime = excluded.mtime, sha256 = excluded.sha256, crc = excluded.crc, etag = excluded.etag, synced_at = excluded.synced_at`)
  timed('upsert 20k manifest rows', () => {
    for (let start = 0; start < UPSERTS; start += 1000) {
      inTransaction(db, () => {
        for (let i = start; i < start + 1000; i++) upsert.run(owners[i % 20], pathOf(i), i, i, 0o100644, 1000, 1000, 'a'.repeat(64), 'AAAAAA==', `k/${i}`, `"etag${i}"`, 'now')
      })
    }
  })
  const get = db.prepare('SELECT * FROM sync_manifest WHERE owner = ? AND path = ?')
  timed('20k point look-ups', () => {
    for (let i = 0; i < UPSERTS; i++) if (!get.get(owners[(i * 5) % 20], pathOf((i * 5) % FILES))) throw new Error('missing row')
  })
  db.close()
  rmSync(dir, {recursive: true, force: true})
  if (paged !== FILES || bytes === 0) throw new Error(`read ${paged} of ${FILES} rows`)
  return times
}

const results: Record<string, Array<Record<string, number>>> = {}
for (let r = 0; r < REPEAT; r++) for (const [name, open] of Object.entries(engines)) (results[name] ??= []).push(runOnce(open))
const ops = Object.keys(results['better-sqlite3'][0])
const med = (engine: string, op: string): number => median(results[engine].map((t) => t[op]))
console.log(`\nSQLite engines on the state schema, ${FILES.toLocaleString('en')} files, median of ${REPEAT} (node ${process.version})\n`)
console.log('| operation | better-sqlite3 | node:sqlite | node:sqlite / better-sqlite3 |')
console.log('| --- | ---: | ---: | ---: |')
for (const op of ops) console.log(`| ${op} | ${med('better-sqlite3', op).toFixed(0)} ms | ${med('node:sqlite', op).toFixed(0)} ms | ${(med('node:sqlite', op) / med('better-sqlite3', op)).toFixed(2)}x |`)
