/**
 * inventory against a private OpenSSH sshd (so no other test file changes its users or keys meanwhile): accounts,
 * keys of every kind, host keys and a tree of awkward names, online (root login running the collect script),
 * offline (the bundle), as a non-root login, and as a chrooted login that cannot run commands.
 */
import {execFileSync, spawn} from 'node:child_process'
import {appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import Database from 'better-sqlite3'

import {displayPath} from '../../src/core/findings.js'
import {startSshd, type SshdPeer} from '../peers/index.js'
import {writeTrickyTree, type TrickyEntry} from '../fixtures/tricky-tree.js'
import {CLI, runCli} from './helpers/cli.js'

type Json = Record<string, unknown>
interface InvJson {
  accountsSource: string
  accounts: Array<{name: string; uid: number; home: string; chroot?: string; sftpRoot: string; keys: number; password: boolean | string}>
  hostKeys: Array<{type: string; fingerprint: string}>
  summary: {owners: Array<{owner: string; files: number; dirs: number; bytes: number; errors: number}>; findings: Record<string, number>}
  findings: Array<{rule: string; severity: string; subject: string; reason: string}>
  changes?: {users: {added: string[]; removed: string[]}; keys: {added: string[]; removed: string[]}; files: {added: number; removed: number; changed: number; examples: Array<{owner: string; path: string; change: string}>}}
}

let peer: SshdPeer
let tricky: TrickyEntry[]
const extraKeys: Record<string, {fingerprint: string; line: string}> = {}

function keygen(type: string, bits?: number): {fingerprint: string; line: string; file: string} {
  const dir = mkdtempSync(join(tmpdir(), 'sct-inv-key-'))
  const file = join(dir, 'id')
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', String(bits)] : []), '-N', '', '-C', `${type}-test`, '-f', file])
  const fingerprint = execFileSync('ssh-keygen', ['-lf', `${file}.pub`]).toString().split(' ')[1]
  return {fingerprint, line: readFileSync(`${file}.pub`, 'utf8').trim(), file}
}

async function project(user: {name: string; privateKeyPath?: string}, port = peer.port): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'sct-inv-'))
  const r = await runCli(
    ['init', '--no-prompt', '--source-host', peer.host, '--source-port', String(port), '--source-username', user.name, '--source-identity-file', user.privateKeyPath!,
      '--source-known-hosts-file', peer.knownHostsFile, '--target-region', 'us-east-1', '--target-bucket', 'inventory-test'],
    {cwd: dir},
  )
  expect(r.stderr).toBe('')
  return dir
}

const inventory = (dir: string, args: string[] = []) => runCli(['inventory', '--json', '--sshd-config', peer.configFile, ...args], {cwd: dir})
const rules = (inv: InvJson, subject: RegExp) => inv.findings.filter((f) => subject.test(f.subject)).map((f) => f.rule)

beforeAll(async () => {
  peer = await startSshd()
  const key = peer.users.keyUser
  tricky = writeTrickyTree(key.home, key)
  // keys of every kind on the key user, and the chrooted user's key once more (shared by two users)
  const dsa = keygen('dsa')
  const shortRsa = keygen('rsa', 1024)
  const withOptions = keygen('ed25519')
  const rfc = keygen('ecdsa', 384)
  const rfcBlock = execFileSync('ssh-keygen', ['-e', '-f', `${rfc.file}.pub`]).toString()
  Object.assign(extraKeys, {dsa, shortRsa, withOptions, rfc})
  appendFileSync(
    key.authorizedKeysFile!,
    [dsa.line, shortRsa.line, `from="10.0.0.0/8,192.168.1.1",command="/usr/bin/true",no-pty ${withOptions.line}`, rfcBlock.trim(), peer.users.chrootUser.publicKeyLine, ''].join('\n'),
  )
})

afterAll(async () => {
  await peer?.stop()
})

