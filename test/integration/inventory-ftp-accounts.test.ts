/**
 * Accounts of an FTP box, which FTP cannot list: from a copy of the FTP server's user file (inventory
 * --ftp-server, run against a private OpenSSH sshd that serves the homes' files), and over SSH at
 * source.sshHost:source.sshPort (the collect script on the same sshd, with the SSH host key rules unchanged).
 * No FTP server is needed for either: the accounts part does not speak FTP.
 */
import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import Database from 'better-sqlite3'

import type {Config} from '../../src/core/config.js'
import {ftpAccountsOverSsh} from '../../src/services/ftp-accounts.js'
import {freePort} from '../peers/free-port.js'
import {startSshd, type SshdPeer} from '../peers/index.js'
import {runCli} from './helpers/cli.js'
import {initInventoryProject, removeScratch} from './sync-helpers.js'

interface InvJson {
  accountsSource: string
  accounts: Array<{name: string; uid: number; home: string; chroot?: string; sftpRoot: string; keys: number; password: boolean | string}>
  summary: {owners: Array<{owner: string; files: number; bytes: number}>}
  findings: Array<{rule: string; severity: string; subject: string; reason: string; fix: string}>
}

let peer: SshdPeer
beforeAll(async () => {
  peer = await startSshd()
})
afterAll(async () => {
  await peer?.stop()
  removeScratch()
})

const project = () => initInventoryProject(peer, peer.users.adminUser, 'ftpacct-')

describe('inventory --ftp-server pure-ftpd', () => {
  const fixture = readFileSync(join(import.meta.dirname, '../fixtures/ftp-users/pureftpd.passwd'), 'utf8')
  const hashes = [...fixture.matchAll(/\$argon2id\$[^:]+/g)].map((m) => m[0])
  let dir: string
  let inv: InvJson
  let outputs: string

  beforeAll(async () => {
    // The fixture's users, with homes that exist on this machine (the sshd peer serves them).
    const homes = mkdtempSync(join(tmpdir(), 'sct-ftpacct-homes-'))
    const passwd = fixture.replaceAll('/srv/ftp', homes)
    for (const [user, files] of [['alice', {'report.csv': 'a,b\n1,2\n', 'in/2026-11.txt': 'november\n'}], ['shared', {'notes.txt': 'shared by bob\n'}], ['partners/jdoe', {}]] as const) {
      for (const [name, text] of Object.entries(files)) {
        mkdirSync(join(homes, user, name, '..'), {recursive: true})
        writeFileSync(join(homes, user, name), text)
      }
      mkdirSync(join(homes, user), {recursive: true})
    }
    const file = join(homes, 'pureftpd.passwd')
    writeFileSync(file, passwd)
    dir = await project()
    const r = await runCli(['inventory', '--json', '--ftp-server', 'pure-ftpd', '--ftp-users-file', file], {cwd: dir})
    outputs = r.stdout + r.stderr
    expect(r.code).toBe(0)
    inv = r.json<InvJson>()
    inv.accounts.forEach((a) => (a.home = a.home.replace(homes, '/srv/ftp')))
  })

  it('takes the accounts from the file, with their chroots, and walks their homes', () => {
    expect(inv.accountsSource).toBe('ftp-users-file')
    expect(inv.accounts.map((a) => [a.name, a.uid, a.home, a.chroot !== undefined, a.keys, a.password])).toEqual([
      ['alice', 2001, '/srv/ftp/alice', true, 0, true],
      ['bob', 2002, '/srv/ftp/shared', false, 0, true],
      ['j.doe', 2003, '/srv/ftp/partners/jdoe', true, 0, true],
    ])
    const owners = Object.fromEntries(inv.summary.owners.map((o) => [o.owner, [o.files, o.bytes]]))
    expect(owners).toMatchObject({alice: [2, 17], bob: [1, 14]})
  })

  it('states per user that its clients must move to SFTP with a key, and what pure-ftpd limited', () => {
    for (const name of ['alice', 'bob', 'j.doe']) {
      const f = inv.findings.find((x) => x.subject === `user:${name}` && x.rule === 'user.ftp-login')
      expect(f?.reason).toMatch(/clients must move to SFTP with a key \(or to FTPS with a custom identity provider/)
    }
    expect(inv.findings.filter((f) => f.rule === 'user.password-only')).toEqual([])
    expect(inv.findings.find((f) => f.rule === 'ftp.login-restrictions')?.reason).toMatch(/line 3: allowed client addresses 192\.168\.0\.0\/24, hours 900-1800$/)
    expect(inv.findings.find((f) => f.rule === 'ftp.user-no-home')).toMatchObject({subject: 'user:nohome', reason: expect.stringMatching(/pureftpd\.passwd line 7: no home directory/)})
  })

  it('keeps the password hashes out of the state, the log, the reports and the output', async () => {
    const report = await runCli(['inventory', 'report', '--format', 'html', '--output', join(dir, 'inv.html')], {cwd: dir})
    expect(report.code).toBe(0)
    const state = join(dir, '.sftp-cutover')
    const files = [join(dir, 'inv.html'), ...readdirSync(state).map((f) => join(state, f)).filter((f) => !f.endsWith('reports'))]
    expect(files.some((f) => f.endsWith('state.db'))).toBe(true)
    const everything = [outputs, report.stdout, report.stderr, ...files.map((f) => readFileSync(f).toString('latin1'))].join('\n')
    expect(hashes).toHaveLength(4)
    // the salt and hash parts: each unique to one line of the file
    for (const h of hashes) expect(everything).not.toContain(h.split('$').slice(-2).join('$'))
  })

  it('a malformed line exits 2 naming the file and the line, and records no accounts', async () => {
    const bad = join(dir, 'bad.passwd')
    writeFileSync(bad, `# copy\nzed:${hashes[0]}:2001:2000\n`)
    const r = await runCli(['inventory', '--ftp-server', 'pure-ftpd', '--ftp-users-file', bad], {cwd: dir})
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`${bad} line 2: 4 field(s); pure-ftpd's format has at least 6`)
    expect(r.stderr).not.toContain(hashes[0].split('$').at(-1))
    const db = new Database(join(dir, '.sftp-cutover', 'state.db'), {readonly: true})
    try {
      const last = db.prepare('SELECT id, status FROM inventory_runs ORDER BY id DESC LIMIT 1').get() as {id: number; status: string}
      expect(last.status).toBe('failed')
      expect(db.prepare('SELECT COUNT(*) AS n FROM inventory_accounts WHERE run_id = ?').get(last.id)).toEqual({n: 0})
    } finally {
      db.close()
    }
  })

  it('vsftpd needs copies of vsftpd.conf and passwd, and says so', async () => {
    const r = await runCli(['inventory', '--ftp-server', 'vsftpd', '--ftp-users-file', join(import.meta.dirname, '../fixtures/ftp-users/user_list')], {cwd: dir})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--ftp-server vsftpd reads its local users from copies of vsftpd\.conf and \/etc\/passwd/)
    expect(r.stderr).toMatch(/--ftp-config FILE and --passwd-file FILE/)
  })
})

