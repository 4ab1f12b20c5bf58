import {besideKey, ownsObject} from '../../src/core/sync-plan.js'

const file = {size: 12, mtime: 1767323045}
const syncs = {size: 12, etag: '"sync"', metadata: {mtime: '1767323045', sha256: 'ab'}}

describe('after the switch, sync replaces only its own objects', () => {
  it('an object is sync\'s while it is the version the manifest recorded', () => {
    expect(ownsObject({size: 3, etag: '"v1"', metadata: {}}, {etag: '"v1"'}, file)).toBe(true)
    expect(ownsObject({size: 3, etag: '"transfer"', metadata: {}}, {etag: '"v1"'}, file)).toBe(false)
  })

  it('nothing where the manifest has nothing is free; something there is a client\'s', () => {
    expect(ownsObject(undefined, undefined, file)).toBe(true)
    expect(ownsObject({size: 3, etag: '"transfer"', metadata: {}}, undefined, file)).toBe(false)
  })

  it('an object deleted through Transfer is not recreated over', () => {
    expect(ownsObject(undefined, {etag: '"v1"'}, file)).toBe(false)
  })

  it('sync\'s own write of this very file version, whose manifest row a kill lost, is not a conflict', () => {
    expect(ownsObject(syncs, undefined, file)).toBe(true)
    expect(ownsObject({...syncs, metadata: {mtime: '1767323045'}}, undefined, file)).toBe(false)
    expect(ownsObject(syncs, undefined, {...file, mtime: file.mtime + 1})).toBe(false)
  })

  it('the box\'s version goes beside S3\'s, named after its mtime in UTC', () => {
    expect(besideKey('home/alice/in/a.csv', 1767323045)).toBe('home/alice/in/a.csv.from-legacy-20260102T030405Z')
  })
})
