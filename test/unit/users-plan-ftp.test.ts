/**
 * FTP users in the users plan, without AWS: a user that logs in over FTP needs an SSH key (service-managed Transfer
 * users are SFTP-only), and what the plan and the cutover preflight say about it.
 */
import {generateKeyPairSync} from 'node:crypto'

import {parseHostPrivateKey} from '../../src/core/host-key-import.js'
import type {Account} from '../../src/core/inventory-model.js'
import {parseAuthorizedKeys} from '../../src/core/ssh-keys.js'
import {type DesireInput, desiredUsers, ftpUsersStatus, planUsers} from '../../src/core/users-plan.js'

function publicKey(): string {
  const parsed = parseHostPrivateKey(generateKeyPairSync('ed25519').privateKey.export({type: 'pkcs8', format: 'pem'}).toString(), 'generated')
  if (!parsed.ok) throw new Error(parsed.message)
  return parsed.key.publicKey
}

function ftpAccount(name: string, keyLines: string[] = []): Account {
  const home = `/srv/ftp/${name}`
  return {
    name, uid: 2001, gid: 2001, groups: [], home, chroot: home, shell: '', sftpRoot: home, dataRoot: home,
    login: {password: true, key: false}, keys: parseAuthorizedKeys(keyLines.join('\n'), `/keys/${name}.pub`), authorizedKeysFiles: [], sources: {}, ftp: true,
  }
}

const input = (accounts: Account[], over: Partial<DesireInput> = {}): DesireInput => ({
  accounts, sourceHost: 'ftp01:21', bucket: 'b', prefix: 'p', roleArn: 'arn:aws:iam::123456789012:role/t', domain: 'S3', homeMode: 'logical', renames: {}, excludedKeys: {}, allowNoKeys: false, ...over,
})
const plan = (i: DesireInput) => planUsers(desiredUsers(i), new Map(), new Map(), {names: [], source: 'ListUsers', action: 'report'})

describe('FTP users in the plan', () => {
  it('without a key: skipped with user.ftp-needs-key (not password-only), naming --keys-dir; a problem', () => {
    const p = plan(input([ftpAccount('alice')]))
    expect(p.users[0].action).toBe('skip')
    expect(p.users[0].reasons.map((r) => [r.rule, r.severity])).toEqual([['user.ftp-needs-key', 'blocker']])
    expect(p.users[0].reasons[0].reason).toMatch(/its clients must move to SFTP with a key \(or to FTPS with a custom identity provider, which this tool does not create\); it has no usable SSH key$/)
    expect(p.users[0].reasons[0].fix).toBe(
      "Put the user's OpenSSH public key in DIR/<user>.pub and run users import --keys-dir DIR, or let users import --interactive ask for it. Or import it anyway with --allow-no-keys (it cannot log in until a key is added).",
    )
    expect(p.problems).toEqual([expect.stringMatching(/^alice: skipped: logs in over FTP today/)])
  })

  it('with --allow-no-keys: created, the finding a warning, still a problem', () => {
    const p = plan(input([ftpAccount('alice')], {allowNoKeys: true}))
    expect(p.users[0].action).toBe('create')
    expect(p.users[0].findings.find((f) => f.rule === 'user.ftp-needs-key')?.severity).toBe('warning')
    expect(p.problems).toHaveLength(1)
  })

  it('with a key: created with it, and the plan says its clients must move to SFTP', () => {
    const key = publicKey()
    const p = plan(input([ftpAccount('alice', [`${key} alice@laptop`])]))
    expect(p.users[0].action).toBe('create')
    expect(p.users[0].keys.import.map((k) => [k.body.split(' ')[1], k.source])).toEqual([[key.split(' ')[1], '/keys/alice.pub:1']])
    expect(p.users[0].findings.map((f) => [f.rule, f.severity])).toEqual([['user.ftp-login', 'warning']])
    expect(p.problems).toEqual([])
  })

  it('ftpUsersStatus: every FTP user with its key count; not ok while one has none; undefined without FTP users', () => {
    const p = plan(input([ftpAccount('alice', [publicKey()]), ftpAccount('bob'), {...ftpAccount('carol'), ftp: undefined, login: {password: false, key: true}, keys: parseAuthorizedKeys(publicKey(), 'ak')}]))
    const status = ftpUsersStatus(p.users)
    expect(status?.ok).toBe(false)
    expect(status?.detail).toMatch(/^2 user\(s\) log in over FTP today; .*so their clients must move to SFTP with a key .*: alice: 1 key\(s\), bob: no key\. Put the user's OpenSSH public key in DIR\/<user>\.pub/)
    expect(ftpUsersStatus(plan(input([ftpAccount('alice', [publicKey()])])).users)).toMatchObject({ok: true})
    expect(ftpUsersStatus(p.users.filter((u) => u.legacyName === 'carol'))).toBeUndefined()
  })
})
