/**
 * sync: copies the legacy box to s3://<bucket>/<prefix>/home/<owner>/…, verified as it streams, and records each
 * file in the manifest so that a re-run lists the source once and copies only what changed.
 *
 * Phases, each a module under sync/ taking the run's context (sync/run.ts's SyncRun): list (the walk goes into a TEMP
 * table) -> plan (compare with the manifest in SQLite, no S3 requests) -> copy (largest first, `transfers` files at a
 * time; sync/transfer.ts copies one file) -> finish (--source-hash, --delete at most --max-delete, clean up multipart
 * uploads). Memory holds buffers within a fixed budget, never the file list.
 */
import type {StorageClass} from '@aws-sdk/client-s3'

import type {AwsClients} from '../adapters/aws.js'
import {CutoverStore} from '../adapters/cutover-store.js'
import {ManifestStore} from '../adapters/manifest-store.js'
import type {ObjectTarget} from '../adapters/object-target.js'
import {S3ObjectTarget} from '../adapters/s3-object-target.js'
import {openSourcePool, type OpenedSource} from '../adapters/source-pool.js'
import {SourceHasher} from '../adapters/source-hasher.js'
import {type AskSecret, resolveCredentials, type SshCredentials} from '../adapters/ssh.js'
import type {SqliteStateStore} from '../adapters/state.js'
import {type Config, isFtp} from '../core/config.js'
import {errorMessage, usageError} from '../core/errors.js'
import {displayPath} from '../core/findings.js'
import {pathFilter} from '../core/globs.js'
import {SSH_DIR} from '../core/permission-findings.js'
import type {SourcePool} from '../core/source.js'
import type {ProblemKind} from '../core/sync-plan.js'
import {refuseOnIncompleteAccounts} from './inventory-guard.js'
import {resolveRoots} from './sync-roots.js'
import {copy} from './sync/copy.js'
import {applyDeletions, checkAtSource, cleanUpUploads} from './sync/finish.js'
import {list, noteSshDirs} from './sync/list.js'
import {findDeletions, plan, unfinishedChecksumPass} from './sync/plan.js'
import {Report, SyncRun} from './sync/run.js'

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
  /** bytes read by the --checksum re-hashes of the files in progress */
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
  /**
   * The box and the bucket, when the caller brings them (a unit test's fake source and in-memory target); otherwise an
   * SFTP pool from source.* and S3 from target.*.
   */
  ports?: {pool: SourcePool; target: ObjectTarget}
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
  /** toCopy and copied: bytes of files to store in S3 and stored; read: bytes read from the source (hashes included) */
  bytes: {toCopy: number; copied: number; read: number}
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


export async function runSync(config: Config, opts: SyncOptions, deps: SyncDeps): Promise<SyncResult> {
  const started = Date.now()
  const signal = deps.signal ?? new AbortController().signal
  // The homes' .ssh directories hold the legacy login's keys: left out unless asked for.
  const filter = pathFilter(opts.include, opts.sshDirs ? opts.exclude : [...opts.exclude, SSH_DIR])
  if (opts.sourceHash && !opts.dryRun && isFtp(config.source.protocol)) throw sourceHashOverFtp(config)
  const listConcurrency = Math.max(8, opts.connections * 4)
  // A test injects the ports (an in-memory target and a fake source); SSH credentials are then needed only for --source-hash.
  const opened: OpenedSource = deps.ports
    ? {pool: deps.ports.pool, sshCreds: opts.sourceHash ? await resolveCredentials(config.source, deps.env, deps.askSecret) : undefined}
    : await openSourcePool(config.source, deps.env, deps.askSecret, {
        connections: opts.connections,
        perConnection: Math.ceil(Math.max(listConcurrency, opts.transfers) / opts.connections),
        onEvent: (event, detail) => deps.log(event, detail),
      })
  const {pool, sshCreds} = opened
  const target = deps.ports?.target ?? new S3ObjectTarget(deps.aws.s3(), config.target.bucket, {kmsKeyId: config.target.kmsKeyId, storageClass: opts.storageClass})
  const store = new ManifestStore(deps.state)
  let hasher: SourceHasher | undefined
  try {
    const {roots, from} = await resolveRoots(config, deps.state, () => pool.withSource((s) => s.realpath('.')))
    deps.log('sync.start', {roots: roots.map((r) => ({owner: r.owner, path: displayPath(r.path)})), dryRun: opts.dryRun})
    // The homes come from the inventory: when it read the accounts only in part, they may be the wrong ones.
    if (opts.delete && from === 'inventory') refuseOnIncompleteAccounts(deps.state, 'sync --delete', config.source)
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
      bytes: {toCopy: 0, copied: 0, read: 0},
      checksumSince,
      durationMs: 0,
      problems: report.problems,
      notes: report.notes,
      truncated: false,
      deletions: {candidates: 0, deleted: 0, examples: []},
    }
    try {
      const run = new SyncRun(config, opts, deps, pool, target, store, roots, runId, result, report, signal)
      await list(run, filter, listConcurrency)
      if (!opts.sshDirs) await noteSshDirs(run)
      // The listing is complete: verify accounts for every file in it, whatever the copy does next.
      if (runId !== undefined) store.saveListing(runId)
      const expected = plan(run)
      const deletions = findDeletions(run, filter)
      if (!opts.dryRun && runId !== undefined) {
        const failedKeys = await copy(run, runId, expected)
        result.interrupted = signal.aborted
        if (hasher && !result.interrupted) await checkAtSource(run, runId, hasher)
        if (!result.interrupted) {
          await applyDeletions(run, deletions)
          await cleanUpUploads(run, failedKeys)
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

