/**
 * verify: checks that what S3 (and the EFS copy) holds is what was read from the source. For every manifest row:
 * the object exists with the same size, the full-object CRC-32 S3 reports and the sha256 in its metadata equal the
 * manifest's; --deep downloads and re-hashes; --source-hash re-hashes the source; --efs-path checks the Lambda's
 * copies and lists extra files there. Without a manifest it checks the last inventory's files (sizes only).
 */
import {createHash} from 'node:crypto'

import type {AwsClients} from '../adapters/aws.js'
import {efsPathOf, listFiles, sha256File, statFile} from '../adapters/efs-files.js'
import {InventoryStore} from '../adapters/inventory-store.js'
import {ManifestStore} from '../adapters/manifest-store.js'
import {type ObjectTarget, S3ObjectTarget, s3Reason} from '../adapters/object-target.js'
import {SftpStatusError} from '../adapters/sftp-client.js'
import {SftpPool} from '../adapters/sftp-pool.js'
import {SourceHasher} from '../adapters/source-hasher.js'
import {type AskSecret, resolveCredentials} from '../adapters/ssh.js'
import type {SqliteStateStore} from '../adapters/state.js'
import type {Config} from '../core/config.js'
import {crc32, crc32Base64} from '../core/crc32.js'
import {errorMessage, usageError} from '../core/errors.js'
import {displayPath} from '../core/findings.js'
import {homeKeyPrefix, objectKeyFor} from '../core/key-mapping.js'
import {resolveRoots, type SyncRoot} from './sync-roots.js'

export interface VerifyOptions {
  /** Re-hash the source files and compare with the recorded sha256 */
  sourceHash: boolean
  /** exec: batched sha256sum over SSH; sftp: read over SFTP; auto: exec when the login may run commands */
  sourceHashMethod: 'auto' | 'exec' | 'sftp'
  /** Download every object and re-hash it */
  deep: boolean
  /** Mounted EFS directory holding the Lambda's copies (<efsPath>/<key>) */
  efsPath?: string
  /** Objects checked at once */
  concurrency: number
  connections: number
}

export type Where = 's3' | 'source' | 'efs'
export type MismatchKind = 'missing' | 'size' | 'crc' | 'sha256' | 'content' | 'changed' | 'extra' | 'unreadable'

export interface Mismatch {
  where: Where
  problem: MismatchKind
  owner: string
  path: string
  key: string
  detail: string
}

export interface VerifyResult {
  basis: 'manifest' | 'inventory'
  bucket: string
  checked: number
  ok: number
  counts: {
    s3: {checked: number; mismatched: number}
    deep?: {checked: number; mismatched: number}
    source?: {method: 'exec' | 'sftp'; checked: number; mismatched: number}
    efs?: {checked: number; missing: number; changed: number; extra: number}
  }
  /** Per owner: entries checked, and those with at least one mismatch */
  perOwner: Record<string, {checked: number; mismatched: number}>
  mismatches: Mismatch[]
  truncated: boolean
  durationMs: number
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
}

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

function* expectedItems(store: ManifestStore, inventory: InventoryStore, basis: 'manifest' | 'inventory', prefix: string): IterableIterator<Expected> {
  if (basis === 'manifest') {
    for (const m of store.entries()) yield {owner: m.owner, path: m.path, key: m.key, kind: m.kind, size: m.size, sha256: m.sha256, crc: m.crc}
    return
  }
  const run = inventory.latestCompleteRun()!
  for (const f of inventory.files(run.id)) {
    if (f.type !== 'file') continue
    const key = objectKeyFor(prefix, f.owner, f.path)
    if (key.ok) yield {owner: f.owner, path: f.path, key: key.key, kind: 'file', size: f.size}
  }
}

export async function runVerify(config: Config, opts: VerifyOptions, deps: VerifyDeps): Promise<VerifyResult> {
  const started = Date.now()
  const store = new ManifestStore(deps.state)
  const inventory = new InventoryStore(deps.state)
  let basis: 'manifest' | 'inventory' = 'manifest'
  if (store.count() === 0) {
    if (!inventory.latestCompleteRun()) throw usageError('nothing to verify: the manifest is empty and there is no inventory', ['Run sftp-cutover sync first.'], 'NOTHING_TO_VERIFY')
    basis = 'inventory'
    deps.log('verify.basis.inventory', {})
  }
  const target: ObjectTarget = new S3ObjectTarget(deps.aws.s3(), config.target.bucket)
  try {
    return await verifyAll(config, opts, deps, store, inventory, basis, target, started)
  } finally {
    target.close()
  }
}

