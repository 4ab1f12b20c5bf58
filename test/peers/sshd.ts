/**
 * A throwaway OpenSSH sshd on 127.0.0.1, run as root with its own config, host keys and Linux users:
 * the stand-in for the legacy SFTP box. See startSshd().
 */
import {randomBytes} from 'node:crypto'
import {appendFileSync, existsSync} from 'node:fs'
import {chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, writeFile} from 'node:fs/promises'
import {connect} from 'node:net'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {freePort} from './free-port.js'
import {binaries, requireBinary, sshdBase} from './paths.js'
import {
  type ManagedProcess,
  descendantPids,
  isAlive,
  killPids,
  pidsOfUid,
  portWasTaken,
  run,
  startProcess,
  waitGone,
  waitUntilReady,
} from './proc.js'
import {type SampleTree, bigSampleContent, writeSampleTree} from './sample-tree.js'
import {type SshKeyType, generateKey} from './ssh-keys.js'

export type {SampleEntry, SampleTree} from './sample-tree.js'
export type {SshKeyType} from './ssh-keys.js'

/** A throwaway Linux user served by the peer sshd. */
export interface PeerUser {
  name: string
  uid: number
  gid: number
  /** real path of the home directory on this machine (for the chrooted user: its chroot directory) */
  home: string
  /** what the user sees as `/` over SFTP: '/' when not chrooted, else the real chroot path */
  sftpRoot: string
  shell: string
  chrooted: boolean
  /** set for the password user */
  password?: string
  /** client private key (OpenSSH format, unencrypted, mode 0600, root-owned) for key users */
  privateKeyPath?: string
  /** the key's OpenSSH one-line public key, as in authorized_keys */
  publicKeyLine?: string
  /** real path of the authorized_keys file holding publicKeyLine */
  authorizedKeysFile?: string
  /** present with startSshd({sampleTree: true}) */
  sampleTree?: SampleTree
}

export interface SshdHostKey {
  /** the key type as in a public key line */
  type: SshKeyType
  /** host key algorithms (ssh2 `algorithms.serverHostKey`) that make sshd present this key */
  algorithms: string[]
  /** 'SHA256:' + unpadded base64 of sha256(key blob), as `ssh-keygen -lf` prints it */
  fingerprint: string
  publicKeyLine: string
  privateKeyPath: string
}

/** Plain, JSON-serialisable description of a running peer sshd. */
export interface SshdInfo {
  host: '127.0.0.1'
  port: number
  /** pid of the listening sshd */
  pid: number
  /** short random id used in user and group names */
  runId: string
  /** root-owned run directory holding config, keys, homes and chroots */
  dir: string
  configFile: string
  /** `[127.0.0.1]:PORT <type> <base64>` per host key, usable as ssh -o UserKnownHostsFile= */
  knownHostsFile: string
  hostKeys: SshdHostKey[]
  /** adminUser is root, allowed in with a key only (PermitRootLogin prohibit-password): the login an engineer
   *  uses to read accounts, sshd's effective configuration and every authorized_keys file. */
  users: {keyUser: PeerUser; passwordUser: PeerUser; chrootUser: PeerUser; adminUser: PeerUser}
  /** the chrooted group (`Match Group`) */
  group: string
  /** real path under which each chrooted user has its chroot directory (`ChrootDirectory <chrootBase>/%u`) */
  chrootBase: string
}

export interface SshdPeer extends SshdInfo {
  /** Stops sshd and its sessions, removes the users, the group and the run directory. */
  stop(): Promise<void>
}

export interface StartSshdOptions {
  /** write a sample tree into each user's area (see sample-tree.ts) */
  sampleTree?: boolean
  /**
   * Append sshd's log (LogLevel VERBOSE) to this file, each line as rsyslog writes auth.log on Debian 12:
   * "<ISO time> 127.0.0.1 sshd[<pid>]: <message>" (sshd -E alone writes no time).
   */
  logFile?: string
}

