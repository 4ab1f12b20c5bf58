/**
 * sync: copies the legacy box to s3://<bucket>/<prefix>/home/<owner>/…, verified as it streams, and records each
 * file in the manifest so that a re-run lists the source once and copies only what changed.
 *
 * Phases: list (the walk goes into a TEMP table) -> plan (compare with the manifest in SQLite, no S3 requests) ->
 * copy (largest first, `transfers` files at a time) -> delete (only with --delete, at most --max-delete) -> clean up
 * multipart uploads. Memory holds buffers within a fixed budget, never the file list.
 */
import type {StorageClass} from '@aws-sdk/client-s3'

import type {AwsClients} from '../adapters/aws.js'
import {CutoverStore} from '../adapters/cutover-store.js'
import {ManifestStore, type Problem, type TodoEntry} from '../adapters/manifest-store.js'
import {S3ObjectTarget, type ObjectTarget} from '../adapters/object-target.js'
import {openSourcePool} from '../adapters/source-pool.js'
import {SourceHasher} from '../adapters/source-hasher.js'
import type {AskSecret, SshCredentials} from '../adapters/ssh.js'
import type {SqliteStateStore} from '../adapters/state.js'
import {type Config, isFtp} from '../core/config.js'
import {errorMessage, usageError} from '../core/errors.js'
import {displayPath} from '../core/findings.js'
import {BufferPool, ByteBudget, TokenBucket} from '../core/flow-control.js'
import {pathFilter, type PathFilter} from '../core/globs.js'
import type {FileEntry} from '../core/inventory-model.js'
import {homeKeyPrefix, homesKeyBase} from '../core/key-mapping.js'
import {SSH_DIR} from '../core/permission-findings.js'
import {fileTypeOf, type SourcePool} from '../core/source.js'
import {isWithin, type ManifestEntry, ownsObject, planEntry, PROBLEM_KINDS, type ProblemKind} from '../core/sync-plan.js'
import {refuseOnIncompleteAccounts} from './inventory-guard.js'
import {resolveRoots, type SyncRoot} from './sync-roots.js'
import {type ManifestRow, type TransferDeps, transferFile} from './sync-transfer.js'
import {walkRoots} from './walk.js'

export interface SyncOptions {
  /** Files copied at once */
  transfers: number
  /** SSH connections (one SFTP channel each) */
  connections: number
  symlinks: 'skip' | 'follow'
  /** Re-hash files whose size and mtime did not change and compare with the manifest's sha256 */
  checksum: boolean
  /** After copying, hash this run's files on the box (sha256sum over exec) and compare with what was read */
  sourceHash: boolean
  delete: boolean
  maxDelete: number
  include: string[]
  exclude: string[]
  /** Also copy the homes' .ssh directories (left out by default: the legacy login's keys) */
  sshDirs?: boolean
  /** bytes per second read from the source */
  bwlimit?: number
  dryRun: boolean
  storageClass?: StorageClass
  /** Copy names with control characters, which the inventory blocks (--allow-control-chars) */
  allowControlChars?: boolean
}

export type SyncPhase = 'list' | 'plan' | 'copy' | 'source-hash' | 'delete' | 'cleanup'

export interface SyncProgress {
  filesDone: number
  filesTotal: number
  bytesDone: number
  bytesTotal: number
  failed: number
  /** bytes of large files read by their hash pass, not yet uploaded */
  bytesHashing: number
}

export interface SyncEvents {
  phase(phase: SyncPhase, detail: string): void
  progress(p: SyncProgress): void
}

export interface SyncDeps {
  state: SqliteStateStore
  /** Only S3 is used (createS3Client, or createAwsClients' s3) */
  aws: Pick<AwsClients, 's3'>
  env: NodeJS.ProcessEnv
  askSecret?: AskSecret
  log: (msg: string, detail?: Record<string, unknown>) => void
  events?: SyncEvents
  /** Ctrl-C: stop scheduling, let in-flight work finish and be recorded. */
  signal?: AbortSignal
}

export interface SyncItem {
  owner: string
  path: string
  key?: string
  kind: ProblemKind
  reason: string
}

