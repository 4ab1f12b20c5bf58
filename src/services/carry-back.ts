/**
 * The carry-back (part of rollback): every object that arrived under the users' homes in S3 since the switch, through
 * Transfer, is written back to the legacy box at the path the user saw, owned by the user, with the mode sync recorded
 * there and S3's time; then hashed on the box and compared with the bytes S3 sent (which the SDK checked against the
 * checksum S3 holds). A file changed on both sides is written beside the box's copy, never over it. Deletions made
 * through Transfer are reported, and replayed only when asked. Each decision is stored before the box is touched: an
 * interrupted run resumes with the same decisions and skips what it verified.
 */
import {dirname} from 'node:path'

import type {AwsClients} from '../adapters/aws.js'
import {BoxWriter} from '../adapters/box-writer.js'
import {type CarryBackItem, type CarryBackStatus, CarryBackStore} from '../adapters/carry-back-store.js'
import {CutoverStore} from '../adapters/cutover-store.js'
import {InventoryStore} from '../adapters/inventory-store.js'
import {S3Arrivals, type S3Current} from '../adapters/s3-arrivals.js'
import {SourceHasher} from '../adapters/source-hasher.js'
import {type AskSecret, resolveCredentials, SshSession} from '../adapters/ssh.js'
import type {SqliteStateStore} from '../adapters/state.js'
import {besidePath, CLOCK_SKEW_MS, chooseMode, decideCarryBack, isCanary, tempPath} from '../core/carry-back-plan.js'
import {type Config, isFtp} from '../core/config.js'
import {CliError, ExitCode, errorMessage, usageError} from '../core/errors.js'
import {displayPath} from '../core/findings.js'
import {homesKeyBase, ownerPathForKey} from '../core/key-mapping.js'
import {resolveRoots} from './sync-roots.js'

export interface CarryBackOptions {
  dryRun: boolean
  /** Delete on the box what was deleted through Transfer (only files unchanged on the box since the last sync) */
  replayDeletions: boolean
  /** Look at objects from this time on instead of the recorded switch */
  since?: Date
}

export interface CarryBackDeps {
  state: SqliteStateStore
  aws: Pick<AwsClients, 's3'>
  env: NodeJS.ProcessEnv
  askSecret?: AskSecret
  log: (msg: string, detail?: Record<string, unknown>) => void
  /** one line per file written or verified (progress on stderr) */
  onFile?: (line: string) => void
}

export interface CarriedBackFile {
  owner: string
  /** the path as the user sees it under their home */
  path: string
  /** where it is (or would be) written on the box */
  dest: string
  key: string
  size: number
  lastModified: string
  action: CarryBackItem['action']
  status: CarryBackItem['status'] | 'would-write' | 'would-report' | 'would-delete' | 'would-keep'
  reason?: string
  s3Check?: string
}

export interface CarryBackResult {
  dryRun: boolean
  since: string
  bucket: string
  versioned: boolean
  /** how the written files were checked on the box */
  hashedWith?: 'sha256sum' | 'read back over SFTP'
  files: CarriedBackFile[]
  conflicts: CarriedBackFile[]
  deletions: CarriedBackFile[]
  counts: {files: number; bytes: number; verified: number; failed: number; conflicts: number; deletions: number}
  /** every file verified on the box (nothing planned, nothing failed): the box may be unfrozen */
  complete: boolean
}

const toFile = (i: CarryBackItem): CarriedBackFile => ({
  owner: i.owner,
  path: displayPath(i.relPath),
  dest: displayPath(i.dest),
  key: i.key,
  size: i.size,
  lastModified: i.lastModified,
  action: i.action,
  status: i.status,
  ...(i.reason ? {reason: i.reason} : {}),
  ...(i.s3Check ? {s3Check: i.s3Check} : {}),
})

/** When the switch began, as recorded by the cutover (or --since). */
function switchTime(config: Config, state: SqliteStateStore, since?: Date): Date {
  if (since) return since
  const {hostedZoneId, recordName} = config.dns
  const rec = hostedZoneId && recordName ? new CutoverStore(state).dnsRecord(hostedZoneId, recordName) : undefined
  const at = rec?.switchStartedAt ?? rec?.switchedAt
  if (!at) throw usageError('no switch of the record is recorded in this project: there is nothing that arrived through Transfer to carry back', ['Pass --since <ISO time> to carry back what arrived in S3 from that time on.'], 'NO_SWITCH')
  return new Date(at)
}

