/**
 * rollback carries back what arrived through Transfer since the switch, against the real peers: a private OpenSSH
 * sshd (the legacy box; the files are checked on its disk) and moto (S3, Route 53, Transfer).
 *
 * Stand-in, said plainly: moto has no SFTP data plane, so "arrived through Transfer" means put into the bucket under a
 * user's home with the S3 API, as Transfer Family does for an upload (and a directory marker for a mkdir).
 */
import {DeleteObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {spawn} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {createMigrationTarget, type MigrationTarget} from '../fixtures/aws-target.js'
import {cutoverInitArgs, prepareForCutover} from './helpers/cutover-project.js'
import {motoClientConfig} from '../peers/env.js'
import {startSshd, type PeerUser, type SshdPeer} from '../peers/index.js'
import {CLI, cleanEnv, runCli} from './helpers/cli.js'

let peer: SshdPeer
let target: MigrationTarget
let dir: string
let env: NodeJS.ProcessEnv
const s3 = new S3Client(motoClientConfig())
const cli = (args: string[]) => runCli(args, {cwd: dir, env, timeoutMs: 120_000})
const frozen = () => existsSync(join(peer.dir, 'frozen'))
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

/** Puts an object under a user's home as Transfer would for an upload; returns its S3 time in whole seconds. */
async function arrive(user: PeerUser, rel: string, body: Buffer): Promise<number> {
  const Key = `home/${user.name}/${rel}`
  await s3.send(new PutObjectCommand({Bucket: target.bucket, Key, Body: body}))
  const head = await s3.send(new HeadObjectCommand({Bucket: target.bucket, Key}))
  return Math.floor(head.LastModified!.getTime() / 1000)
}

/** Every entry under a directory with size, mode, owner and mtime: what "changes nothing" compares. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name)
      const s = lstatSync(p)
      out[p] = `${s.size} ${s.mode.toString(8)} ${s.uid}:${s.gid} ${s.mtimeMs}`
      if (s.isDirectory()) walk(p)
    }
  }
  walk(root)
  return out
}

function expectOnDisk(path: string, body: Buffer, user: PeerUser, mode: number, mtime: number): void {
  const s = statSync(path)
  expect({path, sha256: sha(readFileSync(path)), uid: s.uid, gid: s.gid, mode: s.mode & 0o7777, mtime: Math.floor(s.mtimeMs / 1000)}).toEqual({
    path,
    sha256: sha(body),
    uid: user.uid,
    gid: user.gid,
    mode,
    mtime,
  })
}

beforeAll(async () => {
  peer = await startSshd({sampleTree: true})
  target = await createMigrationTarget()
  dir = mkdtempSync(join(tmpdir(), 'sct-rollback-'))
  env = {AWS_ACCESS_KEY_ID: target.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: target.credentials.secretAccessKey}
  const init = await cli([...cutoverInitArgs(peer, target)])
  expect(init.stderr).toBe('')
  await prepareForCutover(cli, peer, target, dir)
  const cutover = await cli(['cutover', '--yes'])
  expect({code: cutover.code, stderr: cutover.code ? cutover.stderr : ''}).toEqual({code: 0, stderr: ''})
  expect(frozen()).toBe(true)
}, 300_000)

afterAll(async () => {
  s3.destroy()
  await peer?.stop()
})

describe('rollback carries back what arrived through Transfer', () => {
  const k = () => peer.users.keyUser
  const c = () => peer.users.chrootUser
  const files: Array<{user: () => PeerUser; rel: string; box: () => string; body: Buffer; mode: number; mtime?: number}> = []

  it('--dry-run lists every file with its size and the conflict, and changes nothing', async () => {
    const newOrder = Buffer.from('order,qty\n1,5\n')
    const q2 = Buffer.from('overwritten through Transfer\n')
    const partner = randomBytes(70_000)
    const guide = Buffer.from('# Guide, edited by a partner through Transfer\n')
    files.push(
      {user: k, rel: 'incoming/new-order.csv', box: () => join(k().home, 'incoming/new-order.csv'), body: newOrder, mode: 0o644},
      {user: k, rel: 'docs/reports/2024/q2.csv', box: () => join(k().home, 'docs/reports/2024/q2.csv'), body: q2, mode: 0o600},
      {user: c, rel: 'upload/from-partner.bin', box: () => join(c().home, 'upload/from-partner.bin'), body: partner, mode: 0o644},
    )
    // a batch, so that a kill lands in the middle of the carry-back
    for (let i = 0; i < 30; i++) files.push({user: k, rel: `batch/part-${String(i).padStart(2, '0')}.bin`, box: () => join(k().home, `batch/part-${String(i).padStart(2, '0')}.bin`), body: randomBytes(300_000), mode: 0o644})
    await s3.send(new PutObjectCommand({Bucket: target.bucket, Key: `home/${k().name}/incoming/`, Body: Buffer.alloc(0)}))
    for (const f of files) f.mtime = await arrive(f.user(), f.rel, f.body)
    // changed on both sides: a legacy application edits the file on the (frozen) box, a partner uploads it to Transfer
    writeFileSync(join(k().home, 'docs/guide.md'), 'edited on the box after the switch\n')
    const guideTime = await arrive(k(), 'docs/guide.md', guide)
    files.push({user: k, rel: 'docs/guide.md (beside)', box: () => join(k().home, `docs/guide.md.from-transfer-${new Date(guideTime * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '')}`), body: guide, mode: 0o644, mtime: guideTime})
    // deleted through Transfer: reported, not replayed
    await s3.send(new DeleteObjectCommand({Bucket: target.bucket, Key: `home/${k().name}/with space/file with space.txt`}))

    const before = {key: snapshot(k().home), chroot: snapshot(c().home)}
    const r = await cli(['rollback', '--dry-run', '--json'])
    expect(r.code).toBe(0)
    const result = r.json<{carriedBack: {files: Array<{dest: string; size: number; action: string; status: string}>; conflicts: Array<{path: string; dest: string}>; deletions: Array<{path: string; status: string}>}}>()
    const listed = new Map(result.carriedBack.files.map((f) => [f.dest, f]))
    for (const f of files) expect({dest: f.box(), size: listed.get(f.box())?.size, status: listed.get(f.box())?.status}).toEqual({dest: f.box(), size: f.body.length, status: 'would-write'})
    expect(listed.get(join(k().home, 'incoming'))?.action).toBe('dir')
    expect(result.carriedBack.files).toHaveLength(files.length + 1)
    expect(result.carriedBack.conflicts).toEqual([expect.objectContaining({path: 'docs/guide.md', dest: files[files.length - 1].box()})])
    expect(result.carriedBack.deletions).toEqual([expect.objectContaining({path: 'with space/file with space.txt', status: 'would-report'})])
    expect({key: snapshot(k().home), chroot: snapshot(c().home)}).toEqual(before)
    expect(frozen()).toBe(true)
  }, 120_000)

  it('killed with -9 in the middle, a re-run finishes it: bytes, owner, mode and time on the box, nothing duplicated, then unfreezes', async () => {
    const child = spawn(process.execPath, [CLI, 'rollback'], {cwd: dir, env: {...cleanEnv(), ...env}, stdio: ['ignore', 'pipe', 'pipe']})
    let seen = ''
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        seen += d.toString()
        if (/carried back .*batch\/part-0/.test(seen)) resolve()
      })
      child.on('close', () => resolve())
    })
    child.kill('SIGKILL')
    await new Promise((resolve) => (child.exitCode === null && child.signalCode === null ? child.on('close', resolve) : resolve(undefined)))
    expect(child.signalCode).toBe('SIGKILL')
    expect(frozen()).toBe(true) // killed before the carry-back was verified: not unfrozen

    // a dry run after the kill lists what is left and still changes nothing
    const beforeDry = {key: snapshot(k().home), chroot: snapshot(c().home)}
    const dry = await cli(['rollback', '--dry-run', '--json'])
    expect(dry.code).toBe(0)
    const left = dry.json<{carriedBack: {files: Array<{status: string}>}}>().carriedBack.files
    expect(left.length).toBeGreaterThan(0)
    expect(left.every((f) => f.status === 'would-write')).toBe(true)
    expect({key: snapshot(k().home), chroot: snapshot(c().home)}).toEqual(beforeDry)

    const r = await cli(['rollback', '--json'])
    const result = r.json<{carriedBack: {complete: boolean; hashedWith: string; counts: {verified: number; failed: number}; files: Array<{dest: string; status: string; reason?: string}>}; unfrozen: string}>()
    expect({code: r.code, notVerified: result.carriedBack.files.filter((f) => f.status !== 'verified')}).toEqual({code: 0, notVerified: []})
    expect(result.carriedBack).toMatchObject({complete: true, hashedWith: 'sha256sum', counts: {failed: 0, verified: files.length + 1}})
    expect(frozen()).toBe(false)
    for (const f of files) expectOnDisk(f.box(), f.body, f.user(), f.mode, f.mtime!)
    expect(statSync(join(k().home, 'incoming')).uid).toBe(k().uid)
    // the box's own edit is untouched; exactly one side-by-side copy; no temporary file left; the deletion not replayed
    expect(readFileSync(join(k().home, 'docs/guide.md'), 'utf8')).toBe('edited on the box after the switch\n')
    expect(readdirSync(join(k().home, 'docs')).filter((n) => n.startsWith('guide.md.from-transfer-'))).toHaveLength(1)
    for (const d of ['batch', 'incoming', 'docs', 'docs/reports/2024']) expect(readdirSync(join(k().home, d)).filter((n) => n.includes('sftp-cutover-carry-back'))).toEqual([])
    expect(readdirSync(join(c().home, 'upload')).filter((n) => n.includes('sftp-cutover-carry-back'))).toEqual([])
    expect(existsSync(join(k().home, 'with space/file with space.txt'))).toBe(true)

    // the migration report has the carried-back section
    const report = await cli(['report'])
    expect(report.code).toBe(0)
    const md = readFileSync(/(\S+\.md)/.exec(report.stdout)![1], 'utf8')
    expect(md).toContain('## Carried back')
    expect(md).toContain(`| ${k().name} | incoming/new-order.csv |`)
    expect(md).toMatch(/\| docs\/guide\.md \| \d+ \| \S+ \| conflict \| verified \| \S+guide\.md\.from-transfer-/)

    // a third run writes nothing
    const before = {key: snapshot(k().home), chroot: snapshot(c().home)}
    const again = await cli(['rollback', '--json'])
    expect(again.code).toBe(0)
    expect({key: snapshot(k().home), chroot: snapshot(c().home)}).toEqual(before)
  }, 180_000)
})
