import {readdir, readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {InventoryStore} from '../adapters/inventory-store.js'
import {SqliteStateStore, type StateStore} from '../adapters/state.js'
import {TransferStore} from '../adapters/transfer-store.js'
import {type HomeFolders, OperationNotAvailable, type TransferServerInfo, type TransferUsers} from '../adapters/transfer-users.js'
import type {Config} from '../core/config.js'
import {CliError, ExitCode, errorMessage, usageError} from '../core/errors.js'
import type {Account} from '../core/inventory-model.js'
import {parseAuthorizedKeys} from '../core/ssh-keys.js'
import type {KeyAcceptance} from '../core/transfer-rules.js'
import {refuseOnIncompleteAccounts} from './inventory-guard.js'
import {
  type ActualUser,
  desiredUsers,
  type HomeMode,
  planUsers,
  renameProblem,
  type UnknownUsers,
  type UserAction,
  type UserPlan,
  type UsersPlanBody,
} from '../core/users-plan.js'

export interface UsersOptions {
  /** legacy (or Transfer) names to import; undefined = all */
  only?: string[]
  /** legacy name -> Transfer name, from --rename; added to the remembered renames */
  renames?: Record<string, string>
  /** legacy name -> fingerprints not to import, replacing the remembered exclusions of those users (the wizard) */
  excludedKeys?: Record<string, string[]>
  allowNoKeys: boolean
  /** undefined: the mode of the last import, else logical */
  homeMode?: HomeMode
  /** legacy (or Transfer) names whose keys sshd ignores today are imported anyway; added to the remembered ones */
  importDeadKeys?: string[]
  /** legacy (or Transfer) names whose keys are imported without their restricting options; added to the remembered ones */
  acceptKeyOptions?: string[]
  prune: boolean
  /** users import --keys-dir: <user>.pub files holding the SSH keys of FTP users (they have none on the box) */
  keysDir?: string
  /** legacy name -> key file, entered in the wizard for FTP users without a key */
  givenKeys?: Record<string, KeyFile>
}

/** SSH public keys given for an FTP user (a <user>.pub file, or typed in the wizard): public, so kept in state. */
export interface KeyFile {
  /** where they came from: the file's path, or "users import --interactive" */
  file: string
  text: string
}

export interface UsersDeps {
  config: Config
  state: StateStore
  transfer: TransferUsers
  homes: HomeFolders
  log: (msg: string, detail?: Record<string, unknown>) => void
}

export interface UsersPlan extends UsersPlanBody {
  serverId: string
  bucket: string
  prefix: string
  homeMode: HomeMode
  homeModeFrom: 'flag' | 'last import' | 'default'
  inventory: {runId: number; host: string; finishedAt?: string}
  server: {domain: 'S3' | 'EFS'; identityProviderType?: string}
  /** every rename in effect (remembered and given now): legacy name -> Transfer name */
  renames: Record<string, string>
  /** every acceptance in effect (remembered and given now): legacy name -> what was accepted */
  accepted: Record<string, KeyAcceptance>
  /** FTP users' keys in effect (remembered, then --keys-dir, then the wizard): legacy name -> key file */
  givenKeys: Record<string, KeyFile>
}

export type UserOutcomeKind = 'created' | 'updated' | 'unchanged' | 'skipped' | 'deleted' | 'failed'

export interface UserOutcome {
  legacyName?: string
  userName: string
  action: UserAction | 'delete'
  outcome: UserOutcomeKind
  keysImported: string[]
  keysRemoved: string[]
  errors: string[]
}

export interface UsersImportResult {
  dryRun: boolean
  plan: UsersPlan
  outcomes: UserOutcome[]
  summary: Record<UserOutcomeKind, number>
  /** what makes the run exit 3 */
  problems: string[]
  /** an AWS call failed: exit 1 */
  failed: boolean
}

/** Asks the engineer who and what to import, and to confirm the plan (src/ui/users-wizard.ts). */
export interface UsersWizard {
  choose(plan: UsersPlan, check: {renameProblem(legacyName: string, newName: string, renames: Record<string, string>): string | undefined}): Promise<WizardChoices>
  /** true to apply; not asked on a dry run */
  confirm(plan: UsersPlan): Promise<boolean>
  /** shows the plan on a dry run */
  show(plan: UsersPlan): void
}

export interface WizardChoices {
  only: string[]
  renames: Record<string, string>
  excludedKeys: Record<string, string[]>
  /** keys entered for FTP users that had none */
  givenKeys?: Record<string, KeyFile>
}

const HOME_MODE_SETTING = 'users.homeMode'
const GIVEN_KEYS_SETTING = 'users.ftpKeys'

/** The <user>.pub files of --keys-dir, by legacy name (a Transfer name is mapped back); only FTP users take keys this way. */
async function readKeysDir(dir: string, accounts: Account[], renames: Record<string, string>): Promise<Record<string, KeyFile>> {
  const names = await readdir(dir).catch((err: unknown) => {
    throw usageError(`cannot read --keys-dir ${dir}: ${errorMessage(err)}`, ['Pass a directory holding one <user>.pub file per FTP user.'], 'KEYS_DIR_UNREADABLE')
  })
  const files = names.filter((n) => n.endsWith('.pub')).sort()
  if (files.length === 0) throw usageError(`--keys-dir ${dir} holds no <user>.pub file`, ['Put each FTP user\'s OpenSSH public key in <user>.pub there (several keys, one per line).'], 'KEYS_DIR_EMPTY')
  const byName = new Map<string, Account>()
  for (const a of accounts) {
    byName.set(a.name, a)
    byName.set(renames[a.name] ?? a.name, a)
  }
  const out: Record<string, KeyFile> = {}
  const problems: string[] = []
  for (const f of files) {
    const account = byName.get(f.slice(0, -'.pub'.length))
    if (!account) problems.push(`${f}: no user ${f.slice(0, -4)} in the inventory`)
    else if (!account.ftp) problems.push(`${f}: ${account.name} logs in over SFTP; its keys come from the legacy box (add the key there and run sftp-cutover inventory again)`)
    else out[account.name] = {file: join(dir, f), text: await readFile(join(dir, f), 'utf8')}
  }
  if (problems.length > 0) throw usageError(`--keys-dir ${dir}:\n  ${problems.join('\n  ')}`, ['Keep only <user>.pub files of FTP users of the last inventory there.'], 'KEYS_DIR_INVALID')
  return out
}

/** The accounts with the keys given for FTP users added to what the legacy box had. */
function withGivenKeys(accounts: Account[], given: Record<string, KeyFile>): Account[] {
  return accounts.map((a) => (a.ftp && given[a.name] ? {...a, keys: [...a.keys, ...parseAuthorizedKeys(given[a.name].text, given[a.name].file)]} : a))
}

/** The state database as SQLite (the tables of this module live in it). */
export function sqliteState(state: StateStore): SqliteStateStore {
  if (state instanceof SqliteStateStore) return state
  throw new Error('users and host keys need the SQLite state store')
}

export function requireServerId(config: Config): string {
  const id = config.target.transferServerId
  if (!id) {
    throw usageError('target.transferServerId is not set: which Transfer Family server should get the users and host keys?', [
      'Set target.transferServerId in sftp-cutover.yaml (or SFTP_CUTOVER_TARGET_TRANSFER_SERVER_ID); sftp-cutover init --from-stack fills it.',
    ], 'CONFIG_MISSING')
  }
  return id
}

export async function describeServerOrFail(transfer: {describeServer(): Promise<TransferServerInfo>; serverId: string}): Promise<TransferServerInfo> {
  try {
    return await transfer.describeServer()
  } catch (err) {
    const name = (err as Error).name
    if (name === 'ResourceNotFoundException' || name === 'ServerNotFound') {
      throw usageError(`the Transfer server ${transfer.serverId} does not exist in this account and region`, ['Check target.transferServerId, target.region and the AWS profile.'], 'SERVER_NOT_FOUND')
    }
    throw err
  }
}

export function latestInventory(state: StateStore): {runId: number; host: string; finishedAt?: string; accounts: Account[]; store: InventoryStore} {
  const store = new InventoryStore(sqliteState(state))
  const run = store.latestCompleteRun()
  if (!run) throw usageError('no complete inventory in this project yet', ['Run sftp-cutover inventory first.'], 'NO_INVENTORY')
  return {runId: run.id, host: run.host, finishedAt: run.finishedAt, accounts: store.accounts(run.id), store}
}

/** Maps --only (or `flag`) names, legacy or Transfer names, to legacy names; unknown names are a usage error. */
function resolveOnly(only: string[] | undefined, accounts: Account[], renames: Record<string, string>, flag = '--only'): string[] | undefined {
  if (!only) return undefined
  const byName = new Map<string, string>()
  for (const a of accounts) {
    byName.set(a.name, a.name)
    byName.set(renames[a.name] ?? a.name, a.name)
  }
  const unknown = only.filter((n) => !byName.has(n))
  if (unknown.length > 0) {
    throw usageError(`${flag} names users the inventory does not know: ${unknown.join(', ')}`, [`Known users: ${accounts.map((a) => a.name).join(', ') || '(none)'}.`], 'UNKNOWN_USER')
  }
  return [...new Set(only.map((n) => byName.get(n)!))]
}

function checkRenames(given: Record<string, string>, accounts: Account[], all: Record<string, string>): void {
  const problems: string[] = []
  for (const [legacy, name] of Object.entries(given)) {
    if (!accounts.some((a) => a.name === legacy)) {
      problems.push(`${legacy}: no such user in the inventory`)
      continue
    }
    const p = renameProblem(legacy, name, accounts, all)
    if (p) problems.push(`${legacy}=${name}: ${p}`)
  }
  if (problems.length > 0) throw usageError(`invalid --rename:\n  ${problems.join('\n  ')}`, ['Pass --rename <legacy name>=<new Transfer name>.'], 'RENAME_INVALID')
}

/** Reads inventory, state and the Transfer server, and plans the import. Changes nothing. */
export async function planUsersImport(deps: UsersDeps, opts: UsersOptions): Promise<UsersPlan> {
  const {config, transfer} = deps
  const serverId = requireServerId(config)
  if (!config.target.userRoleArn) {
    throw usageError('target.userRoleArn is not set: Transfer users need the IAM role they assume to reach the bucket', [
      'Set target.userRoleArn in sftp-cutover.yaml (or SFTP_CUTOVER_TARGET_USER_ROLE_ARN); sftp-cutover init --from-stack fills it.',
    ], 'CONFIG_MISSING')
  }
  const store = new TransferStore(sqliteState(deps.state))
  const inv = latestInventory(deps.state)
  if (inv.accounts.length === 0) {
    throw usageError('the last inventory recorded no accounts, so there are no users to import', [
      'Run sftp-cutover inventory with a login that may run commands (ideally root), or sftp-cutover inventory --from-bundle FILE, or sftp-cutover inventory --users-csv FILE (its columns: sftp-cutover inventory --help).',
    ], 'NO_ACCOUNTS')
  }
  const server = await describeServerOrFail(transfer)
  if (server.identityProviderType && server.identityProviderType !== 'SERVICE_MANAGED') {
    throw usageError(`the Transfer server ${serverId} uses the ${server.identityProviderType} identity provider; users import creates service-managed users only`, [
      'Point target.transferServerId at a server with service-managed users, or create the users in your identity provider.',
    ], 'NOT_SERVICE_MANAGED')
  }

  const remembered = store.renames()
  const renames = {...remembered, ...(opts.renames ?? {})}
  if (opts.renames) checkRenames(opts.renames, inv.accounts, renames)
  const only = resolveOnly(opts.only, inv.accounts, renames)
  const accepted = acceptancesInEffect(store, inv.accounts, renames, opts)
  const givenKeys = {
    ...(deps.state.getSetting<Record<string, KeyFile>>(GIVEN_KEYS_SETTING) ?? {}),
    ...(opts.keysDir ? await readKeysDir(opts.keysDir, inv.accounts, renames) : {}),
    ...(opts.givenKeys ?? {}),
  }
  const rememberedMode = deps.state.getSetting<HomeMode>(HOME_MODE_SETTING)
  const homeMode: HomeMode = opts.homeMode ?? rememberedMode ?? 'logical'
  const homeModeFrom = opts.homeMode ? 'flag' : rememberedMode ? 'last import' : 'default'

  const desired = desiredUsers({
    accounts: withGivenKeys(inv.accounts, givenKeys),
    inventoryFindings: inv.store.findings(inv.runId),
    sourceHost: inv.host,
    bucket: config.target.bucket,
    prefix: config.target.prefix,
    roleArn: config.target.userRoleArn,
    kmsKeyId: config.target.kmsKeyId,
    domain: server.domain,
    homeMode,
    only,
    renames,
    excludedKeys: {...store.excludedKeys(), ...(opts.excludedKeys ?? {})},
    accepted,
    allowNoKeys: opts.allowNoKeys,
  })

  // What Transfer and S3 hold for the users in scope. Names Transfer would reject cannot exist there.
  const actual = new Map<string, ActualUser | undefined>()
  const placeholders = new Map<string, boolean>()
  const looked = desired.filter((d) => d.selected && !d.blockers.some((b) => b.rule.startsWith('user.name') || b.rule === 'user.rename-invalid'))
  await inBatches(looked, 4, async (d) => {
    actual.set(d.userName, await transfer.describeUser(d.userName))
    if (d.placeholderKey) placeholders.set(d.placeholderKey, await deps.homes.exists(d.placeholderKey))
  })

  const known = new Set(desired.map((d) => d.userName))
  const unknown = await findUnknownUsers(deps, store, serverId, known, opts.prune)
  const body = planUsers(desired, actual, placeholders, unknown)
  deps.log('users plan', {serverId, summary: body.summary, unknown: unknown.names.length})
  return {
    serverId,
    bucket: config.target.bucket,
    prefix: config.target.prefix,
    homeMode,
    homeModeFrom,
    inventory: {runId: inv.runId, host: inv.host, finishedAt: inv.finishedAt},
    server: {domain: server.domain, identityProviderType: server.identityProviderType},
    renames,
    accepted,
    givenKeys,
    ...body,
  }
}

/** The remembered acceptances plus those given now (--import-dead-keys, --accept-key-options). */
function acceptancesInEffect(store: TransferStore, accounts: Account[], renames: Record<string, string>, opts: UsersOptions): Record<string, KeyAcceptance> {
  const out: Record<string, KeyAcceptance> = {}
  for (const [legacy, a] of Object.entries(store.acceptances())) out[legacy] = {deadKeys: a.deadKeys, keyOptions: a.keyOptions}
  for (const name of resolveOnly(opts.importDeadKeys, accounts, renames, '--import-dead-keys') ?? []) out[name] = {...out[name], deadKeys: true}
  for (const name of resolveOnly(opts.acceptKeyOptions, accounts, renames, '--accept-key-options') ?? []) out[name] = {...out[name], keyOptions: true}
  return out
}

/** Users on the server the inventory does not know: ListUsers, or (where it is missing) the users imported before. */
async function findUnknownUsers(deps: UsersDeps, store: TransferStore, serverId: string, known: Set<string>, prune: boolean): Promise<UnknownUsers> {
  const action = prune ? 'delete' : 'report'
  try {
    const names = await deps.transfer.listUserNames()
    return {names: names.filter((n) => !known.has(n)).sort(), source: 'ListUsers', action}
  } catch (err) {
    if (!(err instanceof OperationNotAvailable)) throw err
    const candidates = store.users(serverId).filter((u) => u.status !== 'deleted' && !known.has(u.userName))
    const names: string[] = []
    for (const u of candidates) if (await deps.transfer.describeUser(u.userName)) names.push(u.userName)
    return {
      names: names.sort(),
      source: 'state',
      note: 'ListUsers is not available at this endpoint: only users that sftp-cutover imported earlier can be found; users created some other way are not listed',
      action,
    }
  }
}

async function inBatches<T>(items: T[], size: number, run: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(run))
}