export interface SyncResult {
  runId?: number
  dryRun: boolean
  interrupted: boolean
  rootsFrom: 'config' | 'inventory'
  roots: Array<{owner: string; path: string}>
  bucket: string
  counts: {
    listed: number
    excluded: number
    unchanged: number
    /** files and directory markers that were (or, in a dry run, would be) copied */
    toCopy: number
    copied: number
    dirMarkers: number
    /** files re-hashed (--checksum) because size, mtime and owner looked unchanged */
    checked: number
    /** --checksum continuing an interrupted pass: files re-hashed or copied earlier in it, not hashed again */
    checkedEarlier: number
    /** files whose mode or owner changed (size and mtime the same): metadata replaced in place, not read again */
    toUpdateMetadata: number
    metadataUpdated: number
    failed: number
    changedDuringRead: number
    vanished: number
    skipped: number
    deletedAtSource: number
    deleted: number
    resumedUploads: number
    abortedUploads: number
    /** --source-hash: files of this run hashed on the box, and those whose digest differed from what was read */
    sourceHashed: number
    sourceHashMismatched: number
    /** after the switch: paths S3 holds another version of (kept; the box's version written beside, or not deleted) */
    conflicts: number
  }
  /** When the record was switched to Transfer (from state): from then on sync never replaces an object it did not write */
  switchedAt?: string
  bytes: {toCopy: number; copied: number}
  /** --checksum: when the pass this run continues began (an earlier --checksum run did not finish) */
  checksumSince?: string
  durationMs: number
  /** Files not copied that need attention (failed, changed while read, bad names, too large, unreadable dirs, refused deletes) */
  problems: SyncItem[]
  /** Skipped by design (symbolic links, special files) and deleted at the source */
  notes: SyncItem[]
  /** Set when problems or notes were cut to keep the output short (all are in the state database) */
  truncated: boolean
  deletions: {candidates: number; deleted: number; refused?: string; examples: string[]}
}

const LIST_LIMIT = 1000
const MiB = 1024 * 1024
/** Buffers held at once (whole small files, parts in flight), parts in flight per file, READs in flight per file. */
const TUNING = {budgetBytes: 128 * MiB, partConcurrency: 4, readAhead: 16, attempts: 3, retryBaseMs: 1000}
const SLASH = Buffer.from('/')
const joinPath = (a: Buffer, b: Buffer) => (a.length === 0 ? b : b.length === 0 ? a : Buffer.concat([a, SLASH, b]))

/** Batches manifest writes: one transaction per few hundred small files instead of one per file. */
class ManifestWriter {
  private rows: ManifestRow[] = []
  private checked: Array<{owner: string; path: Buffer}> = []
  private timer?: NodeJS.Timeout
  constructor(
    private readonly store: ManifestStore,
    private readonly runId: number,
  ) {}
  add(row: ManifestRow): void {
    this.rows.push(row)
    this.schedule()
  }
  /** --checksum found the bytes the manifest has. */
  addChecked(file: {owner: string; path: Buffer}): void {
    this.checked.push(file)
    this.schedule()
  }
  flush(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (this.rows.length > 0) this.store.recordSynced(this.rows.splice(0), this.runId)
    if (this.checked.length > 0) this.store.markChecked(this.checked.splice(0))
  }
  private schedule(): void {
    if (this.rows.length + this.checked.length >= 500) this.flush()
    else this.timer ??= setTimeout(() => this.flush(), 200)
  }
}

/** Collects problems and notes: all into the state database, the first LIST_LIMIT of each into the result. */
class Report {
  problems: SyncItem[] = []
  notes: SyncItem[] = []
  truncated = false
  private pending: Problem[] = []
  constructor(
    private readonly store: ManifestStore,
    private readonly runId: number | undefined,
  ) {}
  add(owner: string, path: Buffer, kind: ProblemKind, reason: string, key?: string): void {
    const list = PROBLEM_KINDS.has(kind) ? this.problems : this.notes
    if (list.length < LIST_LIMIT) list.push({owner, path: displayPath(path), ...(key ? {key} : {}), kind, reason})
    else this.truncated = true
    if (this.runId === undefined) return
    this.pending.push({owner, path, kind, reason})
    if (this.pending.length >= 500) this.flush()
  }
  flush(): void {
    if (this.runId !== undefined && this.pending.length > 0) this.store.addProblems(this.runId, this.pending.splice(0))
  }
}