const HOST_KEY_TYPES: Array<{type: SshKeyType; file: string; algorithms: string[]}> = [
  {type: 'ssh-ed25519', file: 'ssh_host_ed25519_key', algorithms: ['ssh-ed25519']},
  {type: 'ecdsa-sha2-nistp256', file: 'ssh_host_ecdsa_key', algorithms: ['ecdsa-sha2-nistp256']},
  // OpenSSH 9 does not offer the SHA-1 `ssh-rsa` signature algorithm by default.
  {type: 'ssh-rsa', file: 'ssh_host_rsa_key', algorithms: ['rsa-sha2-512', 'rsa-sha2-256']},
]

const OWNER_FILE = 'owner.json'

interface OwnerRecord {
  ownerPid: number
  sshdPid?: number
  configFile: string
  users: string[]
  groups: string[]
}

/** Starts a peer sshd. Must run as root. On failure everything created so far is removed. */
export async function startSshd(options: StartSshdOptions = {}): Promise<SshdPeer> {
  if (process.getuid?.() !== 0) {
    throw new Error('the peer sshd must run as root (it serves several throwaway users and chroots one)')
  }
  requireBinary('sshd', binaries.sshd)
  requireBinary('ssh-keygen', binaries.sshKeygen)
  await mkdir('/run/sshd', {recursive: true, mode: 0o755})
  const base = sshdBase()
  await mkdir(base, {recursive: true, mode: 0o755})
  await chmod(base, 0o755)
  await sweepStaleSshdRuns()

  const runId = await pickRunId()
  const dir = await mkdtemp(join(base, `sshd-${runId}-`))
  await chmod(dir, 0o755)
  const names = {keyUser: `sc${runId}k`, passwordUser: `sc${runId}p`, chrootUser: `sc${runId}c`, group: `sc${runId}g`}
  const owner: OwnerRecord = {
    ownerPid: process.pid,
    configFile: join(dir, 'sshd_config'),
    users: [names.keyUser, names.passwordUser, names.chrootUser],
    groups: [names.group],
  }
  await writeOwner(dir, owner)
  let proc: ManagedProcess | undefined
  try {
    const started = await setUp(dir, runId, names, owner, options)
    proc = started.proc
    const {info} = started
    let stopped: Promise<void> | undefined
    return {
      ...info,
      stop: () => (stopped ??= teardown(dir, owner, proc)),
    }
  } catch (error) {
    await teardown(dir, owner, proc).catch((cleanupError: unknown) => {
      console.error(`peer sshd: cleanup after a failed start also failed: ${String(cleanupError)}`)
    })
    throw error
  }
}

