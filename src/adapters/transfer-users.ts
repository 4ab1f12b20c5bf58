/**
 * AWS Transfer Family: users, their SSH keys and the server's host keys, bound to one server. The only code that
 * calls Transfer for users and host keys; services depend on the small interfaces, tests on a fake or on moto.
 *
 * Stand-ins: moto 5.2.5 implements CreateUser, DescribeUser, DeleteUser, ImportSshPublicKey, DeleteSshPublicKey and
 * DescribeServer, but not ListUsers, UpdateUser, TagResource, ImportHostKey, ListHostKeys or DeleteHostKey (it
 * answers those with an HTML 500). An operation the endpoint does not have raises OperationNotAvailable, which the
 * services turn into a fallback or a clear message.
 */
import {HeadObjectCommand, PutObjectCommand, type S3Client} from '@aws-sdk/client-s3'
import {
  CreateUserCommand,
  type CreateUserCommandInput,
  DeleteHostKeyCommand,
  DeleteSshPublicKeyCommand,
  DeleteUserCommand,
  DescribeServerCommand,
  DescribeUserCommand,
  type DescribedUser,
  type HomeDirectoryMapEntry,
  ImportHostKeyCommand,
  ImportSshPublicKeyCommand,
  ListHostKeysCommand,
  ListUsersCommand,
  TagResourceCommand,
  type TransferClient,
  UpdateUserCommand,
  type UpdateUserCommandInput,
} from '@aws-sdk/client-transfer'

import {publicKeyInfo, type ActualUser, type MappingEntry, type UserSpec} from '../core/users-plan.js'
import type {ServerHostKey} from '../core/host-key-import.js'
import {errorMessage} from '../core/errors.js'

/** The endpoint does not implement the operation (an emulator); real AWS always does. */
export class OperationNotAvailable extends Error {
  constructor(readonly operation: string) {
    super(`${operation} is not available at this endpoint`)
    this.name = 'OperationNotAvailable'
  }
}

export interface TransferServerInfo {
  serverId: string
  domain: 'S3' | 'EFS'
  identityProviderType?: string
  state?: string
  protocols: string[]
  hostKeyFingerprint?: string
}

/** The users of one Transfer server. */
export interface TransferUsers {
  readonly serverId: string
  describeServer(): Promise<TransferServerInfo>
  /** undefined when there is no such user */
  describeUser(userName: string): Promise<ActualUser | undefined>
  /** every user name on the server; throws OperationNotAvailable where ListUsers is missing */
  listUserNames(): Promise<string[]>
  createUser(spec: UserSpec): Promise<void>
  /** sets the user's attributes (not keys, not tags) to the spec; clearPolicy removes a session policy */
  updateUser(spec: UserSpec, opts: {clearPolicy: boolean}): Promise<void>
  tagUser(arn: string, tags: Record<string, string>): Promise<void>
  deleteUser(userName: string): Promise<void>
  /** returns the SshPublicKeyId */
  importSshPublicKey(userName: string, body: string): Promise<string>
  deleteSshPublicKey(userName: string, sshPublicKeyId: string): Promise<void>
}

/** The host keys of one Transfer server. */
export interface TransferHostKeys {
  readonly serverId: string
  describeServer(): Promise<TransferServerInfo>
  /** throws OperationNotAvailable where ListHostKeys is missing */
  listHostKeys(): Promise<ServerHostKey[]>
  /** `body` is the private key: it goes into this one request and nowhere else. Returns the HostKeyId. */
  importHostKey(body: string, description: string): Promise<string>
  deleteHostKey(hostKeyId: string): Promise<void>
}

/** Zero-byte "directory" objects that make a user's home exist before any file does. */
export interface HomeFolders {
  exists(key: string): Promise<boolean>
  create(key: string): Promise<void>
}

type AwsError = Error & {$metadata?: {httpStatusCode?: number}; $fault?: string}

/** An operation the endpoint lacks: an HTML error page that fails to deserialize, or an "unknown operation" error. */
export function isNotAvailable(err: unknown): boolean {
  const e = err as AwsError
  if (!(e instanceof Error)) return false
  if (['UnknownOperationException', 'InvalidAction', 'NotImplemented', 'NotImplementedException'].includes(e.name)) return true
  const status = e.$metadata?.httpStatusCode ?? 0
  return (status === 404 || status === 500 || status === 501) && (e.name === 'SyntaxError' || /Deserialization error|not valid JSON/.test(e.message))
}

/** Transfer says ResourceNotFoundException; moto says UserNotFound. */
export function isNotFound(err: unknown): boolean {
  const e = err as AwsError
  return e instanceof Error && (e.name === 'ResourceNotFoundException' || e.name === 'UserNotFound')
}

