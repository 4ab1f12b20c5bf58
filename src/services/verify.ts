/**
 * verify: accounts for every eligible file of the last complete source listing (the last sync's, kept in state):
 * verified, mismatched, or not copied (with the reason sync recorded). The bucket is listed under each home (1,000
 * keys per request) and each copied file's object compared with the manifest: size, the ETag sync recorded, the
 * checksum type where the listing shows it. Only what differs, and a random sample of the rest, is HEADed for the
 * full checks (full-object CRC-32, sha256, encryption); objects no manifest row names are extra. --deep HEADs every
 * object, then downloads and re-hashes it; --source-hash re-hashes the source; --efs-path checks the Lambda's copies
 * and lists extra files there. Before any sync it checks the last inventory's files (HEAD, sizes only).
 */
import {createHash} from 'node:crypto'

import type {AwsClients} from '../adapters/aws.js'
import {efsPathOf, listFiles, sha256File, statFile} from '../adapters/efs-files.js'
import {CutoverStore} from '../adapters/cutover-store.js'
import {InventoryStore} from '../adapters/inventory-store.js'
import {type HeldObject, ListedObjectsStore, type ListingRow} from '../adapters/listed-objects-store.js'
import {ManifestStore} from '../adapters/manifest-store.js'
import {type ObjectLister, S3ObjectLister} from '../adapters/object-listing.js'
import type {ObjectTarget} from '../adapters/object-target.js'
import {s3Reason} from '../adapters/s3-errors.js'
import {S3ObjectTarget} from '../adapters/s3-object-target.js'
import {openSourcePool} from '../adapters/source-pool.js'
import {SourceHasher} from '../adapters/source-hasher.js'
import type {AskSecret} from '../adapters/ssh.js'
import type {SqliteStateStore} from '../adapters/state.js'
import type {Config} from '../core/config.js'
import {crc32, crc32Base64} from '../core/crc32.js'
import {encryptionProblem, type ExpectedEncryption} from '../core/encryption.js'
import {errorMessage, usageError} from '../core/errors.js'
import {displayPath} from '../core/findings.js'
import {homeKeyPrefix, objectKeyFor} from '../core/key-mapping.js'
import {type SourcePool, SourceStatusError} from '../core/source.js'
import {objectTags, parsePosixTag, POSIX_TAG, SHA256_TAG} from '../core/sync-plan.js'
import {resolveRoots, type SyncRoot} from './sync-roots.js'
import {type ReplicaDeps, type ReplicaOptions, type ReplicaResult, verifyReplica} from './verify-replica.js'

export interface VerifyOptions {
  /** Re-hash the source files and compare with the recorded sha256 */
  sourceHash: boolean
  /** exec: batched sha256sum over SSH; sftp: read over SFTP; auto: exec when the login may run commands */
  sourceHashMethod: 'auto' | 'exec' | 'sftp'
  /** HEAD every object, download it and re-hash it (otherwise the listing is compared, and a sample HEADed) */
  deep: boolean
  /** Objects that match the listing HEADed anyway, picked at random (default 100) */
  sample?: number
  /** Mounted EFS directory holding the Lambda's copies (<efsPath>/<key>) */
  efsPath?: string
  /** Objects checked at once */
  concurrency: number
  connections: number
  /** Also check a sample of the synced files in the cross-region replica bucket */
  replica?: ReplicaOptions
}

export type Where = 's3' | 'source' | 'efs'
export type MismatchKind = 'missing' | 'size' | 'crc' | 'sha256' | 'content' | 'changed' | 'extra' | 'unreadable' | 'not-copied' | 'unlisted' | 'encryption' | 'attributes'

export interface Mismatch {
  where: Where
  problem: MismatchKind
  owner: string
  path: string
  key: string
  detail: string
}

export interface VerifyResult {
  /** listing: the last sync's listing of the source; inventory: the last inventory (nothing synced yet) */
  basis: 'listing' | 'inventory'
  /** The sync run whose listing was accounted for */
  listing?: {runId: number; listedAt: string}
  bucket: string
  /** Eligible source files of that listing: how many are verified (copied, every check passed), how many not copied */
  files: {total: number; verified: number; notCopied: number}
  /** Entries (files and empty-directory markers) checked in S3, and how many passed every check */
  checked: number
  ok: number
  counts: {
    s3: S3Counts
    deep?: {checked: number; mismatched: number}
    source?: {method: SourceHashMethod; checked: number; mismatched: number}
    efs?: {checked: number; missing: number; changed: number; extra: number}
  }
  /** Per owner: entries checked, and those with at least one mismatch */
  perOwner: Record<string, {checked: number; mismatched: number}>
  /** The server-side encryption every object must carry (target.kmsKeyId, else the bucket default), or why it was not checked */
  encryption: {expected: string} | {unchecked: string}
  mismatches: Mismatch[]
  truncated: boolean
  /** verify --replica: the sample checked in the replica bucket */
  replica?: ReplicaResult
  durationMs: number
}

