import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ManifestStore} from '../../src/adapters/manifest-store.js'
import {SqliteStateStore} from '../../src/adapters/state.js'
import type {FileEntry} from '../../src/core/inventory-model.js'

let dir: string
let state: SqliteStateStore
let store: ManifestStore

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sct-manifest-'))
  state = new SqliteStateStore(join(dir, 'state.db'))
  store = new ManifestStore(state)
})

afterEach(() => {
  state.close()
  rmSync(dir, {recursive: true, force: true})
})

const file = (owner: string, path: string | Buffer, size = 1): FileEntry => ({owner, path: Buffer.isBuffer(path) ? path : Buffer.from(path), type: 'file', size, mtime: 1, mode: 0o100644, uid: 0, gid: 0})
const row = (owner: string, path: string, key = `home/${owner}/${path}`) => ({
  owner,
  path: Buffer.from(path),
  kind: 'file' as const,
  size: 1,
  mtime: 1,
  mode: 0o100644,
  uid: 0,
  gid: 0,
  sha256: 'a'.repeat(64),
  crc: 'AAAAAA==',
  crcAlgorithm: 'CRC32',
  key,
})

it('pages the listing joined with the manifest in byte order, beyond one page', () => {
  const entries = Array.from({length: 2500}, (_, i) => file(i % 2 ? 'bob' : 'alice', `f${String(i).padStart(5, '0')}`))
  entries.push(file('alice', Buffer.from([0x66, 0xff])))
  store.addScan(entries)
  store.recordSynced([row('bob', 'f00001'), row('alice', 'f02498')], 1)
  const seen = [...store.scanWithManifest()]
  expect(seen).toHaveLength(2501)
  expect(seen.filter((s) => s.manifest).map((s) => `${s.entry.owner}/${s.entry.path}`)).toEqual(['alice/f02498', 'bob/f00001'])
  const keys = seen.map((s) => Buffer.concat([Buffer.from(s.entry.owner + '/'), s.entry.path]))
  expect(keys).toEqual([...keys].sort(Buffer.compare))
})

it('hands out the work list largest first, every entry once', () => {
  store.addTodo(Array.from({length: 2100}, (_, i) => ({owner: 'a', path: Buffer.from(`p${i}`), action: 'copy' as const, key: `k${i}`, size: i % 7, mtime: 0, mode: 0, uid: 0, gid: 0})))
  const sizes = [...store.todo()].map((t) => t.size)
  expect(sizes).toHaveLength(2100)
  expect(sizes).toEqual([...sizes].sort((x, y) => y - x))
})

it('keeps a multipart upload with the CRCs and SHA-256 state of the parts read, its parts, and replaces it by a manifest row on completion', () => {
  const path = Buffer.from('big.bin')
  store.beginUpload({owner: 'a', path, key: 'home/a/big.bin', size: 20, mtime: 5, partSize: 8, crcAlgorithm: 'CRC32', sha256: '', partCrcs: []})
  expect(store.upload('a', path)).toMatchObject({uploadId: undefined, partCrcs: [], sha256: ''})
  expect(store.upload('a', path)?.hashState).toBeUndefined()
  store.saveHash('a', path, [1, 0xffffffff], Uint8Array.from([9, 8, 7]))
  expect(store.upload('a', path)).toMatchObject({partCrcs: [1, 0xffffffff], hashState: Buffer.from([9, 8, 7]), sha256: ''})
  store.saveHash('a', path, [1, 0xffffffff, 3], Uint8Array.from([6]), 'b'.repeat(64))
  expect(store.upload('a', path)).toMatchObject({uploadId: undefined, partCrcs: [1, 0xffffffff, 3], sha256: 'b'.repeat(64)})
  store.setUploadId('a', path, 'up-1')
  store.addPart('up-1', {partNumber: 2, etag: '"e2"', crc: 'AAAAAg==', size: 8})
  store.addPart('up-1', {partNumber: 1, etag: '"e1"', crc: 'AAAAAQ==', size: 8})
  expect(store.parts('up-1').map((p) => p.partNumber)).toEqual([1, 2])
  store.completeUpload({...row('a', 'big.bin'), size: 20}, 7)
  expect(store.upload('a', path)).toBeUndefined()
  expect(store.parts('up-1')).toEqual([])
  expect(store.get('a', path)).toMatchObject({size: 20, status: 'synced', key: 'home/a/big.bin'})
})

it('finds manifest rows the listing did not see, only for the owners asked', () => {
  store.recordSynced([row('a', 'kept'), row('a', 'gone'), row('b', 'other')], 1)
  store.addScan([file('a', 'kept')])
  expect([...store.notInScan(['a'])].map((m) => m.path.toString())).toEqual(['gone'])
  expect(store.hasKey('home/a/gone')).toBe(true)
})

it('marks a run left running by a killed process as interrupted', () => {
  const first = store.beginRun({})
  const second = store.beginRun({})
  const runs = state.db.prepare('SELECT id, status FROM sync_runs ORDER BY id').all()
  expect(runs).toEqual([
    {id: first, status: 'interrupted'},
    {id: second, status: 'running'},
  ])
})
