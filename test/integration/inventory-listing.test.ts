/**
 * inventory --listing find (one GNU find stream per root over SSH exec) against --listing sftp (a readdir per
 * directory): on the tricky tree (spaces, a newline, bytes that are not UTF-8, a path over 1,024 bytes, symlinks, a
 * FIFO, a socket, a device, a sparse file, an empty directory, an unreadable directory) both must leave the same rows
 * in the state database. Against a private OpenSSH sshd, as root and as a login that cannot read one directory; and
 * the fallback for a login whose commands are replaced by internal-sftp.
 */
import {join} from 'node:path'
import Database from 'better-sqlite3'

import {writeTrickyTree} from '../fixtures/tricky-tree.js'
import {startSshd, type SshdPeer} from '../peers/index.js'
import {runCli} from './helpers/cli.js'
import {initInventoryProject, removeScratch} from './sync-helpers.js'

interface Listing {
  method: 'find' | 'sftp'
  reason?: string
  warnings?: string[]
}

let peer: SshdPeer

beforeAll(async () => {
  peer = await startSshd()
  writeTrickyTree(peer.users.keyUser.home, peer.users.keyUser)
})

afterAll(async () => {
  await peer?.stop()
  removeScratch()
})

const project = (user: {name: string; privateKeyPath?: string}) => initInventoryProject(peer, user, 'invlist-')

/** Every file row and finding of the project's last complete inventory, in a stable order. */
function rowsOf(dir: string): {files: unknown[]; findings: unknown[]} {
  const db = new Database(join(dir, '.sftp-cutover', 'state.db'), {readonly: true})
  try {
    const run = (db.prepare(`SELECT MAX(id) AS id FROM inventory_runs WHERE status = 'complete'`).get() as {id: number}).id
    const files = db.prepare('SELECT owner, hex(path) AS path, type, size, mtime, mode, uid, gid, hex(link_target) AS link, error FROM inventory_files WHERE run_id = ? ORDER BY owner, path').all(run)
    const findings = db.prepare('SELECT rule, severity, subject, reason FROM inventory_findings WHERE run_id = ? ORDER BY rule, subject, reason').all(run)
    return {files, findings}
  } finally {
    db.close()
  }
}

async function inventoryBoth(user: {name: string; privateKeyPath?: string}) {
  const [viaFind, viaSftp] = [await project(user), await project(user)]
  const now = ['--json', '--sshd-config', peer.configFile]
  const f = await runCli(['inventory', '--listing', 'find', ...now], {cwd: viaFind})
  const s = await runCli(['inventory', '--listing', 'sftp', ...now], {cwd: viaSftp})
  return {find: {run: f, listing: f.json<{listing: Listing}>().listing, rows: rowsOf(viaFind)}, sftp: {run: s, listing: s.json<{listing: Listing}>().listing, rows: rowsOf(viaSftp)}}
}

it('as root: find gives the same inventory rows and findings as the SFTP walk, byte for byte', async () => {
  const both = await inventoryBoth(peer.users.adminUser)
  expect(both.find.listing).toEqual({method: 'find'})
  expect(both.sftp.listing).toEqual({method: 'sftp', reason: 'asked for (--listing sftp)'})
  expect(both.find.rows.files.length).toBeGreaterThan(20)
  // the tricky names are in there: a newline, non-UTF-8 bytes, a symlink with its target
  const paths = (both.find.rows.files as Array<{path: string; link: string}>).map((r) => Buffer.from(r.path, 'hex'))
  expect(paths.some((p) => p.includes('line\nbreak.txt'))).toBe(true)
  expect(paths.some((p) => p.includes(Buffer.from([0xe9, 0xe8])))).toBe(true)
  expect((both.find.rows.files as Array<{type: string; link: string}>).filter((r) => r.type === 'symlink').every((r) => r.link.length > 0)).toBe(true)
  expect(both.find.rows).toEqual(both.sftp.rows)
  expect(both.find.run.code).toBe(both.sftp.run.code)
}, 120_000)

it('as a login that cannot read one directory: the same rows, the directory recorded with the same error', async () => {
  const both = await inventoryBoth(peer.users.keyUser)
  expect(both.find.listing.method).toBe('find')
  const locked = (both.find.rows.files as Array<{path: string; error: string | null}>).filter((r) => r.error !== null)
  expect(locked.map((r) => [Buffer.from(r.path, 'hex').toString(), r.error])).toEqual([['tricky/locked', 'PERMISSION_DENIED: Permission denied']])
  expect(both.find.rows).toEqual(both.sftp.rows)
}, 120_000)

it('falls back to SFTP when the login\'s commands are replaced by internal-sftp, says why, and --listing find refuses', async () => {
  const dir = await project(peer.users.chrootUser)
  const r = await runCli(['inventory', '--json'], {cwd: dir})
  const listing = r.json<{listing: Listing}>().listing
  expect(listing.method).toBe('sftp')
  expect(listing.reason).toMatch(/may not run commands/)
  const text = await runCli(['inventory'], {cwd: dir})
  expect(text.stdout).toMatch(/Files listed over SFTP, a directory at a time \(not with find: the login may not run commands/)
  const log = (await import('node:fs')).readFileSync(join(dir, '.sftp-cutover', 'sftp-cutover.log'), 'utf8')
  expect(log).toMatch(/"method":"sftp".*"msg":"inventory.listing"|"msg":"inventory.listing".*"method":"sftp"/)
  const refused = await runCli(['inventory', '--listing', 'find', '--json'], {cwd: dir})
  expect(refused.code).toBe(2)
  expect(refused.stdout).toMatch(/the files cannot be listed with find: the login may not run commands/)
}, 120_000)