async function call<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (err) {
    if (isNotAvailable(err)) throw new OperationNotAvailable(operation)
    throw err
  }
}

function mappings(list: HomeDirectoryMapEntry[] | undefined): MappingEntry[] | undefined {
  if (!list || list.length === 0) return undefined
  return list.map((m) => ({Entry: m.Entry ?? '', Target: m.Target ?? '', ...(m.Type ? {Type: m.Type} : {})}))
}

/** DescribeUser's answer as plain data; emulators' nulls and empty objects count as absent. */
export function toActualUser(u: DescribedUser): ActualUser {
  const posix = u.PosixProfile
  return {
    userName: u.UserName ?? '',
    arn: u.Arn ?? '',
    role: u.Role ?? undefined,
    homeDirectoryType: u.HomeDirectoryType ?? undefined,
    homeDirectory: u.HomeDirectory ?? undefined,
    homeDirectoryMappings: mappings(u.HomeDirectoryMappings ?? undefined),
    policy: u.Policy || undefined,
    posixProfile: posix && typeof posix.Uid === 'number' && typeof posix.Gid === 'number' ? {uid: posix.Uid, gid: posix.Gid} : undefined,
    tags: Object.fromEntries((u.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
    keys: (u.SshPublicKeys ?? []).map((k) => {
      const body = k.SshPublicKeyBody ?? ''
      const info = publicKeyInfo(body)
      return {id: k.SshPublicKeyId ?? '', body, ...(info ? {fingerprint: info.fingerprint, type: info.type, comment: info.comment} : {})}
    }),
  }
}

function tagList(tags: Record<string, string>): Array<{Key: string; Value: string}> {
  return Object.entries(tags).map(([Key, Value]) => ({Key, Value}))
}

/** CreateUser's input for a spec: every attribute, the tags, no key (keys are imported one by one to get their ids). */
export function createUserInput(serverId: string, spec: UserSpec): CreateUserCommandInput {
  return {
    ServerId: serverId,
    UserName: spec.userName,
    Role: spec.role,
    HomeDirectoryType: spec.homeDirectoryType,
    HomeDirectory: spec.homeDirectory,
    ...(spec.homeDirectoryType === 'LOGICAL' ? {HomeDirectoryMappings: spec.homeDirectoryMappings} : {}),
    ...(spec.policy ? {Policy: spec.policy} : {}),
    ...(spec.posixProfile ? {PosixProfile: {Uid: spec.posixProfile.uid, Gid: spec.posixProfile.gid}} : {}),
    Tags: tagList(spec.tags),
  }
}

/**
 * UpdateUser's input: the full set of attributes, since UpdateUser leaves out what it is not given. Mappings are
 * only sent for LOGICAL homes (the API wants at least one); an empty Policy removes a session policy (what the
 * Terraform provider sends when a policy is dropped).
 */
export function updateUserInput(serverId: string, spec: UserSpec, clearPolicy: boolean): UpdateUserCommandInput {
  return {
    ServerId: serverId,
    UserName: spec.userName,
    Role: spec.role,
    HomeDirectoryType: spec.homeDirectoryType,
    HomeDirectory: spec.homeDirectory,
    ...(spec.homeDirectoryType === 'LOGICAL' ? {HomeDirectoryMappings: spec.homeDirectoryMappings} : {}),
    ...(spec.policy ? {Policy: spec.policy} : clearPolicy ? {Policy: ''} : {}),
    ...(spec.posixProfile ? {PosixProfile: {Uid: spec.posixProfile.uid, Gid: spec.posixProfile.gid}} : {}),
  }
}

/** The SDK implementation. `client` is anything with TransferClient's send (tests pass a recording fake). */
export class SdkTransfer implements TransferUsers, TransferHostKeys {
  constructor(
    private readonly client: Pick<TransferClient, 'send'>,
    readonly serverId: string,
  ) {}

  async describeServer(): Promise<TransferServerInfo> {
    const {Server} = await call('DescribeServer', () => this.client.send(new DescribeServerCommand({ServerId: this.serverId})))
    return {
      serverId: this.serverId,
      domain: Server?.Domain === 'EFS' ? 'EFS' : 'S3',
      identityProviderType: Server?.IdentityProviderType ?? undefined,
      state: Server?.State ?? undefined,
      protocols: Server?.Protocols ?? [],
      hostKeyFingerprint: Server?.HostKeyFingerprint ?? undefined,
    }
  }

  async describeUser(userName: string): Promise<ActualUser | undefined> {
    try {
      const {User} = await call('DescribeUser', () => this.client.send(new DescribeUserCommand({ServerId: this.serverId, UserName: userName})))
      return User ? toActualUser(User) : undefined
    } catch (err) {
      if (isNotFound(err)) return undefined
      throw err
    }
  }

  async listUserNames(): Promise<string[]> {
    const names: string[] = []
    let token: string | undefined
    do {
      const page = await call('ListUsers', () => this.client.send(new ListUsersCommand({ServerId: this.serverId, MaxResults: 1000, NextToken: token})))
      for (const u of page.Users ?? []) if (u.UserName) names.push(u.UserName)
      token = page.NextToken || undefined
    } while (token)
    return names
  }

  async createUser(spec: UserSpec): Promise<void> {
    await call('CreateUser', () => this.client.send(new CreateUserCommand(createUserInput(this.serverId, spec))))
  }

  async updateUser(spec: UserSpec, opts: {clearPolicy: boolean}): Promise<void> {
    await call('UpdateUser', () => this.client.send(new UpdateUserCommand(updateUserInput(this.serverId, spec, opts.clearPolicy))))
  }

  async tagUser(arn: string, tags: Record<string, string>): Promise<void> {
    await call('TagResource', () => this.client.send(new TagResourceCommand({Arn: arn, Tags: tagList(tags)})))
  }

  async deleteUser(userName: string): Promise<void> {
    try {
      await call('DeleteUser', () => this.client.send(new DeleteUserCommand({ServerId: this.serverId, UserName: userName})))
    } catch (err) {
      if (!isNotFound(err)) throw err
    }
  }

  async importSshPublicKey(userName: string, body: string): Promise<string> {
    const r = await call('ImportSshPublicKey', () => this.client.send(new ImportSshPublicKeyCommand({ServerId: this.serverId, UserName: userName, SshPublicKeyBody: body})))
    return r.SshPublicKeyId ?? ''
  }

  async deleteSshPublicKey(userName: string, sshPublicKeyId: string): Promise<void> {
    await call('DeleteSshPublicKey', () => this.client.send(new DeleteSshPublicKeyCommand({ServerId: this.serverId, UserName: userName, SshPublicKeyId: sshPublicKeyId})))
  }

  async listHostKeys(): Promise<ServerHostKey[]> {
    const keys: ServerHostKey[] = []
    let token: string | undefined
    do {
      const page = await call('ListHostKeys', () => this.client.send(new ListHostKeysCommand({ServerId: this.serverId, MaxResults: 1000, NextToken: token})))
      for (const k of page.HostKeys ?? []) {
        keys.push({
          id: k.HostKeyId ?? '',
          type: k.Type ?? undefined,
          fingerprint: k.Fingerprint ?? undefined,
          description: k.Description ?? undefined,
          dateImported: k.DateImported ? new Date(k.DateImported).toISOString() : undefined,
        })
      }
      token = page.NextToken || undefined
    } while (token)
    return keys
  }

  async importHostKey(body: string, description: string): Promise<string> {
    try {
      const r = await call('ImportHostKey', () => this.client.send(new ImportHostKeyCommand({ServerId: this.serverId, HostKeyBody: body, Description: description})))
      return r.HostKeyId ?? ''
    } catch (err) {
      // Errors are shown and logged: make sure none can carry the request (the private key) along.
      if (err instanceof OperationNotAvailable) throw err
      const e = err as AwsError
      throw Object.assign(new Error(`ImportHostKey failed: ${e.name}: ${redactKeyMaterial(errorMessage(e))}`), {name: e.name, $metadata: e.$metadata})
    }
  }

  async deleteHostKey(hostKeyId: string): Promise<void> {
    await call('DeleteHostKey', () => this.client.send(new DeleteHostKeyCommand({ServerId: this.serverId, HostKeyId: hostKeyId})))
  }
}

/** A message that quotes PEM/OpenSSH armour loses everything between the markers. */
export function redactKeyMaterial(text: string): string {
  return text.replace(/-----BEGIN[^-]*-----[\s\S]*?(-----END[^-]*-----\s*|$)/g, '[private key removed]')
}

/** Home placeholders in the target bucket, encrypted with the configured KMS key when there is one. */
export class S3HomeFolders implements HomeFolders {
  constructor(
    private readonly s3: Pick<S3Client, 'send'>,
    private readonly bucket: string,
    private readonly kmsKeyId?: string,
  ) {}

  async exists(key: string): Promise<boolean> {
    try {
      await this.s3.send(new HeadObjectCommand({Bucket: this.bucket, Key: key}))
      return true
    } catch (err) {
      const e = err as AwsError
      if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return false
      throw err
    }
  }

  async create(key: string): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: '',
        ContentLength: 0,
        ...(this.kmsKeyId ? {ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: this.kmsKeyId} : {}),
      }),
    )
  }
}
