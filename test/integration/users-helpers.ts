/**
 * Shared by the users and hostkeys integration tests: the inventory of a peer sshd, a project directory against
 * moto, and a CLI runner.
 *
 * users-import.test.ts runs the real `inventory` command (online, as root) against its own peer. The wizard and
 * hostkeys tests record the inventory of the shared peer directly with InventoryStore (recordInventory below):
 * the same accounts and host keys `inventory` finds there, read the way it reads them (passwd fields, the chroot
 * from the Match block, authorized_keys parsed by core/ssh-keys.ts), plus synthetic accounts a real box cannot
 * safely have here (names Transfer rejects), without walking the shared peer's sample trees each time.
 */
import {execFile} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {InventoryStore} from '../../src/adapters/inventory-store.js'
import {SqliteStateStore} from '../../src/adapters/state.js'
import type {Account} from '../../src/core/inventory-model.js'
import {parseAuthorizedKeys, parseHostKeyLine} from '../../src/core/ssh-keys.js'
import type {MigrationTarget} from '../fixtures/aws-target.js'
import type {PeerUser, SshdInfo} from '../peers/env.js'
import {type CliRun, runCli} from './helpers/cli.js'
import {binaries} from '../peers/paths.js'


function authorizedKeys(user: PeerUser): Account['keys'] {
  if (!user.authorizedKeysFile) return []
  return parseAuthorizedKeys(readFileSync(user.authorizedKeysFile, 'utf8'), user.authorizedKeysFile)
}

/** The accounts inventory collects from a peer sshd (root excluded, as a system account). */
export function peerAccounts(sshd: SshdInfo): Account[] {
  const {keyUser, passwordUser, chrootUser} = sshd.users
  const plain = (u: PeerUser, password: boolean): Account => ({
    name: u.name,
    uid: u.uid,
    gid: u.gid,
    groups: [],
    home: u.home,
    shell: u.shell,
    sftpRoot: u.home,
    dataRoot: u.home,
    login: {password, key: authorizedKeys(u).length > 0},
    keys: authorizedKeys(u),
    authorizedKeysFiles: u.authorizedKeysFile ? [u.authorizedKeysFile] : [],
    sources: {keys: 'authorized_keys', uid: 'getent'},
  })
  return [
    plain(keyUser, false),
    plain(passwordUser, true),
    {...plain(chrootUser, false), groups: [sshd.group], chroot: chrootUser.sftpRoot, sftpRoot: chrootUser.sftpRoot, dataRoot: chrootUser.sftpRoot, forceCommand: 'internal-sftp'},
  ]
}

/** Records a complete inventory run in the project's state database; returns its id. */
export function recordInventory(stateDb: string, sshd: SshdInfo, extra: Account[] = []): number {
  const state = new SqliteStateStore(stateDb)
  try {
    const store = new InventoryStore(state)
    const runId = store.beginRun(`${sshd.host}:${sshd.port}`)
    store.addAccounts(runId, [...peerAccounts(sshd), ...extra])
    store.addHostKeys(runId, sshd.hostKeys.map((k) => parseHostKeyLine(k.publicKeyLine)))
    store.finishRun(runId, 'complete', 'online', {owners: [], findings: {blocker: 0, warning: 0, info: 0}, accounts: 3 + extra.length, hostKeys: sshd.hostKeys.length})
    return runId
  } finally {
    state.close()
  }
}

/** A project directory whose sftp-cutover.yaml points at the peer (as root) and the moto target. */
export function writeProject(sshd: SshdInfo, target: MigrationTarget, opts: {prefix?: string; roleArn?: string} = {}): {dir: string; configFile: string; stateDb: string; logFile: string} {
  const dir = mkdtempSync(join(tmpdir(), 'sct-users-'))
  const configFile = join(dir, 'sftp-cutover.yaml')
  writeFileSync(
    configFile,
    [
      'source:',
      `  host: ${sshd.host}`,
      `  port: ${sshd.port}`,
      '  username: root',
      `  identityFile: ${sshd.users.adminUser.privateKeyPath}`,
      `  knownHostsFile: ${sshd.knownHostsFile}`,
      'target:',
      `  region: ${target.region}`,
      `  endpoint: ${target.endpoint}`,
      `  transferServerId: ${target.serverId}`,
      `  bucket: ${target.bucket}`,
      `  prefix: ${opts.prefix ?? 'migrated'}`,
      `  userRoleArn: ${opts.roleArn ?? target.roleArn}`,
      '',
    ].join('\n'),
  )
  mkdirSync(join(dir, '.sftp-cutover'), {recursive: true})
  return {dir, configFile, stateDb: join(dir, '.sftp-cutover', 'state.db'), logFile: join(dir, '.sftp-cutover', 'sftp-cutover.log')}
}

export const MOTO_ENV = {AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_EC2_METADATA_DISABLED: 'true'}

/** Runs the built CLI (helpers/cli.ts runCli) with moto's credentials. */
export function runUsersCli(args: string[], opts: {cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number}): Promise<CliRun> {
  return runCli(args, {...opts, env: {...MOTO_ENV, ...opts.env}})
}

/** ssh-keygen, for keys of kinds the peers do not make (DSA, short RSA) and for format conversions. */
export function sshKeygen(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binaries.sshKeygen, args, (err, stdout, stderr) => (err ? reject(new Error(`ssh-keygen ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout)))
  })
}
