/**
 * Copies one source file to S3: read over SFTP with pipelined READs, hashed as it streams, written with a CRC-32
 * that S3 checks. Small files go in one PutObject; large ones in a resumable multipart upload.
 */
import {createHash} from 'node:crypto'

import type {ManifestStore, PartRecord, TodoEntry, UploadRecord} from '../../adapters/manifest-store.js'
import type {ObjectTarget, WriteCondition} from '../../adapters/object-target.js'
import {ResumableSha256} from '../../adapters/sha256-worker.js'
import {isPreconditionFailure, isTransientS3Error, s3Reason} from '../../adapters/s3-errors.js'
import {isAwsServiceError} from '../../core/aws-errors.js'
import {CRC_ALGORITHM, crc32, crc32Base64, crc32Combine, crc32FromBase64} from '../../core/crc32.js'
import {errorMessage} from '../../core/errors.js'
import type {BufferPool, ByteBudget, TokenBucket} from '../../core/flow-control.js'
import {retry, RETRY, type RetryPolicy} from '../../core/retry.js'
import {isTransientSourceError, type SourceAttrs, type SourceFs, type SourcePool, SourceLinkError, SourceStatusError} from '../../core/source.js'
import {besideKey, type ManifestEntry, MULTIPART_THRESHOLD, objectMetadata, objectTags, ownsObject, partCount, partSizeFor, SHA256_TAG} from '../../core/sync-plan.js'

export interface TransferDeps {
  pool: SourcePool
  target: ObjectTarget
  store: ManifestStore
  runId: number
  /** Bounds the bytes held in buffers (whole small files, parts in flight). */
  budget: ByteBudget
  /** Part buffers, reused */
  buffers: BufferPool
  /** --bwlimit, applied to bytes read from the source */
  throttle?: TokenBucket
  /** Aborted on Ctrl-C: no new part or file is started; what is in flight finishes and is recorded. */
  signal: AbortSignal
  /** Parts of one file uploading at once */
  partConcurrency: number
  /** SFTP READs in flight per file */
  readAhead: number
  /** Retries of a file's copy after S3 errors (RETRY.file; a test may shorten the waits) */
  fileRetry?: RetryPolicy
  log: (msg: string, detail?: Record<string, unknown>) => void
  /** Bytes stored in S3 (for progress) */
  onBytes: (n: number) => void
  /** Bytes read from the source (whatever for: the run counts them) */
  onRead: (n: number) => void
  /** Bytes read by --checksum's hash of a file (negative when it ends), for progress */
  onHashing?: (n: number) => void
  /**
   * Set once the record has been switched: clients write to S3 through Transfer, so an object is replaced only while
   * it is the version the manifest recorded (one HEAD per file about to be written; nothing for unchanged files).
   */
  afterSwitch?: boolean
}

/** A file (or empty directory) to copy, with where it is on the box. */
export interface SourceFile extends Omit<TodoEntry, 'seq'> {
  abs: Buffer
  /** after the switch: write only over the object the HEAD found sync's (or where none was) */
  condition?: WriteCondition
}

export type ManifestRow = Omit<ManifestEntry, 'status' | 'syncedAt'>

export type Outcome =
  | {status: 'copied'; row: ManifestRow; recorded: boolean; resumedParts: number; metadataOnly?: boolean}
  | {status: 'unchanged'}
  | {status: 'changed'; reason: string}
  | {status: 'vanished'; reason: string}
  | {status: 'interrupted'}
  | {status: 'failed'; reason: string}
  /** after the switch S3 held another version: kept; the box's version went to `besideKey` */
  | {status: 'conflict'; row: ManifestRow; besideKey: string; reason: string}

class SourceChanged extends Error {}
class SourceVanished extends Error {}
class Interrupted extends Error {}
/** An upload of a part failed: reading stops (the failure is thrown once the parts in flight have finished). */
class UploadFailed extends Error {}
/** A conditional write found another object than the HEAD before it (a Transfer upload in between). */
class TargetChanged extends Error {}

const EMPTY_SHA256 = createHash('sha256').digest('hex')
const noop = () => undefined