function describeError(err: unknown): string {
  if (err instanceof OperationNotAvailable) return `${err.message} (an emulator?); this change cannot be made here`
  const e = err as Error
  return e.name && e.name !== 'Error' && !errorMessage(e).startsWith(e.name) ? `${e.name}: ${errorMessage(e)}` : errorMessage(e)
}

function userTarget(serverId: string, userName: string): string {
  return `transfer:${serverId}/user/${userName}`
}

/** Carries out one user's part of the plan; every change is audited and recorded, failures do not stop the others. */
async function applyUser(deps: UsersDeps, store: TransferStore, plan: UsersPlan, u: UserPlan): Promise<UserOutcome> {
  const {transfer, state} = deps
  const out: UserOutcome = {legacyName: u.legacyName, userName: u.userName, action: u.action, outcome: u.action === 'create' ? 'created' : 'updated', keysImported: [], keysRemoved: [], errors: []}
  const target = userTarget(plan.serverId, u.userName)
  const step = async (action: string, what: string, before: unknown, after: unknown, run: () => Promise<void>): Promise<boolean> => {
    try {
      await run()
      state.audit({action, target: what, before, after, outcome: 'ok'})
      return true
    } catch (err) {
      const message = describeError(err)
      out.errors.push(`${action}: ${message}`)
      state.audit({action, target: what, before, after: {...(after as object), error: message}, outcome: 'failed'})
      deps.log(`${action} failed`, {user: u.userName, error: message})
      return false
    }
  }
  const s3Target = (key: string) => `s3://${plan.bucket}/${key}`

  if (u.placeholder && !u.placeholder.exists) {
    const key = u.placeholder.key
    await step('users.home-placeholder', s3Target(key), undefined, {key}, () => deps.homes.create(key))
  }
  if (u.action === 'create') {
    const created = await step('users.create', target, undefined, {...u.spec, legacyName: u.legacyName}, () => transfer.createUser(u.spec))
    if (!created) {
      store.recordUser(plan.serverId, u.userName, u.legacyName, 'failed', out.errors.join('; '))
      return {...out, outcome: 'failed'}
    }
  } else {
    const attrs = u.changes.filter((c) => c.field !== 'Tags' && c.field !== 'HomePlaceholder')
    if (attrs.length > 0) {
      const before = Object.fromEntries(attrs.map((c) => [c.field, c.before]))
      const after = Object.fromEntries(attrs.map((c) => [c.field, c.after]))
      const clearPolicy = attrs.some((c) => c.field === 'Policy') && !u.spec.policy
      await step('users.update', target, before, after, () => transfer.updateUser(u.spec, {clearPolicy}))
    }
    const tags = u.changes.find((c) => c.field === 'Tags')
    if (tags && u.arn) await step('users.tag', target, tags.before, tags.after, () => transfer.tagUser(u.arn!, tags.after as Record<string, string>))
  }
  for (const k of u.keys.import) {
    await step('users.key.import', target, undefined, {type: k.type, fingerprint: k.fingerprint, source: k.source}, async () => {
      const id = await transfer.importSshPublicKey(u.userName, k.body)
      store.recordKey(plan.serverId, u.userName, k.fingerprint, id)
      out.keysImported.push(k.fingerprint)
    })
  }
  for (const k of u.keys.remove) {
    await step('users.key.delete', target, {id: k.id, type: k.type, fingerprint: k.fingerprint}, undefined, async () => {
      await transfer.deleteSshPublicKey(u.userName, k.id)
      if (k.fingerprint) store.forgetKey(plan.serverId, u.userName, k.fingerprint)
      out.keysRemoved.push(k.fingerprint ?? k.id)
    })
  }
  const failed = out.errors.length > 0
  store.recordUser(plan.serverId, u.userName, u.legacyName, failed ? 'failed' : 'applied', failed ? out.errors.join('; ') : undefined)
  return failed ? {...out, outcome: 'failed'} : out
}