/** How S3 was checked. checked = listed + headed-only (inventory basis or listing refused); mismatched counts entries. */
export interface S3Counts {
  checked: number
  mismatched: number
  /** listing: each object compared with the listing, HEADs only for what differs and the sample; head: a HEAD per object */
  method: 'listing' | 'head'
  /** Why the listing was not used (method head) */
  reason?: string
  /** Objects the listing held under the homes */
  listed: number
  /** HEADs sent: every entry (method head, --deep), else what differed from the listing plus the sample */
  headed: number
  /** Entries whose listing differed from the manifest (size, ETag, checksum type, absent), then HEADed */
  differed: number
  /** Entries that matched the listing and were HEADed anyway, picked at random */
  sampled: number
  /** Objects under the homes that no manifest row names and no source file maps to (mismatches) */
  extra: number
  /** Such objects written since the switch to Transfer (clients' uploads: not mismatches) */
  sinceSwitch: number
}

export interface VerifyDeps {
  state: SqliteStateStore
  /** Only S3 is used (createS3Client, or createAwsClients' s3) */
  aws: Pick<AwsClients, 's3'>
  env: NodeJS.ProcessEnv
  askSecret?: AskSecret
  log: (msg: string, detail?: Record<string, unknown>) => void
  /** Entries checked so far, of how many, and how many mismatched */
  progress?: (done: number, total: number, mismatched: number) => void
  signal?: AbortSignal
  /** A client for the replica bucket's region (verify --replica only) */
  replicaS3?: ReplicaDeps['replicaS3']
}

/** What one source file should be, from the manifest (all fields) or the inventory (no hashes). */
interface Expected {
  owner: string
  path: Buffer
  key: string
  kind: 'file' | 'dir'
  size: number
  sha256?: string
  crc?: string
  /** mode, uid and gid sync last wrote to the object's tag */
  posix?: {mode: number; uid: number; gid: number}
  /** The ETag S3 answered when sync wrote the object (absent for inventory entries and old manifests) */
  etag?: string
  /** From the manifest: the ETag and checksum are known, so a listing can vouch for the object */
  synced: boolean
  /** What the bucket listing showed at the key (null: nothing); absent when the bucket was not listed */
  held?: HeldObject | null
}

/** A listed file that S3 does not hold as listed (or a directory that could not be listed): nothing to check. */
interface NotVerified {
  owner: string
  path: Buffer
  key: string
  problem: 'not-copied' | 'unlisted'
  detail: string
}

type Item = {expected: Expected} | {notVerified: NotVerified}

const LIST_LIMIT = 1000
const SLASH = Buffer.from('/')

/** Runs fn over the items with at most n at once, pulling from the iterator (the list is never held in memory). */
async function forEach<T>(items: Iterator<T> | AsyncIterator<T>, n: number, signal: AbortSignal | undefined, fn: (item: T) => Promise<void>): Promise<void> {
  const worker = async () => {
    for (;;) {
      if (signal?.aborted) return
      const next = await items.next()
      if (next.done) return
      await fn(next.value)
    }
  }
  await Promise.all(Array.from({length: Math.max(1, n)}, worker))
}

/** Why a listed file is not in S3 as listed: the problem sync recorded for it, or what the manifest says. */
function notCopiedReason(l: Pick<ListingRow, 'problem' | 'manifest' | 'size' | 'mtime'>, runId: number): string {
  if (l.problem) return `sync run ${runId} did not copy it (${l.problem.kind}): ${l.problem.reason}`
  if (l.manifest) return `S3 holds an older version (${l.manifest.size} bytes, mtime ${l.manifest.mtime}; listed with ${l.size} bytes, mtime ${l.mtime}): run sftp-cutover sync`
  return `sync run ${runId} listed it but did not copy it (interrupted, or it failed before it was recorded): run sftp-cutover sync`
}