async function setUp(
  dir: string,
  runId: string,
  names: {keyUser: string; passwordUser: string; chrootUser: string; group: string},
  owner: OwnerRecord,
  options: StartSshdOptions,
): Promise<{proc: ManagedProcess; info: SshdInfo}> {
  const homeBase = join(dir, 'home')
  const chrootBase = join(dir, 'chroot')
  const centralKeys = join(dir, 'authorized_keys')
  const clientKeys = join(dir, 'client-keys')
  for (const d of [homeBase, chrootBase, centralKeys, clientKeys]) await mkdir(d, {mode: 0o755})
  await chmod(clientKeys, 0o700)

  // Keys: host keys of three types, an ed25519 key for keyUser and for root, an rsa-3072 key for chrootUser.
  const [hostKeys, userKey, chrootKey, adminKey] = await Promise.all([
    Promise.all(
      HOST_KEY_TYPES.map(async (k) => {
        const key = await generateKey(k.type, join(dir, k.file), `sftp-cutover-peer-host-${runId}`)
        return {type: k.type, algorithms: k.algorithms, fingerprint: key.fingerprint, publicKeyLine: key.publicKeyLine, privateKeyPath: key.privateKeyPath}
      }),
    ),
    generateKey('ssh-ed25519', join(clientKeys, `${names.keyUser}_ed25519`), `${names.keyUser}@sftp-cutover-peer`),
    generateKey('ssh-rsa', join(clientKeys, `${names.chrootUser}_rsa`), `${names.chrootUser}@sftp-cutover-peer`),
    generateKey('ssh-ed25519', join(clientKeys, `root_${runId}_ed25519`), `root@sftp-cutover-peer-${runId}`),
  ])

  // Users and group.
  await sys('groupadd', [names.group])
  const keyHome = join(homeBase, names.keyUser)
  const passwordHome = join(homeBase, names.passwordUser)
  const chrootDir = join(chrootBase, names.chrootUser)
  await sys('useradd', ['-M', '-U', '-d', keyHome, '-s', '/bin/bash', '-c', 'sftp-cutover peer key user', names.keyUser])
  await sys('useradd', ['-M', '-U', '-d', passwordHome, '-s', '/bin/bash', '-c', 'sftp-cutover peer password user', names.passwordUser])
  await sys('useradd', [
    '-M', '-U', '-G', names.group, '-d', chrootDir, '-s', '/usr/sbin/nologin', '-c', 'sftp-cutover peer chrooted user', names.chrootUser,
  ])
  // With UsePAM no, sshd refuses accounts whose password field starts with '!' (useradd's default).
  await sys('usermod', ['-p', '*', names.keyUser])
  await sys('usermod', ['-p', '*', names.chrootUser])
  const password = randomBytes(18).toString('base64url')
  await sys('chpasswd', [], `${names.passwordUser}:${password}\n`)

  const [keyIds, passwordIds, chrootIds] = await Promise.all([ids(names.keyUser), ids(names.passwordUser), ids(names.chrootUser)])

  // Homes: owned by their users, not group/world-writable (StrictModes).
  for (const [home, id] of [
    [keyHome, keyIds],
    [passwordHome, passwordIds],
  ] as const) {
    await mkdir(home, {mode: 0o755})
    await chown(home, id.uid, id.gid)
    await chmod(home, 0o755)
  }
  const sshDir = join(keyHome, '.ssh')
  await mkdir(sshDir, {mode: 0o700})
  await chown(sshDir, keyIds.uid, keyIds.gid)
  const keyUserAuthorized = join(sshDir, 'authorized_keys')
  await writeFile(keyUserAuthorized, `${userKey.publicKeyLine}\n`, {mode: 0o600})
  await chown(keyUserAuthorized, keyIds.uid, keyIds.gid)

  // Chroot: every component root-owned and not group/world-writable; a writable upload dir inside.
  await mkdir(chrootDir, {mode: 0o755})
  await chmod(chrootDir, 0o755)
  const upload = join(chrootDir, 'upload')
  await mkdir(upload, {mode: 0o755})
  await chown(upload, chrootIds.uid, chrootIds.gid)
  // The chrooted user's key sits in a root-owned central file (a common legacy layout).
  const chrootAuthorized = join(centralKeys, names.chrootUser)
  await writeFile(chrootAuthorized, `${chrootKey.publicKeyLine}\n`, {mode: 0o644})
  // root's key only in this peer's central directory: other sshd instances on the machine do not read it.
  const adminAuthorized = join(centralKeys, 'root')
  await writeFile(adminAuthorized, `${adminKey.publicKeyLine}\n`, {mode: 0o600})

  const users: SshdInfo['users'] = {
    keyUser: {
      name: names.keyUser,
      ...keyIds,
      home: keyHome,
      sftpRoot: '/',
      shell: '/bin/bash',
      chrooted: false,
      privateKeyPath: userKey.privateKeyPath,
      publicKeyLine: userKey.publicKeyLine,
      authorizedKeysFile: keyUserAuthorized,
    },
    passwordUser: {name: names.passwordUser, ...passwordIds, home: passwordHome, sftpRoot: '/', shell: '/bin/bash', chrooted: false, password},
    chrootUser: {
      name: names.chrootUser,
      ...chrootIds,
      home: chrootDir,
      sftpRoot: chrootDir,
      shell: '/usr/sbin/nologin',
      chrooted: true,
      privateKeyPath: chrootKey.privateKeyPath,
      publicKeyLine: chrootKey.publicKeyLine,
      authorizedKeysFile: chrootAuthorized,
    },
    adminUser: {
      name: 'root',
      uid: 0,
      gid: 0,
      home: '/root',
      sftpRoot: '/',
      shell: '/bin/bash',
      chrooted: false,
      privateKeyPath: adminKey.privateKeyPath,
      publicKeyLine: adminKey.publicKeyLine,
      authorizedKeysFile: adminAuthorized,
    },
  }

  if (options.sampleTree) {
    const big = bigSampleContent()
    for (const user of [users.keyUser, users.passwordUser]) {
      user.sampleTree = {root: user.home, sftpPath: user.home, entries: await writeSampleTree(user.home, user, user.name, big)}
    }
    users.chrootUser.sampleTree = {root: upload, sftpPath: '/upload', entries: await writeSampleTree(upload, users.chrootUser, users.chrootUser.name, big)}
  }

  // Config and daemon; retry on another port if the free port was taken meanwhile.
  const configFile = owner.configFile
  const knownHostsFile = join(dir, 'known_hosts')
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    await writeFile(
      configFile,
      sshdConfig({port, dir, hostKeys, centralKeys, chrootBase, group: names.group, users: [...Object.values(names).slice(0, 3), 'root']}),
      {mode: 0o644},
    )
    await writeFile(knownHostsFile, hostKeys.map((k) => `[127.0.0.1]:${port} ${k.publicKeyLine.split(/\s+/).slice(0, 2).join(' ')}\n`).join(''), {mode: 0o644})
    const proc = startProcess('sshd', binaries.sshd, ['-f', configFile, '-D', '-e'])
    if (options.logFile) {
      const logFile = options.logFile
      let partial = ''
      proc.child.stderr?.on('data', (chunk: Buffer) => {
        const lines = (partial + chunk.toString('utf8')).split('\n')
        partial = lines.pop() ?? ''
        if (lines.length) appendFileSync(logFile, lines.map((l) => `${new Date().toISOString()} 127.0.0.1 sshd[${proc.pid}]: ${l.replace(/\r$/, '')}\n`).join(''))
      })
    }
    owner.sshdPid = proc.pid
    await writeOwner(dir, owner)
    try {
      await waitUntilReady(proc, () => sshBanner(port), {timeoutMs: 15_000, what: `did not answer with an SSH banner on 127.0.0.1:${port}`})
    } catch (error) {
      await proc.stop()
      if (attempt < 3 && portWasTaken(proc)) continue
      throw error
    }
    return {
      proc,
      info: {host: '127.0.0.1', port, pid: proc.pid, runId, dir, configFile, knownHostsFile, hostKeys, users, group: names.group, chrootBase},
    }
  }
}

