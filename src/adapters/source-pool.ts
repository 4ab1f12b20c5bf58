import type {Config} from '../core/config.js'
import type {SourcePool} from '../core/source.js'
import {FtpPool} from './ftp-pool.js'
import {type FtpCredentials, resolveFtpCredentials} from './ftp-client.js'
import {SftpPool} from './sftp-pool.js'
import {type AskSecret, resolveCredentials, type SshCredentials} from './ssh.js'

export interface SourcePoolOptions {
  /** SSH connections (SFTP), or FTP control connections */
  connections: number
  /** SFTP: operations sharing one channel. FTP carries one operation per control connection, so it is not used there. */
  perConnection: number
  onEvent?: (event: string, detail: Record<string, unknown>) => void
}

export interface OpenedSource {
  pool: SourcePool
  /** SFTP only: the SSH credentials, for what runs over SSH besides reading (source-side sha256sum) */
  sshCreds?: SshCredentials
  /** FTP only: the password, for a session of one's own (the inventory's probe) */
  ftpCreds?: FtpCredentials
}

/** The one place that picks the adapter for source.protocol: SFTP over SSH, or FTP/FTPS. Reads the credentials (may prompt). */
export async function openSourcePool(source: Config['source'], env: NodeJS.ProcessEnv, askSecret: AskSecret | undefined, opts: SourcePoolOptions): Promise<OpenedSource> {
  if (source.protocol === 'sftp') {
    const sshCreds = await resolveCredentials(source, env, askSecret)
    return {pool: new SftpPool(source, sshCreds, opts), sshCreds}
  }
  const creds = await resolveFtpCredentials(source, env, askSecret)
  return {pool: new FtpPool(source, creds, {connections: opts.connections, onEvent: opts.onEvent}), ftpCreds: creds}
}