/** Every eligible file of the saved listing, then the empty-directory markers the manifest holds; each with what the bucket listing showed at its key. */
function* listingItems(listed: ListedObjectsStore, runId: number, prefix: string): IterableIterator<Item> {
  for (const l of listed.listing(runId)) {
    const m = l.manifest
    if (l.error !== undefined) {
      yield {notVerified: {owner: l.owner, path: l.path, key: '', problem: 'unlisted', detail: `the directory could not be listed by sync run ${runId} (${l.error}): its files are not accounted for`}}
    } else if (m && m.kind === 'file' && m.status === 'synced' && m.size === l.size && m.mtime === l.mtime) {
      yield {expected: {owner: l.owner, path: l.path, key: m.key, kind: 'file', size: m.size, sha256: m.sha256, crc: m.crc, posix: m, etag: m.etag, synced: true, held: l.held}}
    } else {
      const key = objectKeyFor(prefix, l.owner, l.path)
      yield {notVerified: {owner: l.owner, path: l.path, key: key.ok ? key.key : '', problem: 'not-copied', detail: notCopiedReason(l, runId)}}
    }
  }
  for (const d of listed.markers()) yield {expected: {owner: d.owner, path: d.path, key: d.key, kind: 'dir', size: d.size, sha256: d.sha256, crc: d.crc, posix: d, etag: d.etag, synced: true, held: d.held}}
}

function* inventoryItems(inventory: InventoryStore, prefix: string): IterableIterator<Item> {
  const run = inventory.latestCompleteRun()!
  for (const f of inventory.files(run.id)) {
    if (f.type !== 'file') continue
    const key = objectKeyFor(prefix, f.owner, f.path)
    if (key.ok) yield {expected: {owner: f.owner, path: f.path, key: key.key, kind: 'file', size: f.size, synced: false}}
    else yield {notVerified: {owner: f.owner, path: f.path, key: '', problem: 'not-copied', detail: `it cannot be copied: ${key.reason}`}}
  }
}

/** The files --source-hash re-hashes: those copied (listing) or expected (inventory). */
function* expectedFiles(items: IterableIterator<Item>): IterableIterator<Expected> {
  for (const i of items) if ('expected' in i && i.expected.kind === 'file') yield i.expected
}

export async function runVerify(config: Config, opts: VerifyOptions, deps: VerifyDeps): Promise<VerifyResult> {
  const started = Date.now()
  const store = new ManifestStore(deps.state)
  const inventory = new InventoryStore(deps.state)
  const listing = store.listingRun()
  let basis: 'listing' | 'inventory' = 'listing'
  if (!listing) {
    if (store.count() > 0) {
      throw usageError(
        'no complete listing of the source is recorded (the last sync ran with an older sftp-cutover, or never finished listing): verify cannot account for every source file',
        ['Run sftp-cutover sync (it lists the source and copies only what changed), then verify again.'],
        'NO_SOURCE_LISTING',
      )
    }
    if (!inventory.latestCompleteRun()) throw usageError('nothing to verify: the manifest is empty and there is no inventory', ['Run sftp-cutover sync first.'], 'NOTHING_TO_VERIFY')
    basis = 'inventory'
    deps.log('verify.basis.inventory', {})
  }
  const target: ObjectTarget = new S3ObjectTarget(deps.aws.s3(), config.target.bucket)
  const listed = new ListedObjectsStore(deps.state)
  try {
    const items = () => (listing ? listingItems(listed, listing.id, config.target.prefix) : inventoryItems(inventory, config.target.prefix))
    const lister = new S3ObjectLister(deps.aws.s3(), config.target.bucket)
    const result = await verifyAll(config, opts, deps, store, items, basis, target, started, {lister, listed})
    if (listing) result.listing = {runId: listing.id, listedAt: listing.listedAt}
    if (opts.replica && !deps.signal?.aborted) {
      if (!deps.replicaS3) throw new Error('verify --replica needs deps.replicaS3')
      result.replica = await verifyReplica(config, store, opts.replica, {s3: deps.aws.s3(), replicaS3: deps.replicaS3, signal: deps.signal})
      result.durationMs = Date.now() - started
    }
    return result
  } finally {
    listed.clear()
    target.close()
  }
}

export const DEFAULT_SAMPLE = 100