export async function runSync(config: Config, opts: SyncOptions, deps: SyncDeps): Promise<SyncResult> {
  const started = Date.now()
  const signal = deps.signal ?? new AbortController().signal
  // The homes' .ssh directories hold the legacy login's keys: left out unless asked for.
  const filter = pathFilter(opts.include, opts.sshDirs ? opts.exclude : [...opts.exclude, SSH_DIR])
  if (opts.sourceHash && !opts.dryRun && isFtp(config.source.protocol)) throw sourceHashOverFtp(config)
  const listConcurrency = Math.max(8, opts.connections * 4)
  const {pool, sshCreds} = await openSourcePool(config.source, deps.env, deps.askSecret, {
    connections: opts.connections,
    perConnection: Math.ceil(Math.max(listConcurrency, opts.transfers) / opts.connections),
    onEvent: (event, detail) => deps.log(event, detail),
  })
  const target = new S3ObjectTarget(deps.aws.s3(), config.target.bucket, {kmsKeyId: config.target.kmsKeyId, storageClass: opts.storageClass})
  const store = new ManifestStore(deps.state)
  let hasher: SourceHasher | undefined
  try {
    const {roots, from} = await resolveRoots(config, deps.state, () => pool.withSource((s) => s.realpath('.')))
    deps.log('sync.start', {roots: roots.map((r) => ({owner: r.owner, path: displayPath(r.path)})), dryRun: opts.dryRun})
    // The homes come from the inventory: when it read the accounts only in part, they may be the wrong ones.
    if (opts.delete && from === 'inventory') refuseOnIncompleteAccounts(deps.state, 'sync --delete', config.source.port)
    await target.checkBucket()
    if (opts.sourceHash && !opts.dryRun) hasher = await openSourceHasher(config, sshCreds)
    const checksumSince = opts.checksum ? unfinishedChecksumPass(store) : undefined
    if (checksumSince) deps.log('sync.checksum.continue', {since: checksumSince})
    const switchedAt = switchedToTransfer(config, deps.state)
    if (switchedAt) deps.log('sync.after-switch', {switchedAt})
    const runId = opts.dryRun ? undefined : store.beginRun({...opts, roots: roots.map((r) => r.owner), checksumSince})
    const report = new Report(store, runId)
    const result: SyncResult = {
      runId,
      dryRun: opts.dryRun,
      interrupted: false,
      rootsFrom: from,
      roots: roots.map((r) => ({owner: r.owner, path: displayPath(r.path)})),
      bucket: config.target.bucket,
      counts: {
        listed: 0,
        excluded: 0,
        unchanged: 0,
        toCopy: 0,
        copied: 0,
        dirMarkers: 0,
        checked: 0,
        checkedEarlier: 0,
        toUpdateMetadata: 0,
        metadataUpdated: 0,
        failed: 0,
        changedDuringRead: 0,
        vanished: 0,
        skipped: 0,
        deletedAtSource: 0,
        deleted: 0,
        resumedUploads: 0,
        abortedUploads: 0,
        sourceHashed: 0,
        sourceHashMismatched: 0,
        conflicts: 0,
      },
      switchedAt,
      bytes: {toCopy: 0, copied: 0},
      checksumSince,
      durationMs: 0,
      problems: report.problems,
      notes: report.notes,
      truncated: false,
      deletions: {candidates: 0, deleted: 0, examples: []},
    }
    try {
      await list(pool, roots, store, filter, opts, listConcurrency, result, deps)
      if (!opts.sshDirs) await noteSshDirs(pool, roots, report)
      // The listing is complete: verify accounts for every file in it, whatever the copy does next.
      if (runId !== undefined) store.saveListing(runId)
      const expected = plan(store, config, opts, result, report, deps)
      const deletions = findDeletions(store, roots, filter, opts, result, deps)
      if (!opts.dryRun && runId !== undefined) {
        const failedKeys = await copy(store, pool, target, roots, runId, expected, opts, signal, result, report, deps)
        result.interrupted = signal.aborted
        if (hasher && !result.interrupted) await checkAtSource(hasher, store, runId, roots, signal, result, report, deps)
        if (!result.interrupted) {
          await applyDeletions(target, store, deletions, opts, result, report, deps)
          await cleanUpUploads(target, store, roots, config.target.prefix, failedKeys, result, deps)
        }
      }
      result.truncated = report.truncated
      result.durationMs = Date.now() - started
      report.flush()
      if (runId !== undefined) store.finishRun(runId, result.interrupted ? 'interrupted' : 'complete', {...result, problems: undefined, notes: undefined})
      return result
    } catch (err) {
      report.flush()
      if (runId !== undefined) store.finishRun(runId, 'failed', {error: errorMessage(err)})
      throw err
    }
  } finally {
    hasher?.close()
    target.close()
    await pool.close()
  }
}

