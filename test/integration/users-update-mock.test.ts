/**
 * What moto 5.2.5 cannot show: updating users (UpdateUser, TagResource), finding users the inventory does not know
 * (ListUsers) and resuming after a partial failure. The users service runs through the real SDK adapter
 * (SdkTransfer) against a mocked TransferClient.send that keeps users in memory with the AWS API's semantics
 * (ResourceNotFoundException, UpdateUser leaving out what it is not given, an empty Policy removing it, ListUsers
 * pages); each test asserts the exact request shapes of the calls moto lacks. State is a real SQLite database.
 */
import {
  CreateUserCommand,
  type CreateUserCommandInput,
  DeleteSshPublicKeyCommand,
  DeleteUserCommand,
  DescribeServerCommand,
  DescribeUserCommand,
  type DescribedUser,
  ImportSshPublicKeyCommand,
  ListUsersCommand,
  TagResourceCommand,
  UpdateUserCommand,
  type UpdateUserCommandInput,
} from '@aws-sdk/client-transfer'
import {generateKeyPairSync} from 'node:crypto'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {InventoryStore} from '../../src/adapters/inventory-store.js'
import {SqliteStateStore} from '../../src/adapters/state.js'
import {TransferStore} from '../../src/adapters/transfer-store.js'
import {type HomeFolders, SdkTransfer} from '../../src/adapters/transfer-users.js'
import type {Config} from '../../src/core/config.js'
import {parseHostPrivateKey} from '../../src/core/host-key-import.js'
import type {Account} from '../../src/core/inventory-model.js'
import {scopeDownPolicy} from '../../src/core/scope-down-policy.js'
import {parseAuthorizedKeys} from '../../src/core/ssh-keys.js'
import {planUsersImport, runUsersImport, type UsersDeps} from '../../src/services/users.js'

const SERVER = 's-0123456789abcdef0'
const ROLE = 'arn:aws:iam::123456789012:role/sftp-users'

function publicKey(comment: string): string {
  const parsed = parseHostPrivateKey(generateKeyPairSync('ed25519').privateKey.export({type: 'pkcs8', format: 'pem'}).toString(), 'generated')
  if (!parsed.ok) throw new Error(parsed.message)
  return `${parsed.key.publicKey} ${comment}`
}

/** An in-memory Transfer server behind TransferClient.send, with the API's semantics for the calls used here. */
class FakeTransfer {
  users = new Map<string, DescribedUser>()
  sent: Array<{name: string; input: Record<string, unknown>}> = []
  failImportFor = new Set<string>()
  private nextKey = 1

  client = {send: async (command: {input: Record<string, unknown>; constructor: {name: string}}) => this.handle(command)} as never

  private notFound(name: string): Error {
    return Object.assign(new Error(`Unknown user ${name}`), {name: 'ResourceNotFoundException', $metadata: {httpStatusCode: 400}})
  }

  private user(name: unknown): DescribedUser {
    const u = this.users.get(String(name))
    if (!u) throw this.notFound(String(name))
    return u
  }

