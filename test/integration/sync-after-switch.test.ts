/**
 * sync after the record was switched to Transfer, as the built CLI, from a private OpenSSH sshd (the legacy box) to
 * versitygw and to moto. Clients now write to S3 through Transfer (the test puts objects as Transfer would: plain
 * PutObject, no sync metadata) while the same files change on the box: sync keeps S3's objects, writes the box's
 * version beside them as <name>.from-legacy-<mtime>, lists the conflicts and exits 3; --delete deletes nothing a
 * client wrote. The switch is recorded in state as `cutover` records it (CutoverStore): moto has no Transfer SFTP.
 */
import {PutObjectCommand, type S3Client} from '@aws-sdk/client-s3'
import {randomBytes} from 'node:crypto'
import {appendFileSync, readFileSync, rmSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {CutoverStore} from '../../src/adapters/cutover-store.js'
import {isPreconditionFailure} from '../../src/adapters/s3-errors.js'
import {S3ObjectTarget} from '../../src/adapters/s3-object-target.js'
import {SqliteStateStore} from '../../src/adapters/state.js'
import {crc32, crc32Base64} from '../../src/core/crc32.js'
import type {MigrationReport} from '../../src/services/report.js'
import type {SyncResult} from '../../src/services/sync.js'
import {type SshdPeer, startSshd} from '../peers/index.js'
import {listKeys, makeProject, moto, newBucket, objectSha256, type Project, s3Of, sha256, removeScratch, versitygw} from './sync-helpers.js'

let sshd: SshdPeer

beforeAll(async () => {
  sshd = await startSshd()
})

afterAll(async () => {
  await sshd?.stop()
  removeScratch()
})

const LEGACY_MTIME = new Date('2026-01-02T03:04:05Z')

describe.each([['versitygw', versitygw], ['moto', moto]] as const)('to %s', (name, peerOf) => {
  let s3: S3Client
  let bucket: string
  let project: Project
  const user = () => sshd.users.keyUser
  const boxFile = (file: string) => join(user().home, file)
  const key = (file: string) => `home/${user().name}/${file}`
  const fromTransfer = (file: string, body: string) => s3.send(new PutObjectCommand({Bucket: bucket, Key: key(file), Body: body}))
  const onBox = (file: string, body: string) => {
    writeFileSync(boxFile(file), body)
    utimesSync(boxFile(file), LEGACY_MTIME, LEGACY_MTIME)
  }

  beforeAll(async () => {
    const peer = peerOf()
    s3 = s3Of(peer)
    bucket = await newBucket(peer, name === 'moto' ? 'm' : 'v')
    project = makeProject({sshd, s3: peer, bucket, roots: [user().home]})
    appendFileSync(join(project.dir, 'sftp-cutover.yaml'), 'dns:\n  hostedZoneId: Z0SWITCHTEST\n  recordName: sftp.example.internal\n')
  })

  afterAll(() => s3?.destroy())

  it('before the switch sync overwrites as always; after it, a path changed on both sides keeps S3\'s object and gets the box\'s version beside it', async () => {
    writeFileSync(boxFile(`shared-${name}.txt`), 'first version, synced\n')
    writeFileSync(boxFile(`doomed-${name}.txt`), 'deleted on the box later\n')
    writeFileSync(boxFile(`plain-${name}.txt`), 'changed on the box only\n')
    expect((await project.run(['sync', '--json'])).code).toBe(0)

    // Before the switch: an object changed in S3 behind sync's back is overwritten by the box's changed file (as today).
    await fromTransfer(`plain-${name}.txt`, 'not a client: nothing writes to S3 before the switch\n')
    appendFileSync(boxFile(`plain-${name}.txt`), 'more\n')
    const before = await project.run(['sync', '--json'])
    expect(before.code).toBe(0)
    expect(before.json<SyncResult>().counts).toMatchObject({copied: 1, conflicts: 0})
    expect(await objectSha256(s3, bucket, key(`plain-${name}.txt`))).toBe(sha256('changed on the box only\nmore\n'))

    const state = new SqliteStateStore(project.stateDb)
    try {
      new CutoverStore(state).saveDnsRecord({hostedZoneId: 'Z0SWITCHTEST', recordName: 'sftp.example.internal', saved: [], target: {dnsName: 'vpce.example', hostedZoneId: 'Z0VPCE'}, switchStartedAt: new Date().toISOString(), switchedAt: new Date().toISOString()})
    } finally {
      state.close()
    }

    // After the switch: clients upload through Transfer while the same files change on the legacy box.
    await fromTransfer(`shared-${name}.txt`, 'uploaded through Transfer\n')
    onBox(`shared-${name}.txt`, 'changed on the legacy box\n')
    await fromTransfer(`both-new-${name}.txt`, 'new through Transfer\n')
    onBox(`both-new-${name}.txt`, 'new on the legacy box\n')
    await fromTransfer(`doomed-${name}.txt`, 'replaced through Transfer\n')
    rmSync(boxFile(`doomed-${name}.txt`))
    await fromTransfer(`only-transfer-${name}.txt`, 'created through Transfer only\n')
    appendFileSync(boxFile(`plain-${name}.txt`), 'and more after the switch\n')

    const r = await project.run(['sync', '--delete', '--json'])
    const result = r.json<SyncResult>()
    expect(r.code).toBe(3)
    expect(result.switchedAt).toBeDefined()
    expect(result.counts).toMatchObject({conflicts: 3, copied: 1, deleted: 0})
    expect(result.problems.filter((p) => p.kind === 'conflict').map((p) => p.path).sort()).toEqual([`both-new-${name}.txt`, `doomed-${name}.txt`, `shared-${name}.txt`])
    const beside = (file: string) => `${key(file)}.from-legacy-20260102T030405Z`
    // S3's objects kept, byte for byte; the box's versions beside them; what only Transfer wrote untouched
    expect(await objectSha256(s3, bucket, key(`shared-${name}.txt`))).toBe(sha256('uploaded through Transfer\n'))
    expect(await objectSha256(s3, bucket, beside(`shared-${name}.txt`))).toBe(sha256('changed on the legacy box\n'))
    expect(await objectSha256(s3, bucket, key(`both-new-${name}.txt`))).toBe(sha256('new through Transfer\n'))
    expect(await objectSha256(s3, bucket, beside(`both-new-${name}.txt`))).toBe(sha256('new on the legacy box\n'))
    expect(await objectSha256(s3, bucket, key(`doomed-${name}.txt`))).toBe(sha256('replaced through Transfer\n'))
    expect(await objectSha256(s3, bucket, key(`only-transfer-${name}.txt`))).toBe(sha256('created through Transfer only\n'))
    // a file changed on the box only, whose object is still sync's, is copied as before
    expect(await objectSha256(s3, bucket, key(`plain-${name}.txt`))).toBe(sha256('changed on the box only\nmore\nand more after the switch\n'))
    // the log says it too
    const log = readFileSync(project.logFile, 'utf8')
    expect(log).toContain(`"key":"${key(`shared-${name}.txt`)}"`)
    expect(log).toMatch(/sync\.conflict/)

    // The next pass does not write the same conflict again: nothing changed since.
    const again = await project.run(['sync', '--json'])
    expect(again.code).toBe(0)
    expect(again.json<SyncResult>().counts).toMatchObject({copied: 0, conflicts: 0})
    expect((await listKeys(s3, bucket, `home/${user().name}/`)).filter((k) => k.includes('.from-legacy-')).sort()).toEqual([beside(`both-new-${name}.txt`), beside(`shared-${name}.txt`)].sort())
    // the migration report lists the conflicts, though the last sync run found none
    const report = await project.run(['report', '--json'])
    const conflicts = report.json<MigrationReport>().sync.conflicts.map((c) => `${c.owner}/${c.path}`).sort()
    expect(conflicts).toEqual([`both-new-${name}.txt`, `doomed-${name}.txt`, `shared-${name}.txt`].map((f) => `${user().name}/${f}`))
    expect(readFileSync(report.json<{files: {md: string}}>().files.md, 'utf8')).toContain('### Conflicts after the switch')
  }, 120_000)

  it('the drain (sync --until-quiet) keeps a Transfer upload over a large file changed on the box, and exits 3', async () => {
    // over the 8 MiB single-request limit: the box's version goes beside S3's in a multipart upload
    const large = randomBytes(9 * 1024 * 1024 + 77)
    writeFileSync(boxFile(`large-${name}.bin`), randomBytes(1000))
    expect((await project.run(['sync', '--json'])).code).toBe(0)
    await fromTransfer(`large-${name}.bin`, 'a partner delivered this through Transfer\n')
    writeFileSync(boxFile(`large-${name}.bin`), large)
    utimesSync(boxFile(`large-${name}.bin`), LEGACY_MTIME, LEGACY_MTIME)

    const r = await project.run(['sync', '--until-quiet', '2s', '--json'])
    const result = r.json<SyncResult & {untilQuiet: {conflicts: number; passes: number}}>()
    expect(r.code).toBe(3)
    expect(result.untilQuiet.conflicts).toBe(1)
    expect(result.untilQuiet.passes).toBeGreaterThan(1)
    expect(await objectSha256(s3, bucket, key(`large-${name}.bin`))).toBe(sha256('a partner delivered this through Transfer\n'))
    expect(await objectSha256(s3, bucket, `${key(`large-${name}.bin`)}.from-legacy-20260102T030405Z`)).toBe(sha256(large))
  }, 120_000)

  it('the write after the HEAD is conditional: an upload landing in between is not replaced (PutObject If-Match / If-None-Match)', async () => {
    const target = new S3ObjectTarget(s3, bucket)
    await target.checkBucket()
    try {
      const body = Buffer.from('the box\'s version\n')
      const crc = crc32Base64(crc32(body))
      await fromTransfer(`race-${name}.txt`, 'what the HEAD saw\n')
      const held = await target.head(key(`race-${name}.txt`))
      await fromTransfer(`race-${name}.txt`, 'landed after the HEAD\n')
      const refused = await target.put(key(`race-${name}.txt`), body, crc, {metadata: {}}, {ifMatch: held!.etag}).then(() => undefined, (err: unknown) => err)
      expect(isPreconditionFailure(refused)).toBe(true)
      await fromTransfer(`race-new-${name}.txt`, 'created after a HEAD found nothing\n')
      const refusedNew = await target.put(key(`race-new-${name}.txt`), body, crc, {metadata: {}}, {ifNoneMatch: '*'}).then(() => undefined, (err: unknown) => err)
      expect(isPreconditionFailure(refusedNew)).toBe(true)
      expect(await objectSha256(s3, bucket, key(`race-${name}.txt`))).toBe(sha256('landed after the HEAD\n'))
      expect(await objectSha256(s3, bucket, key(`race-new-${name}.txt`))).toBe(sha256('created after a HEAD found nothing\n'))
    } finally {
      target.close()
    }
  })
})
