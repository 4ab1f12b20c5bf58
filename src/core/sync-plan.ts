/**
 * What sync does with each listed entry, given what the manifest says S3 holds: pure decisions, no I/O.
 */
import type {FileType} from './inventory-model.js'
import {objectKeyFor} from './key-mapping.js'
import {MAX_PARTS, objectSizeProblem} from './transfer-rules.js'

const MiB = 1024 * 1024
/** Smallest part sync uses (S3's minimum is 5 MiB); files up to this size go in one PutObject. */
export const MIN_PART_SIZE = 8 * MiB
export const MULTIPART_THRESHOLD = MIN_PART_SIZE

/** Part size for a file: at least 8 MiB, whole MiB, and large enough that the file fits in 10,000 parts. */
export function partSizeFor(size: number): number {
  const needed = Math.ceil(size / MAX_PARTS / MiB) * MiB
  return Math.max(MIN_PART_SIZE, needed)
}

export function partCount(size: number, partSize: number): number {
  return Math.max(1, Math.ceil(size / partSize))
}

/** "10M" -> 10485760. Suffixes K, M, G, T are powers of 1024 (as rclone's --bwlimit); a plain number is bytes. */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text)
  if (!m) return undefined
  const power = ' kmgt'.indexOf(m[2].toLowerCase() || ' ')
  const value = Math.floor(Number(m[1]) * 1024 ** power)
  return value > 0 ? value : undefined
}

/** One listed entry (the walk's FileEntry as kept for this run), with whether a directory was empty. */
export interface ScanEntry {
  owner: string
  path: Buffer
  type: FileType
  size: number
  mtime: number
  mode: number
  uid: number
  gid: number
  linkTarget?: Buffer
  error?: string
  empty: boolean
}

/** A manifest row: what was copied to S3 for one source file or empty directory. */
export interface ManifestEntry {
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
  crcAlgorithm: string
  key: string
  etag?: string
  versionId?: string
  status: 'synced' | 'source-deleted'
  syncedAt: string
  /** When a --checksum run last re-hashed the source and found these bytes */
  checkedAt?: string
}

/** The manifest fields a plan compares (what a re-sync reads for every listed file). */
export type ManifestStat = Pick<ManifestEntry, 'kind' | 'size' | 'mtime' | 'mode' | 'uid' | 'gid' | 'key' | 'status' | 'syncedAt' | 'checkedAt'>

export type ProblemKind =
  | 'failed'
  | 'changed-during-read'
  | 'vanished'
  | 'bad-name'
  | 'too-large'
  | 'unreadable-dir'
  | 'symlink'
  | 'special'
  | 'delete-refused'
  | 'source-hash-mismatch'
  /** a home's .ssh directory, left out by default */
  | 'ssh-dir'
  /** after the switch: S3 holds another version than sync wrote (a Transfer upload); the box's went beside it */
  | 'conflict'

/** Kinds that mean data was not migrated and the operator must act (the run exits 3). */
export const PROBLEM_KINDS: ReadonlySet<ProblemKind> = new Set([
  'failed',
  'changed-during-read',
  'bad-name',
  'too-large',
  'unreadable-dir',
  'delete-refused',
  'source-hash-mismatch',
  'conflict',
])

export type Plan =
  | {action: 'copy'; key: string; reason: 'new' | 'changed'}
  | {action: 'check'; key: string}
  | {action: 'metadata'; key: string}
  | {action: 'dir-marker'; key: string}
  | {action: 'unchanged'}
  /** --checksum: re-hashed (or copied) earlier in the same pass, which an interrupted run left unfinished */
  | {action: 'checked-earlier'}
  | {action: 'none'}
  | {action: 'skip'; kind: ProblemKind; reason: string}

export interface PlanOptions {
  prefix: string
  /** Re-hash unchanged-looking files and compare with the manifest's sha256. */
  checksum: boolean
  /** With checksum: when the pass began (an interrupted pass goes on); files hashed since then are not again. */
  checksumSince?: string
  /** Copy names with control characters, which the inventory blocks (sync --allow-control-chars). */
  allowControlChars?: boolean
}

const sameData = (e: ScanEntry, m: ManifestStat) => m.size === e.size && m.mtime === e.mtime
const sameOwnership = (e: ScanEntry, m: ManifestStat) => m.mode === e.mode && m.uid === e.uid && m.gid === e.gid
/** The source bytes were hashed (copied, or re-hashed by --checksum) at or after `since` (ISO 8601 times). */
const hashedSince = (m: ManifestStat, since?: string) => since !== undefined && (m.syncedAt >= since || (m.checkedAt !== undefined && m.checkedAt >= since))