/** Worth another copy of the file: S3 errors only (a dropped link to the box is retried where it is read, by onSource). */
function isTransientForFile(err: unknown): boolean {
  return !(err instanceof SourceStatusError) && !(err instanceof SourceLinkError) && isTransientS3Error(err)
}

function reasonOf(err: unknown): string {
  if (err instanceof SourceStatusError) return `reading the source failed: ${err.statusName}: ${err.message}`
  if (err instanceof SourceLinkError) return `reading the source failed: ${err.message}`
  if (isAwsServiceError(err)) return s3Reason(err)
  return errorMessage(err)
}

async function openSource(sftp: SourceFs, file: SourceFile): Promise<Buffer> {
  try {
    return await sftp.openRead(file.abs)
  } catch (err) {
    if (err instanceof SourceStatusError && err.notFound) throw new SourceVanished('deleted at the source after it was listed')
    throw err
  }
}

/** The listing's size and mtime must still hold: otherwise the bytes read may mix two versions of the file. */
function checkStat(file: SourceFile, st: SourceAttrs, when: string): void {
  if (st.size !== file.size || st.mtime !== file.mtime) {
    throw new SourceChanged(`changed ${when}: size ${file.size} -> ${st.size}, mtime ${file.mtime} -> ${st.mtime}; it is copied on the next run`)
  }
}

function rowFor(file: SourceFile, sha256: string, crc: string, etag?: string, versionId?: string): ManifestRow {
  return {
    owner: file.owner,
    path: file.path,
    kind: file.action === 'dir-marker' ? 'dir' : 'file',
    size: file.size,
    mtime: file.mtime,
    mode: file.mode,
    uid: file.uid,
    gid: file.gid,
    sha256,
    crc,
    crcAlgorithm: CRC_ALGORITHM,
    key: file.key,
    etag,
    versionId,
  }
}

/** One file, retried while failures are transient; never throws. `known` is its manifest entry, for check and metadata. */
export async function transferFile(file: SourceFile, known: ManifestEntry | undefined, transfer: TransferDeps): Promise<Outcome> {
  // Bytes of this file stored in S3 (parts of a large file): an attempt that stored some before it failed does not
  // use up one of the file's attempts.
  let stored = 0
  let storedBefore = 0
  const deps: TransferDeps = {...transfer, onBytes: (n) => ((stored += n), transfer.onBytes(n))}
  try {
    return await retry(
      async () => {
        storedBefore = stored
        if (file.action === 'dir-marker') return deps.afterSwitch && (await deps.target.head(file.key)) ? await keepDirMarker(file) : await putDirMarker(file, deps)
        if (file.action === 'metadata' && known) return await retag(file, known, deps)
        if (file.action === 'check' && (await hashOnly(file, deps)) === known?.sha256) return {status: 'unchanged'} as const
        return await (deps.afterSwitch ? guardedCopy(file, known, deps) : copyFile(file, deps))
      },
      {
        ...(deps.fileRetry ?? RETRY.file),
        isTransient: (err) => !deps.signal.aborted && isTransientForFile(err),
        progressed: () => stored > storedBefore,
        onRetry: (err, attempt, delayMs) => deps.log('sync.file.retry', {key: file.key, attempt, delayMs: Math.round(delayMs), reason: reasonOf(err)}),
      },
    )
  } catch (err) {
    if (err instanceof SourceChanged) return {status: 'changed', reason: err.message}
    if (err instanceof SourceVanished) return {status: 'vanished', reason: err.message}
    if (err instanceof Interrupted) return {status: 'interrupted'}
    return {status: 'failed', reason: reasonOf(err)}
  }
}

/**
 * After the switch: when S3 no longer holds the version the manifest recorded (a Transfer upload replaced or deleted
 * it, or created the key), S3's object is kept and the box's version is written beside it. The manifest row then
 * describes the box's file (so the next pass does not copy it again) with the ETag it had before: the object at the
 * key is still not sync's, and a later change on the box is a conflict again.
 */
