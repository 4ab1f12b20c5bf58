import {readFile} from 'node:fs/promises'
import {basename} from 'node:path'

import {type InventoryRun, InventoryStore, type InventorySummary} from '../adapters/inventory-store.js'
import {acceptsAnonymous, type FtpCredentials, FtpSession} from '../adapters/ftp-client.js'
import {openSourcePool} from '../adapters/source-pool.js'
import {SftpPool} from '../adapters/sftp-pool.js'
import {SshFindLister} from '../adapters/ssh-find.js'
import {type AskSecret, probeHostKey, SshError, SshSession} from '../adapters/ssh.js'
import type {SqliteStateStore} from '../adapters/state.js'
import {completeReadingFix, incompleteReadings} from '../core/account-reading.js'
import {accountsFromBundle, parseBundle} from '../core/bundle.js'
import {accountsSshPort, type Config, isFtp} from '../core/config.js'
import {CliError, ExitCode, errorMessage, usageError} from '../core/errors.js'
import {ListingUnavailable} from '../core/find-listing.js'
import {accountFindings, displayPath, fileFinding, hostKeyFindings, hostKeyProbeFinding, isRecent, recentFinding} from '../core/findings.js'
import {sendsHostKeyList} from '../core/host-keys.js'
import type {Account, FileEntry, Finding, HostKey, Severity} from '../core/inventory-model.js'
import {objectKeyBytes} from '../core/key-mapping.js'
import {ftpFindings, type FtpProbe} from '../core/ftp-findings.js'
import {permissionFindings} from '../core/permission-findings.js'
import type {SourcePool} from '../core/source.js'
import {parseHostKeyLine} from '../core/ssh-keys.js'
import {parseUsersCsv} from '../core/users-csv.js'
import {accountsFromFtpFiles, collectScriptAccounts, ftpAccountsOverSsh, type FtpUsersFiles} from './ftp-accounts.js'
import {type WalkEvents, walkRoots, walkRootsWithLister, type WalkRoot} from './walk.js'

export interface InventoryOptions {
  fromBundle?: string
  usersCsv?: string
  /** copies of the FTP server's user files (--ftp-server, --ftp-users-file, ...) */
  ftpUsers?: FtpUsersFiles
  sshdConfig?: string
  includeSystem: boolean
  connections: number
  concurrency: number
  failOn: Severity
  now?: number
  /** find: one GNU find stream per root over SSH exec; sftp: a readdir per directory; auto: find when the login may run it */
  listing?: 'auto' | 'find' | 'sftp'
}

export type AccountsSource = 'online' | 'bundle' | 'csv' | 'ftp-users-file' | 'none'

export interface InventoryChanges {
  since: string
  /** Why users and keys were not compared (this run or the one before read accounts only in part): none is "removed" */
  accountsNotCompared?: string
  users: {added: string[]; removed: string[]}
  keys: {added: string[]; removed: string[]}
  files: {added: number; removed: number; changed: number; examples: Array<{owner: string; path: string; change: string}>}
}

export interface InventoryResult {
  runId: number
  host: string
  accountsSource: AccountsSource
  accounts: Array<{name: string; uid: number; home: string; chroot?: string; sftpRoot: string; keys: number; password: boolean | 'unknown'}>
  hostKeys: HostKey[]
  summary: InventorySummary
  findings: Finding[]
  changes?: InventoryChanges
  /** The readings that failed when accounts were read: set, the run is incomplete for accounts and keys */
  accountsIncomplete?: string[]
  /** How the files were listed, and why not with find when it was not */
  listing: {method: 'find' | 'sftp' | 'ftp'; reason?: string; warnings?: string[]}
  /** True when a finding at or above --fail-on exists (the command then exits 3). */
  failed: boolean
}

