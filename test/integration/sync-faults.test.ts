/**
 * sync under faults, as the built CLI against a private OpenSSH sshd and versitygw: killed with SIGKILL again and
 * again (it resumes, and ends clean with no multipart upload left), SSH connections cut mid-transfer by a TCP
 * proxy, S3 answering 503/500, and files written to while they are read.
 */
import {ListMultipartUploadsCommand, ListPartsCommand} from '@aws-sdk/client-s3'
import Database from 'better-sqlite3'
import {randomBytes} from 'node:crypto'
import {appendFileSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import type {SyncResult} from '../../src/services/sync.js'
import type {VerifyResult} from '../../src/services/verify.js'
import {type SshdPeer, startSshd} from '../peers/index.js'
import {
  downloadAll,
  expectedObjects,
  listKeys,
  makeProject,
  multipartUploads,
  newBucket,
  type S3Peer,
  s3Of,
  startS3Proxy,
  startTcpProxy,
  removeScratch,
  versitygw,
} from './sync-helpers.js'

const MiB = 1024 * 1024
let sshd: SshdPeer
let peer: S3Peer

beforeAll(async () => {
  sshd = await startSshd()
  peer = versitygw()
})

afterAll(async () => {
  await sshd?.stop()
  removeScratch()
})

/** A root-owned directory tree on the box: one large random file and many small ones. */
function makeTree(name: string, bigBytes: number, smallFiles: number, perDir = 100): string {
  const root = join(sshd.dir, name)
  mkdirSync(root)
  writeFileSync(join(root, 'big.bin'), randomBytes(bigBytes))
  for (let i = 0; i < smallFiles; i++) {
    const dir = join(root, `d${String(Math.floor(i / perDir)).padStart(3, '0')}`)
    if (i % perDir === 0) mkdirSync(dir)
    writeFileSync(join(dir, `f${i}.txt`), randomBytes(4096))
  }
  return root
}

async function assertMirrored(root: string, bucket: string): Promise<void> {
  const s3 = s3Of(peer)
  try {
    const expected = expectedObjects([{owner: root.split('/').pop()!, root}])
    const held = await downloadAll(s3, bucket)
    expect(held.size).toBe(expected.size)
    const wrong = [...expected].filter(([k, sum]) => held.get(k) !== sum).map(([k]) => k)
    expect(wrong).toEqual([])
    expect(await multipartUploads(s3, bucket)).toEqual([])
  } finally {
    s3.destroy()
  }
}

/** Reads the state database of a run in progress; `fallback` while it is not created (or migrated) yet. */
function readState<T>(stateDb: string, read: (db: Database.Database) => T, fallback: T): T {
  try {
    const db = new Database(stateDb, {readonly: true, fileMustExist: true})
    try {
      return read(db)
    } finally {
      db.close()
    }
  } catch {
    return fallback
  }
}

const count = (db: Database.Database, sql: string) => (db.prepare(sql).get() as {n: number}).n

function progressOf(stateDb: string): {parts: number; files: number; bigDone: boolean} {
  return readState(
    stateDb,
    (db) => ({
      parts: count(db, 'SELECT COUNT(*) AS n FROM sync_upload_parts'),
      files: count(db, 'SELECT COUNT(*) AS n FROM sync_manifest'),
      bigDone: db.prepare(`SELECT 1 FROM sync_manifest WHERE path = CAST('big.bin' AS BLOB)`).get() !== undefined,
    }),
    {parts: 0, files: 0, bigDone: false},
  )
}

it('killed with SIGKILL at random moments (12 times), resumes each time and ends with verify clean and no upload left', async () => {
  const root = makeTree('killroot', 192 * MiB + 777, 3000)
  const bucket = await newBucket(peer, 'kill')
  const project = makeProject({sshd, s3: peer, bucket, roots: [root]})
  let kills = 0
  let finishedEarly = 0
  for (let i = 0; kills < 12 && i < 40; i++) {
    const before = progressOf(project.stateDb)
    const child = project.spawn(['sync', '--bwlimit', '24M', '--transfers', '8'])
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    let done = false
    void exited.then(() => (done = true))
    if (i % 2 === 0) {
      // At a random moment: during start-up, listing, the hash pass, parts or small files.
      await sleep(300 + Math.random() * 2500)
    } else {
      // Once this run has recorded a new part (or, the large file done, more small files), a little later.
      const deadline = Date.now() + 60_000
      for (;;) {
        const now = progressOf(project.stateDb)
        if (done || Date.now() > deadline || now.parts > before.parts || (now.bigDone && now.files > before.files + 50)) break
        await sleep(100)
      }
      await sleep(Math.random() * 400)
    }
    if (done) {
      finishedEarly++
      await exited
      // Everything was copied before a kill came: new bytes in the large file and in some small ones give the next
      // runs a multipart upload and small files to be killed in again.
      writeFileSync(join(root, 'big.bin'), randomBytes(192 * MiB + 777 + finishedEarly))
      for (let f = 0; f < 300; f += 7) writeFileSync(join(root, `d${String(Math.floor(f / 100)).padStart(3, '0')}`, `f${f}.txt`), randomBytes(4096))
      continue
    }
    child.kill('SIGKILL')
    await exited
    kills++
  }
  expect(kills).toBe(12)
  const log = readFileSync(project.logFile, 'utf8')
  // Parts recorded before a kill were used again: the upload continued from what S3 held.
  const resumes = log.split('\n').filter((l) => l.includes('"sync.multipart.resume"') || l.includes('"sync.multipart.completed-before"'))
  expect(resumes.length).toBeGreaterThan(0)

  const final = await project.run(['sync', '--json'])
  const result = final.json<SyncResult>()
  expect(result.problems).toEqual([])
  expect(final.code).toBe(0)
  const verify = await project.run(['verify', '--json'])
  expect(verify.json<VerifyResult>().mismatches).toEqual([])
  expect(verify.code).toBe(0)
  await assertMirrored(root, bucket)
  // Runs killed after they started are on record as interrupted (a kill during start-up leaves no run); none is
  // left 'running' or marked failed.
  const db = new Database(project.stateDb, {readonly: true})
  const runs = db.prepare(`SELECT status, COUNT(*) AS n FROM sync_runs GROUP BY status`).all() as Array<{status: string; n: number}>
  db.close()
  const byStatus = Object.fromEntries(runs.map((r) => [r.status, r.n]))
  expect(Object.keys(byStatus).sort()).toEqual(['complete', 'interrupted'])
  expect(byStatus.interrupted).toBeGreaterThanOrEqual(kills / 2)
  // A kill may land after a run recorded itself complete and before the process exited: such a run counts as complete.
  expect(byStatus.complete).toBeGreaterThanOrEqual(1 + finishedEarly)
  expect(byStatus.complete + byStatus.interrupted).toBeLessThanOrEqual(1 + finishedEarly + kills)
}, 400_000)

it('keeps going when a proxy cuts the SSH connections mid-transfer', async () => {
  const root = makeTree('cutroot', 64 * MiB + 99, 600)
  const bucket = await newBucket(peer, 'cut')
  const proxy = await startTcpProxy(sshd.port)
  try {
    const project = makeProject({sshd, port: proxy.port, s3: peer, bucket, roots: [root]})
    // slow enough for the cuts below to land mid-transfer (sync got faster: at 16M it sometimes ended after 3 cuts)
    const child = project.spawn(['sync', '--bwlimit', '8M', '--json'])
    let stdout = ''
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    let running = true
    void exited.then(() => (running = false))
    let cuts = 0
    await sleep(2000)
    while (running && cuts < 6) {
      proxy.cutAll()
      cuts++
      await sleep(1200)
    }
    const code = await exited
    const result = JSON.parse(stdout) as SyncResult
    // The problems first: when a file did not make it, they say why (exit 3 alone does not).
    expect({code, problems: result.problems}).toEqual({code: 0, problems: []})
    expect(cuts).toBeGreaterThanOrEqual(4)
    expect(proxy.accepted()).toBeGreaterThan(cuts)
    expect(result.counts.copied).toBe(601)
    expect((await project.run(['verify', '--json'])).code).toBe(0)
    await assertMirrored(root, bucket)
  } finally {
    await proxy.close()
  }
}, 300_000)

it('rides out S3 throttling and server errors', async () => {
  const root = makeTree('s3faults', 24 * MiB + 5, 200)
  const bucket = await newBucket(peer, 'slow')
  // PUTs (PutObject, UploadPart): a burst of 503 SlowDown (requests 30 to 45), then one in 9 answered 500.
  const fail = (method: string, _path: string, n: number) => (method !== 'PUT' ? undefined : n >= 30 && n < 45 ? 503 : n % 9 === 0 ? 500 : undefined)
  const proxy = await startS3Proxy(peer.config.endpoint, {fail})
  try {
    const project = makeProject({sshd, s3: peer, s3Endpoint: proxy.url, bucket, roots: [root]})
    const r = await project.run(['sync', '--json'])
    expect(r.json<SyncResult>().problems).toEqual([])
    expect(r.code).toBe(0)
    await assertMirrored(root, bucket)
    expect((await project.run(['verify', '--json'])).code).toBe(0)
    expect(proxy.failed()).toBeGreaterThan(10)
  } finally {
    await proxy.close()
  }
}, 300_000)

it('does not record a file written to while it is read, and copies it once it is still', async () => {
  const root = join(sshd.dir, 'liveroot')
  mkdirSync(root)
  // One under the single-request limit, one multipart; both grow while a slow (--bwlimit) sync reads them.
  writeFileSync(join(root, 'growing.log'), randomBytes(12 * MiB))
  writeFileSync(join(root, 'growing-big.bin'), randomBytes(40 * MiB))
  writeFileSync(join(root, 'steady.txt'), 'not written to\n')
  const bucket = await newBucket(peer, 'live')
  const project = makeProject({sshd, s3: peer, bucket, roots: [root]})
  const writer = setInterval(() => {
    appendFileSync(join(root, 'growing.log'), randomBytes(4096))
    appendFileSync(join(root, 'growing-big.bin'), randomBytes(4096))
  }, 100)
  let r
  try {
    r = await project.run(['sync', '--bwlimit', '8M', '--json'])
  } finally {
    clearInterval(writer)
  }
  const result = r.json<SyncResult>()
  expect(r.code).toBe(3)
  expect(result.problems.map((p) => `${p.kind} ${p.path}`).sort()).toEqual(['changed-during-read growing-big.bin', 'changed-during-read growing.log'])
  expect(result.counts.copied).toBe(1)
  const db = new Database(project.stateDb, {readonly: true})
  const recorded = (db.prepare('SELECT path FROM sync_manifest').all() as Array<{path: Buffer}>).map((row) => row.path.toString())
  db.close()
  expect(recorded).toEqual(['steady.txt'])
  const s3 = s3Of(peer)
  expect(await multipartUploads(s3, bucket)).toEqual([])
  s3.destroy()

  const again = await project.run(['sync', '--json'])
  expect(again.json<SyncResult>().counts.copied).toBe(2)
  expect(again.code).toBe(0)
  expect((await project.run(['verify', '--json'])).code).toBe(0)
  await assertMirrored(root, bucket)
}, 300_000)

it('on Ctrl-C stops starting work, records what is in flight, exits 1, and the next run resumes', async () => {
  const root = makeTree('introot', 96 * MiB + 1, 50)
  const bucket = await newBucket(peer, 'int')
  const project = makeProject({sshd, s3: peer, bucket, roots: [root]})
  const child = project.spawn(['sync', '--bwlimit', '16M', '--json'])
  let stdout = ''
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  for (const deadline = Date.now() + 60_000; progressOf(project.stateDb).parts < 2 && Date.now() < deadline; ) await sleep(100)
  child.kill('SIGINT')
  const started = Date.now()
  expect(await exited).toBe(1)
  expect(Date.now() - started).toBeLessThan(15_000)
  const result = JSON.parse(stdout) as SyncResult
  expect(result.interrupted).toBe(true)
  const db = new Database(project.stateDb, {readonly: true})
  expect(db.prepare('SELECT status FROM sync_runs').all()).toEqual([{status: 'interrupted'}])
  const parts = (db.prepare('SELECT COUNT(*) AS n FROM sync_upload_parts').get() as {n: number}).n
  db.close()
  expect(parts).toBeGreaterThanOrEqual(2)

  const again = await project.run(['sync', '--json'])
  expect(again.code).toBe(0)
  expect(again.json<SyncResult>().counts.resumedUploads).toBe(1)
  await assertMirrored(root, bucket)
}, 300_000)

it('killed with kill -9 in the middle of a large file, the next run reads from the box only the parts S3 does not hold (+ at most one)', async () => {
  const size = 80 * MiB + 5
  const partSize = 8 * MiB
  const root = makeTree('readonce', size, 0)
  const bucket = await newBucket(peer, 'readonce')
  const project = makeProject({sshd, s3: peer, bucket, roots: [root]})
  const child = project.spawn(['sync', '--bwlimit', '16M', '--transfers', '1'])
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)))
  for (const deadline = Date.now() + 60_000; progressOf(project.stateDb).parts < 3 && Date.now() < deadline; ) await sleep(50)
  child.kill('SIGKILL')
  expect(await exited).toBe('SIGKILL')

  // What S3 holds of the upload, asked of S3 itself.
  const s3 = s3Of(peer)
  let held = 0
  try {
    const uploads = await s3.send(new ListMultipartUploadsCommand({Bucket: bucket}))
    expect(uploads.Uploads).toHaveLength(1)
    const {Key, UploadId} = uploads.Uploads![0]
    const parts = await s3.send(new ListPartsCommand({Bucket: bucket, Key, UploadId}))
    held = (parts.Parts ?? []).reduce((sum, p) => sum + (p.Size ?? 0), 0)
  } finally {
    s3.destroy()
  }
  expect(held).toBeGreaterThanOrEqual(3 * partSize)
  expect(held).toBeLessThan(size)

  const again = await project.run(['sync', '--json'])
  expect(again.code).toBe(0)
  const result = again.json<SyncResult>()
  expect(result.counts).toMatchObject({copied: 1, resumedUploads: 1})
  expect(result.bytes.read).toBeGreaterThanOrEqual(size - held)
  expect(result.bytes.read).toBeLessThanOrEqual(size - held + partSize)
  expect(readFileSync(project.logFile, 'utf8')).toContain(`"bytesRead":${result.bytes.read}`)
  const verify = await project.run(['verify', '--json'])
  expect(verify.json<VerifyResult>().mismatches).toEqual([])
  await assertMirrored(root, bucket)
}, 300_000)