/** Carries out a plan. A dry run changes nothing (it records one audit entry saying it ran). */
export async function applyUsersPlan(deps: UsersDeps, plan: UsersPlan, opts: {dryRun: boolean; remember?: {renames: Record<string, string>; excludedKeys: Record<string, string[]>}}): Promise<UsersImportResult> {
  const store = new TransferStore(sqliteState(deps.state))
  const outcomes: UserOutcome[] = []
  if (opts.dryRun) {
    deps.state.audit({action: 'users.import', target: `transfer:${plan.serverId}`, after: {summary: plan.summary}, outcome: 'dry-run'})
    return finish(plan, outcomes, true)
  }
  for (const u of plan.users) {
    if (u.action === 'create' || u.action === 'update') outcomes.push(await applyUser(deps, store, plan, u))
    else outcomes.push({legacyName: u.legacyName, userName: u.userName, action: u.action, outcome: u.action === 'skip' ? 'skipped' : 'unchanged', keysImported: [], keysRemoved: [], errors: []})
  }
  if (plan.unknown.action === 'delete') {
    for (const name of plan.unknown.names) {
      const out: UserOutcome = {userName: name, action: 'delete', outcome: 'deleted', keysImported: [], keysRemoved: [], errors: []}
      try {
        await deps.transfer.deleteUser(name)
        store.recordUser(plan.serverId, name, store.users(plan.serverId).find((r) => r.userName === name)?.legacyName ?? '', 'deleted')
        deps.state.audit({action: 'users.delete', target: userTarget(plan.serverId, name), before: {userName: name}, outcome: 'ok'})
      } catch (err) {
        const message = describeError(err)
        out.outcome = 'failed'
        out.errors.push(`users.delete: ${message}`)
        deps.state.audit({action: 'users.delete', target: userTarget(plan.serverId, name), before: {userName: name}, after: {error: message}, outcome: 'failed'})
      }
      outcomes.push(out)
    }
  }
  const result = finish(plan, outcomes, false)
  rememberChoices(deps, store, plan, outcomes, result.failed, opts.remember)
  deps.state.audit({action: 'users.import', target: `transfer:${plan.serverId}`, after: {summary: result.summary}, outcome: result.failed ? 'failed' : 'ok'})
  return result
}

