import {createHash, randomBytes} from 'node:crypto'
import {crc32 as zlibCrc32} from 'node:zlib'

import {crc32Base64, crc32Combine, crc32FromBase64} from '../../src/core/crc32.js'
import {BufferPool, ByteBudget, TokenBucket} from '../../src/core/flow-control.js'
import {pathFilter} from '../../src/core/globs.js'
import {homesKeyBase, objectKeyFor} from '../../src/core/key-mapping.js'
import {
  isWithin,
  type ManifestEntry,
  MIN_PART_SIZE,
  objectMetadata,
  objectTags,
  parsePosixTag,
  POSIX_TAG,
  parseByteSize,
  partCount,
  partSizeFor,
  planEntry,
  type ScanEntry,
} from '../../src/core/sync-plan.js'
import {parseSha256sumOutput, sha256sumInput} from '../../src/core/source-hash.js'
import {MAX_OBJECT_BYTES} from '../../src/core/transfer-rules.js'

const MiB = 1024 * 1024
const b = (s: string) => Buffer.from(s)

describe('CRC-32', () => {
  it('combines part CRCs into the CRC of the whole, as S3 does for a FULL_OBJECT checksum', () => {
    const parts = [randomBytes(5 * MiB), randomBytes(1), randomBytes(777_777), Buffer.alloc(0), randomBytes(3 * MiB + 3)]
    let combined = 0
    for (const p of parts) combined = crc32Combine(combined, zlibCrc32(p), p.length)
    expect(combined).toBe(zlibCrc32(Buffer.concat(parts)))
  })

  it('combines across lengths beyond 2^32 (files up to 5 TiB)', () => {
    // crc(A || zeros(n)) can be computed two ways: combining with the CRC of n zero bytes, built by doubling.
    const a = randomBytes(100)
    let zeros = zlibCrc32(Buffer.alloc(1024))
    let half = zeros
    let len = 1024
    while (len < 2 ** 33) {
      half = zeros
      zeros = crc32Combine(zeros, zeros, len)
      len *= 2
    }
    const direct = crc32Combine(zlibCrc32(a), zeros, len)
    const stepwise = crc32Combine(crc32Combine(zlibCrc32(a), half, len / 2), half, len / 2)
    expect(direct).toBe(stepwise)
    expect(direct).not.toBe(zlibCrc32(a))
  })

  it('encodes as S3 expects: base64 of the big-endian value', () => {
    expect(crc32Base64(zlibCrc32(Buffer.from('hello')))).toBe('NhCmhg==')
    expect(crc32FromBase64('NhCmhg==')).toBe(zlibCrc32(Buffer.from('hello')))
    expect(crc32Base64(0)).toBe('AAAAAA==')
  })
})

describe('part sizes', () => {
  it('uses 8 MiB parts until a file would need more than 10,000 of them', () => {
    expect(partSizeFor(1024 ** 3)).toBe(MIN_PART_SIZE)
    expect(partSizeFor(10_000 * 8 * MiB)).toBe(8 * MiB)
    const big = 10_000 * 8 * MiB + 1
    expect(partSizeFor(big)).toBe(9 * MiB)
    for (const size of [big, 1024 ** 4, MAX_OBJECT_BYTES]) {
      const part = partSizeFor(size)
      expect(partCount(size, part)).toBeLessThanOrEqual(10_000)
      expect(part % MiB).toBe(0)
      expect(part).toBeLessThanOrEqual(5 * 1024 ** 3)
    }
  })
})

describe('--bwlimit values', () => {
  it.each([
    ['10M', 10 * MiB],
    ['512K', 512 * 1024],
    ['1.5G', 1.5 * 1024 ** 3],
    ['2048', 2048],
    ['10MiB', 10 * MiB],
    ['10mb', 10 * MiB],
  ])('%s is %d bytes/s', (text, bytes) => expect(parseByteSize(text)).toBe(bytes))
  it.each(['', 'fast', '-1M', '0', '10X'])('rejects %j', (text) => expect(parseByteSize(text)).toBeUndefined())
})

