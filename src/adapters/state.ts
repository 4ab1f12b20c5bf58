import {mkdirSync} from 'node:fs'
import {dirname} from 'node:path'
import Database from 'better-sqlite3'

import {CliError, ExitCode} from '../core/errors.js'

/**
 * Versioned schema migrations, applied in order inside one transaction each. Append only: a released migration
 * is never edited, a change is a new entry.
 */
export const MIGRATIONS: Array<{version: number; name: string; sql: string}> = [
  {
    version: 1,
    name: 'audit log and settings',
    sql: `
      CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        before_json TEXT,
        after_json TEXT,
        outcome TEXT NOT NULL
      );
      CREATE TABLE settings (key TEXT PRIMARY KEY, value_json TEXT NOT NULL);
    `,
  },
  {
    version: 2,
    name: 'inventory',
    sql: `
      CREATE TABLE inventory_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL CHECK (status IN ('running', 'complete', 'failed')),
        accounts_source TEXT,
        host TEXT NOT NULL,
        summary_json TEXT
      );
      CREATE TABLE inventory_accounts (
        run_id INTEGER NOT NULL REFERENCES inventory_runs(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        account_json TEXT NOT NULL,
        PRIMARY KEY (run_id, name)
      );
      CREATE TABLE inventory_host_keys (
        run_id INTEGER NOT NULL REFERENCES inventory_runs(id) ON DELETE CASCADE,
        type TEXT NOT NULL,
        bits INTEGER,
        fingerprint TEXT NOT NULL,
        public_key TEXT NOT NULL,
        PRIMARY KEY (run_id, type)
      );
      CREATE TABLE inventory_files (
        run_id INTEGER NOT NULL REFERENCES inventory_runs(id) ON DELETE CASCADE,
        owner TEXT NOT NULL,
        path BLOB NOT NULL,
        type TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime INTEGER NOT NULL,
        mode INTEGER NOT NULL,
        uid INTEGER NOT NULL,
        gid INTEGER NOT NULL,
        link_target BLOB,
        error TEXT,
        PRIMARY KEY (run_id, owner, path)
      ) WITHOUT ROWID;
      CREATE TABLE inventory_findings (
        run_id INTEGER NOT NULL REFERENCES inventory_runs(id) ON DELETE CASCADE,
        rule TEXT NOT NULL,
        severity TEXT NOT NULL CHECK (severity IN ('blocker', 'warning', 'info')),
        subject TEXT NOT NULL,
        reason TEXT NOT NULL,
        fix TEXT NOT NULL
      );
      CREATE INDEX inventory_findings_run ON inventory_findings (run_id, severity);
    `,
  },
  {
    version: 3,
    name: 'sync manifest',
    sql: `
      CREATE TABLE sync_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL CHECK (status IN ('running', 'complete', 'interrupted', 'failed')),
        options_json TEXT,
        summary_json TEXT
      );
      -- What S3 holds for each source file or empty directory as last copied; a re-sync compares the listing with it.
      CREATE TABLE sync_manifest (
        owner TEXT NOT NULL,
        path BLOB NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('file', 'dir')),
        size INTEGER NOT NULL,
        mtime INTEGER NOT NULL,
        mode INTEGER NOT NULL,
        uid INTEGER NOT NULL,
        gid INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        crc TEXT NOT NULL,
        crc_algorithm TEXT NOT NULL,
        key TEXT NOT NULL,
        etag TEXT,
        version_id TEXT,
        status TEXT NOT NULL CHECK (status IN ('synced', 'source-deleted')),
        synced_at TEXT NOT NULL,
        run_id INTEGER,
        PRIMARY KEY (owner, path)
      ) WITHOUT ROWID;
      CREATE INDEX sync_manifest_key ON sync_manifest (key);
      -- Multipart uploads in progress (the row is written before CreateMultipartUpload), and their completed parts.
      -- sha256 and part_crcs (4 bytes per part) come from the hash pass that precedes the upload: S3 fixes user
      -- metadata at CreateMultipartUpload, and a resumed upload re-reads only the parts S3 does not have.
      CREATE TABLE sync_uploads (
        owner TEXT NOT NULL,
        path BLOB NOT NULL,
        key TEXT NOT NULL,
        upload_id TEXT,
        size INTEGER NOT NULL,
        mtime INTEGER NOT NULL,
        part_size INTEGER NOT NULL,
        crc_algorithm TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        part_crcs BLOB NOT NULL,
        started_at TEXT NOT NULL,
        PRIMARY KEY (owner, path)
      ) WITHOUT ROWID;
      CREATE TABLE sync_upload_parts (
        upload_id TEXT NOT NULL,
        part_number INTEGER NOT NULL,
        etag TEXT NOT NULL,
        crc TEXT NOT NULL,
        size INTEGER NOT NULL,
        PRIMARY KEY (upload_id, part_number)
      ) WITHOUT ROWID;
      -- What a run did not copy, with the reason (the run's summary keeps the counts).
      CREATE TABLE sync_problems (
        run_id INTEGER NOT NULL REFERENCES sync_runs(id) ON DELETE CASCADE,
        owner TEXT NOT NULL,
        path BLOB NOT NULL,
        kind TEXT NOT NULL,
        reason TEXT NOT NULL
      );
      CREATE INDEX sync_problems_run ON sync_problems (run_id);
    `,
  },
  {
    version: 4,
    name: 'transfer users, keys and host keys',
    sql: `
      CREATE TABLE transfer_user_renames (
        legacy_name TEXT PRIMARY KEY,
        user_name TEXT NOT NULL UNIQUE,
        renamed_at TEXT NOT NULL
      );
      CREATE TABLE transfer_key_exclusions (
        legacy_name TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        excluded_at TEXT NOT NULL,
        PRIMARY KEY (legacy_name, fingerprint)
      );
      CREATE TABLE transfer_users (
        server_id TEXT NOT NULL,
        user_name TEXT NOT NULL,
        legacy_name TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('applied', 'failed', 'deleted')),
        error TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (server_id, user_name)
      );
      CREATE TABLE transfer_user_keys (
        server_id TEXT NOT NULL,
        user_name TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        ssh_public_key_id TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        PRIMARY KEY (server_id, user_name, fingerprint)
      );
      CREATE TABLE transfer_host_keys (
        server_id TEXT NOT NULL,
        host_key_id TEXT NOT NULL,
        type TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        PRIMARY KEY (server_id, host_key_id)
      );
    `,
  },
  {
    version: 5,
    name: 'cutover: dns record and runbook steps',
    sql: `
      CREATE TABLE dns_records (
        hosted_zone_id TEXT NOT NULL,
        record_name TEXT NOT NULL,
        before_ttl_json TEXT,
        saved_json TEXT,
        target_json TEXT,
        switched_at TEXT,
        rolled_back_at TEXT,
        PRIMARY KEY (hosted_zone_id, record_name)
      );
      CREATE TABLE runbook_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        runbook TEXT NOT NULL,
        digest TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL CHECK (status IN ('running', 'complete', 'failed'))
      );
      CREATE TABLE runbook_steps (
        run_id INTEGER NOT NULL REFERENCES runbook_runs(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        step_id TEXT NOT NULL,
        type TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
        started_at TEXT,
        finished_at TEXT,
        output_json TEXT,
        PRIMARY KEY (run_id, idx)
      );
    `,
  },
  {
    version: 6,
    name: 'sync: when --checksum last found a file unchanged',
    sql: `
      -- Set when a --checksum run re-hashed the source file and found the bytes S3 holds: an interrupted --checksum
      -- pass continues with the files it has not re-hashed yet.
      ALTER TABLE sync_manifest ADD COLUMN checked_at TEXT;
    `,
  },
  {
    version: 7,
    name: 'users: risks the operator accepted per legacy user',
    sql: `
      -- users import --import-dead-keys (keys sshd ignores today) and --accept-key-options (keys imported without
      -- the authorized_keys options that restricted them): remembered once applied, listed in the migration report.
      CREATE TABLE transfer_user_acceptances (
        legacy_name TEXT NOT NULL,
        what TEXT NOT NULL CHECK (what IN ('dead-keys', 'key-options')),
        accepted_at TEXT NOT NULL,
        PRIMARY KEY (legacy_name, what)
      );
    `,
  },
  {
    version: 8,
    name: 'rollback: carry back what arrived through Transfer since the switch',
    sql: `
      -- When the switch began (saved before the change is applied): objects from then on may have come from clients.
      ALTER TABLE dns_records ADD COLUMN switch_started_at TEXT;
      -- One row per object version carried back (or deletion seen), planned before anything is written: a re-run
      -- keeps each decision (overwrite, or beside a file changed on the box) and skips what is verified.
      CREATE TABLE carry_back_items (
        key TEXT NOT NULL,
        version TEXT NOT NULL,
        owner TEXT NOT NULL,
        rel_path BLOB NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('new', 'overwrite', 'conflict', 'dir', 'deleted')),
        dest BLOB NOT NULL,
        size INTEGER NOT NULL,
        last_modified TEXT NOT NULL,
        uid INTEGER,
        gid INTEGER,
        mode INTEGER,
        sha256 TEXT,
        s3_check TEXT,
        status TEXT NOT NULL CHECK (status IN ('planned', 'verified', 'failed', 'reported', 'replayed', 'kept')),
        reason TEXT,
        planned_at TEXT NOT NULL,
        done_at TEXT,
        PRIMARY KEY (key, version)
      );
      CREATE INDEX carry_back_dest ON carry_back_items (dest);
    `,
  },
  {
    version: 9,
    name: 'sync: the source listing verify accounts for',
    sql: `
      -- The eligible files (and directories that could not be listed) of the last sync whose listing completed:
      -- verify accounts for each of them (verified, mismatched, or not copied with the reason in sync_problems).
      CREATE TABLE sync_listing (
        owner TEXT NOT NULL,
        path BLOB NOT NULL,
        type TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime INTEGER NOT NULL,
        error TEXT,
        PRIMARY KEY (owner, path)
      ) WITHOUT ROWID;
      -- Set on the run whose listing sync_listing holds.
      ALTER TABLE sync_runs ADD COLUMN listed_at TEXT;
      CREATE INDEX sync_problems_file ON sync_problems (run_id, owner, path);
    `,
  },
  {
    version: 10,
    name: 'inventory: runs whose account reading was incomplete',
    sql: `
      -- JSON array of the readings that failed (sshd config, sshd -T, passwd, key files); NULL when complete.
      ALTER TABLE inventory_runs ADD COLUMN accounts_incomplete TEXT;
    `,
  },
  {
    version: 11,
    name: 'project lock: one command that changes the project at a time',
    sql: `
      -- At most one row: the command holding the project. token tells the holder's own row from a successor's.
      CREATE TABLE project_lock (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        command TEXT NOT NULL,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        started_at TEXT NOT NULL,
        token TEXT NOT NULL
      );
    `,
  },
  {
    version: 12,
    name: 'sync: one read per byte (multipart uploads keep their SHA-256 state)',
    sql: `
      -- A multipart upload is hashed as its parts are read (no hash pass before it): part_crcs holds the CRC-32 of
      -- each part read so far, hash_state the SHA-256 state after them (hash-wasm save()), and sha256 stays '' until
      -- the last part is read. A resumed upload re-reads only the parts S3 does not hold, for the upload alone.
      ALTER TABLE sync_uploads ADD COLUMN hash_state BLOB;
    `,
  },
]

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version

