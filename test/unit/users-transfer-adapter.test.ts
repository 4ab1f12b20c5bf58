/**
 * The Transfer adapter's requests, checked against the AWS API shapes with a mocked TransferClient.send. moto 5.2.5
 * has no ListUsers, UpdateUser, TagResource, ImportHostKey, ListHostKeys or DeleteHostKey, so these calls are
 * tested here: each test asserts the command class and its exact input (the adapter builds the inputs with the SDK's
 * own input types, so tsc checks the field names and types), and feeds back responses shaped like the API's.
 * Everything moto implements is tested against moto in test/integration/users-import.test.ts.
 */
import {
  CreateUserCommand,
  DeleteHostKeyCommand,
  DescribeUserCommand,
  ImportHostKeyCommand,
  type ImportHostKeyCommandOutput,
  ListHostKeysCommand,
  type ListHostKeysCommandOutput,
  ListUsersCommand,
  type ListUsersCommandOutput,
  TagResourceCommand,
  UpdateUserCommand,
} from '@aws-sdk/client-transfer'

import {OperationNotAvailable, SdkTransfer, isNotAvailable, isNotFound, redactKeyMaterial, toActualUser} from '../../src/adapters/transfer-users.js'
import type {UserSpec} from '../../src/core/users-plan.js'

type Sent = {command: unknown; input: unknown}

/** A TransferClient.send that records every command and answers from a script. */
function mockClient(answer: (command: unknown) => unknown) {
  const sent: Sent[] = []
  return {
    sent,
    client: {
      send: async (command: {input: unknown}) => {
        sent.push({command, input: command.input})
        const r = answer(command)
        if (r instanceof Error) throw r
        return r
      },
    } as never,
  }
}

const SERVER = 's-0123456789abcdef0'
const logical: UserSpec = {
  userName: 'alice',
  role: 'arn:aws:iam::123456789012:role/sftp-users',
  homeDirectoryType: 'LOGICAL',
  homeDirectory: '/home/alice',
  homeDirectoryMappings: [{Entry: '/home/alice', Target: '/acme/migrated/home/alice', Type: 'DIRECTORY'}],
  tags: {'sftp-cutover:legacy-uid': '1001', 'sftp-cutover:legacy-name': 'alice', 'sftp-cutover:source-host': 'legacy:22'},
}

/** The error moto gives for an operation it lacks: an HTML 500 the JSON deserializer chokes on. */
function motoMissing(): Error {
  return Object.assign(new SyntaxError('Unexpected token \'<\', "<!doctype "... is not valid JSON\n  Deserialization error: to see the raw response, inspect the hidden field {error}.$response on this object.'), {
    $metadata: {httpStatusCode: 500},
  })
}