async function guardedCopy(file: SourceFile, known: ManifestEntry | undefined, deps: TransferDeps): Promise<Outcome> {
  const held = await deps.target.head(file.key)
  let raced = false
  if (ownsObject(held, known?.key === file.key ? known : undefined, file)) {
    // The write itself is conditional, so an upload landing between the HEAD and the write is not replaced either.
    const condition: WriteCondition = held ? {ifMatch: held.etag} : {ifNoneMatch: '*'}
    try {
      return await copyFile({...file, condition}, deps)
    } catch (err) {
      if (!(err instanceof TargetChanged)) throw err
      raced = true
    }
  }
  const beside = besideKey(file.key, file.mtime)
  const what = raced ? 'S3 refused to replace the object: it changed while the file was being copied (a Transfer upload)' : held ? 'S3 holds another version than sync wrote (uploaded through Transfer since the switch)' : 'deleted in S3 since the switch'
  const reason = `${what} while the file changed on the legacy box: S3's object kept, the box's version written beside it as ${beside}`
  deps.log('sync.conflict', {key: file.key, beside})
  const out = await copyFile({...file, key: beside}, deps)
  if (out.status !== 'copied') return out
  const row = {...out.row, key: file.key, etag: known?.key === file.key ? known.etag : undefined, versionId: known?.key === file.key ? known.versionId : undefined}
  return {status: 'conflict', row, besideKey: beside, reason}
}

/** After the switch, a directory marker already in S3 (Transfer makes them on mkdir) holds no data: it is kept. */
function keepDirMarker(file: SourceFile): Outcome {
  return {status: 'copied', row: rowFor(file, EMPTY_SHA256, crc32Base64(0)), recorded: false, resumedParts: 0}
}

function copyFile(file: SourceFile, deps: TransferDeps): Promise<Outcome> {
  return file.size <= MULTIPART_THRESHOLD ? copySmall(file, deps) : copyLarge(file, deps)
}

/**
 * A chmod or chown at the source: the object's POSIX_TAG is rewritten (PutObjectTagging: no new version, no
 * ObjectCreated event) and the file is not read again. Only the version sync wrote is tagged: a HEAD must find the
 * ETag and CRC the manifest recorded, and the tag write names that version where S3 keeps versions (in a bucket
 * without versioning a write landing between the HEAD and the tag write would get the tag: S3 has no conditional
 * tag write). Otherwise (replaced or deleted behind sync's back, or through Transfer after the switch) the file is
 * copied as a changed file is.
 */
async function retag(file: SourceFile, known: ManifestEntry, deps: TransferDeps): Promise<Outcome> {
  const held = known.crcAlgorithm === CRC_ALGORITHM && known.etag !== undefined ? await deps.target.head(file.key) : undefined
  const ours = held !== undefined && held.etag === known.etag && held.crc32 === known.crc
  if (ours && (await deps.target.mergeTags(file.key, objectTags(file), known.versionId ?? held.versionId))) {
    return {status: 'copied', row: rowFor(file, known.sha256, known.crc, known.etag, known.versionId), recorded: false, resumedParts: 0, metadataOnly: true}
  }
  deps.log('sync.metadata.copy-instead', {key: file.key, reason: 'S3 does not hold the version the manifest recorded'})
  return deps.afterSwitch ? guardedCopy(file, known, deps) : copyFile(file, deps)
}

async function putDirMarker(file: SourceFile, deps: TransferDeps): Promise<Outcome> {
  const crc = crc32Base64(0)
  const res = await deps.target.put(file.key, Buffer.alloc(0), crc, {metadata: objectMetadata({...file, sha256: EMPTY_SHA256}), tags: objectTags(file)})
  return {status: 'copied', row: rowFor(file, EMPTY_SHA256, crc, res.etag, res.versionId), recorded: false, resumedParts: 0}
}

/** Reads a whole small file into one buffer (SHA-256 and CRC-32 as it arrives), then one PutObject. */
async function copySmall(file: SourceFile, deps: TransferDeps): Promise<Outcome> {
  await deps.budget.acquire(file.size)
  try {
    const {data, sha256, crc} = await onSource(deps, file.key, (sftp) => readSmall(sftp, file, deps))
    const crcText = crc32Base64(crc)
    const res = await deps.target.put(file.key, data, crcText, {metadata: objectMetadata({...file, sha256}), tags: objectTags(file)}, file.condition).catch((err: unknown) => {
      throw file.condition && isPreconditionFailure(err) ? new TargetChanged(s3Reason(err)) : err
    })
    deps.onBytes(file.size)
    return {status: 'copied', row: rowFor(file, sha256, crcText, res.etag, res.versionId), recorded: false, resumedParts: 0}
  } finally {
    deps.budget.release(file.size)
  }
}

