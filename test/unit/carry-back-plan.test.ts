import {besidePath, chooseMode, decideCarryBack, isCanary, tempPath} from '../../src/core/carry-back-plan.js'
import {objectKeyFor, ownerPathForKey} from '../../src/core/key-mapping.js'

describe('ownerPathForKey (the inverse of objectKeyFor)', () => {
  it('gives back the owner and relative path of every key sync makes, with or without a prefix', () => {
    for (const prefix of ['', 'migrated/acme']) {
      for (const rel of ['readme.txt', 'docs/reports/2024/q1.csv', 'unicodé/naïve-文件.txt', 'with space/a b.txt']) {
        const made = objectKeyFor(prefix, 'alice', Buffer.from(rel))
        expect(made.ok).toBe(true)
        const back = ownerPathForKey(prefix, (made as {key: string}).key)
        expect({owner: back?.owner, rel: back?.relPath.toString('utf8'), isDir: back?.isDir}).toEqual({owner: 'alice', rel, isDir: false})
      }
    }
    expect(ownerPathForKey('', 'home/alice/incoming/')).toEqual({owner: 'alice', relPath: Buffer.from('incoming'), isDir: true})
  })

  it('refuses keys outside the homes, a home itself and paths no file could have', () => {
    expect(ownerPathForKey('p', 'home/alice/x')).toBeUndefined()
    expect(ownerPathForKey('', 'other/alice/x')).toBeUndefined()
    expect(ownerPathForKey('', 'home/alice/')).toBeUndefined()
    expect(ownerPathForKey('', 'home/alice/a//b')).toBeUndefined()
    expect(ownerPathForKey('', 'home/alice/../etc/passwd')).toBeUndefined()
  })
})

describe('carry-back decisions', () => {
  it('writes a new file, overwrites one the box did not change, and writes beside one changed on both sides', () => {
    expect(decideCarryBack(undefined, undefined)).toBe('new')
    expect(decideCarryBack({kind: 'file', size: 10, mtime: 100}, {size: 10, mtime: 100})).toBe('overwrite')
    expect(decideCarryBack({kind: 'file', size: 10, mtime: 101}, {size: 10, mtime: 100})).toBe('conflict')
    expect(decideCarryBack({kind: 'file', size: 11, mtime: 100}, {size: 10, mtime: 100})).toBe('conflict')
    // created on the box since the last sync: nothing recorded to compare with
    expect(decideCarryBack({kind: 'file', size: 10, mtime: 100}, undefined)).toBe('conflict')
    expect(decideCarryBack({kind: 'dir', size: 4096, mtime: 100}, {size: 4096, mtime: 100})).toBe('conflict')
  })

  it('names the side-by-side copy after the S3 time, and the temporary file beside the destination', () => {
    expect(besidePath('/home/alice/docs/guide.md', new Date('2026-11-29T19:30:56.789Z'))).toBe('/home/alice/docs/guide.md.from-transfer-20261129T193056Z')
    expect(tempPath('/home/alice/docs/guide.md')).toBe('/home/alice/docs/.guide.md.sftp-cutover-carry-back')
  })

  it("takes the file's own mode, else the directory's most common, else 0644", () => {
    expect(chooseMode(0o100600, [0o644])).toBe(0o600)
    expect(chooseMode(undefined, [0o640, 0o100640, 0o644])).toBe(0o640)
    expect(chooseMode(undefined, [])).toBe(0o644)
  })

  it("recognises the smoke test's canary", () => {
    expect(isCanary('.sftp-cutover-canary-0a1b2c.txt')).toBe(true)
    expect(isCanary('sub/.sftp-cutover-canary-0a1b2c.txt')).toBe(true)
    expect(isCanary('canary.txt')).toBe(false)
  })
})