/** Keys per range of a home listed side by side with the others (each range is listed a page of 1,000 after another). */
const RANGE_KEYS = 10_000
const LISTINGS_AT_ONCE = 4

/**
 * Lists every home's objects into the TEMP table, each home split at every 10,000th key the manifest holds into ranges
 * listed 4 at a time (S3's answer time overlaps the parsing); the reason when the listing cannot be used (then each
 * object is HEADed).
 */
export async function listHomes(prefix: string, lister: ObjectLister, listed: ListedObjectsStore, signal: AbortSignal | undefined, rangeKeys = RANGE_KEYS): Promise<string | undefined> {
  const ranges: Array<{owner: string; prefix: string; after?: string; upTo?: Buffer}> = []
  for (const owner of listed.homeOwners()) {
    const home = `${homeKeyPrefix(prefix, owner)}/`
    const splits = listed.splitKeys(home, rangeKeys)
    ;[undefined, ...splits].forEach((after, i) => ranges.push({owner, prefix: home, after, upTo: i < splits.length ? Buffer.from(splits[i]) : undefined}))
  }
  try {
    await forEach(ranges.values(), LISTINGS_AT_ONCE, signal, async (r) => {
      for await (let page of lister.pages(r.prefix, r.after)) {
        // The range ends at its upper key (in S3's order, UTF-8 bytes): what follows is the next range's.
        const last = r.upTo && page.length > 0 ? Buffer.compare(Buffer.from(page[page.length - 1].key), r.upTo) : -1
        if (last > 0) page = page.filter((o) => Buffer.compare(Buffer.from(o.key), r.upTo!) <= 0)
        listed.add(r.owner, page)
        if (last >= 0 || signal?.aborted) return
      }
    })
    return signal?.aborted ? 'interrupted' : undefined
  } catch (err) {
    listed.clear()
    return `ListObjectsV2 failed: ${s3Reason(err)}`
  }
}

/** Why the listed object is not plainly the one sync wrote (then it is HEADed), or undefined when it is. */
function listingDiffers(e: Expected, o: HeldObject | null | undefined): string | undefined {
  if (!o) return 'not listed'
  if (o.size !== e.size) return 'size'
  if (!e.synced) return undefined
  if (e.etag === undefined || o.etag === undefined) return 'no ETag to compare'
  if (unquote(o.etag) !== unquote(e.etag)) return 'ETag'
  // Sync writes every object with a full-object CRC-32; a listing that shows checksums must show that one.
  if (o.checksumAlgorithms.length > 0 && !o.checksumAlgorithms.includes('CRC32')) return 'checksum algorithm'
  if (o.checksumType !== undefined && o.checksumType !== 'FULL_OBJECT') return 'checksum type'
  return undefined
}

const unquote = (etag: string) => etag.replace(/^(W\/)?"|"$/g, '')

/** When the record points at Transfer (switched, not rolled back): clients may have written to S3 since then. */
function switchedToTransfer(config: Config, state: SqliteStateStore): string | undefined {
  const {hostedZoneId, recordName} = config.dns
  const rec = hostedZoneId && recordName ? new CutoverStore(state).dnsRecord(hostedZoneId, recordName) : undefined
  return rec && !rec.rolledBackAt ? (rec.switchStartedAt ?? rec.switchedAt) : undefined
}

/** A uniform random sample of up to `size` of the items offered (reservoir sampling: one pass, `size` kept). */
class Reservoir<T> {
  readonly kept: T[] = []
  private seen = 0
  constructor(private readonly size: number) {}
  offer(item: T): void {
    this.seen++
    if (this.kept.length < this.size) this.kept.push(item)
    else {
      const j = Math.floor(Math.random() * this.seen)
      if (j < this.size) this.kept[j] = item
    }
  }
}