export interface InventoryDeps {
  state: SqliteStateStore
  env: NodeJS.ProcessEnv
  askSecret?: AskSecret
  log: (msg: string, detail?: Record<string, unknown>) => void
  /** Files and bytes listed so far, as the walk goes (a walk of millions of files must not look like a hang) */
  progress?: (listed: {files: number; bytes: number}) => void
}

/** Like Promise.all, but waits for every promise to settle before failing, so nothing is left running behind. */
async function settleAll<T extends readonly unknown[]>(promises: readonly [...{[K in keyof T]: Promise<T[K]>}]): Promise<T> {
  const results = await Promise.allSettled(promises)
  const failed = results.find((r) => r.status === 'rejected')
  if (failed) throw (failed as PromiseRejectedResult).reason
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T
}

/**
 * Every host key algorithm an SSH server might offer, one handshake each. An RSA key is probed twice: servers older
 * than OpenSSH 7.2 (those before 6.8 send no hostkeys-00 either) sign only with ssh-rsa; the same key found twice is
 * kept once.
 */
const HOST_KEY_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'ssh-rsa', 'ssh-dss']
const SEVERITY_RANK: Record<Severity, number> = {blocker: 3, warning: 2, info: 1}

/**
 * Every host key of the server. OpenSSH sends them all, proven, after login (hostkeys-00@openssh.com), so the
 * session already open for the accounts has them (when it says it is OpenSSH 6.8 or later; others are not waited for).
 * Other servers get one handshake per algorithm, all at once: a key type the server lacks fails its handshake and is
 * left out; a handshake that fails otherwise becomes a finding (the list may be short). Probed keys are not proven by
 * the server: the probe of the session's own key type must show the key the session verified, or something answers
 * those probes in the server's place.
 */
export async function collectHostKeys(session: SshSession, host: string, port: number): Promise<{keys: HostKey[]; findings: Finding[]}> {
  const offered = sendsHostKeyList(session.info.software) ? await session.hostKeys(3_000) : undefined
  const findings: Finding[] = []
  let lines: string[]
  if (offered?.length) {
    lines = offered.map((blob) => `${blob.subarray(4, 4 + blob.readUInt32BE(0)).toString('latin1')} ${blob.toString('base64')}`)
  } else {
    const probes = await Promise.all(HOST_KEY_ALGORITHMS.map((algorithm) => probeHostKey(host, port, {algorithm, timeoutMs: 10_000}).then((key) => ({algorithm, key}), (err: unknown) => ({algorithm, err}))))
    lines = []
    const verified = session.info.hostKey
    for (const p of probes) {
      if ('key' in p) {
        if (p.key.type === verified.type && p.key.fingerprint !== verified.fingerprint) {
          throw new SshError(
            `${host}:${port} showed the ${p.key.type} host key ${p.key.fingerprint} to a second connection, but ${verified.fingerprint} (the verified one) to the first. Refusing to record host keys.`,
            'HOST_KEY_REJECTED',
            {suggestions: ['Check with the box\'s administrator which is its real host key, and whether something between here and the box answers SSH in its place.']},
          )
        }
        lines.push(`${p.key.type} ${p.key.blob.toString('base64')}`)
      } else if (!/no matching host key format/.test(errorMessage(p.err))) {
        findings.push(hostKeyProbeFinding(p.algorithm, errorMessage(p.err)))
      }
    }
  }
  const keys = new Map<string, HostKey>()
  for (const line of lines) {
    const key = parseHostKeyLine(line)
    keys.set(key.fingerprint, key)
  }
  return {keys: [...keys.values()], findings}
}

interface AccountsRead {
  accounts: Account[]
  source: AccountsSource
  notes: string[]
  /** what the source itself says about the accounts (an FTP server's user file) */
  findings?: Finding[]
}

