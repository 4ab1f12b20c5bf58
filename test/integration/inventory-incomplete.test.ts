/**
 * The inventory is never complete on partial knowledge: online it reads the configuration of the sshd that serves
 * source.port (the private OpenSSH sshd peer runs with `-f <its own file>`, not /etc/ssh/sshd_config), and a run
 * whose account reading failed is marked incomplete, calls no account "removed", and users import --prune,
 * sync --delete and the cutover preflight refuse to act on it (exit 3). As the built CLI against the sshd peer;
 * the AWS endpoint is moto's (nothing reaches it: the refusals come first).
 */
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {loadPeers} from '../peers/env.js'
import {startSshd, type SshdPeer} from '../peers/index.js'
import {runCli} from './helpers/cli.js'

interface InvJson {
  accounts: Array<{name: string; chroot?: string}>
  findings: Array<{rule: string; severity: string; reason: string; fix: string}>
  accountsIncomplete?: string[]
  changes?: {accountsNotCompared?: string; users: {removed: string[]}; keys: {removed: string[]}}
}

let peer: SshdPeer
let dir: string
const env = {AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_EC2_METADATA_DISABLED: 'true'}
const cli = (args: string[]) => runCli(args, {cwd: dir, env})

beforeAll(async () => {
  peer = await startSshd()
  dir = mkdtempSync(join(tmpdir(), 'sct-inv-incomplete-'))
  const admin = peer.users.adminUser
  const init = await cli([
    'init', '--no-prompt', '--source-host', peer.host, '--source-port', String(peer.port), '--source-username', admin.name,
    '--source-identity-file', admin.privateKeyPath!, '--source-known-hosts-file', peer.knownHostsFile,
    '--target-region', 'us-east-1', '--target-endpoint', loadPeers().moto.endpoint, '--target-bucket', 'inventory-incomplete',
    '--target-transfer-server-id', 's-0123456789abcdef0', '--target-user-role-arn', 'arn:aws:iam::123456789012:role/sftp-users',
  ])
  expect(init.stderr).toBe('')
})

afterAll(async () => {
  await peer?.stop()
})

it('reads the configuration of the sshd listening on source.port (its -f file), with no --sshd-config', async () => {
  const r = await cli(['inventory', '--json'])
  const inv = r.json<InvJson>()
  expect(inv.accountsIncomplete).toBeUndefined()
  expect(inv.findings.filter((f) => f.rule === 'inventory.accounts-incomplete')).toEqual([])
  // Only the peer's own file chroots this user (Match User ... ChrootDirectory).
  const chrooted = inv.accounts.find((a) => a.name === peer.users.chrootUser.name)
  expect(chrooted?.chroot).toBeTruthy()
  expect(inv.accounts.map((a) => a.name)).toEqual(expect.arrayContaining([peer.users.keyUser.name, peer.users.passwordUser.name]))
})

it('an unreadable configuration makes the run incomplete: a blocker, nothing "removed", and prune, delete and the preflight refuse', async () => {
  const missing = join(peer.dir, 'no-such-sshd_config')
  const r = await cli(['inventory', '--json', '--sshd-config', missing])
  expect(r.code).toBe(3)
  const inv = r.json<InvJson>()
  expect(inv.accountsIncomplete).toEqual(expect.arrayContaining([`collector: cannot read ${missing}`]))
  const blocker = inv.findings.find((f) => f.rule === 'inventory.accounts-incomplete')!
  expect(blocker.severity).toBe('blocker')
  expect(blocker.reason).toContain(`cannot read ${missing}`)
  expect(blocker.fix).toContain(`sftp-cutover inventory --sshd-config FILE with the configuration of the sshd serving port ${peer.port}`)
  expect(inv.changes?.accountsNotCompared).toMatch(/read the accounts only in part/)
  expect(inv.changes?.users.removed).toEqual([])
  expect(inv.changes?.keys.removed).toEqual([])

  for (const args of [['users', 'import', '--prune', '--json'], ['sync', '--delete', '--json']]) {
    const refused = await cli(args)
    expect({args, code: refused.code}).toEqual({args, code: 3})
    const error = refused.json<{error: {code: string; message: string; suggestions: string[]}}>().error
    expect(error.code).toBe('INVENTORY_INCOMPLETE')
    expect(error.message).toContain(`read the accounts only in part: collector: cannot read ${missing}`)
    expect(error.suggestions.join(' ')).toContain('--sshd-config')
  }

  const book = join(dir, 'preflight.yaml')
  writeFileSync(book, 'name: preflight-only\nsteps:\n  - preflight: {skip: [doctor, users, hostkeys, sync, verify, dns]}\n')
  const preflight = await cli(['runbook', 'run', book, '--yes'])
  expect(preflight.code).toBe(3)
  expect(preflight.stderr).toMatch(/accounts fully read: the last inventory \(run \d+\) read the accounts only in part: collector: cannot read /)

  // A complete reading again lifts the refusals.
  const again = await cli(['inventory', '--json'])
  expect(again.json<InvJson>().accountsIncomplete).toBeUndefined()
  expect((await cli(['runbook', 'run', book, '--yes'])).code).toBe(0)
})