async function verifyAll(
  config: Config,
  opts: VerifyOptions,
  deps: VerifyDeps,
  store: ManifestStore,
  items: () => IterableIterator<Item>,
  basis: 'listing' | 'inventory',
  target: ObjectTarget,
  started: number,
  listing: {lister: ObjectLister; listed: ListedObjectsStore},
): Promise<VerifyResult> {
  await target.checkBucket()
  const want = await expectedEncryption(config, target)
  const s3: S3Counts = {checked: 0, mismatched: 0, method: 'head', listed: 0, headed: 0, differed: 0, sampled: 0, extra: 0, sinceSwitch: 0}
  const result: VerifyResult = {
    encryption: 'from' in want ? {expected: `${want.algorithm}${want.kmsKeyId ? ` with key ${want.kmsKeyId}` : ''} (${want.from})`} : want,
    basis,
    bucket: config.target.bucket,
    files: {total: 0, verified: 0, notCopied: 0},
    checked: 0,
    ok: 0,
    counts: {s3},
    perOwner: {},
    mismatches: [],
    truncated: false,
    durationMs: 0,
  }
  if (opts.deep) result.counts.deep = {checked: 0, mismatched: 0}
  if (opts.efsPath) result.counts.efs = {checked: 0, missing: 0, changed: 0, extra: 0}
  // Entries checked in S3 that failed a check, and source files that are not verified (checked or not).
  const bad = new Set<string>()
  const badFiles = new Set<string>()
  const report = (m: Omit<Mismatch, 'path'> & {path: Buffer}, kind: 'file' | 'dir' = 'file') => {
    const id = `${m.owner}\0${m.path.toString('latin1')}`
    if (m.problem !== 'extra' && m.problem !== 'not-copied' && m.problem !== 'unlisted') bad.add(id)
    if (m.problem !== 'extra' && kind === 'file') badFiles.add(id)
    if (result.mismatches.length < LIST_LIMIT) result.mismatches.push({...m, path: displayPath(m.path)})
    else result.truncated = true
  }

  // The listing vouches for objects before any sync only by size: nothing to gain over a HEAD there.
  const listingRefused = basis === 'listing' ? await listHomes(config.target.prefix, listing.lister, listing.listed, deps.signal) : 'nothing synced yet: each object is HEADed'
  if (listingRefused === undefined) {
    s3.listed = listing.listed.count()
    if (!opts.deep) s3.method = 'listing'
  } else {
    s3.reason = listingRefused
    deps.log('verify.listing.unused', {reason: listingRefused})
  }
  const sample = new Reservoir<Expected>(opts.sample ?? DEFAULT_SAMPLE)
  const notCopiedKeys: string[] = []

  const total = basis === 'listing' ? store.listingCount() : 0
  await forEach(items(), opts.concurrency, deps.signal, async (item) => {
    if ('notVerified' in item) {
      const n = item.notVerified
      if (n.problem === 'not-copied') {
        result.files.total++
        result.files.notCopied++
        if (n.key) notCopiedKeys.push(n.key)
      }
      report({where: 's3', ...n}, n.problem === 'unlisted' ? 'dir' : 'file')
    } else {
      const e = item.expected
      if (e.kind === 'file') result.files.total++
      result.checked++
      s3.checked++
      const owner = (result.perOwner[e.owner] ??= {checked: 0, mismatched: 0})
      owner.checked++
      const differs = s3.method === 'listing' ? listingDiffers(e, e.held) : 'HEAD'
      if (differs === undefined) sample.offer(e)
      else {
        if (s3.method === 'listing') s3.differed++
        await checkObject(target, e, opts, 'from' in want ? want : undefined, result, report)
      }
      if (opts.efsPath && e.kind === 'file') await checkEfs(opts.efsPath, e, result, report)
    }
    deps.progress?.(result.files.total, Math.max(total, result.files.total), badFiles.size)
  })
  // What the listing vouched for, checked in full on a random sample.
  await forEach(sample.kept.values(), opts.concurrency, deps.signal, async (e) => {
    s3.sampled++
    await checkObject(target, e, opts, 'from' in want ? want : undefined, result, report)
  })
  if (listingRefused === undefined && !deps.signal?.aborted) findExtras(config, deps.state, listing.listed, notCopiedKeys, result, report)

  if (opts.efsPath && basis === 'listing') await findEfsExtras(opts.efsPath, config.target.prefix, store, result, report)
  if (opts.sourceHash) await checkSource(config, opts, deps, () => expectedFiles(items()), target, result, report)
  result.ok = result.checked - bad.size
  for (const key of bad) (result.perOwner[key.slice(0, key.indexOf('\0'))] ??= {checked: 0, mismatched: 0}).mismatched++
  result.files.verified = result.files.total - badFiles.size
  result.durationMs = Date.now() - started
  return result
}

type Report = (m: Omit<Mismatch, 'path'> & {path: Buffer}, kind?: 'file' | 'dir') => void

/**
 * Objects under the homes that sync did not write (no manifest row names them, no listed source file maps to them).
 * After the switch to Transfer, those written since are clients' uploads: counted, not mismatches.
 */