/** Accounts from the file given (bundle, CSV, the FTP server's user file); undefined when none was given. */
async function offlineAccounts(opts: InventoryOptions, ftp = false): Promise<AccountsRead | undefined> {
  if (opts.fromBundle) {
    const text = await readFile(opts.fromBundle, 'utf8').catch((err: unknown) => {
      throw new CliError(`cannot read the bundle ${opts.fromBundle}: ${errorMessage(err)}`, {exitCode: ExitCode.usage, code: 'BUNDLE_UNREADABLE'})
    })
    const {accounts, errors} = accountsFromBundle(parseBundle(text, opts.fromBundle), {includeSystem: opts.includeSystem, ftp})
    return {accounts, source: 'bundle', notes: errors}
  }
  if (opts.usersCsv) {
    const text = await readFile(opts.usersCsv, 'utf8').catch((err: unknown) => {
      throw new CliError(`cannot read the users CSV ${opts.usersCsv}: ${errorMessage(err)}`, {exitCode: ExitCode.usage, code: 'CSV_UNREADABLE'})
    })
    return {accounts: parseUsersCsv(text, opts.usersCsv).accounts, source: 'csv', notes: []}
  }
  if (opts.ftpUsers) {
    const {accounts, findings} = await accountsFromFtpFiles(opts.ftpUsers, {includeSystem: opts.includeSystem})
    return {accounts, source: 'ftp-users-file', notes: [], findings}
  }
  return undefined
}

/** Accounts from the chosen source; online, the collect script runs over exec (the same script admins run by hand). */
async function collectAccounts(session: SshSession, opts: InventoryOptions, port: number, log: InventoryDeps['log']): Promise<AccountsRead> {
  return (await offlineAccounts(opts)) ?? collectScriptAccounts(session, opts, port, log)
}

/**
 * An FTP source's accounts (FTP cannot list them): the file given, else over SSH at source.sshHost:sshPort. Every
 * account is marked as an FTP user: its clients must move to SFTP with a key.
 */
async function ftpSourceAccounts(config: Config, opts: InventoryOptions, deps: InventoryDeps): Promise<AccountsRead> {
  const read = (await offlineAccounts(opts, true)) ?? (await ftpAccountsOverSsh(config, opts, deps))
  for (const a of read.accounts) a.ftp = true
  return read
}

function noAccountsFinding(note: string, ftp: boolean): Finding {
  const ftpFiles = ftp
    ? ' For an FTP server, a copy of its user file does too: `sftp-cutover inventory --ftp-server pure-ftpd --ftp-users-file pureftpd.passwd`, or `sftp-cutover inventory --ftp-server vsftpd --ftp-config vsftpd.conf --passwd-file passwd` (with --ftp-users-file and --chroot-list when vsftpd.conf enables those lists); or set source.sshHost and source.sshPort where the box answers SSH.'
    : ''
  return {
    rule: 'inventory.no-accounts',
    severity: 'warning',
    subject: 'inventory',
    reason: `${note}: accounts, keys and chroots were not read, only files`,
    fix: `Run \`sftp-cutover inventory collect-script > collect.sh\` on the box as root, then \`sftp-cutover inventory --from-bundle bundle.json\`; or describe the users in a CSV and pass it with \`sftp-cutover inventory --users-csv FILE\` (its columns: sftp-cutover inventory --help).${ftpFiles}`,
  }
}

/** A blocker: accounts or keys may be missing from this run; nothing may be deleted on its word. */
function incompleteFinding(readings: string[], port: number): Finding {
  return {
    rule: 'inventory.accounts-incomplete',
    severity: 'blocker',
    subject: 'inventory',
    reason: `the accounts were read only in part (${readings.join('; ')}): accounts and keys missing from this inventory may still exist; users import --prune, sync --delete and the cutover refuse to act on it`,
    fix: completeReadingFix(port),
  }
}

