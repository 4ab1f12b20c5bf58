import type {Config} from './config.js'

/**
 * Which protocol the legacy box speaks: source.protocol (sftp | ftp | ftps | ftps-implicit), sftp when unset.
 * The one place that reads it for the accounts part of an FTP source.
 */
export function isFtpSource(config: Pick<Config, 'source'>): boolean {
  return ((config.source as {protocol?: string}).protocol ?? 'sftp') !== 'sftp'
}

/**
 * Where inventory reads the accounts of an FTP source over SSH (FTP cannot list accounts): source.sshHost and
 * source.sshPort, by default the same host on port 22. The login and the host key rules are source.*'s.
 */
export function accountsSshTarget<T extends Config['source']>(source: T): T {
  return {...source, host: source.sshHost ?? source.host, port: source.sshPort ?? 22}
}