describe('inventory online, as root', () => {
  let dir: string
  let inv: InvJson

  beforeAll(async () => {
    dir = await project(peer.users.adminUser)
    const r = await inventory(dir)
    expect(r.code).toBe(3) // blockers exist
    inv = r.json<InvJson>()
  })

  it('finds exactly the SFTP accounts, with chroot, password login and keys', () => {
    const {keyUser, passwordUser, chrootUser} = peer.users
    expect(inv.accountsSource).toBe('online')
    expect(inv.accounts.map((a) => a.name).sort()).toEqual([keyUser.name, passwordUser.name, chrootUser.name].sort())
    const byName = Object.fromEntries(inv.accounts.map((a) => [a.name, a]))
    expect(byName[keyUser.name]).toMatchObject({uid: keyUser.uid, home: keyUser.home, sftpRoot: keyUser.home, keys: 6})
    expect(byName[chrootUser.name]).toMatchObject({uid: chrootUser.uid, chroot: chrootUser.sftpRoot, sftpRoot: chrootUser.sftpRoot, keys: 1})
    expect(byName[passwordUser.name]).toMatchObject({password: true, keys: 0})
  })

  it('records every host key the server offers', () => {
    expect(inv.hostKeys.map((k) => k.fingerprint).sort()).toEqual(peer.hostKeys.map((k) => k.fingerprint).sort())
  })

  it('keeps every file name byte-exact, in the state database and the CSV report', async () => {
    const db = new Database(join(dir, '.sftp-cutover', 'state.db'), {readonly: true})
    try {
      const rows = db.prepare(`SELECT path, type, size FROM inventory_files WHERE owner = ? AND run_id = (SELECT MAX(id) FROM inventory_runs WHERE status = 'complete')`).all(peer.users.keyUser.name) as Array<{path: Buffer; type: string; size: number}>
      for (const e of tricky) {
        const row = rows.find((r) => r.path.equals(e.path))
        expect({path: displayPath(e.path), found: row !== undefined}).toEqual({path: displayPath(e.path), found: true})
        expect(row!.type).toBe(e.type)
        if (e.size !== undefined) expect(row!.size).toBe(e.size)
      }
    } finally {
      db.close()
    }
    const csv = await runCli(['inventory', 'report', '--format', 'csv', '--files'], {cwd: dir})
    expect(csv.code).toBe(0)
    expect(csv.stdout).toContain('tricky/latin1-\\xe9\\xe8.txt')
    expect(csv.stdout).toContain('tricky/line\\x0abreak.txt')
    expect(csv.stdout).toContain('tricky/caf\u00e9.txt')
    expect(csv.stdout).toContain('tricky/cafe\u0301.txt')
  })

  it('raises each finding', () => {
    const {keyUser, passwordUser, chrootUser} = peer.users
    for (const e of tricky.filter((t) => t.rule && t.rule !== 'file.recent')) {
      expect({path: displayPath(e.path), rules: inv.findings.filter((f) => f.subject === `file:${keyUser.name}:${displayPath(e.path)}`).map((f) => f.rule)}).toEqual({
        path: displayPath(e.path),
        rules: expect.arrayContaining([e.rule]),
      })
    }
    expect(rules(inv, new RegExp(`^user:${keyUser.name}$`))).toContain('file.recent')
    expect(rules(inv, new RegExp(`^user:${passwordUser.name}$`))).toContain('user.password-only')
    const keyRules = rules(inv, new RegExp(`^key:${keyUser.name}:`))
    expect(keyRules).toEqual(expect.arrayContaining(['key.dsa', 'key.rsa-short', 'key.options', 'key.dead', 'key.shared']))
    expect(rules(inv, new RegExp(`^key:${chrootUser.name}:`))).toContain('key.shared')
    expect(inv.findings.find((f) => f.rule === 'key.options')?.reason).toMatch(/from=.*command=.*no-pty/)
    expect(inv.summary.findings.blocker).toBeGreaterThan(0)
  })

  it('writes Markdown and JSON reports for sign-off', async () => {
    const md = await runCli(['inventory', 'report', '--format', 'md'], {cwd: dir})
    expect(md.stdout).toMatch(/^# Inventory of 127\.0\.0\.1:\d+/)
    expect(md.stdout).toContain(`| ${peer.users.chrootUser.name} |`)
    expect(md.stdout).toContain('### blocker')
    const out = join(dir, 'report.json')
    const json = await runCli(['inventory', 'report', '--format', 'json', '--output', out], {cwd: dir})
    expect(json.code).toBe(0)
    const report = JSON.parse(readFileSync(out, 'utf8')) as Json
    expect((report.accounts as unknown[]).length).toBe(3)
  })

  it('gives the same inventory from the offline bundle', async () => {
    const script = await runCli(['inventory', 'collect-script', '--sshd-config', peer.configFile], {cwd: dir})
    expect(script.stdout).toMatch(/^#!\/bin\/sh/)
    const bundle = join(dir, 'bundle.json')
    writeFileSync(bundle, execFileSync('sh', ['-s'], {input: script.stdout}))
    const offline = await project(peer.users.adminUser)
    const r = await inventory(offline, ['--from-bundle', bundle])
    const inv2 = r.json<InvJson>()
    expect(inv2.accountsSource).toBe('bundle')
    expect(inv2.accounts).toEqual(inv.accounts)
    expect(inv2.summary.owners).toEqual(inv.summary.owners)
    const key = (f: {rule: string; subject: string}) => `${f.rule} ${f.subject}`
    expect(inv2.findings.map(key).sort()).toEqual(inv.findings.map(key).sort())
  })

  it('shows what changed since the last inventory', async () => {
    const key = peer.users.keyUser
    writeFileSync(join(key.home, 'tricky', 'new-file.txt'), 'new\n')
    unlinkSync(join(key.home, 'tricky', 'a file with spaces.txt'))
    appendFileSync(join(key.home, 'tricky', 'caf\u00e9.txt'), 'grown\n')
    const added = keygen('ed25519')
    appendFileSync(key.authorizedKeysFile!, `${added.line}\n`)
    const r = await inventory(dir)
    const changes = r.json<InvJson>().changes!
    // changed: the grown file, its directory (new mtime) and authorized_keys (the appended key)
    expect(changes.files).toMatchObject({added: 1, removed: 1, changed: 3})
    expect(changes.files.examples.map((e) => `${e.change} ${e.path}`).sort()).toEqual([
      'added tricky/new-file.txt',
      'changed .ssh/authorized_keys',
      'changed tricky',
      'changed tricky/caf\u00e9.txt',
      'removed tricky/a file with spaces.txt',
    ])
    expect(changes.keys.added).toEqual([`${key.name} ssh-ed25519 ${added.fingerprint}`])
    expect(changes.users).toEqual({added: [], removed: []})
    const text = await runCli(['inventory', '--sshd-config', peer.configFile], {cwd: dir})
    expect(text.stdout).toMatch(/Since the inventory of .*files \+0 -0 ~0/)
  })
})

describe('inventory with less access', () => {
  it('records a directory a non-root login cannot read, and goes on', async () => {
    const dir = await project(peer.users.keyUser)
    const r = await inventory(dir)
    const inv = r.json<InvJson>()
    const locked = inv.findings.find((f) => f.rule === 'file.unreadable')
    expect(locked?.subject).toBe(`file:${peer.users.keyUser.name}:tricky/locked`)
    expect(inv.summary.owners.find((o) => o.owner === peer.users.keyUser.name)?.errors).toBe(1)
    // every regular file of the tree but the one inside the locked directory, plus .ssh/authorized_keys
    const visible = tricky.filter((t) => t.type === 'file' && !t.path.toString().startsWith('tricky/locked/')).length + 1
    expect(inv.summary.owners.find((o) => o.owner === peer.users.keyUser.name)?.files).toBe(visible)
  })

  it('falls back to files over SFTP when the login cannot run commands, and says how to get the accounts', async () => {
    const chroot = peer.users.chrootUser
    const dir = await project(chroot)
    const r = await inventory(dir)
    const inv = r.json<InvJson>()
    expect(inv.accountsSource).toBe('none')
    const f = inv.findings.find((x) => x.rule === 'inventory.no-accounts')
    expect(f?.severity).toBe('warning')
    expect(inv.summary.owners.map((o) => o.owner)).toEqual([chroot.name])
    const text = await runCli(['inventory', 'report', '--format', 'md'], {cwd: dir})
    expect(text.stdout).toContain('collect-script')
  })
})

describe('inventory killed mid-walk', () => {
  let tree: string
  afterAll(() => rmSync(tree, {recursive: true, force: true}))

  it('keeps the last complete inventory as it was, and the next run completes and sees no change', async () => {
    // A tree big enough that the walk commits rows (every 10,000) well before it ends, outside the users' homes.
    tree = mkdtempSync(join(tmpdir(), 'sct-inv-big-'))
    for (let d = 0; d < 300; d++) {
      mkdirSync(join(tree, `d${d}`))
      for (let f = 0; f < 100; f++) writeFileSync(join(tree, `d${d}`, `f${f}`), 'x')
    }
    const dir = mkdtempSync(join(tmpdir(), 'sct-inv-kill-'))
    const admin = peer.users.adminUser
    const init = await runCli(
      ['init', '--no-prompt', '--source-host', peer.host, '--source-port', String(peer.port), '--source-username', admin.name, '--source-identity-file', admin.privateKeyPath!,
        '--source-known-hosts-file', peer.knownHostsFile, '--source-roots', tree, '--target-region', 'us-east-1', '--target-bucket', 'inventory-test'],
      {cwd: dir},
    )
    expect(init.stderr).toBe('')
    const files = (inv: InvJson) => inv.summary.owners.reduce((n, o) => n + o.files, 0)
    const first = await inventory(dir)
    expect(files(first.json<InvJson>())).toBe(30_000)

    // Killed once the running inventory has committed its first 10,000 rows (polled from another connection).
    const child = spawn(process.execPath, [CLI, 'inventory', '--json', '--sshd-config', peer.configFile], {cwd: dir, stdio: 'ignore'})
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)))
    const db = new Database(join(dir, '.sftp-cutover', 'state.db'), {readonly: true})
    const committed = () =>
      (db.prepare(`SELECT COUNT(*) AS n FROM inventory_files WHERE run_id = (SELECT MAX(id) FROM inventory_runs WHERE status = 'running')`).get() as {n: number}).n
    let killedAt = 0
    while (child.exitCode === null && child.signalCode === null) {
      killedAt = committed()
      if (killedAt > 0) {
        child.kill('SIGKILL')
        break
      }
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    expect(await exited).toBe('SIGKILL')
    expect(killedAt).toBeGreaterThan(0)
    expect(killedAt).toBeLessThan(30_000)
    db.close()

    const report = await runCli(['inventory', 'report', '--format', 'json'], {cwd: dir})
    expect(files(report.json<InvJson>())).toBe(30_000)
    const next = (await inventory(dir)).json<InvJson>()
    expect(files(next)).toBe(30_000)
    expect(next.changes?.files).toMatchObject({added: 0, removed: 0, changed: 0})
    const runs = new Database(join(dir, '.sftp-cutover', 'state.db'), {readonly: true})
    try {
      expect(runs.prepare('SELECT status FROM inventory_runs ORDER BY id').all()).toEqual([{status: 'complete'}, {status: 'complete'}])
    } finally {
      runs.close()
    }
  })
})

