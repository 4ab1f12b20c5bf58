import {readFile} from 'node:fs/promises'

import {TransferStore} from '../adapters/transfer-store.js'
import {OperationNotAvailable, type TransferHostKeys} from '../adapters/transfer-users.js'
import type {StateStore} from '../adapters/state.js'
import type {Config} from '../core/config.js'
import {errorMessage, usageError} from '../core/errors.js'
import {
  type HostKeySummary,
  type HostKeyWarning,
  type HostPrivateKey,
  parseHostPrivateKey,
  planHostKeys,
  sameFingerprint,
  type ServerHostKey,
  summarize,
} from '../core/host-key-import.js'
import type {HostKey} from '../core/inventory-model.js'
import {describeServerOrFail, latestInventory, requireServerId, sqliteState} from './users.js'

export interface HostKeysOptions {
  keyFiles: string[]
  /** NAME of the environment variable holding the passphrase of encrypted keys */
  passphraseEnv?: string
  dryRun: boolean
  /** delete older keys of the same type after the import, so the imported ones are active */
  replace: boolean
}

export interface HostKeysDeps {
  config: Config
  state: StateStore
  transfer: TransferHostKeys
  env: NodeJS.ProcessEnv
  /** asks for a passphrase on a terminal; absent when prompting is off */
  askSecret?: (message: string) => Promise<string>
  log: (msg: string, detail?: Record<string, unknown>) => void
  readKeyFile?: (path: string) => Promise<Buffer>
}

export interface HostKeyOutcome {
  source: string
  type: string
  bits?: number
  /** SHA256 fingerprint of the key in the file */
  fingerprint?: string
  /** the legacy server's key it matches (inventory) */
  legacyFingerprint?: string
  action: 'import' | 'unchanged' | 'refuse'
  outcome: 'imported' | 'unchanged' | 'refused' | 'failed' | 'would import'
  reason?: string
  hostKeyId?: string
  /** the fingerprint Transfer lists for the key after the import (ListHostKeys), when available */
  transferFingerprint?: string
  /** whether it is the key Transfer presents for its type (the oldest of the type); 'unknown' without ListHostKeys */
  active?: boolean | 'unknown'
}

export interface HostKeysResult {
  serverId: string
  dryRun: boolean
  legacy: HostKey[]
  keys: HostKeyOutcome[]
  deleted: Array<{hostKeyId: string; type?: string; fingerprint?: string; outcome: 'deleted' | 'failed' | 'would delete'; error?: string}>
  warnings: HostKeyWarning[]
  /** what makes the run exit 3 */
  problems: string[]
  /** an AWS call failed: exit 1 */
  failed: boolean
}

async function passphraseFor(file: string, opts: HostKeysOptions, deps: HostKeysDeps): Promise<string> {
  if (opts.passphraseEnv) {
    const value = deps.env[opts.passphraseEnv]
    if (value) return value
    throw usageError(`${file} is encrypted and the environment variable ${opts.passphraseEnv} (named by --passphrase-env) is empty or not set`, [
      `Export ${opts.passphraseEnv} with the key's passphrase before running.`,
    ], 'PASSPHRASE_MISSING')
  }
  if (deps.askSecret) return deps.askSecret(`Passphrase for ${file}`)
  throw usageError(`${file} is encrypted, and prompting is off (no terminal, --no-prompt or --json)`, [
    'Pass --passphrase-env NAME and put the passphrase in that environment variable.',
  ], 'PROMPT_NEEDED')
}

async function loadKey(file: string, opts: HostKeysOptions, deps: HostKeysDeps): Promise<{key?: HostPrivateKey; refused?: HostKeyOutcome}> {
  let buf: Buffer
  try {
    buf = await (deps.readKeyFile ?? readFile)(file)
  } catch (err) {
    throw usageError(`cannot read --key-file ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`, ['Check the path and that this user may read it.'], 'KEY_FILE_UNREADABLE')
  }
  try {
    const text = buf.toString('utf8')
    let parsed = parseHostPrivateKey(text, file)
    if (!parsed.ok && parsed.reason === 'passphrase-needed') parsed = parseHostPrivateKey(text, file, await passphraseFor(file, opts, deps))
    if (parsed.ok) return {key: parsed.key}
    return {refused: {source: file, type: 'unknown', action: 'refuse', outcome: 'refused', reason: `${file}: ${parsed.message}`}}
  } finally {
    buf.fill(0)
  }
}

/**
 * hostkeys import: reads the legacy server's private host keys, checks each against the public host keys inventory
 * recorded from the live server, and imports them into the Transfer server. The private keys are read once, kept
 * in memory for the ImportHostKey calls and never stored, logged or printed.
 */
