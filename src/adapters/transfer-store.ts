import type Database from 'better-sqlite3'

import type {ImportedHostKey} from '../core/host-key-import.js'
import type {KeyAcceptance} from '../core/transfer-rules.js'
import type {SqliteStateStore} from './state.js'

export interface RecordedUser {
  serverId: string
  userName: string
  legacyName: string
  status: 'applied' | 'failed' | 'deleted'
  error?: string
  updatedAt: string
}

export type Acceptance = 'dead-keys' | 'key-options'

/**
 * What users and host keys import remembers (schema versions 4 and 7): the engineer's renames, key exclusions and accepted risks, the
 * outcome per Transfer user, the key ids it imported and the host keys it imported. Public data only: no private
 * key, passphrase or password ever goes here.
 */
export class TransferStore {
  private readonly db: Database.Database

  constructor(state: SqliteStateStore) {
    this.db = state.db
  }

  renames(): Record<string, string> {
    const rows = this.db.prepare('SELECT legacy_name, user_name FROM transfer_user_renames ORDER BY legacy_name').all() as Array<{legacy_name: string; user_name: string}>
    return Object.fromEntries(rows.map((r) => [r.legacy_name, r.user_name]))
  }

  /** Remembers (or, with the legacy name itself, forgets) a rename. */
  setRename(legacyName: string, userName: string): void {
    if (userName === legacyName) {
      this.db.prepare('DELETE FROM transfer_user_renames WHERE legacy_name = ?').run(legacyName)
      return
    }
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM transfer_user_renames WHERE user_name = ? AND legacy_name != ?').run(userName, legacyName)
      this.db
        .prepare('INSERT INTO transfer_user_renames (legacy_name, user_name, renamed_at) VALUES (?, ?, ?) ON CONFLICT(legacy_name) DO UPDATE SET user_name = excluded.user_name, renamed_at = excluded.renamed_at')
        .run(legacyName, userName, new Date().toISOString())
    })()
  }

  excludedKeys(): Record<string, string[]> {
    const out: Record<string, string[]> = {}
    for (const r of this.db.prepare('SELECT legacy_name, fingerprint FROM transfer_key_exclusions ORDER BY legacy_name, fingerprint').all() as Array<{legacy_name: string; fingerprint: string}>) {
      ;(out[r.legacy_name] ??= []).push(r.fingerprint)
    }
    return out
  }

  /** Replaces the excluded keys of one legacy user. */
  setExcludedKeys(legacyName: string, fingerprints: string[]): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM transfer_key_exclusions WHERE legacy_name = ?').run(legacyName)
      const stmt = this.db.prepare('INSERT INTO transfer_key_exclusions (legacy_name, fingerprint, excluded_at) VALUES (?, ?, ?)')
      for (const fp of new Set(fingerprints)) stmt.run(legacyName, fp, new Date().toISOString())
    })()
  }

  /** What the operator accepted per legacy user (users import --import-dead-keys, --accept-key-options), and when. */
  acceptances(): Record<string, KeyAcceptance & {at: string}> {
    const out: Record<string, KeyAcceptance & {at: string}> = {}
    for (const r of this.db.prepare('SELECT legacy_name, what, accepted_at FROM transfer_user_acceptances ORDER BY legacy_name, what').all() as Array<{legacy_name: string; what: Acceptance; accepted_at: string}>) {
      const a = (out[r.legacy_name] ??= {at: r.accepted_at})
      if (r.what === 'dead-keys') a.deadKeys = true
      else a.keyOptions = true
      if (r.accepted_at > a.at) a.at = r.accepted_at
    }
    return out
  }

  /** Remembers an acceptance for a legacy user; true when it is new. */
  accept(legacyName: string, what: Acceptance): boolean {
    return this.db.prepare('INSERT OR IGNORE INTO transfer_user_acceptances (legacy_name, what, accepted_at) VALUES (?, ?, ?)').run(legacyName, what, new Date().toISOString()).changes > 0
  }

  recordUser(serverId: string, userName: string, legacyName: string, status: RecordedUser['status'], error?: string): void {
    this.db
      .prepare(
        `INSERT INTO transfer_users (server_id, user_name, legacy_name, status, error, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(server_id, user_name) DO UPDATE SET legacy_name = excluded.legacy_name, status = excluded.status, error = excluded.error, updated_at = excluded.updated_at`,
      )
      .run(serverId, userName, legacyName, status, error ?? null, new Date().toISOString())
  }

  users(serverId: string): RecordedUser[] {
    const rows = this.db.prepare('SELECT * FROM transfer_users WHERE server_id = ? ORDER BY user_name').all(serverId) as Array<{
      server_id: string
      user_name: string
      legacy_name: string
      status: RecordedUser['status']
      error: string | null
      updated_at: string
    }>
    return rows.map((r) => ({serverId: r.server_id, userName: r.user_name, legacyName: r.legacy_name, status: r.status, error: r.error ?? undefined, updatedAt: r.updated_at}))
  }

  recordKey(serverId: string, userName: string, fingerprint: string, sshPublicKeyId: string): void {
    this.db
      .prepare('INSERT OR REPLACE INTO transfer_user_keys (server_id, user_name, fingerprint, ssh_public_key_id, imported_at) VALUES (?, ?, ?, ?, ?)')
      .run(serverId, userName, fingerprint, sshPublicKeyId, new Date().toISOString())
  }

  forgetKey(serverId: string, userName: string, fingerprint: string): void {
    this.db.prepare('DELETE FROM transfer_user_keys WHERE server_id = ? AND user_name = ? AND fingerprint = ?').run(serverId, userName, fingerprint)
  }

  /** Fingerprints of the keys sftp-cutover imported for a user. */
  importedKeys(serverId: string, userName: string): string[] {
    return (this.db.prepare('SELECT fingerprint FROM transfer_user_keys WHERE server_id = ? AND user_name = ? ORDER BY fingerprint').all(serverId, userName) as Array<{fingerprint: string}>).map(
      (r) => r.fingerprint,
    )
  }

  recordHostKey(serverId: string, key: ImportedHostKey): void {
    this.db
      .prepare('INSERT OR REPLACE INTO transfer_host_keys (server_id, host_key_id, type, fingerprint, imported_at) VALUES (?, ?, ?, ?, ?)')
      .run(serverId, key.hostKeyId, key.type, key.fingerprint, new Date().toISOString())
  }

  forgetHostKey(serverId: string, hostKeyId: string): void {
    this.db.prepare('DELETE FROM transfer_host_keys WHERE server_id = ? AND host_key_id = ?').run(serverId, hostKeyId)
  }

  hostKeys(serverId: string): ImportedHostKey[] {
    return (this.db.prepare('SELECT host_key_id, type, fingerprint FROM transfer_host_keys WHERE server_id = ? ORDER BY type').all(serverId) as Array<{
      host_key_id: string
      type: string
      fingerprint: string
    }>).map((r) => ({hostKeyId: r.host_key_id, type: r.type, fingerprint: r.fingerprint}))
  }
}
