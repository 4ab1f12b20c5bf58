/**
 * users plan / users import against moto, after the real `inventory` of a private peer sshd (online, as root): its
 * users, their authorized_keys files (with a key with options, an RFC 4716 block, a DSA and a short RSA key added)
 * and its host keys. A name Transfer rejects cannot be a throwaway Linux user on a shared machine, so that case uses
 * the inventory's CSV source. Runs the built CLI (npm run build).
 *
 * moto has no ListUsers, UpdateUser or TagResource: here the unknown-user detection runs on its fallback (users
 * sftp-cutover imported before), and no test needs an attribute update. Those calls are covered with a mocked
 * TransferClient in test/unit/users-transfer-adapter.test.ts and test/integration/users-update-mock.test.ts.
 */
import {HeadObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {CreateServerCommand, DescribeUserCommand, type DescribedUser, TransferClient} from '@aws-sdk/client-transfer'
import {appendFileSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {SqliteStateStore} from '../../src/adapters/state.js'
import {TransferStore} from '../../src/adapters/transfer-store.js'
import {scopeDownPolicy} from '../../src/core/scope-down-policy.js'
import {parseAuthorizedKeys} from '../../src/core/ssh-keys.js'
import type {UsersImportResult, UsersPlan} from '../../src/services/users.js'
import {createMigrationTarget, type MigrationTarget} from '../fixtures/aws-target.js'
import {motoClientConfig} from '../peers/env.js'
import {startSshd, type SshdPeer} from '../peers/sshd.js'
import {runUsersCli, sshKeygen, writeProject} from './users-helpers.js'

let peer: SshdPeer
let target: MigrationTarget
let project: ReturnType<typeof writeProject>
let keysDir: string
const pub = (name: string) => readFileSync(join(keysDir, `${name}.pub`), 'utf8').trim()
/** "<type> <base64>": the RFC 4716 block carries its own comment ("converted by ..."), which travels with the key. */
const keyPart = (line: string | undefined) => (line ?? '').split(/\s+/).slice(0, 2).join(' ')
const fp = async (name: string) => (await sshKeygen(['-l', '-E', 'sha256', '-f', join(keysDir, `${name}.pub`)])).split(/\s+/)[1]
const transfer = new TransferClient(motoClientConfig())
const s3 = new S3Client(motoClientConfig())

async function describe_(userName: string): Promise<DescribedUser | undefined> {
  try {
    return (await transfer.send(new DescribeUserCommand({ServerId: target.serverId, UserName: userName}))).User
  } catch (err) {
    if ((err as Error).name === 'UserNotFound') return undefined
    throw err
  }
}

async function describeOn(t: MigrationTarget, userName: string): Promise<DescribedUser | undefined> {
  try {
    return (await transfer.send(new DescribeUserCommand({ServerId: t.serverId, UserName: userName}))).User
  } catch (err) {
    if ((err as Error).name === 'UserNotFound') return undefined
    throw err
  }
}

/** A project on its own moto target whose inventory comes from a users CSV (name, key); again with `reuse`. */
async function csvProject(users: Array<[string, string]>, reuse?: {dir: string; target: MigrationTarget}): Promise<{dir: string; target: MigrationTarget}> {
  const t = reuse?.target ?? (await createMigrationTarget())
  const dir = reuse?.dir ?? writeProject(peer, t).dir
  const file = join(dir, 'users.csv')
  writeFileSync(file, ['name,uid,gid,home,password_login,public_keys', ...users.map(([name, key], i) => `${name},${5000 + i},${5000 + i},/srv/sftp/${name},no,"${key}"`), ''].join('\n'))
  await inventory(dir, ['--users-csv', file])
  return {dir, target: t}
}

async function exists(key: string, bucket = target.bucket): Promise<number | undefined> {
  try {
    return (await s3.send(new HeadObjectCommand({Bucket: bucket, Key: key}))).ContentLength
  } catch {
    return undefined
  }
}

const cli = (args: string[], cwd = project.dir) => runUsersCli(args, {cwd})

/** sftp-cutover inventory, online as root (exit 3: the legacy box has blockers, e.g. the DSA key). */
async function inventory(dir = project.dir, args: string[] = []): Promise<void> {
  const r = await runUsersCli(['inventory', '--json', '--sshd-config', peer.configFile, ...args], {cwd: dir})
  if (r.code !== 0 && r.code !== 3) throw new Error(`inventory failed (exit ${r.code}): ${r.stdout}\n${r.stderr}`)
}
const byName = (plan: UsersPlan) => Object.fromEntries(plan.users.map((u) => [u.legacyName, u]))

beforeAll(async () => {
  peer = await startSshd()
  target = await createMigrationTarget()
  project = writeProject(peer, target)
  keysDir = mkdtempSync(join(tmpdir(), 'sct-userkeys-'))
  await Promise.all([
    sshKeygen(['-t', 'dsa', '-N', '', '-q', '-C', 'old-dsa', '-f', join(keysDir, 'dsa')]),
    sshKeygen(['-t', 'rsa', '-b', '1024', '-N', '', '-q', '-C', 'short-rsa', '-f', join(keysDir, 'rsa1024')]),
    sshKeygen(['-t', 'ed25519', '-N', '', '-q', '-C', 'restricted@laptop', '-f', join(keysDir, 'opts')]),
    sshKeygen(['-t', 'ecdsa', '-b', '256', '-N', '', '-q', '-C', 'rfc@laptop', '-f', join(keysDir, 'rfc')]),
    sshKeygen(['-t', 'ed25519', '-N', '', '-q', '-C', 'ab@laptop', '-f', join(keysDir, 'ab')]),
    sshKeygen(['-t', 'ed25519', '-N', '', '-q', '-C', 'rotated@laptop', '-f', join(keysDir, 'new')]),
  ])
  // On the legacy box: a key with options, an RFC 4716 block (what `ssh-keygen -e` writes), a DSA and a short RSA key.
  const rfc = await sshKeygen(['-e', '-f', join(keysDir, 'rfc.pub')])
  appendFileSync(peer.users.keyUser.authorizedKeysFile!, `from="10.0.0.0/8",no-pty ${pub('opts')}\n${rfc}${pub('dsa')}\n${pub('rsa1024')}\n`)
  await inventory()
})

afterAll(async () => {
  transfer.destroy()
  s3.destroy()
  await peer?.stop()
})

describe('users plan and import against moto', () => {
  it('plans a create for each key user, and skips the password user with the inventory\'s finding', async () => {
    const r = await cli(['users', 'plan', '--json'])
    expect(r.code).toBe(3)
    const plan = r.json<UsersPlan>()
    const u = byName(plan)
    const {keyUser, chrootUser, passwordUser} = peer.users
    expect(u[keyUser.name]).toMatchObject({action: 'create', userName: keyUser.name})
    // Only the key that logs in today without restrictions: the from= key waits for --accept-key-options, the RFC 4716
    // block (which sshd cannot read in authorized_keys) is dead today.
    expect(u[keyUser.name].keys.import.map((k) => k.fingerprint)).toEqual([parseAuthorizedKeys(peer.users.keyUser.publicKeyLine!, 'x')[0].fingerprint])
    expect(u[keyUser.name].keys.refused.map((k) => k.finding.rule).sort()).toEqual(['key.dead', 'key.dsa', 'key.options', 'key.rsa-short'])
    expect(u[keyUser.name].findings.map((f) => f.rule)).toEqual(expect.arrayContaining(['key.options', 'key.dead', 'key.dsa', 'key.rsa-short']))
    expect(u[chrootUser.name]).toMatchObject({action: 'create'})
    expect(u[passwordUser.name]).toMatchObject({action: 'skip', selected: true})
    // The inventory's finding, with what to do about it here.
    expect(u[passwordUser.name].reasons[0]).toMatchObject({rule: 'user.password-only', severity: 'blocker', reason: 'logs in with a password and has no key'})
    expect(u[passwordUser.name].reasons[0].fix).toMatch(/custom identity provider.*--allow-no-keys/)
    expect(u[keyUser.name].keys.refused.find((k) => k.finding.rule === 'key.dsa')!.finding.fix).toMatch(/^Transfer refuses ssh-dss/)
    expect(plan.unknown).toMatchObject({names: [], source: 'state', action: 'report'})
    expect(plan.unknown.note).toMatch(/ListUsers is not available/)
    expect(plan.summary).toMatchObject({create: 2, skip: 1, keysToImport: 2, keysRefused: 4, keysDead: 1})

    const text = await cli(['users', 'plan'])
    expect(text.code).toBe(3)
    expect(text.stdout).toMatch(new RegExp(`^CREATE +${keyUser.name}  \\+1 key$`, 'm'))
    expect(text.stdout).toMatch(new RegExp(`^SKIP +${passwordUser.name} {2}user\\.password-only: logs in with a password`, 'm'))
    expect(text.stdout).toContain('key.dsa')
  })

  it('creates every importable user with the legacy paths, the role, tags, keys and a home folder', async () => {
    // The engineer accepts the key user's restricted and dead keys (remembered for the next runs).
    const r = await cli(['users', 'import', '--accept-key-options', peer.users.keyUser.name, '--import-dead-keys', peer.users.keyUser.name, '--json'])
    expect(r.code).toBe(3)
    const result = r.json<UsersImportResult>()
    expect(result.summary).toMatchObject({created: 2, skipped: 1, failed: 0})
    const {keyUser, chrootUser} = peer.users

    const k = (await describe_(keyUser.name))!
    expect(k).toMatchObject({
      Role: target.roleArn,
      HomeDirectoryType: 'LOGICAL',
      HomeDirectory: keyUser.home,
      HomeDirectoryMappings: [{Entry: keyUser.home, Target: `/${target.bucket}/migrated/home/${keyUser.name}`, Type: 'DIRECTORY'}],
    })
    expect(k.Tags).toEqual(
      expect.arrayContaining([
        {Key: 'sftp-cutover:legacy-uid', Value: String(keyUser.uid)},
        {Key: 'sftp-cutover:legacy-name', Value: keyUser.name},
        {Key: 'sftp-cutover:source-host', Value: `${peer.host}:${peer.port}`},
      ]),
    )
    const bodies = k.SshPublicKeys!.map((x) => x.SshPublicKeyBody!)
    expect(bodies.map(keyPart).sort()).toEqual([keyUser.publicKeyLine!, pub('opts'), pub('rfc')].map(keyPart).sort())
    expect(bodies).toContain(pub('opts')) // options stripped, comment kept
    expect(bodies.find((b) => keyPart(b) === keyPart(pub('rfc')))).toMatch(/ 256-bit ECDSA, converted by \S+ from OpenSSH$/) // RFC 4716 Comment header

    const c = (await describe_(chrootUser.name))!
    expect(c).toMatchObject({HomeDirectoryType: 'LOGICAL', HomeDirectory: '/', HomeDirectoryMappings: [{Entry: '/', Target: `/${target.bucket}/migrated/home/${chrootUser.name}`, Type: 'DIRECTORY'}]})
    expect(c.SshPublicKeys!.map((x) => x.SshPublicKeyBody)).toEqual([chrootUser.publicKeyLine])

    expect(await exists(`migrated/home/${keyUser.name}/`)).toBe(0)
    expect(await exists(`migrated/home/${chrootUser.name}/`)).toBe(0)
    expect(await describe_(peer.users.passwordUser.name)).toBeUndefined()

    const state = new SqliteStateStore(project.stateDb)
    const audit = state.auditLog()
    state.close()
    const count = (action: string) => audit.filter((a) => a.action === action && a.outcome === 'ok').length
    expect([count('users.create'), count('users.key.import'), count('users.home-placeholder')]).toEqual([2, 4, 2])
  })

  it('a second run changes nothing', async () => {
    const r = await cli(['users', 'import', '--json'])
    const result = r.json<UsersImportResult>()
    expect(result.plan.summary).toMatchObject({create: 0, update: 0, unchanged: 2, keysToImport: 0, keysToRemove: 0})
    expect(result.summary).toMatchObject({created: 0, updated: 0, unchanged: 2, failed: 0})
    expect(r.code).toBe(3) // still: the two skipped users and the refused keys
    expect((await describe_(peer.users.keyUser.name))!.SshPublicKeys).toHaveLength(3)
  })

  it('imports a key added on the legacy box and deletes one removed from it; --dry-run changes nothing', async () => {
    const {keyUser} = peer.users
    const file = keyUser.authorizedKeysFile!
    const text = readFileSync(file, 'utf8')
    // Remove the RFC 4716 block, add a new key.
    writeFileSync(file, text.replace(/---- BEGIN SSH2 PUBLIC KEY ----[\s\S]*?---- END SSH2 PUBLIC KEY ----\n/, '') + `${pub('new')}\n`)
    await inventory()

    const dry = await cli(['users', 'import', '--dry-run', '--json'])
    const planned = byName(dry.json<UsersImportResult>().plan)[keyUser.name]
    expect(planned.action).toBe('update')
    expect(planned.keys.import.map((k) => k.fingerprint)).toEqual([await fp('new')])
    expect(planned.keys.remove.map((k) => k.fingerprint)).toEqual([await fp('rfc')])
    expect((await describe_(keyUser.name))!.SshPublicKeys!.map((k) => keyPart(k.SshPublicKeyBody))).toContain(keyPart(pub('rfc')))
    expect(dry.json<UsersImportResult>().dryRun).toBe(true)

    const r = await cli(['users', 'import', '--json'])
    const outcome = r.json<UsersImportResult>().outcomes.find((o) => o.userName === keyUser.name)!
    expect(outcome).toMatchObject({outcome: 'updated', keysImported: [await fp('new')], keysRemoved: [await fp('rfc')], errors: []})
    const bodies = (await describe_(keyUser.name))!.SshPublicKeys!.map((k) => k.SshPublicKeyBody).sort()
    expect(bodies).toEqual([keyUser.publicKeyLine!, pub('opts'), pub('new')].sort())

    const again = await cli(['users', 'import', '--json'])
    expect(again.json<UsersImportResult>().plan.summary).toMatchObject({create: 0, update: 0})
  })

  it('imports a rejected name under a new one, keeps its home at the legacy prefix and remembers the rename', async () => {
    const csv = await csvProject([['ab', pub('ab')], ['carol', pub('new')]])
    const run = (args: string[]) => runUsersCli(args, {cwd: csv.dir})
    const skipped = await run(['users', 'import', '--json'])
    expect(skipped.code).toBe(3)
    expect(byName(skipped.json<UsersImportResult>().plan).ab.reasons[0]).toMatchObject({rule: 'user.name-invalid', reason: '"ab" is shorter than 3 characters'})
    expect(byName(skipped.json<UsersImportResult>().plan).ab.reasons[0].fix).toContain('--rename ab=<new name>')

    const r = await run(['users', 'import', '--rename', 'ab=abc', '--only', 'ab', '--json'])
    expect(r.code).toBe(0)
    expect(r.json<UsersImportResult>().summary).toMatchObject({created: 1, failed: 0})
    const u = (await describeOn(csv.target, 'abc'))!
    expect(u.HomeDirectoryMappings).toEqual([{Entry: '/srv/sftp/ab', Target: `/${csv.target.bucket}/migrated/home/ab`, Type: 'DIRECTORY'}])
    expect(u.Tags).toEqual(expect.arrayContaining([{Key: 'sftp-cutover:legacy-name', Value: 'ab'}]))
    expect(await exists('migrated/home/ab/', csv.target.bucket)).toBe(0)

    const plan = (await run(['users', 'plan', '--json'])).json<UsersPlan>()
    expect(byName(plan).ab).toMatchObject({userName: 'abc', renamed: true, action: 'unchanged'})
    expect(plan.renames).toEqual({ab: 'abc'})
    expect((await run(['users', 'plan'])).stdout).toMatch(/^UNCHANGED +abc \(legacy ab\)$/m)

    const bad = await run(['users', 'plan', '--rename', 'ab=x y', '--json'])
    expect(bad.code).toBe(2)
    expect(bad.json<{error: {code: string; message: string}}>().error).toMatchObject({code: 'RENAME_INVALID', message: expect.stringContaining('ab=x y: "x y" is not a valid Transfer user name')})

    // "ab" leaves the legacy box: its Transfer user is reported, and deleted only with --prune.
    await csvProject([['carol', pub('new')]], csv)
    const unknown = (await run(['users', 'plan', '--json'])).json<UsersPlan>()
    expect(unknown.unknown).toMatchObject({names: ['abc'], source: 'state', action: 'report'})
    expect((await run(['users', 'plan'])).stdout).toContain('UNKNOWN    users on the server that the inventory does not know: abc (kept; --prune deletes them)')
    await run(['users', 'import', '--json'])
    expect(await describeOn(csv.target, 'abc')).toBeDefined()
    const pruned = (await run(['users', 'import', '--prune', '--json'])).json<UsersImportResult>()
    expect(pruned.outcomes.find((o) => o.userName === 'abc')).toMatchObject({action: 'delete', outcome: 'deleted'})
    expect(await describeOn(csv.target, 'abc')).toBeUndefined()
    expect(await describeOn(csv.target, 'carol')).toBeDefined()
    expect((await run(['users', 'plan', '--json'])).json<UsersPlan>().unknown.names).toEqual([])
  })

  it('creates a user without keys only with --allow-no-keys', async () => {
    const {passwordUser} = peer.users
    const r = await cli(['users', 'import', '--only', passwordUser.name, '--allow-no-keys', '--json'])
    expect(r.code).toBe(3) // created, but it cannot log in until a key is added
    expect(r.json<UsersImportResult>().summary).toMatchObject({created: 1})
    expect((await describe_(passwordUser.name))!.SshPublicKeys).toEqual([])
    const plan = (await cli(['users', 'plan', '--only', passwordUser.name, '--json'])).json<UsersPlan>()
    expect(plan.users.find((u) => u.legacyName === passwordUser.name)).toMatchObject({action: 'unchanged', exists: true})
  })

  it('refuses bad usage with exit 2: unknown --only names, --interactive without a terminal', async () => {
    const unknown = await cli(['users', 'plan', '--only', 'nobody', '--json'])
    expect(unknown.code).toBe(2)
    expect(unknown.json<{error: {code: string}}>().error.code).toBe('UNKNOWN_USER')

    const wizard = await cli(['users', 'import', '--interactive'])
    expect(wizard.code).toBe(2)
    expect(wizard.stderr).toMatch(/users import --interactive asks who and what to import, and prompting is off/)
    expect(wizard.stderr).toMatch(/Fix: Pass --only NAME,\.\.\. \(who\), --rename LEGACY=NEW/)
  })

  it('path home mode: the home target with the scope-down policy, remembered for the next runs', async () => {
    const other = await createMigrationTarget()
    const p = writeProject(peer, other)
    await inventory(p.dir)
    const r = await runUsersCli(['users', 'import', '--home-mode', 'path', '--only', peer.users.chrootUser.name, '--json'], {cwd: p.dir})
    expect(r.json<UsersImportResult>().summary).toMatchObject({created: 1, failed: 0})
    const u = (await transfer.send(new DescribeUserCommand({ServerId: other.serverId, UserName: peer.users.chrootUser.name}))).User!
    expect(u).toMatchObject({HomeDirectoryType: 'PATH', HomeDirectory: `/${other.bucket}/migrated/home/${peer.users.chrootUser.name}`, Policy: scopeDownPolicy()})
    const plan = (await runUsersCli(['users', 'plan', '--only', peer.users.chrootUser.name, '--json'], {cwd: p.dir})).json<UsersPlan>()
    expect(plan).toMatchObject({homeMode: 'path', homeModeFrom: 'last import', summary: {update: 0, unchanged: 1}})
  })

  it('a failed import remembers no setting: a failed --home-mode path run does not switch the next plan', async () => {
    // The home folder goes to a bucket that does not exist: CreateUser works, the placeholder fails, the run fails.
    const other = await createMigrationTarget()
    const p = writeProject(peer, {...other, bucket: `missing-${other.bucket}`})
    await inventory(p.dir)
    const {chrootUser, keyUser} = peer.users
    const failed = await runUsersCli(['users', 'import', '--home-mode', 'path', '--only', chrootUser.name, '--accept-key-options', keyUser.name, '--json'], {cwd: p.dir})
    expect(failed.code).toBe(1)
    expect(failed.json<UsersImportResult>().summary).toMatchObject({failed: 1})
    expect(failed.json<UsersImportResult>().outcomes.find((o) => o.userName === chrootUser.name)!.errors[0]).toMatch(/^users\.home-placeholder: /)

    const plan = (await runUsersCli(['users', 'plan', '--only', chrootUser.name, '--json'], {cwd: p.dir})).json<UsersPlan>()
    expect(plan).toMatchObject({homeMode: 'logical', homeModeFrom: 'default', accepted: {}})
    // What the failed run left on the server is planned back to the remembered (default) mode.
    expect(plan.users.find((u) => u.legacyName === chrootUser.name)!.changes.map((c) => c.field)).toEqual(expect.arrayContaining(['HomeDirectoryType', 'Policy']))
    const state = new SqliteStateStore(p.stateDb)
    const settings = {homeMode: state.getSetting('users.homeMode'), accepted: new TransferStore(state).acceptances()}
    state.close()
    expect(settings).toEqual({homeMode: undefined, accepted: {}})
  })

  it('EFS-backed server: PosixProfile from the legacy uid and gid, and no S3 home folder', async () => {
    const {ServerId} = await transfer.send(new CreateServerCommand({Protocols: ['SFTP'], IdentityProviderType: 'SERVICE_MANAGED', Domain: 'EFS'}))
    const fsId = 'fs-0123456789abcdef0'
    const efsTarget = {...target, serverId: ServerId!, bucket: fsId}
    const p = writeProject(peer, efsTarget)
    await inventory(p.dir)
    const {chrootUser} = peer.users
    const r = await runUsersCli(['users', 'import', '--only', chrootUser.name, '--json'], {cwd: p.dir})
    const result = r.json<UsersImportResult>()
    expect(result.summary).toMatchObject({created: 1, failed: 0})
    expect(result.plan.server.domain).toBe('EFS')
    expect(result.plan.users.find((u) => u.legacyName === chrootUser.name)!.placeholder).toBeUndefined()
    const u = (await transfer.send(new DescribeUserCommand({ServerId, UserName: chrootUser.name}))).User!
    expect(u).toMatchObject({PosixProfile: {Uid: chrootUser.uid, Gid: chrootUser.gid}, HomeDirectoryMappings: [{Entry: '/', Target: `/${fsId}/migrated/home/${chrootUser.name}`, Type: 'DIRECTORY'}]})
    const again = (await runUsersCli(['users', 'plan', '--only', chrootUser.name, '--json'], {cwd: p.dir})).json<UsersPlan>()
    expect(again.summary).toMatchObject({update: 0, unchanged: 1})
  })
})