async function readSmall(sftp: SourceFs, file: SourceFile, deps: TransferDeps): Promise<{data: Buffer; sha256: string; crc: number}> {
  if (deps.signal.aborted) throw new Interrupted()
  const handle = await openSource(sftp, file)
  try {
    const data = Buffer.allocUnsafe(file.size)
    const hash = createHash('sha256')
    let crc = 0
    let at = 0
    const reading = sftp.readRange(handle, 0, file.size, deps.readAhead, async (chunk) => {
      chunk.copy(data, at)
      at += chunk.length
      deps.onRead(chunk.length)
      hash.update(chunk)
      crc = crc32(chunk, crc)
      if (deps.throttle) await deps.throttle.take(chunk.length)
    })
    // When every READ went out at once, the FSTAT is queued behind them: the server answers in order, so it
    // describes the file after the reads were served, and costs no extra round trip.
    const early = file.size <= sftp.limits.maxReadLen * deps.readAhead ? sftp.fstat(handle) : undefined
    early?.catch(noop)
    const got = await reading
    const st = await (early ?? sftp.fstat(handle))
    checkStat(file, st, 'while being read')
    if (got !== file.size) throw new SourceChanged(`changed while being read: ${got} of ${file.size} bytes could be read; it is copied on the next run`)
    return {data, sha256: hash.digest('hex'), crc}
  } finally {
    sftp.close(handle).catch(noop)
  }
}

/**
 * Runs fn on a session with the box; when the connection drops (the pool opens a new one), fn runs again and carries
 * on from the state it keeps outside, so a long read continues where it stopped instead of starting over (RETRY.reconnect;
 * with `progressed`, an attempt that read more does not use one up).
 */
function onSource<T>(deps: TransferDeps, key: string, fn: (sftp: SourceFs) => Promise<T>, progressed?: () => boolean): Promise<T> {
  return retry(() => deps.pool.withSource(fn), {
    ...RETRY.reconnect,
    isTransient: (err) => isTransientSourceError(err) && !deps.signal.aborted,
    progressed,
    onRetry: (err) => deps.log('sync.source.reconnect', {key, reason: errorMessage(err)}),
  })
}

/**
 * --checksum on a file that looks unchanged: its SHA-256, one read. When it differs from the manifest the file is
 * read again to be copied: uploading while checking would send every unchanged large file to S3 to catch the rare
 * one rewritten with its size and mtime kept.
 */
async function hashOnly(file: SourceFile, deps: TransferDeps): Promise<string> {
  const hash = createHash('sha256')
  let offset = 0
  let shown = 0
  let offsetBefore = 0
  const read = async (sftp: SourceFs) => {
    offsetBefore = offset
    if (deps.signal.aborted) throw new Interrupted()
    const handle = await openSource(sftp, file)
    try {
      // After a reconnect the file is opened again: it must still be the file hashed so far.
      if (offset > 0) checkStat(file, await sftp.fstat(handle), 'while being hashed')
      await sftp.readRange(handle, offset, file.size - offset, deps.readAhead, async (chunk) => {
        hash.update(chunk)
        offset += chunk.length
        shown += chunk.length
        deps.onRead(chunk.length)
        deps.onHashing?.(chunk.length)
        if (deps.throttle) await deps.throttle.take(chunk.length)
        if (deps.signal.aborted) throw new Interrupted()
      })
      checkStat(file, await sftp.fstat(handle), 'while being hashed')
      if (offset !== file.size) throw new SourceChanged(`changed while being hashed: ${offset} of ${file.size} bytes could be read`)
      return hash.digest('hex')
    } finally {
      sftp.close(handle).catch(noop)
    }
  }
  return onSource(deps, file.key, read, () => offset > offsetBefore).finally(() => deps.onHashing?.(-shown))
}