export async function carryBack(config: Config, opts: CarryBackOptions, deps: CarryBackDeps): Promise<CarryBackResult> {
  const since = switchTime(config, deps.state, opts.since)
  const store = new CarryBackStore(deps.state)
  const prefix = config.target.prefix
  // Carry-back writes over SFTP, at the paths sync read; an FTP login's paths are not the box's own (chroots).
  if (isFtp(config.source.protocol)) {
    throw new CliError(`the files that arrived through Transfer since the switch are not carried back: carry-back writes over SFTP, and this box is read over ${config.source.protocol.toUpperCase()}`, {
      exitCode: ExitCode.problems,
      code: 'CARRY_BACK_FTP',
      suggestions: [`They are the objects under the homes in s3://${config.target.bucket} last modified after the switch (aws s3 ls --recursive): copy them back to the box with an FTP client; the legacy box stays frozen until then.`],
    })
  }
  const creds = await resolveCredentials(config.source, deps.env, deps.askSecret)
  const session = await SshSession.connect(config.source, creds)
  const box = await BoxWriter.open(session)
  const arrivals = new S3Arrivals(deps.aws.s3(), config.target.bucket)
  try {
    const {roots} = await resolveRoots(config, deps.state, () => box.home())
    const rootOf = new Map(roots.map((r) => [r.owner, r.path.toString('utf8')]))
    const inventory = new InventoryStore(deps.state)
    const run = inventory.latestCompleteRun()
    const ids = new Map((run ? inventory.accounts(run.id) : []).map((a) => [a.name, {uid: a.uid, gid: a.gid}]))
    const versioned = await arrivals.versioned()
    const cutoff = since.getTime() - CLOCK_SKEW_MS

    // 1. What arrived: the current state of every key under the homes, changed since the switch and not put by sync.
    const arrived: S3Current[] = []
    const deletedKeys: S3Current[] = []
    const listed = new Set<string>()
    for await (const o of arrivals.current(homesKeyBase(prefix), versioned)) {
      if (!versioned) listed.add(o.key)
      if (o.lastModified.getTime() < cutoff) continue
      if (o.deleted) deletedKeys.push(o)
      else if (!store.putBySync(o.key, o.etag, o.versionId)) arrived.push(o)
    }

    const dryRun: CarriedBackFile[] = []
    const toVerify: Array<{item: CarryBackItem; sha256: string}> = []
    const placeOf = (key: string) => {
      const mapped = ownerPathForKey(prefix, key)
      const root = mapped && rootOf.get(mapped.owner)
      return mapped && root ? {...mapped, root, path: `${root}/${mapped.relPath.toString('utf8')}`} : undefined
    }

    // 2. Decide (or take the decision an earlier run stored), then write to a temporary name and rename.
    for (const o of arrived) {
      const place = placeOf(o.key)
      // a home's own folder marker (users import creates it): the root exists on the box
      if (!place && /^[^/]+\/$/.test(o.key.slice(homesKeyBase(prefix).length))) continue
      if (!place) {
        deps.log('carry-back: key outside every migrated root', {key: o.key})
        if (!store.item(o.key, o.version) && !opts.dryRun) {
          store.plan({key: o.key, version: o.version, owner: ownerPathForKey(prefix, o.key)?.owner ?? '', relPath: Buffer.from(o.key), action: 'new', dest: Buffer.alloc(0), size: o.size, lastModified: o.lastModified.toISOString(), status: 'failed', reason: 'no migrated root on the box for this key: copy it by hand'})
        }
        continue
      }
      if (isCanary(place.relPath.toString('utf8'))) continue
      let item = store.item(o.key, o.version)
      if (item?.status === 'verified') continue
      if (!item) {
        const planned = await planItem(o, place)
        if (!planned) continue
        if (opts.dryRun) {
          dryRun.push({...toFile({...planned, status: 'planned', plannedAt: ''}), status: 'would-write'})
          continue
        }
        store.plan(planned)
        item = store.item(o.key, o.version)!
      } else if (opts.dryRun) {
        // planned by an interrupted run: the next real run writes it with the stored decision
        dryRun.push({...toFile(item), status: 'would-write'})
        continue
      }
      try {
        if (item.action === 'dir') {
          await box.ensureDir(place.root, item.dest.toString('utf8'), {uid: item.uid!, gid: item.gid!, mode: item.mode!})
          store.finish(item.key, item.version, {status: 'verified'})
          deps.onFile?.(`created directory ${displayPath(item.dest)}`)
          continue
        }
        if (item.uid === undefined || item.gid === undefined) throw new Error(`the owner of ${place.owner}'s files is not known (no inventory account, nothing synced): set it by hand`)
        const dest = item.dest.toString('utf8')
        await box.ensureDir(place.root, dirname(dest), {uid: item.uid, gid: item.gid, mode: 0o755})
        const opened = await arrivals.open({key: o.key, versionId: o.versionId, etag: o.etag})
        const written = await box.writeFile(tempPath(dest), dest, opened.body, {uid: item.uid, gid: item.gid, mode: item.mode!, mtime: Math.floor(o.lastModified.getTime() / 1000)})
        if (written.size !== item.size) throw new Error(`S3 sent ${written.size} bytes, the listing said ${item.size}`)
        store.finish(item.key, item.version, {status: 'planned', sha256: written.sha256, s3Check: opened.s3Check})
        toVerify.push({item, sha256: written.sha256})
        deps.onFile?.(`carried back ${displayPath(item.dest)} (${item.size} bytes)`)
      } catch (err) {
        store.finish(item.key, item.version, {status: 'failed', reason: errorMessage(err)})
        deps.log('carry-back failed', {key: o.key, error: errorMessage(err)})
        await box.removeIfPresent(tempPath(item.dest.toString('utf8'))).catch(() => undefined)
      }
    }

    // 3. Verify on the box: owner, mode, time and size by stat; the bytes by sha256sum there (or a read back).
    let hashedWith: CarryBackResult['hashedWith']
    if (toVerify.length > 0) {
      const hasher = await SourceHasher.open(config.source, creds)
      const digests = new Map<string, string | undefined>()
      if (hasher instanceof SourceHasher) {
        hashedWith = 'sha256sum'
        try {
          await hasher.hash(toVerify, (v) => v.item.dest, (batch) => batch.forEach(([v, d]) => digests.set(v.item.dest.toString('latin1'), d)))
        } finally {
          hasher.close()
        }
      } else {
        hashedWith = 'read back over SFTP'
        deps.log('carry-back: sha256sum not available on the box, reading back over SFTP', {reason: hasher.unavailable})
        for (const v of toVerify) digests.set(v.item.dest.toString('latin1'), await box.readBackSha256(v.item.dest.toString('utf8')).catch(() => undefined))
      }
      for (const {item, sha256} of toVerify) {
        const st = await box.lstat(item.dest.toString('utf8'))
        const mtime = Math.floor(Date.parse(item.lastModified) / 1000)
        const digest = digests.get(item.dest.toString('latin1'))
        const wrong = [
          !st ? 'missing' : undefined,
          st && st.size !== item.size ? `size ${st.size}` : undefined,
          st && (st.uid !== item.uid || st.gid !== item.gid) ? `owner ${st.uid}:${st.gid}` : undefined,
          st && st.mode !== item.mode ? `mode ${st.mode.toString(8)}` : undefined,
          st && st.mtime !== mtime ? `mtime ${st.mtime}` : undefined,
          digest !== sha256 ? `sha256 ${digest ?? 'unreadable'} (S3 sent ${sha256})` : undefined,
        ].filter(Boolean)
        store.finish(item.key, item.version, wrong.length ? {status: 'failed', reason: `on the box after writing: ${wrong.join(', ')}`} : {status: 'verified'})
        if (!wrong.length) deps.onFile?.(`verified ${displayPath(item.dest)}`)
      }
    }

    // 4. Deletions through Transfer: reported; replayed only when asked, and only over a file unchanged on the box.
    const deletions: Array<{key: string; version: string; lastModified: Date}> = deletedKeys.map((d) => ({key: d.key, version: d.version, lastModified: d.lastModified}))
    if (!versioned) for (const f of store.syncedFiles()) if (!listed.has(f.key)) deletions.push({key: f.key, version: 'deleted', lastModified: since})
    const dryDeletions: CarriedBackFile[] = []
    for (const d of deletions) {
      const place = placeOf(d.key)
      if (!place || place.isDir || store.item(d.key, d.version)) continue
      const synced = store.manifestEntry(place.owner, place.relPath)
      if (synced?.status !== 'synced') continue // created and deleted since the switch: the box never had it
      const st = await box.lstat(place.path)
      const unchanged = st?.kind === 'file' && st.size === synced.size && st.mtime === synced.mtime
      const status: CarryBackStatus = !opts.replayDeletions ? 'reported' : !st ? 'replayed' : unchanged ? 'replayed' : 'kept'
      const reason = status === 'kept' ? 'changed on the box since the last sync: not deleted' : !st && opts.replayDeletions ? 'already gone from the box' : undefined
      const row = {key: d.key, version: d.version, owner: place.owner, relPath: place.relPath, action: 'deleted' as const, dest: Buffer.from(place.path), size: synced.size, lastModified: d.lastModified.toISOString(), status, reason}
      if (opts.dryRun) {
        dryDeletions.push({...toFile({...row, plannedAt: ''}), status: status === 'reported' ? 'would-report' : status === 'kept' ? 'would-keep' : 'would-delete'})
        continue
      }
      if (status === 'replayed' && st) await box.unlink(place.path)
      store.plan(row)
    }

    const all = opts.dryRun ? [...dryRun, ...dryDeletions] : store.items().filter((i) => Date.parse(i.lastModified) >= cutoff || i.status !== 'verified').map(toFile)
    const files = all.filter((f) => f.action !== 'deleted')
    const result: CarryBackResult = {
      dryRun: opts.dryRun,
      since: since.toISOString(),
      bucket: config.target.bucket,
      versioned,
      hashedWith,
      files,
      conflicts: files.filter((f) => f.action === 'conflict'),
      deletions: all.filter((f) => f.action === 'deleted'),
      counts: {
        files: files.filter((f) => f.action !== 'dir').length,
        bytes: files.filter((f) => f.action !== 'dir').reduce((n, f) => n + f.size, 0),
        verified: files.filter((f) => f.status === 'verified').length,
        failed: files.filter((f) => f.status === 'failed' || f.status === 'planned').length,
        conflicts: files.filter((f) => f.action === 'conflict').length,
        deletions: all.filter((f) => f.action === 'deleted').length,
      },
      complete: !opts.dryRun && files.every((f) => f.status === 'verified'),
    }
    return result

    /** The decision for an object not seen before: where it goes, as whom, with which mode. */
    async function planItem(o: S3Current, place: NonNullable<ReturnType<typeof placeOf>>): Promise<Omit<CarryBackItem, 'status' | 'plannedAt' | 'doneAt'> | undefined> {
      const onBox = await box.lstat(place.path)
      const synced = store.manifestEntry(place.owner, place.relPath)
      const owner = ids.get(place.owner) ?? (synced ? {uid: synced.uid, gid: synced.gid} : undefined)
      const base = {key: o.key, version: o.version, owner: place.owner, relPath: place.relPath, size: o.size, lastModified: o.lastModified.toISOString(), uid: owner?.uid, gid: owner?.gid}
      if (place.isDir) {
        if (onBox?.kind === 'dir') return undefined
        return {...base, action: onBox ? 'conflict' : 'dir', dest: Buffer.from(onBox ? besidePath(place.path, o.lastModified) : place.path), size: 0, mode: 0o755}
      }
      const baseline = store.lastVerifiedAt(Buffer.from(place.path)) ?? (synced?.status === 'synced' ? synced : undefined)
      const action = decideCarryBack(onBox, baseline)
      const relDir = place.relPath.includes('/') ? place.relPath.subarray(0, place.relPath.lastIndexOf('/')) : Buffer.alloc(0)
      const mode = chooseMode(action === 'overwrite' ? onBox!.mode : synced?.mode, store.siblingModes(place.owner, relDir))
      return {...base, action, dest: Buffer.from(action === 'conflict' ? besidePath(place.path, o.lastModified) : place.path), mode}
    }
  } finally {
    box.close()
    session.close()
  }
}