/**
 * Remembers the engineer's choices once they are on the server. After a failed run nothing global changes (the home
 * mode stays as it was, so the next plan does not switch every user to a mode that never fully applied), nor do
 * key exclusions and acceptances: the next run is asked for them again. The one exception is a rename, which is
 * remembered as soon as the user exists on the server under the new name: forgetting it would make that user
 * "unknown" to the next plan (and --prune would delete it).
 */
function rememberChoices(
  deps: UsersDeps,
  store: TransferStore,
  plan: UsersPlan,
  outcomes: UserOutcome[],
  failed: boolean,
  given?: {renames: Record<string, string>; excludedKeys: Record<string, string[]>},
): void {
  const byLegacy = new Map(outcomes.filter((o) => o.legacyName !== undefined).map((o) => [o.legacyName!, o]))
  // A rename names a user that exists on the server once its CreateUser went through, even if a later step failed.
  const onServer = (legacy: string) => {
    if (plan.users.some((u) => u.legacyName === legacy && u.exists)) return true
    const o = byLegacy.get(legacy)
    return o?.action === 'create' && !o.errors.some((e) => e.startsWith('users.create:'))
  }
  for (const [legacy, name] of Object.entries(given?.renames ?? {})) {
    const before = store.renames()[legacy]
    if ((failed && !onServer(legacy)) || before === name || (before === undefined && name === legacy)) continue
    store.setRename(legacy, name)
    deps.state.audit({action: 'users.rename', target: `legacy:${legacy}`, before: before ?? legacy, after: name, outcome: 'ok'})
  }
  for (const [legacy, fps] of Object.entries(given?.excludedKeys ?? {})) {
    const before = store.excludedKeys()[legacy] ?? []
    if (failed || JSON.stringify([...before].sort()) === JSON.stringify([...fps].sort())) continue
    store.setExcludedKeys(legacy, fps)
    deps.state.audit({action: 'users.exclude-keys', target: `legacy:${legacy}`, before, after: fps, outcome: 'ok'})
  }
  for (const [legacy, a] of Object.entries(plan.accepted)) {
    if (failed) continue
    for (const what of [...(a.deadKeys ? ['dead-keys' as const] : []), ...(a.keyOptions ? ['key-options' as const] : [])]) {
      if (store.accept(legacy, what)) deps.state.audit({action: 'users.accept-risk', target: `legacy:${legacy}`, after: {accepted: what}, outcome: 'ok'})
    }
  }
  // A user's given keys are remembered once its import went through (later plans would otherwise remove them).
  const rememberedKeys = deps.state.getSetting<Record<string, KeyFile>>(GIVEN_KEYS_SETTING) ?? {}
  let keysChanged = false
  for (const [legacy, keys] of Object.entries(plan.givenKeys)) {
    const o = byLegacy.get(legacy)
    if (!o || o.outcome === 'failed' || o.outcome === 'skipped' || JSON.stringify(rememberedKeys[legacy]) === JSON.stringify(keys)) continue
    rememberedKeys[legacy] = keys
    keysChanged = true
    deps.state.audit({action: 'users.ftp-keys', target: `legacy:${legacy}`, after: {from: keys.file}, outcome: 'ok'})
  }
  if (keysChanged) deps.state.setSetting(GIVEN_KEYS_SETTING, rememberedKeys)
  if (!failed) deps.state.setSetting(HOME_MODE_SETTING, plan.homeMode)
}