export interface AuditEntry {
  action: string
  target: string
  before?: unknown
  after?: unknown
  outcome: 'ok' | 'failed' | 'dry-run'
}

export interface StateStore {
  readonly path: string
  readonly schemaVersion: number
  audit(entry: AuditEntry): void
  auditLog(): Array<AuditEntry & {id: number; at: string}>
  getSetting<T>(key: string): T | undefined
  setSetting(key: string, value: unknown): void
  close(): void
}

/** The state database (.sftp-cutover/state.db): one SQLite file, WAL mode, migrated on open. */
export class SqliteStateStore implements StateStore {
  readonly db: Database.Database

  constructor(readonly path: string) {
    mkdirSync(dirname(path), {recursive: true})
    this.db = new Database(path)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = NORMAL')
    this.db.pragma('foreign_keys = ON')
    this.migrate()
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', {simple: true}) as number
  }

  private migrate(): void {
    const current = this.schemaVersion
    if (current > SCHEMA_VERSION) {
      throw new CliError(`the state database ${this.path} has schema version ${current}, newer than this sftp-cutover understands (${SCHEMA_VERSION})`, {
        exitCode: ExitCode.usage,
        code: 'STATE_TOO_NEW',
        suggestions: ['Upgrade sftp-cutover to the version that last wrote this project.'],
      })
    }
    for (const m of MIGRATIONS.filter((m) => m.version > current)) {
      this.db.transaction(() => {
        this.db.exec(m.sql)
        this.db.pragma(`user_version = ${m.version}`)
      })()
    }
  }