it('a first copy of a large file reads each byte from the box once', async () => {
  const size = 40 * MiB + 9
  const root = makeTree('onepass', size, 20)
  const bucket = await newBucket(peer, 'onepass')
  const project = makeProject({sshd, s3: peer, bucket, roots: [root]})
  const run = await project.run(['sync', '--json'])
  expect(run.code).toBe(0)
  const result = run.json<SyncResult>()
  expect(result.bytes.copied).toBe(size + 20 * 4096)
  expect(result.bytes.read).toBe(size + 20 * 4096)
  const verify = await project.run(['verify', '--deep', '--json'])
  expect(verify.json<VerifyResult>().mismatches).toEqual([])
  await assertMirrored(root, bucket)
}, 300_000)

it('a --checksum run killed part-way is continued by the next one, which re-hashes only the files it had not reached', async () => {
  const root = makeTree('sumroot', 8 * MiB + 3, 400)
  const files = 401
  const bucket = await newBucket(peer, 'sum')
  const project = makeProject({sshd, s3: peer, bucket, roots: [root]})
  expect((await project.run(['sync', '--json'])).code).toBe(0)
  // Bytes changed in place with size and mtime kept: only a re-hash finds it.
  const doctored = join(root, 'd003', 'f399.txt')
  const {atime, mtime} = statSync(doctored)
  writeFileSync(doctored, randomBytes(4096))
  utimesSync(doctored, atime, mtime)

  const checkedSoFar = () => readState(project.stateDb, (db) => count(db, 'SELECT COUNT(*) AS n FROM sync_manifest WHERE checked_at IS NOT NULL'), 0)
  const child = project.spawn(['sync', '--checksum', '--bwlimit', '1M', '--json'])
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)))
  for (const deadline = Date.now() + 60_000; checkedSoFar() < 50 && Date.now() < deadline; ) await sleep(50)
  child.kill('SIGKILL')
  expect(await exited).toBe('SIGKILL')
  const checkedBeforeKill = checkedSoFar()
  expect(checkedBeforeKill).toBeGreaterThanOrEqual(50)
  expect(checkedBeforeKill).toBeLessThan(files - 1)

  const continued = await project.run(['sync', '--checksum', '--json'])
  const c = continued.json<SyncResult>()
  expect(continued.code).toBe(0)
  expect(c.checksumSince).toMatch(/^\d{4}-\d\d-\d\dT/)
  // What the killed run re-hashed (and anything it copied) is not hashed again; everything else is.
  expect(c.counts.checkedEarlier).toBeGreaterThanOrEqual(checkedBeforeKill)
  expect(c.counts.checked + c.counts.checkedEarlier).toBe(files)
  expect(c.counts.checked).toBeGreaterThan(0)

  // That pass is complete: the next --checksum run starts a new one over every file.
  const fresh = (await project.run(['sync', '--checksum', '--json'])).json<SyncResult>()
  expect(fresh.checksumSince).toBeUndefined()
  expect(fresh.counts).toMatchObject({checked: files, checkedEarlier: 0, copied: 0})
  await assertMirrored(root, bucket)
}, 300_000)