/**
 * When the record points at Transfer (switched, not rolled back): clients may write to S3 directly since then. Before
 * the switch nothing else writes there and sync asks S3 nothing per unchanged file.
 */
function switchedToTransfer(config: Config, state: SqliteStateStore): string | undefined {
  const {hostedZoneId, recordName} = config.dns
  const rec = hostedZoneId && recordName ? new CutoverStore(state).dnsRecord(hostedZoneId, recordName) : undefined
  return rec && !rec.rolledBackAt ? (rec.switchStartedAt ?? rec.switchedAt) : undefined
}

function sourceHashOverFtp(config: Config) {
  return usageError(
    `--source-hash runs sha256sum on the source over SSH, and this source is read over ${config.source.protocol.toUpperCase()}`,
    ['Sync without --source-hash, then run sftp-cutover verify --source-hash: it uses the server\'s HASH command or re-reads the files.'],
    'SOURCE_HASH_UNAVAILABLE',
  )
}

/** --source-hash needs a login that may run sha256sum: checked before anything is copied, not after hours of it. */
async function openSourceHasher(config: Config, creds: SshCredentials | undefined): Promise<SourceHasher> {
  if (!creds) throw sourceHashOverFtp(config)
  const opened = await SourceHasher.open(config.source, creds)
  if (opened instanceof SourceHasher) return opened
  throw usageError(
    `--source-hash runs sha256sum on the source, which this login may not do: ${opened.unavailable}`,
    ['Sync without --source-hash, then run sftp-cutover verify --source-hash: it re-reads the files over SFTP when exec is not allowed.'],
    'SOURCE_HASH_UNAVAILABLE',
  )
}

/**
 * Hashes the files this run recorded with sha256sum on the box and compares with the SHA-256 of the bytes read over
 * SFTP. A difference (a file rewritten after it was read with its size and mtime kept, or bytes damaged on the way)
 * is a problem, and the file's manifest row is dropped so that the next run copies it again.
 */
async function checkAtSource(hasher: SourceHasher, store: ManifestStore, runId: number, roots: SyncRoot[], signal: AbortSignal, result: SyncResult, report: Report, deps: SyncDeps) {
  deps.events?.phase('source-hash', 'hashing the copied files on the source (sha256sum) to compare with what was read')
  const rootOf = new Map(roots.map((r) => [r.owner, r.path]))
  const absOf = (m: ManifestEntry) => joinPath(rootOf.get(m.owner)!, m.path)
  const files = (function* () {
    for (const m of store.filesOfRun(runId)) if (rootOf.has(m.owner)) yield m
  })()
  await hasher.hash(
    files,
    absOf,
    (digests) => {
      const redo: ManifestEntry[] = []
      for (const [m, sha] of digests) {
        result.counts.sourceHashed++
        if (sha === undefined) {
          report.add(m.owner, m.path, 'vanished', 'sha256sum on the source could not read it (deleted or unreadable since it was copied)', m.key)
        } else if (sha !== m.sha256) {
          result.counts.sourceHashMismatched++
          redo.push(m)
          report.add(m.owner, m.path, 'source-hash-mismatch', `sha256sum on the source says ${sha}, the bytes read over SFTP hash to ${m.sha256}: it changed after it was read, or the read was damaged; the next run copies it again`, m.key)
        }
      }
      store.removeEntries(redo)
    },
    () => signal.aborted,
  )
  result.interrupted = signal.aborted
  deps.log('sync.source-hash', {hashed: result.counts.sourceHashed, mismatched: result.counts.sourceHashMismatched})
}