describe('planEntry', () => {
  const entry = (over: Partial<ScanEntry> = {}): ScanEntry => ({owner: 'alice', path: b('docs/a.txt'), type: 'file', size: 10, mtime: 1000, mode: 0o100644, uid: 1, gid: 2, empty: false, ...over})
  const manifest = (over: Partial<ManifestEntry> = {}): ManifestEntry => ({
    owner: 'alice',
    path: b('docs/a.txt'),
    kind: 'file',
    size: 10,
    mtime: 1000,
    mode: 0o100644,
    uid: 1,
    gid: 2,
    sha256: 'x'.repeat(64),
    crc: 'AAAAAA==',
    crcAlgorithm: 'CRC32',
    key: 'p/home/alice/docs/a.txt',
    status: 'synced',
    syncedAt: '',
    ...over,
  })
  const opts = {prefix: 'p', checksum: false}

  it('copies new files and files whose size or mtime changed, rewrites the tag of a chmod or chown; leaves the rest', () => {
    expect(planEntry(entry(), undefined, opts)).toEqual({action: 'copy', key: 'p/home/alice/docs/a.txt', reason: 'new'})
    expect(planEntry(entry(), manifest(), opts)).toEqual({action: 'unchanged'})
    for (const change of [{size: 11}, {mtime: 1001}, {size: 11, mode: 0o100600}]) {
      expect(planEntry(entry(change), manifest(), opts)).toMatchObject({action: 'copy', reason: 'changed'})
    }
    for (const change of [{mode: 0o100600}, {uid: 5}, {gid: 5}]) {
      expect(planEntry(entry(change), manifest(), opts)).toEqual({action: 'metadata', key: 'p/home/alice/docs/a.txt'})
      // with --checksum the bytes are in doubt as well; a tag is rewritten whatever the object's size
      expect(planEntry(entry(change), manifest(), {...opts, checksum: true})).toMatchObject({action: 'copy', reason: 'changed'})
      const big = 6 * 1024 ** 3
      expect(planEntry(entry({...change, size: big}), manifest({size: big}), opts)).toEqual({action: 'metadata', key: 'p/home/alice/docs/a.txt'})
    }
    expect(planEntry(entry(), manifest(), {...opts, checksum: true})).toEqual({action: 'check', key: 'p/home/alice/docs/a.txt'})
  })

  it('--checksum continuing an unfinished pass re-hashes only what was not hashed or copied since the pass began', () => {
    const since = '2026-11-27T10:00:00.000Z'
    const resumed = {...opts, checksum: true, checksumSince: since}
    const check = {action: 'check', key: 'p/home/alice/docs/a.txt'}
    expect(planEntry(entry(), manifest({syncedAt: '2026-11-20T08:00:00.000Z'}), resumed)).toEqual(check)
    expect(planEntry(entry(), manifest({syncedAt: '2026-11-20T08:00:00.000Z', checkedAt: '2026-11-27T09:59:59.999Z'}), resumed)).toEqual(check)
    expect(planEntry(entry(), manifest({syncedAt: '2026-11-20T08:00:00.000Z', checkedAt: '2026-11-27T10:00:00.001Z'}), resumed)).toEqual({action: 'checked-earlier'})
    expect(planEntry(entry(), manifest({syncedAt: '2026-11-27T10:05:00.000Z'}), resumed)).toEqual({action: 'checked-earlier'})
    // a file changed since is copied whatever the pass knew of it; without --checksum the pass does not matter
    expect(planEntry(entry({size: 11}), manifest({checkedAt: '2026-11-27T11:00:00.000Z'}), resumed)).toMatchObject({action: 'copy', reason: 'changed'})
    expect(planEntry(entry(), manifest({checkedAt: '2026-11-27T11:00:00.000Z'}), {...opts, checksumSince: since})).toEqual({action: 'unchanged'})
  })

  it('builds every object key from the homes key base (what the re-sync compares in SQLite)', () => {
    for (const prefix of ['', 'p', 'a/b']) {
      const key = objectKeyFor(prefix, 'alice', b('docs/a.txt'))
      expect(key).toEqual({ok: true, key: `${homesKeyBase(prefix)}alice/docs/a.txt`})
    }
    expect(homesKeyBase('')).toBe('home/')
    expect(homesKeyBase('migrated')).toBe('migrated/home/')
  })

  it('gives empty directories a marker object, once', () => {
    expect(planEntry(entry({type: 'dir', path: b('empty'), empty: true}), undefined, opts)).toEqual({action: 'dir-marker', key: 'p/home/alice/empty/'})
    expect(planEntry(entry({type: 'dir', path: b('empty'), empty: true}), manifest({kind: 'dir'}), opts)).toEqual({action: 'unchanged'})
    expect(planEntry(entry({type: 'dir', path: b('full')}), undefined, opts)).toEqual({action: 'none'})
  })

  it('reports what cannot be copied, with the reason', () => {
    expect(planEntry(entry({path: Buffer.from([0x61, 0xe9])}), undefined, opts)).toMatchObject({action: 'skip', kind: 'bad-name', reason: expect.stringMatching(/UTF-8/)})
    expect(planEntry(entry({size: MAX_OBJECT_BYTES + 1}), undefined, opts)).toMatchObject({action: 'skip', kind: 'too-large'})
    expect(planEntry(entry({type: 'symlink', linkTarget: b('../x')}), undefined, opts)).toMatchObject({action: 'skip', kind: 'symlink', reason: expect.stringMatching(/to \.\.\/x/)})
    expect(planEntry(entry({type: 'fifo'}), undefined, opts)).toMatchObject({action: 'skip', kind: 'special', reason: expect.stringMatching(/fifo/)})
    expect(planEntry(entry({type: 'dir', error: 'PERMISSION_DENIED: denied'}), undefined, opts)).toMatchObject({action: 'skip', kind: 'unreadable-dir'})
  })

  it('knows which paths are inside a directory (byte-wise, by whole components)', () => {
    expect(isWithin(b('a/b/c'), b('a/b'))).toBe(true)
    expect(isWithin(b('a/b'), b('a/b'))).toBe(true)
    expect(isWithin(b('a/bc'), b('a/b'))).toBe(false)
    expect(isWithin(b('x'), Buffer.alloc(0))).toBe(true)
  })

  it('puts mtime (seconds) and a small file\'s sha256 in the metadata; mode (octal), uid and gid in one tag', () => {
    expect(objectMetadata({mtime: 1710498030, sha256: 'ab'})).toEqual({mtime: '1710498030', sha256: 'ab'})
    expect(objectMetadata({mtime: 1710498030})).toEqual({mtime: '1710498030'})
    expect(objectTags({mode: 0o100640, uid: 1001, gid: 1002})).toEqual({[POSIX_TAG]: 'mode=100640 uid=1001 gid=1002'})
    expect(parsePosixTag('mode=100640 uid=1001 gid=1002')).toEqual({mode: 0o100640, uid: 1001, gid: 1002})
    expect(parsePosixTag('mode=rw uid=1 gid=2')).toBeUndefined()
    expect(parsePosixTag(undefined)).toBeUndefined()
  })
})

