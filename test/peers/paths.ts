import {existsSync} from 'node:fs'
import {homedir, tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

/** Pinned peer versions; keep in step with scripts/install-peers.sh. */
export const VERSITYGW_VERSION = 'v1.8.0'
export const MOTO_VERSION = '5.2.5'

/** The repository root (this file is test/peers/paths.ts). */
export const repoRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
/** The ignored folder written by scripts/install-peers.sh. */
export const peersDir: string = join(repoRoot, '.peers')
/** Where descriptions of running peers are written (JSON). */
export const runDir: string = join(peersDir, 'run')

export const INSTALL_HINT = 'run `bash scripts/install-peers.sh` (as root) first'

export const binaries = {
  sshd: '/usr/sbin/sshd',
  sshKeygen: '/usr/bin/ssh-keygen',
  ssh: '/usr/bin/ssh',
  sftp: '/usr/bin/sftp',
  rclone: '/usr/bin/rclone',
  motoServer: join(peersDir, 'venv', 'bin', 'moto_server'),
  cfnLint: join(peersDir, 'venv', 'bin', 'cfn-lint'),
  /** Linked by install-peers.sh to its build in the peer cache. */
  cfnGuard: join(peersDir, 'bin', 'cfn-guard'),
  /** SFTP_CUTOVER_VERSITYGW overrides; else the link made by install-peers.sh; else the cache path. */
  get versitygw(): string {
    const fromEnv = process.env.SFTP_CUTOVER_VERSITYGW
    if (fromEnv) return fromEnv
    const link = join(peersDir, 'bin', 'versitygw')
    if (existsSync(link)) return link
    const cache = process.env.SFTP_CUTOVER_PEER_CACHE ?? join(homedir(), '.cache', 'sftp-cutover', 'peers')
    return join(cache, `versitygw-${VERSITYGW_VERSION}`, 'versitygw')
  },
  /** the link made by install-peers.sh (bench/wan.ts only) */
  toxiproxy: join(peersDir, 'bin', 'toxiproxy-server'),
}

/** Throws a clear error when a peer binary is missing. */
export function requireBinary(name: string, path: string): string {
  if (!existsSync(path)) throw new Error(`${name} not found at ${path}: ${INSTALL_HINT}`)
  return path
}

/**
 * Parent for temporary dirs of moto and versitygw (SFTP_CUTOVER_PEER_TMP overrides; must support
 * user xattrs for versitygw's posix backend).
 */
export function peerTmpBase(): string {
  return process.env.SFTP_CUTOVER_PEER_TMP ?? tmpdir()
}

/**
 * Parent for sshd run dirs. Not /tmp: every component of a ChrootDirectory must be root-owned and not
 * group/world-writable, which /tmp (1777) is not.
 */
export function sshdBase(): string {
  return process.env.SFTP_CUTOVER_SSHD_BASE ?? '/var/lib/sftp-cutover-peers'
}