/** Says which homes' .ssh directories were left out (a note: by design, not a problem). */
async function noteSshDirs(pool: SourcePool, roots: SyncRoot[], report: Report): Promise<void> {
  for (const r of roots) {
    const st = await pool.withSource((s) => s.lstat(joinPath(r.path, Buffer.from(SSH_DIR)))).catch(() => undefined)
    if (st && fileTypeOf(st.mode) === 'dir') report.add(r.owner, Buffer.from(SSH_DIR), 'ssh-dir', 'the home\'s .ssh directory is not copied (the legacy login\'s keys; Transfer keys come from users import): --include-ssh-dirs copies it')
  }
}

/** Lists every root into the scan table (and, with --symlinks follow, what the links point to). */
async function list(pool: SourcePool, roots: SyncRoot[], store: ManifestStore, filter: PathFilter, opts: SyncOptions, concurrency: number, result: SyncResult, deps: SyncDeps) {
  deps.events?.phase('list', `listing ${roots.length} director${roots.length === 1 ? 'y' : 'ies'} on the source`)
  store.resetScan()
  const add = (batch: FileEntry[], prefix?: Buffer) => {
    const kept: FileEntry[] = []
    for (const e of batch) {
      const path = prefix ? joinPath(prefix, e.path) : e.path
      // A failed listing is kept whatever the filters say: it guards what is below it from looking deleted.
      if (e.error || filter(path)) kept.push(prefix ? {...e, path} : e)
      else result.counts.excluded++
    }
    result.counts.listed += kept.length
    store.addScan(kept)
  }
  await walkRoots(pool, roots, {entries: (batch) => add(batch), emptyDir: (owner, path) => store.markEmpty(owner, path)}, {concurrency})
  if (opts.symlinks === 'follow') await followSymlinks(pool, roots, store, add, concurrency, deps)
}

/**
 * --symlinks follow: a link to a file is copied as that file; a link to a directory is walked under the link's
 * name unless the directory is already being copied (inside a root or an earlier followed link): that covers loops.
 */
async function followSymlinks(pool: SourcePool, roots: SyncRoot[], store: ManifestStore, add: (batch: FileEntry[], prefix: Buffer) => void, concurrency: number, deps: SyncDeps) {
  const walked: Buffer[] = []
  for (const r of roots) walked.push(await pool.withSource((s) => s.realpath(r.path)).catch(() => r.path))
  const rootOf = new Map(roots.map((r) => [r.owner, r.path]))
  for (let links = store.scanSymlinks(); links.length > 0; links = store.scanSymlinks()) {
    for (const link of links) {
      const abs = joinPath(rootOf.get(link.owner)!, link.path)
      const keep = (error: string) => store.updateScan(link.owner, link.path, {...link, error})
      try {
        const st = await pool.withSource((s) => s.stat(abs))
        const type = fileTypeOf(st.mode)
        if (type !== 'dir') {
          store.updateScan(link.owner, link.path, {type, size: st.size, mtime: st.mtime, mode: st.mode, uid: st.uid, gid: st.gid})
          continue
        }
        const real = await pool.withSource((s) => s.realpath(abs))
        if (walked.some((w) => isWithin(real, w) || isWithin(w, real))) {
          keep(`symbolic link to ${displayPath(real)}, a directory that is copied anyway or contains the link (a loop): skipped`)
          continue
        }
        walked.push(real)
        store.updateScan(link.owner, link.path, {type: 'dir', size: 0, mtime: st.mtime, mode: st.mode, uid: st.uid, gid: st.gid})
        const stats = await walkRoots(
          pool,
          [{owner: link.owner, path: abs}],
          {entries: (batch) => add(batch, link.path), emptyDir: (owner, path) => store.markEmpty(owner, joinPath(link.path, path))},
          {concurrency},
        )
        if (stats.files + stats.dirs === 0) store.markEmpty(link.owner, link.path)
      } catch (err) {
        deps.log('sync.symlink.unreadable', {path: displayPath(link.path), reason: errorMessage(err)})
        keep(`symbolic link whose target cannot be read (${errorMessage(err)}): skipped`)
      }
    }
  }
}