function badName(key: {reason: string; rule: string}): string {
  return key.rule === 'file.name-control-chars' ? `${key.reason} (sync --allow-control-chars copies it anyway)` : key.reason
}

/**
 * Decides one entry. Files are copied when new or when their size or mtime differ from the manifest; when only mode,
 * uid or gid changed (a chmod or chown), the object's tag is rewritten without reading the file again.
 * Nothing about S3 is asked. Empty directories get a "dir/" marker object.
 * Symbolic links reach this point only when not followed (or their target could not be read).
 */
export function planEntry(e: ScanEntry, m: ManifestStat | undefined, opts: PlanOptions): Plan {
  switch (e.type) {
    case 'dir': {
      if (e.error) return {action: 'skip', kind: 'unreadable-dir', reason: `the directory could not be listed (${e.error}): its files were not copied`}
      if (!e.empty) return m?.kind === 'dir' ? {action: 'unchanged'} : {action: 'none'}
      if (m?.kind === 'dir') return {action: 'unchanged'}
      const key = objectKeyFor(opts.prefix, e.owner, e.path, true, opts)
      return key.ok ? {action: 'dir-marker', key: key.key} : {action: 'skip', kind: 'bad-name', reason: badName(key)}
    }
    case 'file': {
      const tooLarge = objectSizeProblem(e.size)
      if (tooLarge) return {action: 'skip', kind: 'too-large', reason: tooLarge}
      const key = objectKeyFor(opts.prefix, e.owner, e.path, false, opts)
      if (!key.ok) return {action: 'skip', kind: 'bad-name', reason: badName(key)}
      if (m?.kind === 'file' && m.key === key.key && sameData(e, m)) {
        if (sameOwnership(e, m)) {
          if (!opts.checksum) return {action: 'unchanged'}
          return hashedSince(m, opts.checksumSince) ? {action: 'checked-earlier'} : {action: 'check', key: key.key}
        }
        // With --checksum the bytes are in doubt too: copied again below.
        if (!opts.checksum) return {action: 'metadata', key: key.key}
      }
      return {action: 'copy', key: key.key, reason: m ? 'changed' : 'new'}
    }
    case 'symlink': {
      const target = e.linkTarget ? ` to ${e.linkTarget.toString('utf8')}` : ''
      return {action: 'skip', kind: 'symlink', reason: e.error ?? `symbolic link${target} skipped (--symlinks follow copies what it points to)`}
    }
    default:
      return {action: 'skip', kind: 'special', reason: `${e.type === 'unknown' ? 'a file of unknown type' : `a ${e.type}`} cannot be stored in S3: skipped`}
  }
}

/** What S3 holds at a key, as far as the conflict rule needs it (a HEAD). */
export interface HeldObject {
  size: number
  etag?: string
  metadata: Record<string, string>
  /** FULL_OBJECT for a multipart upload sync completed with its full-object CRC-32 */
  checksumType?: string
}

/**
 * After the record was switched, clients write to S3 through Transfer: sync may replace (or delete) an object only
 * while it is the version the manifest recorded (same ETag), or nothing when the manifest has none. An object that
 * carries this very file version's metadata (size, mtime, and the sha256 of a small file or the full-object CRC of a
 * large one) is sync's own earlier write whose manifest row was lost to a kill: not a conflict.
 */
export function ownsObject(held: HeldObject | undefined, known: {etag?: string} | undefined, file: {size: number; mtime: number}): boolean {
  if (!held) return known === undefined
  if (known?.etag !== undefined && held.etag === known.etag) return true
  const written = held.metadata.sha256 !== undefined || held.checksumType === 'FULL_OBJECT'
  return held.size === file.size && held.metadata.mtime === String(file.mtime) && written
}

/** Where the legacy box's version of a conflicting file goes: `<key>.from-legacy-<its mtime, UTC>` beside S3's. */
export function besideKey(key: string, mtime: number): string {
  return `${key}.from-legacy-${new Date(mtime * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '')}`
}

/** True when `path` is `dir` or inside it ('/'-separated raw bytes; the empty path is the root). */
export function isWithin(path: Buffer, dir: Buffer): boolean {
  if (dir.length === 0) return true
  if (path.length < dir.length || !path.subarray(0, dir.length).equals(dir)) return false
  return path.length === dir.length || path[dir.length] === 0x2f
}