function findExtras(config: Config, state: SqliteStateStore, listed: ListedObjectsStore, notCopiedKeys: string[], result: VerifyResult, report: Report): void {
  const s3 = result.counts.s3
  listed.markExpected(notCopiedKeys)
  const switchedAt = switchedToTransfer(config, state)
  for (const o of listed.unknown()) {
    const home = `${homeKeyPrefix(config.target.prefix, o.owner)}/`
    // the home folder placeholder users import writes for Transfer
    if (o.key === home) continue
    if (switchedAt !== undefined && o.lastModified !== undefined && o.lastModified >= switchedAt) {
      s3.sinceSwitch++
      continue
    }
    s3.extra++
    report({where: 's3', problem: 'extra', owner: o.owner, path: Buffer.from(o.key.slice(home.length)), key: o.key, detail: 'S3 holds an object here that sync did not write (no source file of the listing or the manifest maps to it)'})
  }
}

/** What every object must carry: SSE-KMS with target.kmsKeyId when set (sync sends it), else the bucket default. */
async function expectedEncryption(config: Config, target: ObjectTarget): Promise<ExpectedEncryption | {unchecked: string}> {
  if (config.target.kmsKeyId) return {algorithm: 'aws:kms', kmsKeyId: config.target.kmsKeyId, from: 'target.kmsKeyId'}
  try {
    const d = await target.defaultEncryption()
    if (d === 'none' || !d.algorithm) return {unchecked: 'the bucket has no default encryption and target.kmsKeyId is not set'}
    return {algorithm: d.algorithm, kmsKeyId: d.kmsKeyId, from: 'the bucket default'}
  } catch (err) {
    return {unchecked: `the bucket's default encryption cannot be read (GetBucketEncryption: ${s3Reason(err)})`}
  }
}

/** The sha256 sync wrote with the object: in its metadata (small files) or its SHA256_TAG tag (multipart uploads). */
async function objectSha256(target: ObjectTarget, key: string, head?: {metadata: Record<string, string>}): Promise<string | undefined> {
  const meta = (head ?? (await target.head(key)))?.metadata.sha256
  return meta ?? (await target.tags(key))?.[SHA256_TAG]
}

/** The full checks of one object: HEAD (size, CRC-32, sha256, encryption), and with --deep a download re-hashed. */
async function checkObject(target: ObjectTarget, e: Expected, opts: VerifyOptions, want: ExpectedEncryption | undefined, result: VerifyResult, report: Report): Promise<void> {
  const base = {owner: e.owner, path: e.path, key: e.key, where: 's3' as const}
  result.counts.s3.headed++
  const mismatch = (problem: MismatchKind, detail: string, counter: {mismatched: number} = result.counts.s3) => {
    counter.mismatched++
    report({...base, problem, detail}, e.kind)
  }
  let head
  try {
    head = await target.head(e.key)
  } catch (err) {
    return mismatch('unreadable', `HeadObject failed: ${s3Reason(err)}`)
  }
  if (!head) return mismatch('missing', 'the object does not exist')
  if (head.size !== e.size) return mismatch('size', `S3 holds ${head.size} bytes, the source had ${e.size}`)
  if (e.crc !== undefined && head.crc32 !== e.crc) {
    return mismatch('crc', head.crc32 ? `S3 reports CRC32 ${head.crc32}${head.checksumType ? ` (${head.checksumType})` : ''}, the copy computed ${e.crc}` : 'S3 holds no CRC32 for the object: it was not written by sync')
  }
  let metaSha: string | undefined
  try {
    metaSha = await objectSha256(target, e.key, head)
  } catch (err) {
    return mismatch('unreadable', `GetObjectTagging failed: ${s3Reason(err)}`)
  }
  if (e.sha256 !== undefined && metaSha !== e.sha256) return mismatch('sha256', metaSha ? `the object's sha256 ${metaSha}, the source's was ${e.sha256}` : 'the object carries no sha256 (metadata or tag)')
  const encryption = want && encryptionProblem(head.encryption, want)
  if (encryption) mismatch('encryption', encryption)
  if (!opts.deep) return
  const deep = result.counts.deep!
  deep.checked++
  if (e.posix) {
    // The mode and owner live in a tag (a chmod at the source rewrites it): it must say what the manifest does.
    let tag: string | undefined
    try {
      tag = (await target.tags(e.key))?.[POSIX_TAG]
    } catch (err) {
      return mismatch('unreadable', `GetObjectTagging failed: ${s3Reason(err)}`, deep)
    }
    const got = parsePosixTag(tag)
    const want = objectTags(e.posix)[POSIX_TAG]
    if (!got || got.mode !== e.posix.mode || got.uid !== e.posix.uid || got.gid !== e.posix.gid) {
      mismatch('attributes', `the object's ${POSIX_TAG} tag is ${tag === undefined ? 'missing' : `"${tag}"`}, the source's is "${want}"`, deep)
    }
  }
  if (e.kind === 'dir') return
  try {
    const hash = createHash('sha256')
    let crc = 0
    let size = 0
    for await (const chunk of await target.read(e.key)) {
      hash.update(chunk as Buffer)
      crc = crc32(chunk as Buffer, crc)
      size += (chunk as Buffer).length
    }
    const sha = hash.digest('hex')
    const want = e.sha256 ?? metaSha
    // The CRC-32 S3 stored for the whole object too (not a composite "crc-of-part-crcs-N" one).
    const stored = head.checksumType !== 'COMPOSITE' && head.crc32 && !head.crc32.includes('-') ? head.crc32 : undefined
    const got = crc32Base64(crc)
    if (size !== e.size || (want !== undefined && sha !== want) || (e.crc !== undefined && got !== e.crc) || (stored !== undefined && got !== stored)) {
      mismatch('content', `downloaded ${size} bytes with sha256 ${sha}; expected ${e.size} bytes with sha256 ${want ?? 'unknown'}`, deep)
    }
  } catch (err) {
    // Through the SDK (endpoints not signed with plain SigV4), GetObject itself checks the bytes against the CRC S3
    // stored and fails the read when they differ.
    if (/checksum/i.test(errorMessage(err))) mismatch('content', `the downloaded bytes do not match the object's stored checksum: ${errorMessage(err)}`, deep)
    else mismatch('unreadable', `GetObject failed: ${s3Reason(err)}`, deep)
  }
}