function finish(plan: UsersPlan, outcomes: UserOutcome[], dryRun: boolean): UsersImportResult {
  const summary: Record<UserOutcomeKind, number> = {created: 0, updated: 0, unchanged: 0, skipped: 0, deleted: 0, failed: 0}
  for (const o of outcomes) summary[o.outcome]++
  const problems = [...plan.problems, ...outcomes.filter((o) => o.outcome === 'failed').map((o) => `${o.userName}: failed: ${o.errors.join('; ')}`)]
  return {dryRun, plan, outcomes, summary, problems, failed: summary.failed > 0}
}

/**
 * users import: plan, then apply. With a wizard, the engineer picks users, renames and keys first, sees the plan and
 * confirms it; nothing is changed (not even the remembered renames) before that.
 */
export async function runUsersImport(deps: UsersDeps, opts: UsersOptions & {dryRun: boolean; wizard?: UsersWizard}): Promise<UsersImportResult> {
  if (opts.prune && opts.only) throw usageError('--prune cannot be combined with --only: pruning looks at every user on the server', ['Run --prune without --only.'])
  if (opts.prune) refuseOnIncompleteAccounts(sqliteState(deps.state), 'users import --prune', deps.config.source)
  if (!opts.wizard) {
    const plan = await planUsersImport(deps, opts)
    return applyUsersPlan(deps, plan, {dryRun: opts.dryRun, remember: {renames: opts.renames ?? {}, excludedKeys: {}}})
  }
  const first = await planUsersImport(deps, {...opts, only: undefined})
  const accounts = latestInventory(deps.state).accounts
  const preselected = resolveOnly(opts.only, accounts, first.renames)
  const choices = await opts.wizard.choose(
    preselected ? {...first, users: first.users.map((u) => ({...u, selected: preselected.includes(u.legacyName)}))} : first,
    {renameProblem: (legacy, name, renames) => renameProblem(legacy, name, accounts, renames)},
  )
  if (choices.only.length === 0) throw new CliError('no users chosen: nothing was changed', {code: 'CANCELLED', exitCode: ExitCode.failure})
  const renames = {...(opts.renames ?? {}), ...choices.renames}
  const plan = await planUsersImport(deps, {...opts, only: choices.only, renames, excludedKeys: choices.excludedKeys, givenKeys: {...opts.givenKeys, ...choices.givenKeys}})
  if (opts.dryRun) {
    opts.wizard.show(plan)
  } else if (!(await opts.wizard.confirm(plan))) {
    throw new CliError('the plan was not confirmed: nothing was changed', {code: 'CANCELLED', exitCode: ExitCode.failure})
  }
  return applyUsersPlan(deps, plan, {dryRun: opts.dryRun, remember: {renames, excludedKeys: choices.excludedKeys}})
}