function sshdConfig(c: {
  port: number
  dir: string
  hostKeys: SshdHostKey[]
  centralKeys: string
  chrootBase: string
  group: string
  users: string[]
}): string {
  return [
    '# sftp-cutover test peer (generated)',
    `Port ${c.port}`,
    'ListenAddress 127.0.0.1',
    ...c.hostKeys.map((k) => `HostKey ${k.privateKeyPath}`),
    `PidFile ${join(c.dir, 'sshd.pid')}`,
    'UsePAM no',
    'PasswordAuthentication yes',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    'StrictModes yes',
    `AuthorizedKeysFile .ssh/authorized_keys ${c.centralKeys}/%u`,
    `AllowUsers ${c.users.join(' ')}`,
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'X11Forwarding no',
    'LogLevel VERBOSE',
    // benchmarks open many connections at once; the default 10:30:100 drops some
    'MaxStartups 100:30:200',
    'Subsystem sftp internal-sftp',
    '',
    `Match Group ${c.group}`,
    `    ChrootDirectory ${c.chrootBase}/%u`,
    '    ForceCommand internal-sftp',
    '    AllowTcpForwarding no',
    '    PermitTTY no',
    '    X11Forwarding no',
    '',
  ].join('\n')
}

/** True when 127.0.0.1:port answers with an SSH identification string. */
async function sshBanner(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect({host: '127.0.0.1', port})
    let data = ''
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(2000, () => done(false))
    socket.on('error', () => done(false))
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1')
      if (data.includes('\n')) done(data.startsWith('SSH-2.0-'))
    })
    socket.on('end', () => done(false))
  })
}