/**
 * When the last run was a --checksum run that did not finish (interrupted, failed, or killed while 'running'), the
 * time its pass began: this run re-hashes only the files not hashed since. Otherwise a --checksum run starts afresh.
 */
function unfinishedChecksumPass(store: ManifestStore): string | undefined {
  const last = store.lastRun()
  if (!last || last.status === 'complete' || last.options.checksum !== true) return undefined
  return typeof last.options.checksumSince === 'string' ? last.options.checksumSince : last.startedAt
}

/** Compares the listing with the manifest (SQLite only) and writes the work list; returns what copying will cover. */
function plan(store: ManifestStore, config: Config, opts: SyncOptions, result: SyncResult, report: Report, deps: SyncDeps): {files: number; bytes: number} {
  deps.events?.phase('plan', `comparing ${result.counts.listed} entries with the manifest`)
  let todo: Array<Omit<TodoEntry, 'seq'>> = []
  const flush = () => {
    store.addTodo(todo)
    todo = []
  }
  // Plainly unchanged files are counted in SQLite, not handed over one by one (unless --checksum re-hashes them).
  const base = opts.checksum ? undefined : homesKeyBase(config.target.prefix)
  let seen = 0
  for (const {entry, manifest} of store.scanWithManifest(base)) {
    seen++
    const p = planEntry(entry, manifest, {prefix: config.target.prefix, checksum: opts.checksum, checksumSince: result.checksumSince, allowControlChars: opts.allowControlChars})
    switch (p.action) {
      case 'checked-earlier':
        result.counts.checkedEarlier++
      // falls through: the file is as unchanged as the pass found it
      case 'unchanged':
        result.counts.unchanged++
        if (manifest?.status === 'source-deleted' && !opts.dryRun) store.setStatus(entry.owner, entry.path, 'synced')
        break
      case 'none':
        break
      case 'skip':
        result.counts.skipped++
        report.add(entry.owner, entry.path, p.kind, p.reason)
        break
      default: {
        const size = p.action === 'dir-marker' ? 0 : entry.size
        todo.push({owner: entry.owner, path: entry.path, action: p.action, key: p.key, size, mtime: entry.mtime, mode: entry.mode, uid: entry.uid, gid: entry.gid})
        if (p.action === 'check') result.counts.checked++
        else if (p.action === 'metadata') result.counts.toUpdateMetadata++
        else {
          result.counts.toCopy++
          result.bytes.toCopy += size
        }
        if (todo.length >= 1000) flush()
      }
    }
  }
  flush()
  if (base !== undefined) result.counts.unchanged += store.scanCount() - seen
  return {files: result.counts.toCopy + result.counts.checked + result.counts.toUpdateMetadata, bytes: result.bytes.toCopy}
}

/** Manifest rows whose file is gone from the source (not below a directory that could not be listed, not excluded). */
function findDeletions(store: ManifestStore, roots: SyncRoot[], filter: PathFilter, opts: SyncOptions, result: SyncResult, deps: SyncDeps): ManifestEntry[] {
  const unreadable = store.scanErrors()
  const kept: ManifestEntry[] = []
  for (const m of store.notInScan(roots.map((r) => r.owner))) {
    if (unreadable.some((u) => u.owner === m.owner && isWithin(m.path, u.path)) || !filter(m.path)) continue
    result.counts.deletedAtSource++
    if (result.deletions.examples.length < 20) result.deletions.examples.push(`${m.owner}/${displayPath(m.path)}`)
    // Only up to --max-delete+1 are kept: beyond that nothing is deleted anyway.
    if (kept.length <= opts.maxDelete) kept.push(m)
    if (!opts.delete && !opts.dryRun && m.status === 'synced') store.setStatus(m.owner, m.path, 'source-deleted')
  }
  result.deletions.candidates = result.counts.deletedAtSource
  if (result.counts.deletedAtSource > 0) deps.log('sync.deleted-at-source', {count: result.counts.deletedAtSource, delete: opts.delete})
  return kept
}

