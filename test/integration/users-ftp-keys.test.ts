/**
 * FTP users (from pure-ftpd's user file, test/fixtures/ftp-users) on Transfer against moto: each needs an SSH key,
 * given with users import --keys-dir DIR (<user>.pub, checked by the same key rules as every key) or typed in the
 * wizard; without one it is not imported. users plan and the cutover preflight say per FTP user that its clients must
 * move to SFTP with a key. The inventory is recorded directly (the accounts parsePureftpdPasswd reads from the
 * fixture, and one SFTP account), as the wizard tests do: these tests are about users, not the walk.
 */
import {S3Client} from '@aws-sdk/client-s3'
import {DescribeUserCommand, type DescribedUser, TransferClient} from '@aws-sdk/client-transfer'
import {mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {AwsClients} from '../../src/adapters/aws.js'
import {InventoryStore} from '../../src/adapters/inventory-store.js'
import {SqliteStateStore} from '../../src/adapters/state.js'
import {S3HomeFolders, SdkTransfer} from '../../src/adapters/transfer-users.js'
import {accountFindings} from '../../src/core/findings.js'
import {parsePureftpdPasswd} from '../../src/core/ftp-users.js'
import type {Account} from '../../src/core/inventory-model.js'
import {parseAuthorizedKeys} from '../../src/core/ssh-keys.js'
import {loadConfig} from '../../src/services/config.js'
import {migrationParts} from '../../src/services/migration-parts.js'
import {runUsersImport, type UsersImportResult, type UsersPlan} from '../../src/services/users.js'
import type {Prompter} from '../../src/ui/prompter.js'
import {createUsersWizard} from '../../src/ui/users-wizard.js'
import {createMigrationTarget, type MigrationTarget} from '../fixtures/aws-target.js'
import {loadPeers, motoClientConfig} from '../peers/env.js'
import {runUsersCli, sshKeygen, writeProject} from './users-helpers.js'

const {sshd} = loadPeers()
const transfer = new TransferClient(motoClientConfig())
const s3 = new S3Client(motoClientConfig())
let target: MigrationTarget
let project: ReturnType<typeof writeProject>
let keysDir: string
const keys: Record<string, string> = {}

async function keygen(name: string, type: string, bits?: number): Promise<string> {
  const file = join(keysDir, '..', `${name}-${type}`)
  await sshKeygen(['-q', '-t', type, ...(bits ? ['-b', String(bits)] : []), '-N', '', '-C', `${name}@${type}`, '-f', file])
  return readFileSync(`${file}.pub`, 'utf8').trim()
}

async function onTransfer(name: string): Promise<DescribedUser | undefined> {
  try {
    return (await transfer.send(new DescribeUserCommand({ServerId: target.serverId, UserName: name}))).User
  } catch {
    return undefined
  }
}
const bodies = async (name: string) => ((await onTransfer(name))?.SshPublicKeys ?? []).map((k) => k.SshPublicKeyBody!.split(' ').slice(0, 2).join(' ')).sort()
const keyPart = (line: string) => line.split(' ').slice(0, 2).join(' ')

/** The cutover preflight's FTP users check (migration-parts.ts identityChecks), as cutover --dry-run runs it. */
async function preflightFtpCheck() {
  const config = await loadConfig(project.configFile)
  const state = new SqliteStateStore(project.stateDb)
  // moto's clients (test credentials) in place of the default chain; the checks use Transfer and S3 only
  const aws = {transfer: () => transfer, s3: () => s3, destroy: () => {}} as unknown as AwsClients
  try {
    const stateDir = join(project.dir, '.sftp-cutover')
    const paths = {configFile: project.configFile, dir: project.dir, stateDir, stateDb: project.stateDb, logFile: project.logFile, reportsDir: join(stateDir, 'reports')}
    const checks = await migrationParts({config, aws, state, env: {}, log: () => {}, paths}).identityChecks()
    return checks.find((c) => c.name.startsWith('FTP users'))
  } finally {
    state.close()
  }
}

const cli = (args: string[]) => runUsersCli(args, {cwd: project.dir})
const byName = (plan: UsersPlan) => Object.fromEntries(plan.users.map((u) => [u.legacyName, u]))

beforeAll(async () => {
  target = await createMigrationTarget()
  project = writeProject(sshd, target)
  keysDir = join(mkdtempSync(join(tmpdir(), 'sct-ftpkeys-')), 'keys')
  mkdirSync(keysDir)
  Object.assign(keys, {
    aliceEd: await keygen('alice', 'ed25519'),
    aliceRsa: await keygen('alice', 'rsa', 3072),
    bob: await keygen('bob', 'ed25519'),
    jdoeDsa: await keygen('jdoe', 'dsa'),
    jdoe: await keygen('jdoe', 'ecdsa', 256),
  })
  // The FTP users as inventory --ftp-server pure-ftpd records them, and one SFTP user with a key on the box.
  const {accounts} = parsePureftpdPasswd({file: 'pureftpd.passwd', text: readFileSync(join(import.meta.dirname, '../fixtures/ftp-users/pureftpd.passwd'), 'utf8')})
  const sftpHome = '/srv/sftp/sftpuser'
  const sftpUser: Account = {name: 'sftpuser', uid: 5000, gid: 5000, groups: [], home: sftpHome, shell: '/bin/sh', sftpRoot: sftpHome, dataRoot: sftpHome, login: {password: false, key: true}, keys: parseAuthorizedKeys(keys.bob.replace('bob@', 'sftpuser@'), `${sftpHome}/.ssh/authorized_keys`), authorizedKeysFiles: [], sources: {}}
  const state = new SqliteStateStore(project.stateDb)
  try {
    const store = new InventoryStore(state)
    const runId = store.beginRun('ftp01:21')
    store.addAccounts(runId, [...accounts, sftpUser])
    store.addFindings(runId, accountFindings([...accounts, sftpUser]))
    store.finishRun(runId, 'complete', 'ftp-users-file', {owners: [], findings: {blocker: 0, warning: 3, info: 0}, accounts: 4, hostKeys: 0})
  } finally {
    state.close()
  }
})

afterAll(() => {
  transfer.destroy()
  s3.destroy()
})

describe('FTP users on Transfer', () => {
  it('users plan: an FTP user without a key is skipped, with what its clients must do and how to give the key', async () => {
    const r = await cli(['users', 'plan', '--json'])
    expect(r.code).toBe(3)
    const users = byName(r.json<UsersPlan>())
    for (const name of ['alice', 'bob', 'j.doe']) {
      expect(users[name].action).toBe('skip')
      expect(users[name].reasons.map((f) => f.rule)).toEqual(['user.ftp-needs-key'])
      expect(users[name].reasons[0].reason).toMatch(/^logs in over FTP today; Transfer's service-managed users are SFTP-only with SSH keys, so its clients must move to SFTP with a key \(or to FTPS with a custom identity provider, which this tool does not create\); it has no usable SSH key$/)
      expect(users[name].reasons[0].fix).toMatch(/users import --keys-dir DIR/)
    }
    expect(users.sftpuser.action).toBe('create')
    const text = await cli(['users', 'plan'])
    expect(text.stdout).toMatch(/alice.*user\.ftp-needs-key/)
  })

  it('users import --keys-dir: <user>.pub keys go to Transfer for FTP users; a key the rules refuse is not imported', async () => {
    writeFileSync(join(keysDir, 'alice.pub'), `# alice's laptop and build server\n${keys.aliceEd}\n\n${keys.aliceRsa}\n`)
    writeFileSync(join(keysDir, 'bob.pub'), `${keys.bob}\n`)
    writeFileSync(join(keysDir, 'j.doe.pub'), `${keys.jdoeDsa}\n`)
    const r = await cli(['users', 'import', '--keys-dir', keysDir, '--json'])
    expect(r.code).toBe(3)
    const result = r.json<UsersImportResult>()
    expect(Object.fromEntries(result.outcomes.map((o) => [o.userName, o.outcome]))).toEqual({alice: 'created', bob: 'created', 'j.doe': 'skipped', sftpuser: 'created'})
    expect(await bodies('alice')).toEqual([keyPart(keys.aliceEd), keyPart(keys.aliceRsa)].sort())
    expect(await bodies('bob')).toEqual([keyPart(keys.bob)])
    expect(await onTransfer('j.doe')).toBeUndefined()
    const users = byName(result.plan)
    expect(users.alice.findings.find((f) => f.rule === 'user.ftp-login')?.reason).toMatch(/its clients must move to SFTP with a key/)
    expect(users['j.doe'].keys.refused.map((k) => [k.finding.rule, k.source])).toEqual([['key.dsa', `${join(keysDir, 'j.doe.pub')}:1`]])
    expect(result.problems.some((p) => p.startsWith('j.doe: key refused'))).toBe(true)
  })

  it('remembers the keys once imported: the next plan keeps them on Transfer, and a second import changes nothing', async () => {
    const plan = await cli(['users', 'plan', '--json'])
    const users = byName(plan.json<UsersPlan>())
    expect([users.alice.action, users.alice.keys.keep.length, users.alice.keys.remove.length]).toEqual(['unchanged', 2, 0])
    expect([users.bob.action, users.bob.keys.remove.length]).toEqual(['unchanged', 0])
    const again = await cli(['users', 'import', '--json'])
    expect(again.json<UsersImportResult>().summary).toMatchObject({created: 0, updated: 0, unchanged: 3, skipped: 1})
    expect(await bodies('alice')).toHaveLength(2)
  })

  it('refuses a keys dir with a file for an unknown user or an SFTP user (its keys come from the box)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sct-ftpkeys-bad-'))
    writeFileSync(join(dir, 'zed.pub'), `${keys.bob}\n`)
    writeFileSync(join(dir, 'sftpuser.pub'), `${keys.bob}\n`)
    const r = await cli(['users', 'import', '--keys-dir', dir])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('sftpuser.pub: sftpuser logs in over SFTP; its keys come from the legacy box')
    expect(r.stderr).toContain('zed.pub: no user zed in the inventory')
    expect(await onTransfer('zed')).toBeUndefined()
  })

  it('the cutover preflight shows each FTP user, and fails while one has no key', async () => {
    const check = await preflightFtpCheck()
    expect(check).toMatchObject({id: 'users', ok: false})
    expect(check?.detail).toMatch(/^3 user\(s\) log in over FTP today; .* so their clients must move to SFTP with a key \(or to FTPS with a custom identity provider, which this tool does not create\): alice: 2 key\(s\), bob: 1 key\(s\), j\.doe: no key\. Put the user's OpenSSH public key in DIR\/<user>\.pub and run users import --keys-dir DIR/)
  })

  it('the wizard asks for the key of an FTP user that has none, checks it by the key rules, and imports it', async () => {
    const asked: string[] = []
    const answers: unknown[] = [['j.doe'], keys.jdoe, true]
    const prompter: Prompter = {
      input: async ({message, validate}) => {
        asked.push(message)
        expect(validate?.(keys.jdoeDsa)).toMatch(/ssh-dss|DSA/i)
        expect(validate?.('not a key')).toMatch(/^users import --interactive:1: /)
        return String(answers.shift())
      },
      secret: async () => {
        throw new Error('no secret expected')
      },
      confirm: async ({message}) => (asked.push(message), Boolean(answers.shift())),
      select: async () => {
        throw new Error('no select expected')
      },
      checkbox: async ({message}) => (asked.push(message), answers.shift() as never),
    }
    const state = new SqliteStateStore(project.stateDb)
    try {
      const config = await loadConfig(project.configFile)
      const result = await runUsersImport(
        {config, state, transfer: new SdkTransfer(transfer, target.serverId), homes: new S3HomeFolders(s3, target.bucket), log: () => {}},
        {allowNoKeys: false, prune: false, dryRun: false, wizard: createUsersWizard(prompter, () => {})},
      )
      expect(asked[1]).toMatch(/^j\.doe logs in over FTP today and has no SSH key; its clients move to SFTP with the key given here/)
      expect(result.outcomes.find((o) => o.userName === 'j.doe')?.outcome).toBe('created')
    } finally {
      state.close()
    }
    expect(await bodies('j.doe')).toEqual([keyPart(keys.jdoe)])
  })

  it('the cutover preflight passes once every FTP user has a key', async () => {
    const check = await preflightFtpCheck()
    expect(check).toMatchObject({id: 'users', ok: true})
    expect(check?.detail).toMatch(/: alice: 2 key\(s\), bob: 1 key\(s\), j\.doe: 1 key\(s\)$/)
  })

  it('a new <user>.pub replaces the keys given before: the one left out is removed from Transfer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sct-ftpkeys-new-'))
    writeFileSync(join(dir, 'alice.pub'), `${keys.aliceEd}\n`)
    const plan = await cli(['users', 'plan', '--keys-dir', dir])
    expect(plan.stdout).toMatch(/UPDATE +alice +-1 key\n/)
    expect(plan.stdout).toMatch(/- key ssh-rsa SHA256:\S+ alice@rsa \(no longer given for this FTP user; id /)
    const r = await cli(['users', 'import', '--keys-dir', dir, '--json'])
    expect(r.json<UsersImportResult>().outcomes.find((o) => o.userName === 'alice')).toMatchObject({outcome: 'updated', keysRemoved: [expect.stringMatching(/^SHA256:/)]})
    expect(await bodies('alice')).toEqual([keyPart(keys.aliceEd)])
    // remembered: a plan without --keys-dir keeps it that way
    expect(byName((await cli(['users', 'plan', '--json'])).json<UsersPlan>()).alice.action).toBe('unchanged')
  })
})