describe('--include and --exclude', () => {
  it('matches paths relative to the home, dot files included, and directories by their contents', () => {
    const f = pathFilter([], ['**/*.tmp', 'cache'])
    expect(f(b('a.tmp'))).toBe(false)
    expect(f(b('x/y/.hidden.tmp'))).toBe(false)
    expect(f(b('cache/big/file'))).toBe(false)
    expect(f(b('cachet/file'))).toBe(true)
    expect(f(b('docs/a.txt'))).toBe(true)
    expect(f.active).toBe(true)
  })

  it('with --include takes only what matches (or lies below a matching directory), minus the excludes', () => {
    const f = pathFilter(['reports/**', 'readme.txt'], ['**/draft*'])
    expect(f(b('reports/2024/q1.csv'))).toBe(true)
    expect(f(b('reports/2024/draft-q2.csv'))).toBe(false)
    expect(f(b('readme.txt'))).toBe(true)
    expect(f(b('other/readme.txt'))).toBe(false)
    expect(pathFilter().active).toBe(false)
  })

  it('names an empty glob as a usage error', () => {
    expect(() => pathFilter(['/'])).toThrow(/--include/)
  })
})

describe('flow control', () => {
  it('ByteBudget holds callers until bytes are released, in order, and lets an oversized request through alone', async () => {
    const budget = new ByteBudget(100)
    await budget.acquire(60)
    const order: string[] = []
    const big = budget.acquire(500).then(() => order.push('big'))
    const small = budget.acquire(10).then(() => order.push('small'))
    await new Promise((r) => setTimeout(r, 10))
    expect(order).toEqual([])
    budget.release(60)
    await big
    expect(order).toEqual(['big'])
    budget.release(500)
    await small
    expect(order).toEqual(['big', 'small'])
    expect(budget.inUse).toBe(10)
  })

  it('TokenBucket passes about `rate` bytes per second', async () => {
    const bucket = new TokenBucket(100_000)
    const started = Date.now()
    for (let i = 0; i < 30; i++) await bucket.take(10_000) // 300 KB: 100 KB burst, then 2 s
    const seconds = (Date.now() - started) / 1000
    expect(seconds).toBeGreaterThan(1.7)
    expect(seconds).toBeLessThan(3)
  })

  it('BufferPool reuses buffers of the same size', () => {
    const pool = new BufferPool(2)
    const a = pool.take(1024)
    pool.give(a)
    expect(pool.take(1024)).toBe(a)
    expect(pool.take(1024)).not.toBe(a)
  })
})

describe('sha256sum -z over exec', () => {
  it('sends NUL-separated paths and reads names back byte-exact (newlines, non-UTF-8)', () => {
    const names = [b('/home/a/plain.txt'), b('/home/a/line\nbreak'), Buffer.from([0x2f, 0x78, 0xe9, 0xff])]
    expect(sha256sumInput(names)).toEqual(Buffer.concat(names.flatMap((n) => [n, Buffer.from([0])])))
    const hex = (s: string) => createHash('sha256').update(s).digest('hex')
    const out = Buffer.concat([
      ...names.map((n, i) => Buffer.concat([Buffer.from(`${hex(String(i))}  `), n, Buffer.from([0])])),
      Buffer.from('garbage\0'),
    ])
    const parsed = parseSha256sumOutput(out)
    expect(parsed.size).toBe(3)
    names.forEach((n, i) => expect(parsed.get(n.toString('latin1'))).toBe(hex(String(i))))
  })
})