async function copy(
  store: ManifestStore,
  pool: SourcePool,
  target: ObjectTarget,
  roots: SyncRoot[],
  runId: number,
  expected: {files: number; bytes: number},
  opts: SyncOptions,
  signal: AbortSignal,
  result: SyncResult,
  report: Report,
  deps: SyncDeps,
): Promise<Set<string>> {
  deps.events?.phase('copy', `copying ${expected.files} file(s)`)
  // The roots' raw bytes: result.roots holds them for display, escaped where they are not UTF-8.
  const rootOf = new Map(roots.map((r) => [r.owner, r.path]))
  const writer = new ManifestWriter(store, runId)
  const progress = {filesDone: 0, bytesDone: 0, bytesHashing: 0}
  const emit = () =>
    deps.events?.progress({filesDone: progress.filesDone, filesTotal: expected.files, bytesDone: progress.bytesDone, bytesTotal: expected.bytes, failed: result.counts.failed, bytesHashing: progress.bytesHashing})
  const transfer: TransferDeps = {
    pool,
    target,
    store,
    runId,
    budget: new ByteBudget(TUNING.budgetBytes),
    buffers: new BufferPool(TUNING.partConcurrency + 1),
    throttle: opts.bwlimit ? new TokenBucket(opts.bwlimit) : undefined,
    signal,
    partConcurrency: TUNING.partConcurrency,
    readAhead: TUNING.readAhead,
    attempts: TUNING.attempts,
    retryBaseMs: TUNING.retryBaseMs,
    log: deps.log,
    afterSwitch: result.switchedAt !== undefined,
    // progress moves as each part is stored and as large files are hashed, not only when a file completes
    onBytes: (n) => {
      progress.bytesDone += n
      result.bytes.copied += n
      emit()
    },
    onHashing: (n) => {
      progress.bytesHashing += n
      emit()
    },
  }
  const failedKeys = new Set<string>()
  const work = store.todo()
  const worker = async () => {
    for (;;) {
      if (signal.aborted) return
      const next = work.next()
      if (next.done) return
      const t = next.value
      // after the switch every write compares S3's object with the manifest's version
      const known = t.action === 'check' || t.action === 'metadata' || transfer.afterSwitch ? store.get(t.owner, t.path) : undefined
      const outcome = await transferFile({...t, abs: joinPath(rootOf.get(t.owner)!, t.path)}, known, transfer)
      switch (outcome.status) {
        case 'copied':
          if (!outcome.recorded) writer.add(outcome.row)
          if (t.action === 'dir-marker') result.counts.dirMarkers++
          else if (outcome.metadataOnly) result.counts.metadataUpdated++
          else result.counts.copied++
          if (outcome.resumedParts > 0) result.counts.resumedUploads++
          break
        case 'unchanged':
          result.counts.unchanged++
          writer.addChecked(t)
          break
        case 'changed':
          result.counts.changedDuringRead++
          report.add(t.owner, t.path, 'changed-during-read', outcome.reason, t.key)
          break
        case 'vanished':
          result.counts.vanished++
          report.add(t.owner, t.path, 'vanished', outcome.reason, t.key)
          break
        case 'failed':
          result.counts.failed++
          failedKeys.add(t.key)
          report.add(t.owner, t.path, 'failed', outcome.reason, t.key)
          deps.log('sync.file.failed', {key: t.key, reason: outcome.reason})
          break
        case 'conflict':
          writer.add(outcome.row)
          result.counts.conflicts++
          report.add(t.owner, t.path, 'conflict', outcome.reason, t.key)
          break
        case 'interrupted':
          return
      }
      progress.filesDone++
      emit()
    }
  }
  try {
    await Promise.all(Array.from({length: Math.max(1, opts.transfers)}, worker))
  } finally {
    writer.flush()
  }
  return failedKeys
}

