/**
 * The read-only SFTP client against the real OpenSSH sshd: names are Buffers end to end (a name that is not UTF-8
 * lists and opens byte-exact), directories larger than one READDIR reply, pipelined range reads, status errors.
 */
import {createHash} from 'node:crypto'
import {chmodSync, mkdirSync, mkdtempSync, writeFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import {SftpClient, SftpStatusError} from '../../src/adapters/sftp-client.js'
import {fileTypeOf} from '../../src/core/source.js'
import {resolveCredentials, SshSession, type SshTarget} from '../../src/adapters/ssh.js'
import {loadPeers} from '../peers/env.js'

const {sshd} = loadPeers()
const admin = sshd.users.adminUser
const t: SshTarget = {host: sshd.host, port: sshd.port, username: admin.name, identityFile: admin.privateKeyPath, useAgent: false, knownHostsFile: sshd.knownHostsFile}
let session: SshSession
let sftp: SftpClient
let dir: string

beforeAll(async () => {
  session = await SshSession.connect(t, await resolveCredentials(t, {}))
  sftp = await SftpClient.open(session)
  dir = mkdtempSync(join(sshd.dir, 'sftp-client-'))
})

afterAll(() => {
  sftp?.end()
  session?.close()
  rmSync(dir, {recursive: true, force: true})
})

it('lists and opens a name that is not valid UTF-8, byte for byte', async () => {
  const name = Buffer.from([0x66, 0x69, 0x6c, 0xe9, 0x2d, 0xff, 0x2e, 0x74, 0x78, 0x74]) // "fil\xe9-\xff.txt" (Latin-1 bytes)
  const dirBuf = Buffer.from(dir)
  const full = Buffer.concat([dirBuf, Buffer.from('/'), name])
  writeFileSync(full, 'latin-1 named file\n')
  const entries = await sftp.readdir(dir)
  const found = entries.find((e) => e.name.equals(name))
  expect(found).toBeDefined()
  expect(fileTypeOf(found!.attrs.mode)).toBe('file')
  const handle = await sftp.openRead(Buffer.concat([dirBuf, Buffer.from('/'), found!.name]))
  expect((await sftp.read(handle, 0, 100))!.toString()).toBe('latin-1 named file\n')
  await sftp.close(handle)
})

it('lists a directory that needs several READDIR replies, with lstat attributes', async () => {
  const big = join(dir, 'many')
  mkdirSync(big)
  for (let i = 0; i < 1500; i++) writeFileSync(join(big, `f${i}`), String(i))
  const entries = await sftp.readdir(big)
  expect(entries).toHaveLength(1500)
  const f42 = entries.find((e) => e.name.toString() === 'f42')!
  expect(f42.attrs).toMatchObject({size: 2, uid: 0, gid: 0})
  expect(f42.attrs.mtime).toBeGreaterThan(1_600_000_000)
})

it('reads a range with many READs in flight, in order, and survives short reads at the end', async () => {
  const file = join(dir, 'big.bin')
  const size = 3 * 1024 * 1024 + 777
  const bytes = Buffer.alloc(size)
  for (let i = 0; i < size; i++) bytes[i] = (i * 7919) % 251
  writeFileSync(file, bytes)
  const handle = await sftp.openRead(file)
  const hash = createHash('sha256')
  const got = await sftp.readRange(handle, 0, size, 8, (c) => void hash.update(c))
  expect(got).toBe(size)
  expect(hash.digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'))
  // asking past the end: EOF ends the range with what exists
  const part: Buffer[] = []
  expect(await sftp.readRange(handle, size - 10, 1000, 4, (c) => void part.push(c))).toBe(10)
  expect(Buffer.concat(part).equals(bytes.subarray(size - 10))).toBe(true)
  await sftp.close(handle)
})

it('reports missing paths and permission denied as typed status errors', async () => {
  const missing = await sftp.lstat(join(dir, 'nope')).catch((e: unknown) => e)
  expect(missing).toBeInstanceOf(SftpStatusError)
  expect((missing as SftpStatusError).notFound).toBe(true)

  // As the key user (not root), a mode-000 directory cannot be listed.
  const key = sshd.users.keyUser
  const locked = join(key.home, `locked-${Date.now()}`)
  mkdirSync(locked)
  chmodSync(locked, 0o000)
  const kt: SshTarget = {...t, username: key.name, identityFile: key.privateKeyPath}
  const s2 = await SshSession.connect(kt, await resolveCredentials(kt, {}))
  const c2 = await SftpClient.open(s2)
  try {
    const denied = await c2.readdir(locked).catch((e: unknown) => e)
    expect(denied).toBeInstanceOf(SftpStatusError)
    expect((denied as SftpStatusError).permissionDenied).toBe(true)
  } finally {
    c2.end()
    s2.close()
    rmSync(locked, {recursive: true, force: true})
  }
})

it('fails pending requests when the channel closes', async () => {
  const s3 = await SshSession.connect(t, await resolveCredentials(t, {}))
  const c3 = await SftpClient.open(s3)
  const pending = c3.readdir(dir)
  s3.close()
  await expect(pending).rejects.toThrow(/SFTP channel/)
  expect(c3.closed).toBe(true)
})