  audit(entry: AuditEntry): void {
    this.db
      .prepare('INSERT INTO audit_log (at, actor, action, target, before_json, after_json, outcome) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(
        new Date().toISOString(),
        process.env.USER ?? 'unknown',
        entry.action,
        entry.target,
        entry.before === undefined ? null : JSON.stringify(entry.before),
        entry.after === undefined ? null : JSON.stringify(entry.after),
        entry.outcome,
      )
  }

  auditLog(): Array<AuditEntry & {id: number; at: string}> {
    const rows = this.db.prepare('SELECT id, at, action, target, before_json, after_json, outcome FROM audit_log ORDER BY id').all() as Array<{
      id: number
      at: string
      action: string
      target: string
      before_json: string | null
      after_json: string | null
      outcome: AuditEntry['outcome']
    }>
    return rows.map((r) => ({
      id: r.id,
      at: r.at,
      action: r.action,
      target: r.target,
      before: r.before_json === null ? undefined : JSON.parse(r.before_json),
      after: r.after_json === null ? undefined : JSON.parse(r.after_json),
      outcome: r.outcome,
    }))
  }

  getSetting<T>(key: string): T | undefined {
    const row = this.db.prepare('SELECT value_json FROM settings WHERE key = ?').get(key) as {value_json: string} | undefined
    return row ? (JSON.parse(row.value_json) as T) : undefined
  }

  setSetting(key: string, value: unknown): void {
    this.db.prepare('INSERT INTO settings (key, value_json) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value_json = excluded.value_json').run(key, JSON.stringify(value))
  }

  close(): void {
    this.db.close()
  }
}