describe('inventory input errors', () => {
  it('names the line and field of a malformed CSV and the path of a malformed bundle, exit 2', async () => {
    const dir = await project(peer.users.adminUser)
    const csv = join(dir, 'users.csv')
    writeFileSync(csv, 'name,uid,gid,groups,home,chroot,password_login,public_keys\nalice,1001,1001,,/home/alice,,no,\nbob,abc,1002,,/home/bob,,no,\n')
    const r = await runCli(['inventory', '--users-csv', csv], {cwd: dir})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/users\.csv line 3, field uid: "abc"/)
    const bundle = join(dir, 'bundle.json')
    writeFileSync(bundle, JSON.stringify({format: 'sftp-cutover-bundle', version: 1, passwd: 'nope'}))
    const b = await runCli(['inventory', '--from-bundle', bundle], {cwd: dir})
    expect(b.code).toBe(2)
    expect(b.stderr).toMatch(/bundle\.json.*passwd/)
  })

  it('reports an unreachable box clearly, exit 1', async () => {
    const dir = await project(peer.users.adminUser, 1)
    const r = await runCli(['inventory'], {cwd: dir})
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/cannot reach the source 127\.0\.0\.1:1: ECONNREFUSED/)
  })

  it('inventories a CSV of users with their keys', async () => {
    const dir = await project(peer.users.adminUser)
    const csv = join(dir, 'users.csv')
    writeFileSync(csv, `name,uid,gid,groups,home,chroot,password_login,public_keys\n${peer.users.keyUser.name},${peer.users.keyUser.uid},${peer.users.keyUser.gid},,${peer.users.keyUser.home},,no,"${peer.users.keyUser.publicKeyLine}"\n`)
    const r = await inventory(dir, ['--users-csv', csv])
    const inv = r.json<InvJson>()
    expect(inv.accountsSource).toBe('csv')
    expect(inv.accounts).toEqual([expect.objectContaining({name: peer.users.keyUser.name, keys: 1})])
  })
})