export async function runHostKeysImport(deps: HostKeysDeps, opts: HostKeysOptions): Promise<HostKeysResult> {
  const serverId = requireServerId(deps.config)
  if (opts.keyFiles.length === 0) throw usageError('no --key-file given', ['Pass --key-file for each private host key of the legacy server (e.g. copies of /etc/ssh/ssh_host_*_key).'])
  const inv = latestInventory(deps.state)
  const legacy = inv.store.hostKeys(inv.runId)
  if (legacy.length === 0) {
    throw usageError('the last inventory recorded no host keys of the legacy server, so the keys cannot be checked', ['Run sftp-cutover inventory against the live server first.'], 'NO_HOST_KEYS')
  }
  const store = new TransferStore(sqliteState(deps.state))
  await describeServerOrFail(deps.transfer)

  const bodies = new Map<string, string>()
  const given: HostKeySummary[] = []
  const refusedFiles: HostKeyOutcome[] = []
  for (const file of opts.keyFiles) {
    const {key, refused} = await loadKey(file, opts, deps)
    if (refused) refusedFiles.push(refused)
    if (key) {
      bodies.set(key.fingerprint, key.body)
      given.push(summarize(key))
    }
  }

  try {
    const list = async (): Promise<ServerHostKey[] | undefined> => {
      try {
        return await deps.transfer.listHostKeys()
      } catch (err) {
        if (err instanceof OperationNotAvailable) return undefined
        throw err
      }
    }
    const server = await list()
    const plan = planHostKeys({serverId, legacy, given, server, imported: store.hostKeys(serverId), replace: opts.replace})
    deps.log('hostkeys plan', {serverId, items: plan.items.map((i) => ({type: i.key.type, fingerprint: i.key.fingerprint, action: i.action})), warnings: plan.warnings.map((w) => w.code)})

    const keys: HostKeyOutcome[] = [
      ...refusedFiles,
      ...plan.items.map((i): HostKeyOutcome => ({
        source: i.key.source,
        type: i.key.type,
        bits: i.key.bits,
        fingerprint: i.key.fingerprint,
        legacyFingerprint: i.legacy?.fingerprint,
        action: i.action,
        outcome: i.action === 'refuse' ? 'refused' : i.action === 'unchanged' ? 'unchanged' : opts.dryRun ? 'would import' : 'imported',
        reason: i.reason,
        hostKeyId: i.hostKeyId,
      })),
    ]
    const deleted: HostKeysResult['deleted'] = plan.deletes.map((d) => ({hostKeyId: d.id, type: d.type, fingerprint: d.fingerprint, outcome: 'would delete' as const}))
    let failed = false
    const target = `transfer:${serverId}/host-keys`

    if (opts.dryRun) {
      deps.state.audit({action: 'hostkeys.import', target, after: {keys: keys.map((k) => ({type: k.type, fingerprint: k.fingerprint, outcome: k.outcome}))}, outcome: 'dry-run'})
    } else {
      for (const k of keys.filter((k) => k.action === 'import')) {
        const description = `sftp-cutover: legacy ${inv.host} ${k.type}`.slice(0, 200)
        const after = {type: k.type, fingerprint: k.fingerprint, source: k.source}
        try {
          k.hostKeyId = await deps.transfer.importHostKey(bodies.get(k.fingerprint!)!, description)
          store.recordHostKey(serverId, {hostKeyId: k.hostKeyId, type: k.type, fingerprint: k.fingerprint!})
          deps.state.audit({action: 'hostkeys.import', target, after: {...after, hostKeyId: k.hostKeyId}, outcome: 'ok'})
        } catch (err) {
          failed = true
          k.outcome = 'failed'
          k.reason = err instanceof OperationNotAvailable ? `${err.message} (an emulator?): the key was not imported` : errorMessage(err)
          deps.state.audit({action: 'hostkeys.import', target, after: {...after, error: k.reason}, outcome: 'failed'})
          deps.log('ImportHostKey failed', {type: k.type, fingerprint: k.fingerprint, error: k.reason})
        }
      }
      // --replace: only once every key of that type is in, delete the older ones.
      for (const d of deleted) {
        if (keys.some((k) => k.type === d.type && k.outcome === 'failed')) continue
        try {
          await deps.transfer.deleteHostKey(d.hostKeyId)
          store.forgetHostKey(serverId, d.hostKeyId)
          d.outcome = 'deleted'
          deps.state.audit({action: 'hostkeys.delete', target, before: {hostKeyId: d.hostKeyId, type: d.type, fingerprint: d.fingerprint}, outcome: 'ok'})
        } catch (err) {
          failed = true
          d.outcome = 'failed'
          d.error = errorMessage(err)
          deps.state.audit({action: 'hostkeys.delete', target, before: {hostKeyId: d.hostKeyId, type: d.type}, after: {error: d.error}, outcome: 'failed'})
        }
      }
    }

    // The resulting fingerprints and which key is active per type, as Transfer now lists them.
    const after = opts.dryRun ? server : await list()
    const md5Of = new Map(given.map((g) => [g.fingerprint, g.md5]))
    for (const k of keys) {
      if (k.action === 'refuse') continue
      if (k.outcome === 'would import') {
        // After the import it is the newest key of its type: active only when no older one stays (or --replace).
        k.active = after ? !plan.warnings.some((w) => w.code === 'older-key-active' && w.type === k.type) : 'unknown'
        continue
      }
      if (!after) {
        k.active = 'unknown'
        continue
      }
      const listed = after.find((s) => (k.hostKeyId && s.id === k.hostKeyId) || (k.fingerprint && sameFingerprint(s.fingerprint, {fingerprint: k.fingerprint, md5: md5Of.get(k.fingerprint) ?? '-'})))
      if (listed) {
        k.hostKeyId ??= listed.id
        k.transferFingerprint = listed.fingerprint
      }
      const sameType = after.filter((s) => s.type === k.type && s.dateImported).sort((a, b) => a.dateImported!.localeCompare(b.dateImported!))
      k.active = listed ? sameType[0]?.id === listed.id : false
    }
    const problems = [...refusedFiles.map((r) => `refused: ${r.reason}`), ...plan.problems, ...keys.filter((k) => k.outcome === 'failed').map((k) => `${k.type}: import failed: ${k.reason}`)]
    return {serverId, dryRun: opts.dryRun, legacy, keys, deleted, warnings: plan.warnings, problems, failed}
  } finally {
    bodies.clear()
  }
}