/**
 * A multipart upload, resumable across runs, that reads every byte of the file once.
 *
 * The parts are read in file order on one channel and uploaded `partConcurrency` at a time, each with its CRC-32
 * (S3 checks it). SHA-256 runs over the parts as they are read; the full-object CRC-32 sent at
 * CompleteMultipartUpload is combined from the part CRCs (S3 checks it too), and the sha256, known only then, goes
 * into the object's SHA256_TAG tag (a tag write is no new version). After each part is read, before it is sent, the
 * upload record gets its CRC and the SHA-256 state after it (hash-wasm save()): every part S3 holds is covered by
 * the saved state, so a resumed upload (after Ctrl-C, kill -9 or a failure) asks ListParts what S3 holds and reads
 * from the box only the parts it does not hold: those already hashed are read for the upload alone (and must have
 * the CRC recorded for them: otherwise the file changed), the rest are hashed as they are read. Nothing is ever
 * re-read for the hash.
 */
async function copyLarge(file: SourceFile, deps: TransferDeps): Promise<Outcome> {
  const partSize = partSizeFor(file.size)
  const resumed = await resumableUpload(file, partSize, deps)
  if (resumed?.completed) {
    await tagSha256(file.key, resumed.upload.sha256, resumed.completed.versionId, deps)
    deps.store.completeUpload(resumed.completed, deps.runId)
    return {status: 'copied', row: resumed.completed, recorded: true, resumedParts: resumed.upload.partCrcs.length}
  }
  let upload: UploadRecord & {uploadId: string}
  const done = resumed?.confirmed ?? new Map<number, PartRecord>()
  if (resumed) {
    upload = resumed.upload
    deps.log('sync.multipart.resume', {key: file.key, parts: done.size, of: partCount(file.size, partSize), hashed: upload.partCrcs.length})
  } else {
    const record = {owner: file.owner, path: file.path, key: file.key, size: file.size, mtime: file.mtime, partSize, crcAlgorithm: CRC_ALGORITHM, sha256: '', partCrcs: []}
    deps.store.beginUpload(record)
    const uploadId = await deps.target.createMultipart(file.key, {metadata: objectMetadata(file), tags: objectTags(file)})
    deps.store.setUploadId(file.owner, file.path, uploadId)
    upload = {...record, uploadId}
  }
  try {
    await uploadMissingParts(file, upload, done, deps)
  } catch (err) {
    if (err instanceof SourceChanged || err instanceof SourceVanished) {
      // The parts mix versions of the file: the upload is worthless.
      await deps.target.abortMultipart(upload.key, upload.uploadId).catch(noop)
      deps.store.dropUpload(file.owner, file.path)
    }
    throw err
  }
  const parts = [...done.values()].sort((a, b) => a.partNumber - b.partNumber)
  const crcText = fullCrc(upload)
  deps.log('sync.multipart.complete', {key: file.key, parts: parts.length})
  let res
  try {
    res = await deps.target.completeMultipart(upload.key, upload.uploadId, parts, crcText, file.condition)
  } catch (err) {
    if (!file.condition || !isPreconditionFailure(err)) throw err
    await deps.target.abortMultipart(upload.key, upload.uploadId).catch(noop)
    deps.store.dropUpload(file.owner, file.path)
    throw new TargetChanged(s3Reason(err))
  }
  // Killed here, the next run finds the upload completed (resumableUpload) and tags it then.
  await tagSha256(upload.key, upload.sha256, res.versionId, deps)
  const row = rowFor(file, upload.sha256, crcText, res.etag, res.versionId)
  deps.store.completeUpload(row, deps.runId)
  return {status: 'copied', row, recorded: true, resumedParts: resumed ? resumed.confirmed.size : 0}
}

/** The sha256 of a completed multipart object, as a tag on the version sync wrote (no new version, no event). */
async function tagSha256(key: string, sha256: string, versionId: string | undefined, deps: TransferDeps): Promise<void> {
  if (!(await deps.target.mergeTags(key, {[SHA256_TAG]: sha256}, versionId))) {
    throw new TargetChanged(`the object ${key} was replaced or deleted in S3 just after sync completed it; it is copied again`)
  }
}

/** The full-object CRC-32, combined from the part CRCs. */
function fullCrc(upload: UploadRecord): string {
  let full = 0
  upload.partCrcs.forEach((crc, i) => {
    full = crc32Combine(full, crc, Math.min(upload.partSize, upload.size - i * upload.partSize))
  })
  return crc32Base64(full)
}