/** Stops sshd (and its per-connection processes), ends the users' processes, removes users and dir. */
async function teardown(dir: string, owner: OwnerRecord, proc: ManagedProcess | undefined): Promise<void> {
  const problems: string[] = []
  if (proc && !proc.exit()) {
    const sessions = descendantPids(proc.pid)
    await proc.stop()
    killPids(sessions, 'SIGTERM')
    killPids(await waitGone(sessions, 2000), 'SIGKILL')
  }
  problems.push(...(await removeUsersAndGroups(owner.users, owner.groups)))
  await rm(dir, {recursive: true, force: true}).catch((error: unknown) => problems.push(`rm ${dir}: ${String(error)}`))
  if (problems.length > 0) throw new Error(`peer sshd teardown: ${problems.join('; ')}`)
}

async function removeUsersAndGroups(users: string[], groups: string[]): Promise<string[]> {
  const problems: string[] = []
  for (const name of users) {
    const id = await ids(name).catch(() => undefined)
    if (!id) continue
    const pids = pidsOfUid(id.uid)
    killPids(pids, 'SIGTERM')
    killPids(await waitGone(pids, 2000), 'SIGKILL')
    await waitGone(pids, 2000)
    // Homes live in the run directory, which is removed afterwards; -r also drops a mail spool.
    await sys('userdel', ['-r', name]).catch(async (error: unknown) => {
      if (await ids(name).catch(() => undefined)) problems.push(String(error))
    })
  }
  for (const group of groups) {
    if (!(await groupExists(group))) continue
    await sys('groupdel', [group]).catch((error: unknown) => problems.push(String(error)))
  }
  return problems
}

/**
 * Removes what crashed runs left behind: run dirs whose owning process is gone, their sshd (only if
 * its command line names that run's config), their users and groups.
 */
export async function sweepStaleSshdRuns(): Promise<string[]> {
  const base = sshdBase()
  if (!existsSync(base)) return []
  const swept: string[] = []
  for (const entry of await readdir(base)) {
    if (!entry.startsWith('sshd-')) continue
    const dir = join(base, entry)
    let owner: OwnerRecord
    try {
      owner = JSON.parse(await readFile(join(dir, OWNER_FILE), 'utf8')) as OwnerRecord
    } catch {
      continue // being created right now by someone else, or not ours
    }
    if (owner.ownerPid === process.pid || isAlive(owner.ownerPid)) continue
    if (owner.sshdPid && isAlive(owner.sshdPid)) {
      const cmdline = await readFile(`/proc/${owner.sshdPid}/cmdline`, 'utf8').catch(() => '')
      if (cmdline.includes(owner.configFile)) {
        killPids([owner.sshdPid], 'SIGTERM')
        killPids(await waitGone([owner.sshdPid], 3000), 'SIGKILL')
      }
    }
    await removeUsersAndGroups(owner.users, owner.groups)
    await rm(dir, {recursive: true, force: true})
    swept.push(dir)
  }
  return swept
}

async function writeOwner(dir: string, owner: OwnerRecord): Promise<void> {
  await writeFile(join(dir, OWNER_FILE), JSON.stringify(owner), {mode: 0o644})
}

async function pickRunId(): Promise<string> {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
  for (;;) {
    const bytes = randomBytes(5)
    const id = Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('')
    const taken = await Promise.all(['k', 'p', 'c'].map((s) => ids(`sc${id}${s}`).then(() => true, () => false)))
    if (!taken.includes(true) && !(await groupExists(`sc${id}g`))) return id
  }
}

async function ids(name: string): Promise<{uid: number; gid: number}> {
  const {stdout} = await run('/usr/bin/getent', ['passwd', name])
  const fields = stdout.trim().split(':')
  return {uid: Number(fields[2]), gid: Number(fields[3])}
}

async function groupExists(name: string): Promise<boolean> {
  return run('/usr/bin/getent', ['group', name]).then(
    () => true,
    () => false,
  )
}

/** Runs a shadow-utils command, retrying while another process holds the passwd/group lock. */
async function sys(command: string, args: string[], input?: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await run(`/usr/sbin/${command}`, args, {input})
      return
    } catch (error) {
      const stderr = (error as {stderr?: string}).stderr ?? ''
      if (attempt < 20 && /lock|try again/i.test(stderr)) {
        await sleep(100 * attempt)
        continue
      }
      throw error
    }
  }
}