function diffRuns(store: InventoryStore, previous: InventoryRun, currentId: number, accounts: Account[], incomplete?: string[]): InventoryChanges {
  const previousId = previous.id
  const since = previous.startedAt
  const before = store.accounts(previousId)
  const names = (list: Account[]) => new Set(list.map((a) => a.name))
  const keySet = (list: Account[]) => new Set(list.flatMap((a) => a.keys.filter((k) => k.fingerprint).map((k) => `${a.name} ${k.type} ${k.fingerprint}`)))
  const [bn, cn, bk, ck] = [names(before), names(accounts), keySet(before), keySet(accounts)]
  const {counts, examples} = store.fileChanges(previousId, currentId, 20)
  const files = {...counts, examples: examples.map((c) => ({owner: c.owner, path: displayPath(c.path), change: c.change}))}
  // A reading that was incomplete (now or then) cannot tell a removed account from one it did not see.
  const notCompared = incomplete?.length ? `this inventory read the accounts only in part (${incomplete.join('; ')})` : previous.accountsIncomplete ? 'the inventory before read the accounts only in part' : undefined
  return {
    since,
    ...(notCompared ? {accountsNotCompared: notCompared} : {}),
    users: {added: [...cn].filter((n) => !bn.has(n)), removed: notCompared ? [] : [...bn].filter((n) => !cn.has(n))},
    keys: {added: [...ck].filter((k) => !bk.has(k)), removed: notCompared ? [] : [...bk].filter((k) => !ck.has(k))},
    files,
  }
}

/**
 * Reads the legacy box completely (accounts, keys, host keys, every file) into the state database and raises
 * findings about what will break on Transfer Family and S3. Nothing is changed on the box.
 */
