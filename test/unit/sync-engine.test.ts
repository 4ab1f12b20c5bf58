/**
 * The sync engine (list, plan, copy, finish) against in-memory ports: a fake source tree and a target that checks
 * CRCs as S3 does (test/unit/helpers/sync-fakes.ts says what they are). Fast and deterministic, for the engine's
 * rules; the same behaviour against sshd, versitygw and moto is in test/integration/sync-*.test.ts.
 */
import {createHash, randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {SqliteStateStore} from '../../src/adapters/state.js'
import {configSchema} from '../../src/core/config.js'
import {POSIX_TAG, SHA256_TAG} from '../../src/core/sync-plan.js'
import {runSync, type SyncDeps, type SyncOptions} from '../../src/services/sync.js'
import {FakeSource, MemoryTarget} from './helpers/sync-fakes.js'

const MiB = 1024 * 1024
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')
const config = configSchema.parse({
  source: {host: 'box.invalid', username: 'migrator', hostKeyFingerprint: `SHA256:${'a'.repeat(43)}`, roots: ['/data/alice']},
  target: {region: 'eu-west-1', bucket: 'memory'},
})
const opts: SyncOptions = {transfers: 4, connections: 1, symlinks: 'skip', checksum: false, sourceHash: false, delete: false, maxDelete: 100, include: [], exclude: [], dryRun: false}

let dir: string
let state: SqliteStateStore
let source: FakeSource
let target: MemoryTarget
const big = randomBytes(20 * MiB + 5)
const small = Buffer.from('a small file\n')

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sync-engine-'))
  state = new SqliteStateStore(join(dir, 'state.db'))
  source = new FakeSource()
  target = new MemoryTarget()
  source.file('/data/alice/docs/a.txt', small, {mode: 0o100640})
  source.file('/data/alice/big.bin', big)
  source.dir('/data/alice/empty')
})

afterEach(() => {
  state.close()
  rmSync(dir, {recursive: true, force: true})
})

const sync = () => {
  const deps: SyncDeps = {
    state,
    aws: {
      s3: () => {
        throw new Error('the in-memory target is used')
      },
    },
    env: {},
    log: () => undefined,
    ports: {pool: source, target},
  }
  return runSync(config, opts, deps)
}

it('copies every file once, reading each byte once, with the sha256 and the mode and owner where verify finds them', async () => {
  const result = await sync()
  expect(result.counts).toMatchObject({copied: 2, dirMarkers: 1, failed: 0})
  expect([...target.objects.keys()].sort()).toEqual(['home/alice/big.bin', 'home/alice/docs/a.txt', 'home/alice/empty/'])
  expect(target.objects.get('home/alice/big.bin')!.body.equals(big)).toBe(true)
  expect(result.bytes.read).toBe(big.length + small.length)
  expect(source.bytesRead).toBe(result.bytes.read)
  const large = target.objects.get('home/alice/big.bin')!
  expect(large.metadata).toEqual({mtime: '1700000000'})
  expect(large.tags).toEqual({[SHA256_TAG]: sha256(big), [POSIX_TAG]: 'mode=100644 uid=1000 gid=1000'})
  const smallObject = target.objects.get('home/alice/docs/a.txt')!
  expect(smallObject.metadata).toEqual({mtime: '1700000000', sha256: sha256(small)})
  expect(smallObject.tags).toEqual({[POSIX_TAG]: 'mode=100640 uid=1000 gid=1000'})
  expect(target.openUploads).toBe(0)
})

it('a failed upload resumes with the parts the target holds: the next run reads only the others, and the sha256 still covers every byte', async () => {
  target.failPart = (n) => (n === 3 ? Object.assign(new Error('Access Denied'), {name: 'AccessDenied', $metadata: {httpStatusCode: 403}}) : undefined)
  const first = await sync()
  expect(first.counts.failed).toBe(1)
  expect(target.openUploads).toBe(1)
  target.failPart = undefined
  source.bytesRead = 0
  const second = await sync()
  expect(second.counts).toMatchObject({copied: 1, resumedUploads: 1, failed: 0})
  // Parts 1 and 2 (8 MiB each) are held: only part 3 is read again, and not for the hash.
  expect(second.bytes.read).toBe(big.length - 16 * MiB)
  expect(target.objects.get('home/alice/big.bin')!.body.equals(big)).toBe(true)
  expect(target.objects.get('home/alice/big.bin')!.tags[SHA256_TAG]).toBe(sha256(big))
})

it('a chmod rewrites the tag of the version sync wrote, reads nothing and writes no object', async () => {
  await sync()
  const before = target.objects.get('home/alice/big.bin')!.versionId
  target.calls.length = 0
  source.chmod('/data/alice/big.bin', 0o600)
  const result = await sync()
  expect(result.counts).toMatchObject({copied: 0, metadataUpdated: 1})
  expect(result.bytes.read).toBe(0)
  expect(target.calls).toEqual(['tag home/alice/big.bin'])
  expect(target.objects.get('home/alice/big.bin')).toMatchObject({versionId: before, tags: {[SHA256_TAG]: sha256(big), [POSIX_TAG]: 'mode=100600 uid=1000 gid=1000'}})
})