describe('inventory --ftp-server vsftpd', () => {
  it("takes vsftpd's local users: the user_list admits, the chroot_list inverts chroot_local_user; homes walked", async () => {
    const fixtures = join(import.meta.dirname, '../fixtures/ftp-users')
    const root = mkdtempSync(join(tmpdir(), 'sct-ftpacct-vsftpd-'))
    const passwd = readFileSync(join(fixtures, 'passwd'), 'utf8').replaceAll(':/home/', `:${root}/home/`).replaceAll(':/srv/partners/', `:${root}/srv/partners/`)
    for (const [home, file] of [['home/carol', 'a.txt'], ['srv/partners/dave', 'b.txt'], ['home/erin', 'c.txt']]) {
      mkdirSync(join(root, home), {recursive: true})
      writeFileSync(join(root, home, file), `${home}\n`)
    }
    writeFileSync(join(root, 'passwd'), passwd)
    const dir = await project()
    const r = await runCli(
      ['inventory', '--json', '--ftp-server', 'vsftpd', '--ftp-config', join(fixtures, 'vsftpd.conf'), '--passwd-file', join(root, 'passwd'), '--ftp-users-file', join(fixtures, 'user_list'), '--chroot-list', join(fixtures, 'chroot_list')],
      {cwd: dir},
    )
    expect(r.code).toBe(0)
    const inv = r.json<InvJson>()
    expect(inv.accounts.map((a) => [a.name, a.home.replace(root, ''), a.chroot?.replace(root, ''), a.password])).toEqual([
      ['carol', '/home/carol', '/home/carol', true],
      ['dave', '/srv/partners/dave', '/srv/partners/dave', true],
      ['erin', '/home/erin', undefined, true],
    ])
    expect(Object.fromEntries(inv.summary.owners.map((o) => [o.owner, o.files]))).toEqual({carol: 1, dave: 1, erin: 1})
    expect(inv.findings.filter((f) => f.rule === 'user.ftp-login').map((f) => f.subject)).toEqual(['user:carol', 'user:dave', 'user:erin'])
    expect(inv.findings.find((f) => f.rule === 'ftp.accounts-unchecked')?.reason).toMatch(/PAM's rules for vsftpd \(\/etc\/ftpusers, valid shells in \/etc\/shells\) were not read/)
    expect(inv.findings.find((f) => f.rule === 'ftp.user-no-home')?.subject).toBe('user:nohome')
  })
})

describe('an FTP source whose box also answers SSH', () => {
  const log = () => undefined
  const ftpConfig = (source: Record<string, unknown>): Config =>
    ({
      source: {protocol: 'ftp', host: peer.host, port: 2121, username: 'root', identityFile: peer.users.adminUser.privateKeyPath, useAgent: false, roots: [], ...source},
      target: {region: 'us-east-1', bucket: 'inventory-test', prefix: ''},
    }) as unknown as Config

  it('reads the accounts with the collect script at source.sshHost:source.sshPort, by FTP rules (no sshd chroot)', async () => {
    const r = await ftpAccountsOverSsh(ftpConfig({sshHost: '127.0.0.1', sshPort: peer.port, knownHostsFile: peer.knownHostsFile}), {sshdConfig: peer.configFile, includeSystem: false}, {env: {}, log})
    expect(r.source).toBe('online')
    const byName = new Map(r.accounts.map((a) => [a.name, a]))
    const {keyUser, passwordUser, chrootUser} = peer.users
    expect(byName.get(keyUser.name)?.keys.map((k) => k.openssh?.split(' ')[1])).toContain(keyUser.publicKeyLine!.split(' ')[1])
    expect(byName.get(passwordUser.name)?.login.password).toBe(true)
    // sshd chroots this user; its FTP logins are not sshd's, so no chroot is claimed
    expect(byName.get(chrootUser.name)).toMatchObject({home: chrootUser.home.replace(/\/$/, '')})
    expect(byName.get(chrootUser.name)?.chroot).toBeUndefined()
    expect(byName.has('root')).toBe(false)
    expect(r.notes.at(-1)).toMatch(/^accounts read over SSH at 127\.0\.0\.1:\d+: every regular account with a password or a key, not the FTP server's own rules/)
  })

  it('verifies the host key as for SFTP: a known_hosts without this key stops the inventory', async () => {
    const other = mkdtempSync(join(tmpdir(), 'sct-ftpacct-kh-'))
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(other, 'k')])
    const knownHosts = join(other, 'known_hosts')
    writeFileSync(knownHosts, `[127.0.0.1]:${peer.port} ${readFileSync(join(other, 'k.pub'), 'utf8')}`)
    await expect(ftpAccountsOverSsh(ftpConfig({sshPort: peer.port, knownHostsFile: knownHosts}), {includeSystem: false}, {env: {}, log})).rejects.toMatchObject({code: 'HOST_KEY_REJECTED'})
  })

  it('no SSH at the port, or no host key configured: accounts unread, with the reason', async () => {
    const port = await freePort()
    const none = await ftpAccountsOverSsh(ftpConfig({sshPort: port, knownHostsFile: peer.knownHostsFile}), {includeSystem: false}, {env: {}, log})
    expect(none).toMatchObject({source: 'none', accounts: []})
    expect(none.notes[0]).toMatch(new RegExp(`^FTP cannot list accounts, and SSH at 127\\.0\\.0\\.1:${port} did not let them be read \\(cannot reach`))
    const noTrust = await ftpAccountsOverSsh(ftpConfig({sshPort: peer.port}), {includeSystem: false}, {env: {}, log})
    expect(noTrust.notes[0]).toMatch(/no SSH host key is configured to read them over SSH at 127\.0\.0\.1:\d+ \(source\.hostKeyFingerprint or source\.knownHostsFile\)/)
  })
})