export async function runInventory(config: Config, opts: InventoryOptions, deps: InventoryDeps): Promise<InventoryResult> {
  const store = new InventoryStore(deps.state)
  const src = config.source
  const host = `${src.host}:${src.port}`
  if (isFtp(src.protocol) && opts.listing && opts.listing !== 'auto') throw usageError(`--listing ${opts.listing} applies to an SFTP source: an FTP source is listed over FTP`, ['Run the inventory without --listing.'], 'LISTING_NOT_FTP')
  const {pool, sshCreds, ftpCreds} = await openSourcePool(src, deps.env, deps.askSecret, {connections: opts.connections, perConnection: Math.max(1, Math.ceil(opts.concurrency / opts.connections)), onEvent: deps.log})
  const runId = store.beginRun(host)
  let session: SshSession | undefined
  try {
    // Over a link with latency every handshake costs several round trips, so the session for the accounts comes
    // first and is reused: its exec channels run the collect script and the listing (one find stream per root), and
    // when the walk goes over SFTP it carries the first SFTP channel while the pool opens the other connections.
    // The host keys come from the same session (OpenSSH sends them all after login); other servers' probes overlap
    // the rest. The walk needs the accounts' homes unless the roots are configured.
    // The first failure closes the pool, so that connections still retrying give up at once.
    const failFast = <T>(p: Promise<T>) =>
      p.catch(async (err: unknown) => {
        await pool.close()
        throw err
      })
    const configuredRoots: WalkRoot[] = src.roots.map((r) => ({owner: basename(r) || 'root', path: Buffer.from(r)}))
    // Each phase's time goes to the log (ms since the run began): over a slow link, where the time goes.
    const began = Date.now()
    const timed = <T>(phase: string, p: Promise<T>) => p.then((v) => (deps.log(`inventory.${phase}`, {ms: Date.now() - began}), v))
    // An FTP source has no SSH session of its own (no host keys to carry over); its accounts come from ftp-accounts.ts,
    // and what the FTP server itself shows (the probe) gives its findings.
    const ftp = isFtp(src.protocol)
    const connected: Promise<SshSession | undefined> = sshCreds ? failFast(timed('connected', SshSession.connect(src, sshCreds)).then((s) => (session = s))) : Promise.resolve(undefined)
    const ftpProbe = ftpCreds ? failFast(probeFtp(config, ftpCreds)) : Promise.resolve(undefined)
    const accountsRead = failFast(timed('accounts', connected.then((s) => (s ? collectAccounts(s, opts, src.port, deps.log) : ftpSourceAccounts(config, opts, deps)))))
    let adopted: Promise<void> | undefined
    let poolFailure: unknown
    const sourcePool = (): SourcePool => {
      adopted ??= failFast(
        connected
          .then(async (s) => {
            if (s && pool instanceof SftpPool) await pool.adopt(s)
            await pool.warm()
          })
          .catch((err: unknown) => {
            poolFailure ??= err
            throw err
          }),
      )
      // Reported through the walk (poolFailure) or awaited below; never left unhandled when the walk fails first.
      adopted.catch(() => undefined)
      return pool
    }
    const roots: Promise<WalkRoot[]> =
      configuredRoots.length > 0
        ? Promise.resolve(configuredRoots)
        : accountsRead.then(async ({accounts}) =>
            accounts.length > 0
              ? accounts.map((a) => ({owner: a.name, path: Buffer.from(a.dataRoot)}))
              : [{owner: src.username, path: await sourcePool().withSource((s) => s.realpath('.'))}],
          )
    const walkOpts = {now: opts.now ?? Date.now() / 1000, prefix: config.target.prefix, concurrency: opts.concurrency, log: deps.log, progress: deps.progress}
    const [{accounts, source, notes, findings: accountSourceFindings = []}, {keys: hostKeys, findings: probeFindings}, probe, listing] = await settleAll([
      accountsRead,
      timed('host-keys', connected.then((s) => (s ? collectHostKeys(s, src.host, src.port) : {keys: [], findings: []}))),
      ftpProbe, // before the walk: a rejected certificate is the error reported, not the pool it closed
      // A walk that failed because the pool could not open its connections reports why they could not (a rejected
      // certificate or host key), not the closed pool.
      failFast(
        Promise.all([roots, connected])
          .then(([r, s]) => walkFiles({session: s, pool: sourcePool, listing: opts.listing ?? 'auto'}, r, runId, store, walkOpts))
          .catch((err: unknown) => {
            throw poolFailure ?? err
          }),
      ),
    ])
    if (adopted) await adopted // last: when something else failed first, its error is the one reported
    store.addHostKeys(runId, hostKeys)
    store.addAccounts(runId, accounts)
    const findings: Finding[] = [...accountFindings(accounts), ...accountSourceFindings, ...hostKeyFindings(hostKeys), ...probeFindings]
    if (source === 'none') findings.push(noAccountsFinding(notes[0] ?? 'no accounts source', ftp))
    const incomplete = incompleteReadings(source, notes)
    if (incomplete.length > 0) store.setAccountsIncomplete(runId, incomplete)
    if (incomplete.length > 0 && source !== 'none') findings.push(incompleteFinding(incomplete, accountsSshPort(src)))
    for (const note of source === 'none' ? [] : notes) findings.push({rule: 'inventory.note', severity: 'info', subject: 'inventory', reason: note, fix: 'Check the collected data.'})
    if (probe) findings.push(...ftpFindings({...probe, nonUtf8Names: store.findings(runId).filter((f) => f.rule === 'file.name-not-utf8').length}))
    store.addFindings(runId, findings)

    const summary = store.summarize(runId, accounts.length, hostKeys.length)
    const previous = store.previousCompleteRun(runId)
    const changes = previous ? diffRuns(store, previous, runId, accounts, incomplete) : undefined
    store.finishRun(runId, 'complete', source, summary)
    deps.log('inventory.finished', {ms: Date.now() - began})
    const all = store.findings(runId)
    return {
      runId,
      host,
      accountsSource: source,
      accounts: accounts.map((a) => ({name: a.name, uid: a.uid, home: a.home, chroot: a.chroot, sftpRoot: a.sftpRoot, keys: a.keys.length, password: a.login.password})),
      hostKeys,
      summary,
      findings: all,
      changes,
      ...(incomplete.length ? {accountsIncomplete: incomplete} : {}),
      listing,
      failed: all.some((f) => SEVERITY_RANK[f.severity] >= SEVERITY_RANK[opts.failOn]),
    }
  } catch (err) {
    store.finishRun(runId, 'failed', 'none')
    throw err
  } finally {
    await pool.close()
    session?.close()
  }
}