/**
 * What each object carries, readable without the state database. User metadata is fixed when the object is written:
 * mtime (a new mtime means the file is copied again; the EFS Lambda sets it on its copy) and, for a file up to the
 * multipart threshold, its sha256. What can change without the bytes changing goes in tags, which change without a new
 * version or an ObjectCreated event: mode, uid and gid in POSIX_TAG (one tag, so that of S3's 10 per object 8 stay for
 * others, e.g. a malware scanner's), and a large file's sha256 in SHA256_TAG (known only once its last part is read).
 */
export function objectMetadata(m: {mtime: number; sha256?: string}): Record<string, string> {
  return {mtime: String(m.mtime), ...(m.sha256 === undefined ? {} : {sha256: m.sha256})}
}

export const SHA256_TAG = 'sftp-cutover-sha256'
export const POSIX_TAG = 'sftp-cutover-posix'

/** The POSIX_TAG of an object: `mode=100640 uid=1001 gid=1002` (mode in octal). */
export function objectTags(m: {mode: number; uid: number; gid: number}): Record<string, string> {
  return {[POSIX_TAG]: `mode=${m.mode.toString(8)} uid=${m.uid} gid=${m.gid}`}
}

/** mode, uid and gid from a POSIX_TAG value; undefined when it is not one. */
export function parsePosixTag(value: string | undefined): {mode: number; uid: number; gid: number} | undefined {
  const m = value === undefined ? null : /^mode=([0-7]+) uid=(\d+) gid=(\d+)$/.exec(value)
  return m ? {mode: Number.parseInt(m[1], 8), uid: Number(m[2]), gid: Number(m[3])} : undefined
}

/** Storage classes sync may write: those Transfer Family reads directly (no restore needed). */
export const STORAGE_CLASSES = ['STANDARD', 'INTELLIGENT_TIERING', 'STANDARD_IA', 'ONEZONE_IA', 'GLACIER_IR'] as const
export type SyncStorageClass = (typeof STORAGE_CLASSES)[number]

/** The sync options that decide what is copied and how: the cutover's final delta carries them over. */
export interface CarriedSyncOptions {
  transfers: number
  connections: number
  symlinks: 'skip' | 'follow'
  include: string[]
  exclude: string[]
  /** bytes per second */
  bwlimit?: number
  storageClass: SyncStorageClass
  /** --include-ssh-dirs */
  sshDirs: boolean
}

export const SYNC_DEFAULTS: CarriedSyncOptions = {transfers: 64, connections: 4, symlinks: 'skip', include: [], exclude: [], storageClass: 'STANDARD', sshDirs: false}

/**
 * The options of the final delta: those the last complete sync ran with (as stored with the run), each replaced by
 * the runbook step's value where it gives one; sync's defaults only where neither says anything.
 */
export function carriedSyncOptions(stored: Record<string, unknown> | undefined, override: Partial<CarriedSyncOptions> = {}): CarriedSyncOptions {
  const s = stored ?? {}
  const strings = (v: unknown) => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined)
  const positive = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined)
  const fromRun: Partial<CarriedSyncOptions> = {
    transfers: positive(s.transfers),
    connections: positive(s.connections),
    symlinks: s.symlinks === 'follow' || s.symlinks === 'skip' ? s.symlinks : undefined,
    include: strings(s.include),
    exclude: strings(s.exclude),
    bwlimit: positive(s.bwlimit),
    storageClass: (STORAGE_CLASSES as readonly unknown[]).includes(s.storageClass) ? (s.storageClass as SyncStorageClass) : undefined,
    sshDirs: typeof s.sshDirs === 'boolean' ? s.sshDirs : undefined,
  }
  const out: CarriedSyncOptions = {...SYNC_DEFAULTS}
  for (const source of [fromRun, override]) {
    for (const [k, v] of Object.entries(source)) if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v
  }
  return out
}

/** The options as sync flags, e.g. `--transfers 64 --exclude '**\/*.tmp'`, for the cutover's dry run. */
export function describeSyncOptions(o: CarriedSyncOptions): string {
  const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`
  return [
    `--transfers ${o.transfers}`,
    `--connections ${o.connections}`,
    `--symlinks ${o.symlinks}`,
    `--storage-class ${o.storageClass}`,
    ...(o.bwlimit ? [`--bwlimit ${o.bwlimit}`] : []),
    ...(o.sshDirs ? ['--include-ssh-dirs'] : []),
    ...o.include.map((g) => `--include ${quote(g)}`),
    ...o.exclude.map((g) => `--exclude ${quote(g)}`),
  ].join(' ')
}