/** The Lambda writes <efs.path>/<key>; directory markers are not copied. */
async function checkEfs(efsPath: string, e: Expected, result: VerifyResult, report: Report): Promise<void> {
  const efs = result.counts.efs!
  efs.checked++
  const file = efsPathOf(efsPath, e.key)
  const base = {owner: e.owner, path: e.path, key: e.key, where: 'efs' as const}
  try {
    const st = await statFile(file)
    if (!st || st.type !== 'file') {
      efs.missing++
      return report({...base, problem: 'missing', detail: `${file} does not exist${st ? ' as a file' : ''}`})
    }
    if (st.size !== e.size) {
      efs.changed++
      return report({...base, problem: 'changed', detail: `${file} has ${st.size} bytes, the source had ${e.size}`})
    }
    if (e.sha256 !== undefined) {
      const sha = await sha256File(file)
      if (sha !== e.sha256) {
        efs.changed++
        report({...base, problem: 'changed', detail: `${file} has sha256 ${sha}, the source's was ${e.sha256}`})
      }
    }
  } catch (err) {
    efs.changed++
    report({...base, problem: 'unreadable', detail: `${file}: ${errorMessage(err)}`})
  }
}

/** Files under each owner's home on EFS that the manifest does not know (left over, or written there by hand). */
async function findEfsExtras(efsPath: string, prefix: string, store: ManifestStore, result: VerifyResult, report: Report): Promise<void> {
  const utf8 = new TextDecoder('utf-8', {fatal: true})
  for (const owner of store.owners()) {
    const home = homeKeyPrefix(prefix, owner)
    for await (const rel of listFiles(efsPathOf(efsPath, home))) {
      let key: string | undefined
      try {
        key = `${home}/${utf8.decode(rel)}`
      } catch {
        key = undefined
      }
      if (key !== undefined && store.hasKey(key)) continue
      result.counts.efs!.extra++
      report({where: 'efs', problem: 'extra', owner, path: rel, key: key ?? '', detail: `${efsPathOf(efsPath, home)}/${displayPath(rel)} is not in the manifest`})
    }
  }
}

/**
 * Re-hashes the source. With exec, one `sha256sum` per 200 files runs on the box (the bytes never cross the
 * wire, and it is a hash computed by other code than ours); otherwise each file is read over SFTP.
 */