/** FEAT, binary mode and anonymous access of an FTP box, from one session of its own. */
async function probeFtp(config: Config, creds: FtpCredentials): Promise<Omit<FtpProbe, 'nonUtf8Names'>> {
  const src = config.source
  const session = await FtpSession.connect(src, creds)
  try {
    const anonymous = src.username === 'anonymous' || src.username === 'ftp' || (await acceptsAnonymous(src))
    return {protocol: src.protocol, host: src.host, features: [...session.features.keys()], anonymous, asciiOnly: session.asciiOnly}
  } finally {
    session.end()
  }
}

/**
 * Lists every file under the roots into the store, raising the per-file findings as it goes. Each directory's
 * entries go to the store as they arrive (it commits every few thousand rows), so nothing accumulates here.
 */
async function walkFiles(
  source: {session: SshSession | undefined; pool: () => SourcePool; listing: 'auto' | 'find' | 'sftp'},
  roots: WalkRoot[],
  runId: number,
  store: InventoryStore,
  opts: {now: number; prefix: string; concurrency: number; log: InventoryDeps['log']; progress?: InventoryDeps['progress']},
): Promise<InventoryResult['listing']> {
  const started = Date.now()
  const listed = {files: 0, bytes: 0}
  opts.log('inventory walk', {roots: roots.map((r) => ({owner: r.owner, path: r.path.toString('utf8')}))})
  const recent = new Map<string, {count: number; examples: Buffer[]}>()
  // The key length of every file under an owner's home: worked out once per owner, not per file.
  const homeKeyBytes = new Map<string, number>()
  const keyBytes = (e: FileEntry) => {
    let base = homeKeyBytes.get(e.owner)
    if (base === undefined) homeKeyBytes.set(e.owner, (base = objectKeyBytes(opts.prefix, e.owner, Buffer.alloc(0))))
    return base + e.path.length
  }
  const countRecent = (entry: FileEntry) => {
    let r = recent.get(entry.owner)
    if (!r) recent.set(entry.owner, (r = {count: 0, examples: []}))
    r.count++
    // the first three in byte order, whatever order the listing came in
    const ex = r.examples
    if (ex.length < 3 || Buffer.compare(entry.path, ex[2]) < 0) {
      ex.push(entry.path)
      ex.sort(Buffer.compare)
      if (ex.length > 3) ex.pop()
    }
  }
  // Directories the group may list and enter (g+rx): an owner-only file in one is a finding. Roots are stat'ed.
  const dirKey = (owner: string, path: Buffer) => `${owner}\0${path.toString('latin1')}`
  const groupShared = new Set<string>()
  const isShared = (mode: number) => (mode & 0o050) === 0o050
  const parentOf = (path: Buffer) => {
    const slash = path.lastIndexOf(0x2f)
    return slash < 0 ? Buffer.alloc(0) : path.subarray(0, slash)
  }
  const events: WalkEvents = {
        root: (owner, mode) => {
          if (isShared(mode)) groupShared.add(dirKey(owner, Buffer.alloc(0)))
        },
        entries: (batch) => {
          const findings: Finding[] = []
          for (const e of batch) {
            findings.push(...fileFinding(e, {now: opts.now, s3KeyBytes: keyBytes(e)}))
            if (isRecent(e, opts.now)) countRecent(e)
            findings.push(...permissionFindings(e, {groupShared: groupShared.has(dirKey(e.owner, parentOf(e.path))), links: e.links}))
            if (e.type === 'dir' && isShared(e.mode)) groupShared.add(dirKey(e.owner, e.path))
          }
          store.addFiles(runId, batch)
          for (const e of batch) {
            listed.files++
            listed.bytes += e.type === 'file' ? e.size : 0
          }
          opts.progress?.(listed)
          if (findings.length > 0) store.addFindings(runId, findings)
        },
        emptyDir: (owner, path) => {
          const e: FileEntry = {owner, path, type: 'dir', size: 0, mtime: 0, mode: 0o040755, uid: 0, gid: 0}
          store.addFindings(runId, fileFinding(e, {now: opts.now, s3KeyBytes: 0, emptyDir: true}).filter((f) => f.rule === 'file.empty-dir'))
        },
  }
  store.beginWrites()
  try {
    // An FTP source is listed over FTP, a directory at a time (no SSH session to run find on).
    let listing: InventoryResult['listing'] | undefined = source.session ? undefined : {method: 'ftp'}
    if (source.session && source.listing !== 'sftp') {
      // The first root tells whether the box can list with find; the others follow it.
      try {
        const lister = new SshFindLister(source.session)
        const first = await walkRootsWithLister(lister, roots.slice(0, 1), events, {concurrency: 1})
        const rest = await walkRootsWithLister(lister, roots.slice(1), events, {concurrency: 4})
        const warnings = [...first.warnings, ...rest.warnings]
        listing = {method: 'find', ...(warnings.length ? {warnings} : {})}
      } catch (err) {
        if (!(err instanceof ListingUnavailable)) throw err
        if (source.listing === 'find') throw usageError(`the files cannot be listed with find: ${err.reason}`, ['Use --listing sftp (or auto).'], 'FIND_UNAVAILABLE')
        listing = {method: 'sftp', reason: err.reason}
      }
    }
    if (!listing || listing.method !== 'find') {
      const pool = source.pool()
      for (const r of roots) {
        const st = await pool.withSource((s) => s.stat(r.path)).catch(() => undefined)
        if (st) events.root!(r.owner, st.mode)
      }
      await walkRoots(pool, roots, events, {concurrency: opts.concurrency})
      listing ??= {method: 'sftp', reason: 'asked for (--listing sftp)'}
    }
    store.addFindings(runId, [...recent].map(([owner, r]) => recentFinding(owner, r.count, r.examples.map(displayPath))))
    opts.log('inventory.listing', {...listing, files: listed.files, ms: Date.now() - started})
    return listing
  } finally {
    store.endWrites()
  }
}