  async handle(command: {input: Record<string, unknown>}): Promise<unknown> {
    const input = command.input
    this.sent.push({name: command.constructor.name, input})
    if (command instanceof DescribeServerCommand) return {Server: {Arn: 'arn:s', ServerId: SERVER, Domain: 'S3', IdentityProviderType: 'SERVICE_MANAGED', State: 'ONLINE'}}
    if (command instanceof DescribeUserCommand) return {ServerId: SERVER, User: structuredClone(this.user(input.UserName))}
    if (command instanceof CreateUserCommand) {
      const i = input as unknown as CreateUserCommandInput
      if (this.users.has(i.UserName!)) throw Object.assign(new Error('exists'), {name: 'ResourceExistsException'})
      this.users.set(i.UserName!, {
        Arn: `arn:aws:transfer:us-east-1:123456789012:user/${SERVER}/${i.UserName}`,
        UserName: i.UserName,
        Role: i.Role,
        HomeDirectoryType: i.HomeDirectoryType,
        HomeDirectory: i.HomeDirectory,
        HomeDirectoryMappings: i.HomeDirectoryMappings,
        Policy: i.Policy,
        PosixProfile: i.PosixProfile,
        Tags: i.Tags,
        SshPublicKeys: [],
      })
      return {ServerId: SERVER, UserName: i.UserName}
    }
    if (command instanceof UpdateUserCommand) {
      const i = input as unknown as UpdateUserCommandInput
      const u = this.user(i.UserName)
      for (const k of ['Role', 'HomeDirectoryType', 'HomeDirectory', 'HomeDirectoryMappings', 'PosixProfile'] as const) if (i[k] !== undefined) (u as unknown as Record<string, unknown>)[k] = i[k]
      if (i.Policy !== undefined) u.Policy = i.Policy === '' ? undefined : i.Policy
      return {ServerId: SERVER, UserName: i.UserName}
    }
    if (command instanceof TagResourceCommand) {
      const u = [...this.users.values()].find((x) => x.Arn === input.Arn)
      if (!u) throw Object.assign(new Error('no resource'), {name: 'ResourceNotFoundException'})
      const tags = new Map((u.Tags ?? []).map((t) => [t.Key, t.Value]))
      for (const t of input.Tags as Array<{Key: string; Value: string}>) tags.set(t.Key, t.Value)
      u.Tags = [...tags].map(([Key, Value]) => ({Key, Value}))
      return {}
    }
    if (command instanceof ImportSshPublicKeyCommand) {
      const u = this.user(input.UserName)
      if (this.failImportFor.delete(String(input.UserName))) throw Object.assign(new Error('Rate exceeded'), {name: 'ThrottlingException', $metadata: {httpStatusCode: 400}})
      const id = `key-${String(this.nextKey++).padStart(17, '0')}`
      u.SshPublicKeys!.push({SshPublicKeyId: id, SshPublicKeyBody: String(input.SshPublicKeyBody), DateImported: new Date()})
      return {ServerId: SERVER, UserName: input.UserName, SshPublicKeyId: id}
    }
    if (command instanceof DeleteSshPublicKeyCommand) {
      const u = this.user(input.UserName)
      u.SshPublicKeys = u.SshPublicKeys!.filter((k) => k.SshPublicKeyId !== input.SshPublicKeyId)
      return {}
    }
    if (command instanceof DeleteUserCommand) {
      this.user(input.UserName)
      this.users.delete(String(input.UserName))
      return {}
    }
    if (command instanceof ListUsersCommand) {
      const names = [...this.users.keys()].sort()
      const start = input.NextToken ? Number(input.NextToken) : 0
      const max = Math.min(Number(input.MaxResults ?? 100), 2) // small pages, to exercise NextToken
      const page = names.slice(start, start + max)
      return {
        ServerId: SERVER,
        Users: page.map((n) => ({Arn: this.users.get(n)!.Arn, UserName: n, HomeDirectoryType: this.users.get(n)!.HomeDirectoryType, Role: this.users.get(n)!.Role, SshPublicKeyCount: 0})),
        ...(start + max < names.length ? {NextToken: String(start + max)} : {}),
      }
    }
    throw new Error(`unexpected command ${command.constructor.name}`)
  }

  calls(name: string) {
    return this.sent.filter((s) => s.name === name).map((s) => s.input)
  }
}

