/**
 * sync and verify, as the built CLI, from a private OpenSSH sshd (three users' sample trees and the tricky-names
 * tree) to versitygw (an S3 that checks every checksum) and to moto. What S3 must hold is computed here from the
 * source tree on disk, independently of sync, and every object is downloaded and compared byte for byte.
 */
import {GetObjectTaggingCommand, HeadObjectCommand, PutObjectCommand, type S3Client} from '@aws-sdk/client-s3'
import {randomBytes} from 'node:crypto'
import {appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import type {SyncResult} from '../../src/services/sync.js'
import type {VerifyResult} from '../../src/services/verify.js'
import {writeTrickyTree} from '../fixtures/tricky-tree.js'
import {type SshdPeer, startSshd} from '../peers/index.js'
import {
  downloadAll,
  expectedObjects,
  listKeys,
  makeProject,
  moto,
  multipartUploads,
  newBucket,
  type Project,
  type S3Peer,
  s3Of,
  seedInventory,
  sha256,
  startS3Proxy,
  removeScratch,
  versitygw,
} from './sync-helpers.js'

let sshd: SshdPeer
let roots: Array<{owner: string; root: string; uid: number; gid: number}>

beforeAll(async () => {
  sshd = await startSshd({sampleTree: true})
  const {keyUser, passwordUser, chrootUser} = sshd.users
  writeTrickyTree(passwordUser.home, passwordUser)
  // Over the 32 MiB single-request limit: a multipart upload with a full-object CRC, on both S3 peers.
  writeFileSync(join(keyUser.home, 'data', 'large.bin'), randomBytes(40 * 1024 * 1024 + 4321))
  roots = [keyUser, passwordUser, chrootUser].map((u) => ({owner: u.name, root: u.sampleTree!.root, uid: u.uid, gid: u.gid}))
})

afterAll(async () => {
  await sshd?.stop()
  removeScratch()
})

const owner = (i: number) => roots[i].owner
const PREFIX = 'migrated'

it('refuses to guess what to copy when there is no inventory and no source.roots (exit 2)', async () => {
  const project = makeProject({sshd, s3: versitygw(), bucket: 'unused-bucket'})
  const r = await project.run(['sync', '--json'])
  expect(r.code).toBe(2)
  expect(r.json<{error: {code: string; message: string; suggestions: string[]}}>().error).toMatchObject({code: 'NO_INVENTORY'})
  expect(r.stdout).toMatch(/inventory first/)
})

describe.each([['versitygw', versitygw], ['moto', moto]] as const)('to %s', (name, peerOf) => {
  let peer: S3Peer
  let s3: S3Client
  let bucket: string
  let proxy: Awaited<ReturnType<typeof startS3Proxy>>
  let project: Project

  beforeAll(async () => {
    peer = peerOf()
    s3 = s3Of(peer)
    bucket = await newBucket(peer, name === 'moto' ? 'm' : 'v')
    proxy = await startS3Proxy(peer.config.endpoint)
    project = makeProject({sshd, s3: peer, s3Endpoint: proxy.url, bucket, prefix: PREFIX})
    seedInventory(project.stateDb, roots.map((r) => ({name: r.owner, uid: r.uid, gid: r.gid, dataRoot: r.root})))
    writeFileSync(join(roots[0].root, `doomed-${name}.txt`), `deleted later (${name})\n`)
  })

  afterAll(async () => {
    s3?.destroy()
    await proxy?.close()
  })

  it('a dry run counts what it would copy and changes nothing', async () => {
    const r = await project.run(['sync', '--dry-run', '--json'])
    const result = r.json<SyncResult>()
    expect(result.dryRun).toBe(true)
    expect(result.counts.toCopy).toBe(expectedObjects(roots, PREFIX).size)
    expect(result.bytes.toCopy).toBeGreaterThan(15 * 1024 * 1024)
    expect(await listKeys(s3, bucket)).toEqual([])
    // --exclude takes paths relative to each home
    const csv = [...expectedObjects(roots, PREFIX).keys()].filter((k) => k.endsWith('.csv')).length
    expect(csv).toBeGreaterThanOrEqual(6)
    const excluded = (await project.run(['sync', '--dry-run', '--json', '--exclude', '**/*.csv'])).json<SyncResult>()
    expect(excluded.counts.toCopy).toBe(result.counts.toCopy - csv)
    // on top of the homes' .ssh directories, which sync leaves out by default
    expect(excluded.counts.excluded).toBe(result.counts.excluded + csv)
  })

  it('copies every file byte for byte, reports what it cannot copy, and leaves no multipart upload', async () => {
    const r = await project.run(['sync', '--json'])
    const result = r.json<SyncResult>()
    // The tricky tree holds names that cannot be keys and a 6 TiB file: the run finishes with problems.
    expect(r.code).toBe(3)
    expect(result.rootsFrom).toBe('inventory')
    const expected = expectedObjects(roots, PREFIX)
    const held = await downloadAll(s3, bucket)
    expect([...held.keys()].sort()).toEqual([...expected.keys()].sort())
    for (const [key, sum] of expected) expect([key, held.get(key)]).toEqual([key, sum])
    expect(result.counts.copied + result.counts.dirMarkers).toBe(expected.size)

    const problems = result.problems.map((p) => `${p.kind} ${p.path}`).sort()
    const pw = owner(1)
    expect(problems).toEqual(
      [
        'bad-name tricky/latin1-\\xe9\\xe8.txt',
        expect.stringMatching(/^bad-name tricky\/0d+\/1d+\/2d+\/3d+\/4d+\/deep-file.txt$/),
        'too-large tricky/huge.img',
        // The inventory blocks control characters in names: sync skips them unless --allow-control-chars.
        'bad-name tricky/line\\x0abreak.txt',
      ].sort(),
    )
    expect(result.problems.every((p) => p.owner === pw && p.reason.length > 10)).toBe(true)
    expect(result.notes.map((n) => `${n.kind} ${n.path}`).sort()).toEqual(
      [
        'special tricky/a-device',
        'special tricky/a-fifo',
        'special tricky/a-socket',
        'symlink tricky/loop-a',
        'symlink tricky/loop-b',
        ...roots.filter((r) => existsSync(join(r.root, '.ssh'))).map(() => 'ssh-dir .ssh'),
      ].sort(),
    )
    expect(await multipartUploads(s3, bucket)).toEqual([])

    // Metadata and tags: what the EFS Lambda and a restore need (mode and owner in a tag: a chmod rewrites only that).
    const sample = sshd.users.keyUser.sampleTree!.entries.find((e) => e.path === 'docs/reports/2024/q2.csv')!
    const sampleKey = `${PREFIX}/home/${owner(0)}/docs/reports/2024/q2.csv`
    const head = await s3.send(new HeadObjectCommand({Bucket: bucket, Key: sampleKey, ChecksumMode: 'ENABLED'}))
    expect(head.Metadata).toEqual({mtime: String(sample.mtimeMs / 1000), sha256: sample.sha256})
    const {TagSet} = await s3.send(new GetObjectTaggingCommand({Bucket: bucket, Key: sampleKey}))
    expect(TagSet).toEqual([{Key: 'sftp-cutover-posix', Value: `mode=100600 uid=${roots[0].uid} gid=${roots[0].gid}`}])
    expect(head.ChecksumCRC32).toMatch(/^[A-Za-z0-9+/]{6}==$/)
  })

  it('a re-run copies nothing and sends no request about any object', async () => {
    proxy.requests.length = 0
    const r = await project.run(['sync', '--json'])
    const result = r.json<SyncResult>()
    expect(result.counts.copied).toBe(0)
    expect(result.counts.dirMarkers).toBe(0)
    expect(result.counts.unchanged).toBe(expectedObjects(roots, PREFIX).size)
    const perObject = proxy.requests.filter((q) => q.path !== `/${bucket}` && q.path !== `/${bucket}/`)
    expect(perObject).toEqual([])
    // What it did send: HeadBucket, and ListMultipartUploads per home to find abandoned uploads.
    const bucketLevel = proxy.requests.filter((q) => q.path === `/${bucket}` || q.path === `/${bucket}/`)
    expect(bucketLevel.length).toBeLessThanOrEqual(1 + roots.length)
  })

  it('re-copies a changed file, and verify finds everything in order', async () => {
    const file = join(roots[2].root, 'docs/guide.md')
    appendFileSync(file, 'one more line\n')
    utimesSync(file, new Date(), new Date(Date.now() + 5000))
    const r = await project.run(['sync', '--json'])
    expect(r.json<SyncResult>().counts.copied).toBe(1)
    const key = `${PREFIX}/home/${owner(2)}/docs/guide.md`
    expect((await downloadAll(s3, bucket, key)).get(key)).toBe(expectedObjects([roots[2]], PREFIX).get(key))

    const v = await project.run(['verify', '--json'])
    const verified = v.json<VerifyResult>()
    // Everything copied checks out; the files sync could not copy are accounted for, so verify exits 3.
    expect(verified.mismatches.filter((m) => m.problem !== 'not-copied')).toEqual([])
    expect(verified.mismatches.map((m) => m.path).sort()).toEqual(
      [
        'tricky/latin1-\\xe9\\xe8.txt',
        expect.stringMatching(/^tricky\/0d+\/1d+\/2d+\/3d+\/4d+\/deep-file.txt$/),
        'tricky/huge.img',
        'tricky/line\\x0abreak.txt',
      ].sort(),
    )
    expect(v.code).toBe(3)
    expect(verified.checked).toBe(expectedObjects(roots, PREFIX).size)
    expect(verified.files.notCopied).toBe(verified.mismatches.length)
    expect(verified.files.verified).toBe(verified.files.total - verified.files.notCopied)
  })

  it('after a chmod or chown rewrites the objects\' mode and owner tag, without copying the files or rewriting the objects', async () => {
    const large = join(roots[0].root, 'data/large.bin')
    const guide = join(roots[2].root, 'docs/guide.md')
    // Toggled: the same tree serves both S3 peers in turn.
    chmodSync(large, (statSync(large).mode & 0o777) === 0o600 ? 0o640 : 0o600)
    chownSync(guide, roots[2].uid, statSync(guide).gid === 0 ? roots[2].gid : 0)
    const keys = [`${PREFIX}/home/${owner(0)}/data/large.bin`, `${PREFIX}/home/${owner(2)}/docs/guide.md`]
    const etagsBefore = await Promise.all(keys.map(async (Key) => (await s3.send(new HeadObjectCommand({Bucket: bucket, Key}))).ETag))
    proxy.requests.length = 0
    const r = await project.run(['sync', '--json'])
    const result = r.json<SyncResult>()
    expect(result.counts).toMatchObject({copied: 0, metadataUpdated: 2, toUpdateMetadata: 2})
    expect(result.bytes).toMatchObject({copied: 0, read: 0})
    // One PutObjectTagging per file: no upload of the bytes, no CopyObject.
    const writes = proxy.requests.filter((q) => q.method === 'PUT' || q.method === 'POST')
    // (a versionId names the version sync wrote where S3 reported one: moto does, "null", for a multipart object)
    const named = (q: {method: string; path: string; query: string; copySource?: string}) =>
      `${q.method} ${q.path} ${[...new URLSearchParams(q.query).keys()].filter((k) => k !== 'versionId').join(',')}${q.copySource ? ` <- ${q.copySource}` : ''}`
    expect(writes.map(named).sort()).toEqual(keys.map((k) => `PUT /${bucket}/${k} tagging`).sort())
    const heads = await Promise.all(keys.map((Key) => s3.send(new HeadObjectCommand({Bucket: bucket, Key}))))
    expect(heads.map((h) => h.ETag)).toEqual(etagsBefore)
    const tags = await Promise.all(keys.map(async (Key) => Object.fromEntries(((await s3.send(new GetObjectTaggingCommand({Bucket: bucket, Key}))).TagSet ?? []).map((t) => [t.Key, t.Value]))))
    const posix = (p: string) => {
      const st = statSync(p)
      return `mode=${st.mode.toString(8)} uid=${st.uid} gid=${st.gid}`
    }
    expect(tags[0]).toEqual({'sftp-cutover-posix': posix(large), 'sftp-cutover-sha256': sha256(readFileSync(large))})
    expect(tags[1]).toEqual({'sftp-cutover-posix': posix(guide)})
    expect(heads[1].Metadata).toEqual({mtime: String(Math.floor(statSync(guide).mtimeMs / 1000)), sha256: sha256(readFileSync(guide))})
    const v = await project.run(['verify', '--deep', '--json'])
    expect(v.json<VerifyResult>().mismatches.filter((m) => m.problem !== 'not-copied')).toEqual([])
    const again = (await project.run(['sync', '--json'])).json<SyncResult>()
    expect(again.counts).toMatchObject({copied: 0, metadataUpdated: 0})

    // An object replaced behind sync's back is not the version the manifest knows: the file is copied instead.
    await s3.send(new PutObjectCommand({Bucket: bucket, Key: keys[1], Body: 'overwritten in S3\n'}))
    chmodSync(guide, (statSync(guide).mode & 0o777) === 0o600 ? 0o644 : 0o600)
    const fallback = (await project.run(['sync', '--json'])).json<SyncResult>()
    expect(fallback.counts).toMatchObject({copied: 1, metadataUpdated: 0, toUpdateMetadata: 1})
    expect((await downloadAll(s3, bucket, keys[1])).get(keys[1])).toBe(expectedObjects([roots[2]], PREFIX).get(keys[1]))
  })

  it('reports files deleted at the source, deletes them only with --delete and never beyond --max-delete', async () => {
    const gone = join(roots[0].root, `doomed-${name}.txt`)
    const key = `${PREFIX}/home/${owner(0)}/doomed-${name}.txt`
    rmSync(gone)
    const kept = (await project.run(['sync', '--json'])).json<SyncResult>()
    expect(kept.counts.deletedAtSource).toBe(1)
    expect(kept.deletions.examples).toEqual([`${owner(0)}/doomed-${name}.txt`])
    expect(await listKeys(s3, bucket, key)).toEqual([key])

    const refused = await project.run(['sync', '--delete', '--max-delete', '0', '--json'])
    expect(refused.code).toBe(3)
    expect(refused.json<SyncResult>().deletions.refused).toMatch(/more than --max-delete 0: nothing was deleted/)
    expect(await listKeys(s3, bucket, key)).toEqual([key])

    const deleted = await project.run(['sync', '--delete', '--json'])
    expect(deleted.json<SyncResult>().counts.deleted).toBe(1)
    expect(await listKeys(s3, bucket, key)).toEqual([])
    const v = (await project.run(['verify', '--json'])).json<VerifyResult>()
    expect(v.mismatches.filter((m) => m.problem !== 'not-copied')).toEqual([])
  })

  it('--allow-control-chars copies a name with a newline where the store can hold it', async () => {
    const key = `${PREFIX}/home/${owner(1)}/tricky/line\nbreak.txt`
    const r = await project.run(['sync', '--allow-control-chars', '--json'])
    const problems = r.json<SyncResult>().problems.map((p) => `${p.kind} ${p.path}`)
    expect(problems).not.toContain('bad-name tricky/line\\x0abreak.txt')
    if (name === 'versitygw') {
      expect(problems).not.toContain('failed tricky/line\\x0abreak.txt')
      expect((await downloadAll(s3, bucket, key)).get(key)).toBe(sha256('newline\n'))
    } else {
      // moto answers 404 to any key holding a newline (its URL routing); AWS and versitygw store it.
      expect(problems).toContain('failed tricky/line\\x0abreak.txt')
    }
  })
})

it('--symlinks follow copies what links point to, walks linked directories once and reports loops', async () => {
  const peer = versitygw()
  const s3 = s3Of(peer)
  const bucket = await newBucket(peer, 'links')
  const base = join(sshd.dir, 'linkroot')
  const elsewhere = join(sshd.dir, 'elsewhere')
  mkdirSync(join(base, 'sub'), {recursive: true})
  mkdirSync(elsewhere, {recursive: true})
  writeFileSync(join(base, 'file.txt'), 'the target\n')
  writeFileSync(join(elsewhere, 'outside.txt'), 'outside the root\n')
  symlinkSync('file.txt', join(base, 'link-to-file'))
  symlinkSync(elsewhere, join(base, 'sub', 'link-to-dir'))
  symlinkSync('..', join(base, 'sub', 'loop'))
  symlinkSync('nowhere', join(base, 'dangling'))
  try {
    const project = makeProject({sshd, s3: peer, bucket, roots: [base]})
    const skipped = (await project.run(['sync', '--dry-run', '--json'])).json<SyncResult>()
    expect(skipped.notes.map((n) => n.path).sort()).toEqual(['dangling', 'link-to-file', 'sub/link-to-dir', 'sub/loop'])

    const r = await project.run(['sync', '--symlinks', 'follow', '--json'])
    const result = r.json<SyncResult>()
    expect(r.code).toBe(0)
    const held = await downloadAll(s3, bucket)
    expect(Object.fromEntries(held)).toEqual({
      'home/linkroot/file.txt': sha256('the target\n'),
      'home/linkroot/link-to-file': sha256('the target\n'),
      'home/linkroot/sub/link-to-dir/outside.txt': sha256('outside the root\n'),
    })
    expect(result.notes.map((n) => `${n.kind} ${n.path}`).sort()).toEqual(['symlink dangling', 'symlink sub/loop'])
    expect(result.notes.find((n) => n.path === 'sub/loop')!.reason).toMatch(/loop/)
  } finally {
    s3.destroy()
    rmSync(base, {recursive: true, force: true})
    rmSync(elsewhere, {recursive: true, force: true})
  }
})

it('writes with SSE-KMS from target.kmsKeyId and the --storage-class asked for (moto keeps both)', async () => {
  const peer = moto()
  const s3 = s3Of(peer)
  const bucket = await newBucket(peer, 'kms')
  const root = join(sshd.dir, 'kmsroot')
  mkdirSync(root)
  writeFileSync(join(root, 'small.txt'), 'encrypted at rest\n')
  writeFileSync(join(root, 'large.bin'), randomBytes(33 * 1024 * 1024))
  try {
    const project = makeProject({sshd, s3: peer, bucket, roots: [root], kmsKeyId: 'alias/sftp-data'})
    const r = await project.run(['sync', '--storage-class', 'STANDARD_IA', '--json'])
    expect(r.code).toBe(0)
    for (const key of ['home/kmsroot/small.txt', 'home/kmsroot/large.bin']) {
      const head = await s3.send(new HeadObjectCommand({Bucket: bucket, Key: key}))
      expect([key, head.ServerSideEncryption, head.SSEKMSKeyId, head.StorageClass]).toEqual([key, 'aws:kms', expect.stringContaining('sftp-data'), 'STANDARD_IA'])
    }
  } finally {
    s3.destroy()
    rmSync(root, {recursive: true, force: true})
  }
})
