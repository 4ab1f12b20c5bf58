import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {entryOf, FIND_MAGIC, FindOutputParser, type FindRecord, findScript} from '../../src/core/find-listing.js'

const record = (fields: Array<string | Buffer>) => Buffer.concat(fields.flatMap((f) => [Buffer.from(f), Buffer.alloc(1)]))

it('parses records split anywhere across chunks, names byte for byte', () => {
  const name = Buffer.concat([Buffer.from('a b\nc-'), Buffer.from([0xe9, 0xff])])
  const out = Buffer.concat([
    FIND_MAGIC,
    record(['d', '4096', '1700000000.5', '755', '0', '0', '2', '', '']),
    record(['f', '12', '1685577600.0000000000', '4644', '1000', '1001', '1', name, '']),
    record(['l', '6', '1700000001.9', '777', '1000', '1000', '1', 'ln', Buffer.from('target')]),
    record(['E', '4096', '1700000002', '700', '0', '0', '2', 'locked', '']),
  ])
  for (const step of [1, 3, 7, out.length]) {
    const parser = new FindOutputParser()
    const got: FindRecord[] = []
    for (let i = 0; i < out.length; i += step) got.push(...parser.push(out.subarray(i, i + step)))
    parser.end()
    expect(got.map((r) => [r.type, r.mode.toString(8), r.size, r.mtime, r.uid, r.gid, r.links, r.path.toString('hex'), r.linkTarget?.toString(), r.unreadable])).toEqual([
      ['dir', '40755', 4096, 1700000000, 0, 0, 2, '', undefined, false],
      ['file', '104644', 12, 1685577600, 1000, 1001, 1, name.toString('hex'), undefined, false],
      ['symlink', '120777', 6, 1700000001, 1000, 1000, 1, Buffer.from('ln').toString('hex'), 'target', false],
      ['dir', '40700', 4096, 1700000002, 0, 0, 2, Buffer.from('locked').toString('hex'), undefined, true],
    ])
  }
  expect(entryOf('alice', new FindOutputParser().push(Buffer.concat([FIND_MAGIC, record(['E', '4096', '5', '700', '0', '0', '2', 'locked', ''])]))[0])).toEqual({
    owner: 'alice', path: Buffer.from('locked'), type: 'dir', size: 0, mtime: 5, mode: 0o40700, uid: 0, gid: 0, error: 'PERMISSION_DENIED: Permission denied',
  })
})

it('refuses output that is not the script\'s, and output cut inside a record', () => {
  expect(() => new FindOutputParser().push(Buffer.from('\0\0\0\x05\x02\0\0\0\x03 an SFTP packet'))).toThrow(/another program answered/)
  const cut = new FindOutputParser()
  cut.push(Buffer.concat([FIND_MAGIC, Buffer.from('f\0' + '12\0')]))
  expect(() => cut.end()).toThrow(/middle of an entry/)
  expect(() => new FindOutputParser().end()).toThrow(/printed nothing/)
})

it('the script lists a root whose name holds a quote and non-UTF-8 bytes with this machine\'s GNU find', () => {
  const base = mkdtempSync(join(tmpdir(), 'sct-find-'))
  const root = Buffer.concat([Buffer.from(join(base, "it's ")), Buffer.from([0xe9])])
  mkdirSync(root)
  writeFileSync(Buffer.concat([root, Buffer.from('/x')]), 'x')
  symlinkSync('x', Buffer.concat([root, Buffer.from('/y')]))
  const out = execFileSync('sh', ['-s'], {input: findScript(root)})
  const parser = new FindOutputParser()
  const got = parser.push(out)
  parser.end()
  expect(got.map((r) => `${r.type} ${r.path.toString()} ${r.linkTarget?.toString() ?? ''}`).sort()).toEqual(['dir  ', 'file x ', 'symlink y x'])
})

it('rounds times before 1970 down as SFTP does, and names a field that is not a number', () => {
  const parse = (mtime: string, size = '1') => new FindOutputParser().push(Buffer.concat([FIND_MAGIC, record(['f', size, mtime, '644', '0', '0', '1', 'x', ''])]))[0]
  expect([parse('-0.5').mtime, parse('-12.0000000000').mtime, parse('-12').mtime, parse('7.9999').mtime]).toEqual([-1, -12, -12, 7])
  expect(parse('1', '9007199254740991').size).toBe(Number.MAX_SAFE_INTEGER)
  expect(() => parse('1', '12x')).toThrow('unexpected number "12x" in the listing')
  expect(() => parse('1.2.3')).toThrow('unexpected number "1.2.3" in the listing')
  expect(() => new FindOutputParser().push(Buffer.concat([FIND_MAGIC, record(['f', '1', '1', '698', '0', '0', '1', 'x', ''])]))).toThrow('unexpected number "698"')
  expect(() => new FindOutputParser().push(Buffer.concat([FIND_MAGIC, record(['Q', '1', '1', '644', '0', '0', '1', 'x', ''])]))).toThrow('unexpected file type "Q"')
})