async function checkSource(
  config: Config,
  opts: VerifyOptions,
  deps: VerifyDeps,
  files: () => IterableIterator<Expected>,
  target: ObjectTarget,
  result: VerifyResult,
  report: Report,
): Promise<void> {
  const {pool, sshCreds} = await openSourcePool(config.source, deps.env, deps.askSecret, {connections: opts.connections, perConnection: Math.ceil(opts.concurrency / opts.connections)})
  let hasher: SourceHasher | undefined
  try {
    const {roots} = await resolveRoots(config, deps.state, () => pool.withSource((s) => s.realpath('.')))
    const rootOf = new Map<string, Buffer>(roots.map((r: SyncRoot) => [r.owner, r.path]))
    let method: SourceHashMethod = opts.sourceHashMethod === 'sftp' ? 'sftp' : 'exec'
    if (!sshCreds) {
      // FTP: no commands to run; the server's own HASH (when FEAT lists one), else every file is read again.
      if (opts.sourceHashMethod === 'exec') throw usageError(`--source-hash-method exec runs sha256sum over SSH, and this source is read over ${config.source.protocol.toUpperCase()}`, ['Use --source-hash-method auto: the server\'s HASH command, or a re-read of each file.'])
      const command = await pool.withSource(async (s) => s.serverHash)
      method = command ? 'ftp-hash' : 'ftp-read'
      deps.log('verify.source-hash.ftp', {method, command})
    } else if (method === 'exec') {
      const opened = await SourceHasher.open(config.source, sshCreds)
      if (opened instanceof SourceHasher) hasher = opened
      else {
        if (opts.sourceHashMethod === 'exec') throw usageError(`the source login cannot run sha256sum: ${opened.unavailable}`, ['Use --source-hash-method sftp (or auto).'])
        deps.log('verify.source-hash.sftp', {reason: opened.unavailable})
        method = 'sftp'
      }
    }
    const counts = {method, checked: 0, mismatched: 0}
    result.counts.source = counts
    const compare = async (e: Expected, sha: string | undefined, problem?: string) => {
      counts.checked++
      const want = e.sha256 ?? (await objectSha256(target, e.key).catch(() => undefined))
      const base = {owner: e.owner, path: e.path, key: e.key, where: 'source' as const}
      if (problem !== undefined || sha === undefined) {
        counts.mismatched++
        report({...base, problem: 'missing', detail: problem ?? 'the source file could not be hashed (deleted or unreadable)'})
      } else if (want !== sha) {
        counts.mismatched++
        report({...base, problem: 'changed', detail: `the source's sha256 is now ${sha}, the copy's is ${want ?? 'unknown'}`})
      }
    }
    const toHash = (function* () {
      for (const e of files()) if (rootOf.has(e.owner)) yield e
    })()
    const absOf = (e: Expected) => (e.path.length ? Buffer.concat([rootOf.get(e.owner)!, SLASH, e.path]) : rootOf.get(e.owner)!)
    if (hasher) {
      await hasher.hash(toHash, absOf, async (digests) => {
        for (const [e, sha] of digests) await compare(e, sha)
      }, () => deps.signal?.aborted === true)
    } else {
      await forEach(toHash, opts.concurrency, deps.signal, async (e) => {
        try {
          await compare(e, method === 'ftp-hash' ? await pool.withSource((s) => s.serverSha256!(absOf(e))) : await hashOverSftp(pool, absOf(e)))
        } catch (err) {
          await compare(e, undefined, err instanceof SourceStatusError ? `${err.statusName}: ${err.message}` : errorMessage(err))
        }
      })
    }
  } finally {
    hasher?.close()
    await pool.close()
  }
}

/** How --source-hash hashed the source: sha256sum over SSH, a re-read over SFTP, the FTP server's HASH command, or a re-read over FTP. */
export type SourceHashMethod = 'exec' | 'sftp' | 'ftp-hash' | 'ftp-read'

async function hashOverSftp(pool: SourcePool, abs: Buffer): Promise<string> {
  return pool.withSource(async (sftp) => {
    const handle = await sftp.openRead(abs)
    try {
      const hash = createHash('sha256')
      const size = (await sftp.fstat(handle)).size
      await sftp.readRange(handle, 0, size, 16, (chunk) => void hash.update(chunk))
      return hash.digest('hex')
    } finally {
      sftp.close(handle).catch(() => undefined)
    }
  })
}