async function verifyAll(
  config: Config,
  opts: VerifyOptions,
  deps: VerifyDeps,
  store: ManifestStore,
  inventory: InventoryStore,
  basis: 'manifest' | 'inventory',
  target: ObjectTarget,
  started: number,
): Promise<VerifyResult> {
  await target.checkBucket()
  const result: VerifyResult = {basis, bucket: config.target.bucket, checked: 0, ok: 0, counts: {s3: {checked: 0, mismatched: 0}}, perOwner: {}, mismatches: [], truncated: false, durationMs: 0}
  if (opts.deep) result.counts.deep = {checked: 0, mismatched: 0}
  if (opts.efsPath) result.counts.efs = {checked: 0, missing: 0, changed: 0, extra: 0}
  const bad = new Set<string>()
  const report = (m: Omit<Mismatch, 'path'> & {path: Buffer}) => {
    if (m.problem !== 'extra') bad.add(`${m.owner}\0${m.path.toString('latin1')}`)
    if (result.mismatches.length < LIST_LIMIT) result.mismatches.push({...m, path: displayPath(m.path)})
    else result.truncated = true
  }

  const total = basis === 'manifest' ? store.count() : 0
  await forEach(expectedItems(store, inventory, basis, config.target.prefix), opts.concurrency, deps.signal, async (e) => {
    result.checked++
    const owner = (result.perOwner[e.owner] ??= {checked: 0, mismatched: 0})
    owner.checked++
    await checkObject(target, e, opts, result, report)
    if (opts.efsPath && e.kind === 'file') await checkEfs(opts.efsPath, e, result, report)
    deps.progress?.(result.checked, Math.max(total, result.checked), bad.size)
  })

  if (opts.efsPath && basis === 'manifest') await findEfsExtras(opts.efsPath, config.target.prefix, store, result, report)
  if (opts.sourceHash) await checkSource(config, opts, deps, store, inventory, basis, target, result, report)
  result.ok = result.checked - bad.size
  for (const key of bad) (result.perOwner[key.slice(0, key.indexOf('\0'))] ??= {checked: 0, mismatched: 0}).mismatched++
  result.durationMs = Date.now() - started
  return result
}

async function checkObject(target: ObjectTarget, e: Expected, opts: VerifyOptions, result: VerifyResult, report: (m: Omit<Mismatch, 'path'> & {path: Buffer}) => void): Promise<void> {
  const base = {owner: e.owner, path: e.path, key: e.key, where: 's3' as const}
  result.counts.s3.checked++
  const mismatch = (problem: MismatchKind, detail: string, counter: {mismatched: number} = result.counts.s3) => {
    counter.mismatched++
    report({...base, problem, detail})
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
  const metaSha = head.metadata.sha256
  if (e.sha256 !== undefined && metaSha !== e.sha256) return mismatch('sha256', metaSha ? `metadata sha256 ${metaSha}, the source's was ${e.sha256}` : 'the object has no sha256 metadata')
  if (!opts.deep || e.kind === 'dir') return
  const deep = result.counts.deep!
  deep.checked++
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
async function checkEfs(efsPath: string, e: Expected, result: VerifyResult, report: (m: Omit<Mismatch, 'path'> & {path: Buffer}) => void): Promise<void> {
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
async function findEfsExtras(efsPath: string, prefix: string, store: ManifestStore, result: VerifyResult, report: (m: Omit<Mismatch, 'path'> & {path: Buffer}) => void): Promise<void> {
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
  store: ManifestStore,
  inventory: InventoryStore,
  basis: 'manifest' | 'inventory',
  target: ObjectTarget,
  result: VerifyResult,
  report: (m: Omit<Mismatch, 'path'> & {path: Buffer}) => void,
): Promise<void> {
  const creds = await resolveCredentials(config.source, deps.env, deps.askSecret)
  const pool = new SftpPool(config.source, creds, {connections: opts.connections, perConnection: Math.ceil(opts.concurrency / opts.connections)})
  let hasher: SourceHasher | undefined
  try {
    const {roots} = await resolveRoots(config, deps.state, () => pool.withSftp((s) => s.realpath('.')))
    const rootOf = new Map<string, Buffer>(roots.map((r: SyncRoot) => [r.owner, r.path]))
    let method: 'exec' | 'sftp' = opts.sourceHashMethod === 'sftp' ? 'sftp' : 'exec'
    if (method === 'exec') {
      const opened = await SourceHasher.open(config.source, creds)
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
      const want = e.sha256 ?? (await target.head(e.key).catch(() => undefined))?.metadata.sha256
      const base = {owner: e.owner, path: e.path, key: e.key, where: 'source' as const}
      if (problem !== undefined || sha === undefined) {
        counts.mismatched++
        report({...base, problem: 'missing', detail: problem ?? 'the source file could not be hashed (deleted or unreadable)'})
      } else if (want !== sha) {
        counts.mismatched++
        report({...base, problem: 'changed', detail: `the source's sha256 is now ${sha}, the copy's is ${want ?? 'unknown'}`})
      }
    }
    const files = (function* () {
      for (const e of expectedItems(store, inventory, basis, config.target.prefix)) if (e.kind === 'file' && rootOf.has(e.owner)) yield e
    })()
    const absOf = (e: Expected) => (e.path.length ? Buffer.concat([rootOf.get(e.owner)!, SLASH, e.path]) : rootOf.get(e.owner)!)
    if (hasher) {
      await hasher.hash(files, absOf, async (digests) => {
        for (const [e, sha] of digests) await compare(e, sha)
      }, () => deps.signal?.aborted === true)
    } else {
      await forEach(files, opts.concurrency, deps.signal, async (e) => {
        try {
          await compare(e, await hashOverSftp(pool, absOf(e)))
        } catch (err) {
          await compare(e, undefined, err instanceof SftpStatusError ? `${err.statusName}: ${err.message}` : errorMessage(err))
        }
      })
    }
  } finally {
    hasher?.close()
    await pool.close()
  }
}

async function hashOverSftp(pool: SftpPool, abs: Buffer): Promise<string> {
  return pool.withSftp(async (sftp) => {
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