function account(name: string, over: Partial<Account>): Account {
  return {name, uid: 1000, gid: 1000, groups: [], home: `/home/${name}`, shell: '/bin/bash', sftpRoot: `/home/${name}`, dataRoot: `/home/${name}`, login: {password: false, key: true}, keys: [], authorizedKeysFiles: [], sources: {}, ...over}
}

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'sct-users-mock-'))
  const state = new SqliteStateStore(join(dir, 'state.db'))
  const fake = new FakeTransfer()
  const homes = new Set<string>()
  const folders: HomeFolders = {exists: async (k) => homes.has(k), create: async (k) => void homes.add(k)}
  const config = {
    source: {host: 'legacy', port: 22, username: 'root', useAgent: false, roots: [], hostKeyFingerprint: `SHA256:${'A'.repeat(43)}`},
    target: {region: 'us-east-1', bucket: 'acme', prefix: 'migrated', transferServerId: SERVER, userRoleArn: ROLE},
    efs: {},
    dns: {},
  } as unknown as Config
  const deps = (over: Partial<Config['target']> = {}): UsersDeps => ({
    config: {...config, target: {...config.target, ...over}},
    state,
    transfer: new SdkTransfer(fake.client, SERVER),
    homes: folders,
    log: () => {},
  })
  const inventory = (accounts: Account[]) => {
    const store = new InventoryStore(state)
    const run = store.beginRun('legacy:22')
    store.addAccounts(run, accounts)
    store.finishRun(run, 'complete', 'online')
  }
  return {state, fake, homes, deps, inventory}
}

const opts = {allowNoKeys: false, prune: false, dryRun: false}

