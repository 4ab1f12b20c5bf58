/**
 * What inventory learns about the legacy box. Plain data, shared by the collectors (online over SSH, offline bundle,
 * CSV), the findings rules, the state database and the reports.
 */

/** Where a fact came from, so a report can say why it believes it. */
export type FactSource = 'getent' | 'passwd' | 'shadow' | 'sshd -T' | 'sshd_config' | 'authorized_keys' | 'bundle' | 'csv' | 'sftp' | 'handshake' | 'pureftpd.passwd' | 'vsftpd.conf'

export type KeyFormat = 'openssh' | 'rfc4716' | 'putty' | 'unknown'

export interface AuthorizedKey {
  /** ssh-rsa, ssh-ed25519, ecdsa-sha2-nistp256, ssh-dss, sk-..., or 'unknown' when it cannot be parsed */
  type: string
  bits?: number
  /** SHA256:... of the key blob; absent when the key cannot be parsed */
  fingerprint?: string
  comment: string
  /** authorized_keys options as written, e.g. ['from="10.0.0.0/8"', 'no-pty'] */
  options: string[]
  format: KeyFormat
  /** The key in OpenSSH one-line form without options ("<type> <base64> [comment]"), when it could be converted */
  openssh?: string
  /** The file it was read from, and the line (1-based) where it starts */
  file: string
  line: number
  /** Why the key could not be parsed, when it could not */
  error?: string
  /** Why sshd ignores this key today (it grants no login now): the file is not an AuthorizedKeysFile, sshd cannot read the format there, ... */
  dead?: string
}

export interface Account {
  name: string
  uid: number
  gid: number
  /** Supplementary group names */
  groups: string[]
  /** Primary group name, when known */
  group?: string
  home: string
  shell: string
  /** ChrootDirectory in effect for this user, tokens expanded; absent when not chrooted */
  chroot?: string
  forceCommand?: string
  /** The directory the user sees as "/" (chroot) or logs in to (home): what the user's SFTP paths are relative to */
  sftpRoot: string
  /** The real path on the box of the directory whose contents are migrated for this user */
  dataRoot: string
  login: {
    /** PasswordAuthentication in effect and a usable password hash (not locked, not empty) */
    password: boolean | 'unknown'
    /** PubkeyAuthentication in effect and at least one key */
    key: boolean
  }
  keys: AuthorizedKey[]
  authorizedKeysFiles: string[]
  /** fact name (e.g. 'chroot', 'keys', 'uid') -> where it came from */
  sources: Record<string, FactSource>
  /**
   * The user logs in to an FTP or FTPS server today (the source speaks FTP, or the account came from the FTP server's
   * user file). Transfer's service-managed users are SFTP-only with SSH keys: its clients must move to SFTP with a key
   * (or to FTPS behind a custom identity provider, which this tool does not create).
   */
  ftp?: true
}

export interface HostKey {
  type: string
  bits?: number
  fingerprint: string
  /** "<type> <base64>" */
  publicKey: string
}

export type FileType = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'char' | 'block' | 'unknown'

export interface FileEntry {
  /** The account (or configured root name) the file belongs to in the migration */
  owner: string
  /** Path relative to the owner's data root, raw bytes as the server sent them ('/'-separated, no leading '/') */
  path: Buffer
  type: FileType
  size: number
  /** seconds since the epoch (SFTP v3 has whole seconds) */
  mtime: number
  mode: number
  uid: number
  gid: number
  /** for symlinks */
  linkTarget?: Buffer
  /** Hard link count, when the server reports it (not stored) */
  links?: number
  /** Why the entry could not be read (e.g. permission denied on a directory); the walk goes on */
  error?: string
}

export type Severity = 'blocker' | 'warning' | 'info'

export interface Finding {
  /** Stable rule id, e.g. 'user.name-invalid', 'key.dsa', 'file.symlink' */
  rule: string
  severity: Severity
  /** What it is about: 'user:alice', 'key:alice:SHA256:...', 'file:alice:<path as shown>', 'hostkey:ssh-rsa' */
  subject: string
  reason: string
  fix: string
}