/**
 * The recorded upload for this file if it can be continued, with the parts S3 confirms; stale ones are aborted.
 * An upload S3 no longer knows may have completed just before a kill: when the object carries this record's
 * full-object CRC (every part was read: the sha256 is known), it is recorded as copied instead of being sent again.
 */
async function resumableUpload(
  file: SourceFile,
  partSize: number,
  deps: TransferDeps,
): Promise<{upload: UploadRecord & {uploadId: string}; confirmed: Map<number, PartRecord>; completed?: ManifestRow} | undefined> {
  const rec = deps.store.upload(file.owner, file.path)
  if (!rec) return undefined
  if (!rec.uploadId) {
    // Killed between writing the record and learning the upload id: whatever S3 started for this key is orphaned.
    for await (const u of deps.target.listMultipartUploads(rec.key)) if (u.key === rec.key) await deps.target.abortMultipart(u.key, u.uploadId)
    deps.store.dropUpload(file.owner, file.path)
    return undefined
  }
  const upload = {...rec, uploadId: rec.uploadId}
  const count = partCount(file.size, partSize)
  // A record without hash state (none read yet, or written by a version with a hash pass) holds nothing to continue.
  const fits =
    rec.key === file.key && rec.size === file.size && rec.mtime === file.mtime && rec.partSize === partSize && rec.crcAlgorithm === CRC_ALGORITHM && rec.partCrcs.length <= count && rec.hashState !== undefined
  if (!fits) {
    await deps.target.abortMultipart(rec.key, rec.uploadId)
    deps.store.dropUpload(file.owner, file.path)
    return undefined
  }
  const remote = await deps.target.listParts(rec.key, rec.uploadId)
  if (!remote) {
    const head = rec.sha256 ? await deps.target.head(rec.key) : undefined
    const crc = fullCrc(rec)
    if (head && rec.partCrcs.length === count && head.size === file.size && head.crc32 === crc) {
      deps.log('sync.multipart.completed-before', {key: file.key})
      return {upload, confirmed: new Map(), completed: rowFor(file, rec.sha256, crc, head.etag, head.versionId)}
    }
    deps.store.dropUpload(file.owner, file.path)
    return undefined
  }
  const held = new Map(remote.map((p) => [p.partNumber, p]))
  const confirmed = new Map<number, PartRecord>()
  for (const p of deps.store.parts(rec.uploadId)) {
    const r = held.get(p.partNumber)
    if (r && r.etag === p.etag && r.size === p.size && crc32FromBase64(p.crc) === rec.partCrcs[p.partNumber - 1]) confirmed.set(p.partNumber, p)
  }
  return {upload, confirmed}
}

/**
 * Reads the parts S3 does not hold (and, for the hash, those past the saved hash state: none S3 holds), in order, and
 * uploads them `partConcurrency` at a time. A dropped connection is replaced and reading continues at the part it
 * stopped in; in-flight uploads finish (and are recorded) whatever happens, so a later run can resume. On return
 * every part is stored and `upload` holds every part's CRC and the sha256.
 */