async function applyDeletions(target: ObjectTarget, store: ManifestStore, candidates: ManifestEntry[], opts: SyncOptions, result: SyncResult, report: Report, deps: SyncDeps) {
  if (!opts.delete || result.counts.deletedAtSource === 0) return
  if (result.counts.deletedAtSource > opts.maxDelete) {
    result.deletions.refused = `${result.counts.deletedAtSource} objects would be deleted, more than --max-delete ${opts.maxDelete}: nothing was deleted`
    report.add('', Buffer.alloc(0), 'delete-refused', `${result.deletions.refused}. Check the source (a missing mount deletes everything), then raise --max-delete.`)
    return
  }
  deps.events?.phase('delete', `deleting ${candidates.length} object(s) whose file is gone from the source`)
  if (result.switchedAt !== undefined) candidates = await keepForeignObjects(target, candidates, result, report, deps)
  const refused = new Map((await target.deleteObjects(candidates.map((m) => m.key))).map((r) => [r.key, r.reason]))
  const gone = candidates.filter((m) => !refused.has(m.key))
  store.removeEntries(gone)
  for (const m of candidates) {
    const reason = refused.get(m.key)
    if (reason) report.add(m.owner, m.path, 'failed', `deleting ${m.key} failed: ${reason}`, m.key)
  }
  result.counts.deleted = gone.length
  result.counts.failed += refused.size
  result.deletions.deleted = gone.length
  deps.log('sync.deleted', {count: gone.length, refused: refused.size})
}

/**
 * After the switch, an object is deleted only while it is the version sync wrote (a HEAD each; DeleteObjects' per-key
 * ETag condition is not honoured by moto or versitygw): one a client replaced through Transfer is kept, a conflict.
 */
async function keepForeignObjects(target: ObjectTarget, candidates: ManifestEntry[], result: SyncResult, report: Report, deps: SyncDeps): Promise<ManifestEntry[]> {
  const ours: ManifestEntry[] = []
  for (const m of candidates) {
    const held = await target.head(m.key)
    if (!held || ownsObject(held, m, m)) {
      ours.push(m)
      continue
    }
    result.counts.conflicts++
    deps.log('sync.conflict', {key: m.key, kept: true})
    report.add(m.owner, m.path, 'conflict', 'deleted on the legacy box, but S3 holds another version than sync wrote (uploaded through Transfer since the switch): not deleted', m.key)
  }
  return ours
}

/**
 * After a run that was not interrupted: abort multipart uploads this tool no longer needs. Uploads recorded for a
 * file that failed in this run stay (the next run resumes them); every other upload under the users' home prefixes
 * (killed before its id was recorded, or left by a file that is now unchanged, deleted or excluded) is aborted.
 */
async function cleanUpUploads(target: ObjectTarget, store: ManifestStore, roots: SyncRoot[], prefix: string, failed: Set<string>, result: SyncResult, deps: SyncDeps) {
  deps.events?.phase('cleanup', 'aborting multipart uploads that are no longer needed')
  const keep = new Set<string>()
  for (const u of store.uploads()) {
    if (u.uploadId && failed.has(u.key)) keep.add(u.uploadId)
    else {
      if (u.uploadId) await target.abortMultipart(u.key, u.uploadId)
      store.dropUpload(u.owner, u.path)
      if (u.uploadId) result.counts.abortedUploads++
    }
  }
  // After the switch, an upload sync did not record may be a client's, in progress through Transfer: left alone.
  if (result.switchedAt !== undefined) return
  for (const r of roots) {
    for await (const u of target.listMultipartUploads(`${homeKeyPrefix(prefix, r.owner)}/`)) {
      if (keep.has(u.uploadId)) continue
      await target.abortMultipart(u.key, u.uploadId)
      result.counts.abortedUploads++
      deps.log('sync.multipart.aborted', {key: u.key})
    }
  }
}