describe('users import with the calls moto lacks (mocked TransferClient.send)', () => {
  const aliceKey = publicKey('alice@laptop')
  const bobKeys = [publicKey('bob@laptop'), publicKey('bob@desktop')]
  const alice = account('alice', {uid: 1001, chroot: '/srv/chroot/alice', sftpRoot: '/srv/chroot/alice', dataRoot: '/srv/chroot/alice', home: '/srv/chroot/alice', keys: parseAuthorizedKeys(aliceKey, 'a')})
  const bob = account('bob', {uid: 1002, keys: parseAuthorizedKeys(bobKeys.join('\n'), 'b')})

  it('resumes after a partial failure: the failed user is finished on the next run, nothing is done twice', async () => {
    const {fake, deps, inventory, state} = setup()
    inventory([alice, bob])
    fake.failImportFor.add('bob') // bob's first key import is throttled
    const first = await runUsersImport(deps(), opts)
    expect(first.failed).toBe(true)
    expect(first.outcomes.map((o) => [o.userName, o.outcome])).toEqual([['alice', 'created'], ['bob', 'failed']])
    expect(first.outcomes[1].errors[0]).toMatch(/^users\.key\.import: ThrottlingException: Rate exceeded$/)
    expect(fake.users.get('bob')!.SshPublicKeys).toHaveLength(1)
    expect(new TransferStore(state).users(SERVER).map((u) => [u.userName, u.status])).toEqual([['alice', 'applied'], ['bob', 'failed']])

    const second = await runUsersImport(deps(), opts)
    expect(second.failed).toBe(false)
    expect(second.plan.users.map((u) => [u.userName, u.action, u.keys.import.length])).toEqual([['alice', 'unchanged', 0], ['bob', 'update', 1]])
    expect(fake.users.get('bob')!.SshPublicKeys!.map((k) => k.SshPublicKeyBody).sort()).toEqual([...bobKeys].sort())
    expect(fake.calls('CreateUserCommand')).toHaveLength(2)

    const third = await planUsersImport(deps(), opts)
    expect(third.summary).toMatchObject({create: 0, update: 0, unchanged: 2})
  })

  it('updates what changed with UpdateUser (every attribute) and TagResource (the managed tags)', async () => {
    const {fake, deps, inventory} = setup()
    inventory([alice, bob])
    await runUsersImport(deps(), opts)
    fake.sent = []
    inventory([alice, {...bob, uid: 2002}])
    const newRole = 'arn:aws:iam::123456789012:role/sftp-users-v2'
    const r = await runUsersImport(deps({userRoleArn: newRole}), opts)
    expect(r.plan.users.find((u) => u.userName === 'bob')!.changes.map((c) => c.field)).toEqual(['Role', 'Tags'])
    expect(fake.calls('UpdateUserCommand')).toEqual([
      {
        ServerId: SERVER,
        UserName: 'alice',
        Role: newRole,
        HomeDirectoryType: 'LOGICAL',
        HomeDirectory: '/',
        HomeDirectoryMappings: [{Entry: '/', Target: '/acme/migrated/home/alice', Type: 'DIRECTORY'}],
      },
      {
        ServerId: SERVER,
        UserName: 'bob',
        Role: newRole,
        HomeDirectoryType: 'LOGICAL',
        HomeDirectory: '/home/bob',
        HomeDirectoryMappings: [{Entry: '/home/bob', Target: '/acme/migrated/home/bob', Type: 'DIRECTORY'}],
      },
    ])
    expect(fake.calls('TagResourceCommand')).toEqual([{Arn: `arn:aws:transfer:us-east-1:123456789012:user/${SERVER}/bob`, Tags: [{Key: 'sftp-cutover:legacy-uid', Value: '2002'}]}])
    expect((await planUsersImport(deps({userRoleArn: newRole}), opts)).summary).toMatchObject({update: 0, unchanged: 2})
  })

  it('switches to path mode with the session policy, and back to logical removing it (empty Policy)', async () => {
    const {fake, deps, inventory} = setup()
    inventory([bob])
    await runUsersImport(deps(), opts)
    fake.sent = []
    await runUsersImport(deps(), {...opts, homeMode: 'path'})
    expect(fake.calls('UpdateUserCommand')).toEqual([
      {ServerId: SERVER, UserName: 'bob', Role: ROLE, HomeDirectoryType: 'PATH', HomeDirectory: '/acme/migrated/home/bob', Policy: scopeDownPolicy()},
    ])
    fake.sent = []
    await runUsersImport(deps(), {...opts, homeMode: 'logical'})
    expect(fake.calls('UpdateUserCommand')).toEqual([
      {
        ServerId: SERVER,
        UserName: 'bob',
        Role: ROLE,
        HomeDirectoryType: 'LOGICAL',
        HomeDirectory: '/home/bob',
        HomeDirectoryMappings: [{Entry: '/home/bob', Target: '/acme/migrated/home/bob', Type: 'DIRECTORY'}],
        Policy: '',
      },
    ])
    expect(fake.users.get('bob')!.Policy).toBeUndefined()
    expect((await planUsersImport(deps(), opts)).summary).toMatchObject({update: 0, unchanged: 1})
  })

  it('finds users the inventory does not know with ListUsers, and deletes them only with --prune', async () => {
    const {fake, deps, inventory} = setup()
    inventory([alice, bob])
    await runUsersImport(deps(), opts)
    for (const name of ['svc-backup', 'svc-report']) {
      await fake.handle(new CreateUserCommand({ServerId: SERVER, UserName: name, Role: ROLE}) as never)
    }
    fake.sent = []
    const plan = await planUsersImport(deps(), opts)
    expect(plan.unknown).toEqual({names: ['svc-backup', 'svc-report'], source: 'ListUsers', action: 'report'})
    expect(fake.calls('ListUsersCommand')).toEqual([
      {ServerId: SERVER, MaxResults: 1000, NextToken: undefined},
      {ServerId: SERVER, MaxResults: 1000, NextToken: '2'},
    ])
    const kept = await runUsersImport(deps(), opts)
    expect(kept.outcomes.filter((o) => o.action === 'delete')).toEqual([])
    expect(fake.users.has('svc-backup')).toBe(true)

    fake.sent = []
    const pruned = await runUsersImport(deps(), {...opts, prune: true})
    expect(pruned.outcomes.filter((o) => o.action === 'delete').map((o) => [o.userName, o.outcome])).toEqual([
      ['svc-backup', 'deleted'],
      ['svc-report', 'deleted'],
    ])
    expect(fake.calls('DeleteUserCommand')).toEqual([
      {ServerId: SERVER, UserName: 'svc-backup'},
      {ServerId: SERVER, UserName: 'svc-report'},
    ])
    expect([...fake.users.keys()].sort()).toEqual(['alice', 'bob'])
  })
})