async function uploadMissingParts(file: SourceFile, upload: UploadRecord & {uploadId: string}, done: Map<number, PartRecord>, deps: TransferDeps): Promise<void> {
  const count = partCount(file.size, upload.partSize)
  const hasher = await ResumableSha256.open(upload.hashState)
  const inFlight = new Set<Promise<void>>()
  let uploadFailure: unknown
  let next = 1
  // Parts 1..hashed are in the hash (or on their way to it in the worker): the rest must be read, held by S3 or not.
  let hashed = upload.partCrcs.length
  const needed = (n: number) => !done.has(n) || n > hashed
  const skipDone = () => {
    while (next <= count && !needed(next)) next++
  }
  skipDone()

  const send = async (n: number, body: Buffer, crc: string): Promise<void> => {
    try {
      const etag = await deps.target.uploadPart(upload.key, upload.uploadId, n, body, crc)
      const part = {partNumber: n, etag, crc, size: body.length}
      deps.store.addPart(upload.uploadId, part)
      done.set(n, part)
      deps.onBytes(body.length)
    } catch (err) {
      uploadFailure ??= err
    }
  }

  /** A buffer for part n, once fewer than partConcurrency parts are uploading and the byte budget allows. */
  const takePart = async (n: number) => {
    while (inFlight.size >= deps.partConcurrency && uploadFailure === undefined) await Promise.race(inFlight)
    if (uploadFailure !== undefined) throw new UploadFailed()
    if (deps.signal.aborted) throw new Interrupted()
    const length = Math.min(upload.partSize, file.size - (n - 1) * upload.partSize)
    await deps.budget.acquire(length)
    const body = deps.buffers.take(length)
    let released = false
    const release = () => {
      if (!released) {
        deps.buffers.give(body)
        deps.budget.release(length)
      }
      released = true
    }
    return {n, body, at: 0, release}
  }

  /**
   * A part read whole: checked, or hashed in the worker while the next part is read (its CRC and the hash state after
   * it recorded before it is sent), then sent. The hash runs in part order: parts are read in order.
   */
  const finishPart = ({n, body, release}: {n: number; body: Buffer; release: () => void}) => {
    let recorded: Promise<void> | undefined
    const crc = crc32(body)
    try {
      if (n <= hashed) {
        if (crc !== upload.partCrcs[n - 1]) throw new SourceChanged(`changed while being read: part ${n} differs from when it was first read; it is copied on the next run`)
      } else {
        hashed = n
        recorded = hasher.update(body, n === count).then(({state, sha256}) => {
          // a part before this one failed to hash: its state is not in this one
          if (upload.partCrcs.length !== n - 1) throw new Error(`part ${n} hashed without part ${upload.partCrcs.length + 1}`)
          upload.partCrcs.push(crc)
          if (sha256) upload.sha256 = sha256
          deps.store.saveHash(file.owner, file.path, upload.partCrcs, state, upload.sha256)
        })
      }
    } catch (err) {
      release()
      throw err
    }
    const work: Promise<void> = (recorded ?? Promise.resolve())
      .then(() => (done.has(n) ? undefined : send(n, body, crc32Base64(crc))), (err: unknown) => void (uploadFailure ??= err))
      .finally(() => {
        release()
        inFlight.delete(work)
      })
    inFlight.add(work)
  }

  let nextBefore = next
  try {
    await onSource(deps, file.key, async (sftp) => {
      nextBefore = next
      const handle = await openSource(sftp, file)
      try {
        checkStat(file, await sftp.fstat(handle), 'since its upload began')
        while (next <= count && uploadFailure === undefined) {
          // A run of consecutive parts to read goes out as one read range: no pause between parts.
          let last = next
          while (last < count && needed(last + 1)) last++
          const from = (next - 1) * upload.partSize
          const length = Math.min(file.size, last * upload.partSize) - from
          let part: {n: number; body: Buffer; at: number; release: () => void} | undefined
          try {
            const got = await sftp.readRange(handle, from, length, deps.readAhead, async (chunk) => {
              deps.onRead(chunk.length)
              for (let off = 0; off < chunk.length; ) {
                part ??= await takePart(next)
                const take = Math.min(part.body.length - part.at, chunk.length - off)
                chunk.copy(part.body, part.at, off, off + take)
                part.at += take
                off += take
                if (part.at === part.body.length) {
                  const full = part
                  part = undefined
                  finishPart(full)
                  next++
                }
              }
              if (deps.throttle) await deps.throttle.take(chunk.length)
            })
            if (got < length) throw new SourceChanged('changed while being read: it is shorter than listed; it is copied on the next run')
          } catch (err) {
            if (!(err instanceof UploadFailed)) throw err
          } finally {
            // A part read in part (the link dropped, or a stop) is read again from its start.
            ;(part as {release: () => void} | undefined)?.release()
          }
          skipDone()
        }
        if (uploadFailure === undefined) checkStat(file, await sftp.fstat(handle), 'while being read')
      } finally {
        sftp.close(handle).catch(noop)
      }
    }, () => next > nextBefore)
  } finally {
    await Promise.allSettled(inFlight)
    hasher.close()
  }
  if (uploadFailure !== undefined) throw uploadFailure
}