describe('users (mocked TransferClient.send)', () => {
  it('ListUsers: pages through NextToken', async () => {
    const pages: ListUsersCommandOutput[] = [
      {ServerId: SERVER, Users: [{Arn: 'arn:a', UserName: 'alice'}, {Arn: 'arn:b', UserName: 'bob'}], NextToken: 't1', $metadata: {}},
      {ServerId: SERVER, Users: [{Arn: 'arn:c', UserName: 'carol'}], $metadata: {}},
    ]
    const {sent, client} = mockClient(() => pages.shift())
    expect(await new SdkTransfer(client, SERVER).listUserNames()).toEqual(['alice', 'bob', 'carol'])
    expect(sent.map((s) => s.command)).toEqual([expect.any(ListUsersCommand), expect.any(ListUsersCommand)])
    expect(sent.map((s) => s.input)).toEqual([
      {ServerId: SERVER, MaxResults: 1000, NextToken: undefined},
      {ServerId: SERVER, MaxResults: 1000, NextToken: 't1'},
    ])
  })

  it('ListUsers missing at the endpoint (moto) becomes OperationNotAvailable', async () => {
    const {client} = mockClient(() => motoMissing())
    await expect(new SdkTransfer(client, SERVER).listUserNames()).rejects.toEqual(new OperationNotAvailable('ListUsers'))
    expect(isNotAvailable(motoMissing())).toBe(true)
    expect(isNotAvailable(Object.assign(new Error('Access denied'), {name: 'AccessDeniedException', $metadata: {httpStatusCode: 400}}))).toBe(false)
  })

  it('UpdateUser: every attribute of a logical home (UpdateUser leaves out what it is not given)', async () => {
    const {sent, client} = mockClient(() => ({ServerId: SERVER, UserName: 'alice', $metadata: {}}))
    await new SdkTransfer(client, SERVER).updateUser(logical, {clearPolicy: false})
    expect(sent[0].command).toBeInstanceOf(UpdateUserCommand)
    expect(sent[0].input).toEqual({
      ServerId: SERVER,
      UserName: 'alice',
      Role: 'arn:aws:iam::123456789012:role/sftp-users',
      HomeDirectoryType: 'LOGICAL',
      HomeDirectory: '/home/alice',
      HomeDirectoryMappings: [{Entry: '/home/alice', Target: '/acme/migrated/home/alice', Type: 'DIRECTORY'}],
    })
  })

  it('UpdateUser: a path home with its session policy and PosixProfile; an empty Policy clears one', async () => {
    const {sent, client} = mockClient(() => ({ServerId: SERVER, UserName: 'alice', $metadata: {}}))
    const t = new SdkTransfer(client, SERVER)
    await t.updateUser({...logical, homeDirectoryType: 'PATH', homeDirectory: '/acme/migrated/home/alice', homeDirectoryMappings: undefined, policy: '{"Version":"2012-10-17"}', posixProfile: {uid: 1001, gid: 1001}}, {clearPolicy: false})
    expect(sent[0].input).toEqual({
      ServerId: SERVER,
      UserName: 'alice',
      Role: 'arn:aws:iam::123456789012:role/sftp-users',
      HomeDirectoryType: 'PATH',
      HomeDirectory: '/acme/migrated/home/alice',
      Policy: '{"Version":"2012-10-17"}',
      PosixProfile: {Uid: 1001, Gid: 1001},
    })
    await t.updateUser(logical, {clearPolicy: true})
    expect((sent[1].input as {Policy?: string}).Policy).toBe('')
  })

  it('TagResource: the user ARN and Key/Value pairs', async () => {
    const {sent, client} = mockClient(() => ({$metadata: {}}))
    await new SdkTransfer(client, SERVER).tagUser('arn:aws:transfer:us-east-1:123456789012:user/s-0123456789abcdef0/alice', {'sftp-cutover:legacy-uid': '7'})
    expect(sent[0].command).toBeInstanceOf(TagResourceCommand)
    expect(sent[0].input).toEqual({Arn: 'arn:aws:transfer:us-east-1:123456789012:user/s-0123456789abcdef0/alice', Tags: [{Key: 'sftp-cutover:legacy-uid', Value: '7'}]})
  })

  it('CreateUser: attributes and tags, no key (keys are imported one by one)', async () => {
    const {sent, client} = mockClient(() => ({ServerId: SERVER, UserName: 'alice', $metadata: {}}))
    await new SdkTransfer(client, SERVER).createUser(logical)
    expect(sent[0].command).toBeInstanceOf(CreateUserCommand)
    expect(sent[0].input).toEqual({
      ServerId: SERVER,
      UserName: 'alice',
      Role: 'arn:aws:iam::123456789012:role/sftp-users',
      HomeDirectoryType: 'LOGICAL',
      HomeDirectory: '/home/alice',
      HomeDirectoryMappings: [{Entry: '/home/alice', Target: '/acme/migrated/home/alice', Type: 'DIRECTORY'}],
      Tags: [
        {Key: 'sftp-cutover:legacy-uid', Value: '1001'},
        {Key: 'sftp-cutover:legacy-name', Value: 'alice'},
        {Key: 'sftp-cutover:source-host', Value: 'legacy:22'},
      ],
    })
  })

  it('DescribeUser: absent users (ResourceNotFoundException on AWS, UserNotFound on moto) are undefined', async () => {
    for (const name of ['ResourceNotFoundException', 'UserNotFound']) {
      const {sent, client} = mockClient(() => Object.assign(new Error('no such user'), {name, $metadata: {httpStatusCode: 400}}))
      expect(await new SdkTransfer(client, SERVER).describeUser('nobody')).toBeUndefined()
      expect(sent[0].command).toBeInstanceOf(DescribeUserCommand)
      expect(sent[0].input).toEqual({ServerId: SERVER, UserName: 'nobody'})
    }
    expect(isNotFound(Object.assign(new Error('x'), {name: 'ThrottlingException'}))).toBe(false)
  })

  it('reads DescribeUser\'s answer; moto\'s nulls and empty PosixProfile count as absent', () => {
    const u = toActualUser({
      Arn: 'arn:u',
      UserName: 'alice',
      Role: 'arn:role',
      HomeDirectoryType: 'LOGICAL',
      HomeDirectoryMappings: [{Entry: '/', Target: '/b/home/alice'}],
      Policy: null as never,
      PosixProfile: {} as never,
      SshPublicKeys: [{SshPublicKeyId: 'key-1', SshPublicKeyBody: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP0000000000000000000000000000000000000000000 c', DateImported: new Date()}],
      Tags: [{Key: 'k', Value: 'v'}],
    })
    expect(u).toMatchObject({policy: undefined, posixProfile: undefined, homeDirectory: undefined, tags: {k: 'v'}, homeDirectoryMappings: [{Entry: '/', Target: '/b/home/alice'}]})
    expect(u.keys[0]).toMatchObject({id: 'key-1', type: 'ssh-ed25519', comment: 'c', fingerprint: expect.stringMatching(/^SHA256:/)})
  })
})

describe('host keys (mocked TransferClient.send)', () => {
  const pem = '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAsecret\n-----END OPENSSH PRIVATE KEY-----\n'

  it('ImportHostKey: ServerId, HostKeyBody and Description; returns the HostKeyId', async () => {
    const out: ImportHostKeyCommandOutput = {ServerId: SERVER, HostKeyId: 'hostkey-0123456789abcdef0', $metadata: {}}
    const {sent, client} = mockClient(() => out)
    expect(await new SdkTransfer(client, SERVER).importHostKey(pem, 'sftp-cutover: legacy host:22 ssh-ed25519')).toBe('hostkey-0123456789abcdef0')
    expect(sent[0].command).toBeInstanceOf(ImportHostKeyCommand)
    expect(sent[0].input).toEqual({ServerId: SERVER, HostKeyBody: pem, Description: 'sftp-cutover: legacy host:22 ssh-ed25519'})
  })

  it('an ImportHostKey error never carries key material along', async () => {
    const {client} = mockClient(() => Object.assign(new Error(`Invalid host key: ${pem}`), {name: 'InvalidRequestException', $metadata: {httpStatusCode: 400}}))
    const err = (await new SdkTransfer(client, SERVER).importHostKey(pem, 'd').catch((e: Error) => e)) as Error
    expect(err.message).toBe('ImportHostKey failed: InvalidRequestException: Invalid host key: [private key removed]')
    expect(redactKeyMaterial('x -----BEGIN RSA PRIVATE KEY-----\nabc')).toBe('x [private key removed]')
  })

  it('ListHostKeys: pages, and the fields as plain data (DateImported as ISO time)', async () => {
    const pages: ListHostKeysCommandOutput[] = [
      {ServerId: SERVER, HostKeys: [{Arn: 'arn:h1', HostKeyId: 'hostkey-1', Type: 'ssh-rsa', Fingerprint: 'SHA256:abc', Description: 'd', DateImported: new Date('2025-01-02T03:04:05Z')}], NextToken: 'n', $metadata: {}},
      {ServerId: SERVER, HostKeys: [{Arn: 'arn:h2', HostKeyId: 'hostkey-2', Type: 'ssh-ed25519', Fingerprint: 'SHA256:def'}], $metadata: {}},
    ]
    const {sent, client} = mockClient(() => pages.shift())
    expect(await new SdkTransfer(client, SERVER).listHostKeys()).toEqual([
      {id: 'hostkey-1', type: 'ssh-rsa', fingerprint: 'SHA256:abc', description: 'd', dateImported: '2025-01-02T03:04:05.000Z'},
      {id: 'hostkey-2', type: 'ssh-ed25519', fingerprint: 'SHA256:def', description: undefined, dateImported: undefined},
    ])
    expect(sent.map((s) => s.command)).toEqual([expect.any(ListHostKeysCommand), expect.any(ListHostKeysCommand)])
    expect(sent.map((s) => s.input)).toEqual([
      {ServerId: SERVER, MaxResults: 1000, NextToken: undefined},
      {ServerId: SERVER, MaxResults: 1000, NextToken: 'n'},
    ])
  })

  it('DeleteHostKey: ServerId and HostKeyId', async () => {
    const {sent, client} = mockClient(() => ({$metadata: {}}))
    await new SdkTransfer(client, SERVER).deleteHostKey('hostkey-1')
    expect(sent[0].command).toBeInstanceOf(DeleteHostKeyCommand)
    expect(sent[0].input).toEqual({ServerId: SERVER, HostKeyId: 'hostkey-1'})
  })

  it('ImportHostKey and ListHostKeys missing at the endpoint become OperationNotAvailable', async () => {
    const {client} = mockClient(() => motoMissing())
    const t = new SdkTransfer(client, SERVER)
    await expect(t.importHostKey(pem, 'd')).rejects.toEqual(new OperationNotAvailable('ImportHostKey'))
    await expect(t.listHostKeys()).rejects.toEqual(new OperationNotAvailable('ListHostKeys'))
  })
})