export interface InventoryReportData {
  run: {id: number; host: string; startedAt: string; finishedAt?: string; accountsSource?: string}
  accounts: Account[]
  hostKeys: HostKey[]
  summary: InventorySummary
  findings: Finding[]
  changes?: InventoryChanges
}

/** What the last complete inventory recorded, for sign-off reports. */
export function inventoryReportData(state: SqliteStateStore): InventoryReportData {
  const store = new InventoryStore(state)
  const run = store.latestCompleteRun()
  if (!run || !run.summary) {
    throw new CliError('no complete inventory in this project yet', {exitCode: ExitCode.usage, code: 'NO_INVENTORY', suggestions: ['Run sftp-cutover inventory first.']})
  }
  const accounts = store.accounts(run.id)
  const previous = store.previousCompleteRun(run.id)
  return {
    run: {id: run.id, host: run.host, startedAt: run.startedAt, finishedAt: run.finishedAt, accountsSource: run.accountsSource},
    accounts,
    hostKeys: store.hostKeys(run.id),
    summary: run.summary,
    findings: store.findings(run.id),
    changes: previous ? diffRuns(store, previous, run.id, accounts, run.accountsIncomplete) : undefined,
  }
}

/** Every file of the last complete inventory, streamed from the database. */
export function* inventoryFiles(state: SqliteStateStore): IterableIterator<FileEntry> {
  const store = new InventoryStore(state)
  const run = store.latestCompleteRun()
  if (run) yield* store.files(run.id)
}