it('--source-hash hashes the copied files on the box, reports one rewritten after it was read, and the next run copies it again', async () => {
  const root = join(sshd.dir, 'hashroot')
  mkdirSync(root)
  // The large file keeps the (--bwlimit) run going while the small one is read, recorded, then rewritten with its
  // size and mtime kept: only a hash computed on the box afterwards can tell.
  writeFileSync(join(root, 'slow.bin'), randomBytes(24 * MiB))
  const small = join(root, 'small.txt')
  writeFileSync(small, 'what was read over SFTP\n')
  for (let i = 0; i < 30; i++) writeFileSync(join(root, `steady-${i}.txt`), randomBytes(1000 + i))
  const bucket = await newBucket(peer, 'srchash')
  const project = makeProject({sshd, s3: peer, bucket, roots: [root]})
  const recorded = (path: string) => readState(project.stateDb, (db) => db.prepare('SELECT 1 FROM sync_manifest WHERE path = ?').get(Buffer.from(path)) !== undefined, false)
  const child = project.spawn(['sync', '--source-hash', '--bwlimit', '4M', '--json'])
  let stdout = ''
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  for (const deadline = Date.now() + 60_000; !recorded('small.txt') && Date.now() < deadline; ) await sleep(50)
  expect(recorded('slow.bin')).toBe(false)
  const {atime, mtime} = statSync(small)
  writeFileSync(small, 'WHAT IS ON THE BOX NOW\n')
  utimesSync(small, atime, mtime)
  expect(await exited).toBe(3)
  const first = JSON.parse(stdout) as SyncResult
  expect(first.counts).toMatchObject({copied: 32, sourceHashed: 32, sourceHashMismatched: 1})
  expect(first.problems.map((p) => `${p.kind} ${p.path}`)).toEqual(['source-hash-mismatch small.txt'])
  expect(first.problems[0].reason).toMatch(/sha256sum on the source says [0-9a-f]{64}, the bytes read over SFTP hash to [0-9a-f]{64}/)

  const again = await project.run(['sync', '--source-hash', '--json'])
  expect(again.json<SyncResult>().counts).toMatchObject({copied: 1, sourceHashed: 1, sourceHashMismatched: 0})
  expect(again.code).toBe(0)
  await assertMirrored(root, bucket)
}, 300_000)

it('--source-hash refuses to start when the login may not run commands, before copying anything', async () => {
  const chrooted = sshd.users.chrootUser
  const bucket = await newBucket(peer, 'nohash')
  const project = makeProject({sshd, s3: peer, bucket, roots: ['/upload'], login: chrooted})
  const r = await project.run(['sync', '--source-hash', '--json'])
  expect(r.code).toBe(2)
  const error = r.json<{error: {code: string; message: string; suggestions: string[]}}>().error
  expect(error.code).toBe('SOURCE_HASH_UNAVAILABLE')
  expect(error.suggestions.join(' ')).toMatch(/verify --source-hash/)
  const s3 = s3Of(peer)
  try {
    expect(await listKeys(s3, bucket)).toEqual([])
  } finally {
    s3.destroy()
  }
}, 120_000)
