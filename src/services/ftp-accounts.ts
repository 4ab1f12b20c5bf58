/**
 * Where the inventory gets accounts when the box speaks FTP, which cannot list them: the FTP server's own user file
 * (a copy given with --ftp-server/--ftp-users-file), or the collect script over SSH when the same box also answers
 * SSH (source.sshHost/source.sshPort), under the same host key rules as an SFTP source. --users-csv and
 * --from-bundle work as for SFTP (inventory.ts).
 */
import {readFile} from 'node:fs/promises'

import {type AskSecret, resolveCredentials, SshError, SshSession} from '../adapters/ssh.js'
import {accountsFromBundle, parseBundle} from '../core/bundle.js'
import {collectScript} from '../core/collect-script.js'
import {accountsSshTarget, type Config} from '../core/config.js'
import {CliError, ExitCode, errorMessage, usageError} from '../core/errors.js'
import {type FtpAccounts, type FtpServer, parsePureftpdPasswd, parseVsftpdAccounts, type TextFile} from '../core/ftp-users.js'
import type {Account} from '../core/inventory-model.js'

export interface FtpUsersFiles {
  server: FtpServer
  /** pure-ftpd: a copy of pureftpd.passwd; vsftpd: a copy of its user_list */
  usersFile?: string
  /** vsftpd: a copy of vsftpd.conf */
  ftpConfig?: string
  /** vsftpd: a copy of /etc/passwd */
  passwdFile?: string
  /** vsftpd: a copy of its chroot_list */
  chrootList?: string
}

export interface AccountsReading {
  accounts: Account[]
  source: 'online' | 'none'
  notes: string[]
}

async function readCopy(path: string | undefined, flag: string): Promise<TextFile | undefined> {
  if (path === undefined) return undefined
  const text = await readFile(path, 'utf8').catch((err: unknown) => {
    throw new CliError(`cannot read ${path} (${flag}): ${errorMessage(err)}`, {exitCode: ExitCode.usage, code: 'FTP_USERS_UNREADABLE'})
  })
  return {file: path, text}
}

/** The accounts in copies of the FTP server's user files (see core/ftp-users.ts). */
export async function accountsFromFtpFiles(files: FtpUsersFiles, opts: {includeSystem: boolean}): Promise<FtpAccounts> {
  const [users, conf, passwd, chrootList] = await Promise.all([
    readCopy(files.usersFile, '--ftp-users-file'),
    readCopy(files.ftpConfig, '--ftp-config'),
    readCopy(files.passwdFile, '--passwd-file'),
    readCopy(files.chrootList, '--chroot-list'),
  ])
  if (files.server === 'pure-ftpd') {
    if (!users) throw usageError('--ftp-server pure-ftpd reads the virtual users from a copy of pureftpd.passwd', ['Pass it with --ftp-users-file FILE (pure-pw keeps it in /etc/pure-ftpd/pureftpd.passwd).'], 'FTP_USERS_MISSING')
    const extra = [conf && '--ftp-config', passwd && '--passwd-file', chrootList && '--chroot-list'].filter(Boolean)
    if (extra.length > 0) throw usageError(`${extra.join(', ')}: only for --ftp-server vsftpd`, ['Leave them out for pure-ftpd: its users file holds the homes and chroots.'], 'FTP_USERS_MISMATCH')
    return parsePureftpdPasswd(users)
  }
  if (!conf || !passwd) {
    throw usageError('--ftp-server vsftpd reads its local users from copies of vsftpd.conf and /etc/passwd', ['Pass them with --ftp-config FILE and --passwd-file FILE (and --ftp-users-file FILE, --chroot-list FILE when vsftpd.conf enables those lists).'], 'FTP_USERS_MISSING')
  }
  return parseVsftpdAccounts({conf, passwd, userList: users, chrootList}, opts)
}

/**
 * The collect script over an SSH connection (the same script admins run by hand). With ftp, sshd's login rules and
 * chroots are not applied (see accountsFromBundle).
 */
export async function collectScriptAccounts(session: SshSession, opts: {sshdConfig?: string; includeSystem: boolean; ftp?: boolean}, port: number, log: (msg: string, detail?: Record<string, unknown>) => void): Promise<AccountsReading> {
  let output: Buffer
  try {
    const r = await session.exec('sh -s', {stdin: collectScript({sshdConfig: opts.sshdConfig, port}), timeoutMs: 120_000})
    if (r.code !== 0 || !r.stdout.toString('utf8').trimStart().startsWith('{')) {
      throw new Error(r.stderr.toString('utf8').trim() || r.stdout.toString('utf8').trim().slice(0, 200) || `exit ${r.code}`)
    }
    output = r.stdout
  } catch (err) {
    log('exec refused: accounts not collected', {reason: errorMessage(err)})
    return {accounts: [], source: 'none', notes: [`the login cannot run commands (${errorMessage(err)})`]}
  }
  const {accounts, errors} = accountsFromBundle(parseBundle(output.toString('utf8'), 'collect script output'), {includeSystem: opts.includeSystem, ftp: opts.ftp})
  return {accounts, source: 'online', notes: errors}
}

/**
 * An FTP source's accounts over SSH, at source.sshHost:source.sshPort (default source.host:22). No SSH there, or a
 * login it refuses, leaves the accounts unread (a note says why, and the inventory's finding names the other ways);
 * a host key that does not verify stops the inventory, as it does for an SFTP source.
 */
export async function ftpAccountsOverSsh(
  config: Config,
  opts: {sshdConfig?: string; includeSystem: boolean},
  deps: {env: NodeJS.ProcessEnv; askSecret?: AskSecret; log: (msg: string, detail?: Record<string, unknown>) => void},
): Promise<AccountsReading> {
  const target = accountsSshTarget(config.source)
  const where = `${target.host}:${target.port}`
  if (!target.hostKeyFingerprint && !target.knownHostsFile) {
    return {accounts: [], source: 'none', notes: [`FTP cannot list accounts, and no SSH host key is configured to read them over SSH at ${where} (source.hostKeyFingerprint or source.knownHostsFile)`]}
  }
  const creds = await resolveCredentials(target, deps.env, deps.askSecret)
  let session: SshSession
  try {
    session = await SshSession.connect(target, creds)
  } catch (err) {
    if (!(err instanceof SshError) || err.code === 'HOST_KEY_REJECTED') throw err
    deps.log('no SSH for the accounts', {where, reason: errorMessage(err)})
    return {accounts: [], source: 'none', notes: [`FTP cannot list accounts, and SSH at ${where} did not let them be read (${errorMessage(err)})`]}
  }
  try {
    const reading = await collectScriptAccounts(session, {...opts, ftp: true}, target.port, deps.log)
    if (reading.source === 'none') return {...reading, notes: reading.notes.map((n) => `FTP cannot list accounts, and over SSH at ${where} ${n}`)}
    const scope = `accounts read over SSH at ${where}: every regular account with a password or a key, not the FTP server's own rules (its user lists were not read, and virtual users such as pure-ftpd's are not in passwd: read them with --ftp-server)`
    return {...reading, notes: [...reading.notes, scope]}
  } finally {
    session.close()
  }
}
