/**
 * Accounts from an FTP server's own user files, for boxes that speak only FTP (FTP cannot list accounts):
 * pure-ftpd's pureftpd.passwd (virtual users, as pure-pw writes them), and vsftpd's local users (a copy of
 * /etc/passwd, filtered by vsftpd.conf and its user_list, chrooted by its chroot_list). Pure: the caller reads the
 * files.
 *
 * Password hashes are secrets: they are never kept, and no message quotes a line that holds one (errors name the
 * file, the line number and the field).
 */
import {finding} from './findings.js'
import {InputError} from './input-error.js'
import type {Account, Finding} from './inventory-model.js'

export interface TextFile {
  /** how the file is named in messages (the path given) */
  file: string
  text: string
}

export interface FtpAccounts {
  accounts: Account[]
  /** what the file says about users that Transfer cannot carry over, and users left out (with why) */
  findings: Finding[]
}

export type FtpServer = 'pure-ftpd' | 'vsftpd'

/** Non-empty, non-comment lines with their 1-based line numbers. */
function contentLines(text: string): Array<{line: number; text: string}> {
  return text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .map((t, i) => ({line: i + 1, text: t}))
    .filter((l) => l.text.trim() !== '' && !l.text.trimStart().startsWith('#'))
}

function wholeNumber(value: string, file: string, line: number, field: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 0xffffffff) throw new InputError(`${file} line ${line}, field ${field}: ${JSON.stringify(value)} is not a whole number`, {file, line, field})
  return Number(value)
}

function trimSlash(p: string): string {
  const t = p.replace(/\/+$/, '')
  return t === '' ? '/' : t
}

/**
 * A home as FTP servers write it: "/srv/ftp/./alice" chroots the user to /srv/ftp and starts it in /srv/ftp/alice;
 * "/srv/ftp/alice/./" chroots it to /srv/ftp/alice (pure-pw -d writes that form; -D writes no "/./").
 */
function splitChroot(home: string): {home: string; chroot?: string} {
  const at = home.indexOf('/./')
  if (at < 0) return {home: trimSlash(home)}
  const chroot = trimSlash(home.slice(0, at) || '/')
  return {chroot, home: trimSlash(`${chroot === '/' ? '' : chroot}/${home.slice(at + 3)}`)}
}

function ftpAccount(a: {name: string; uid: number; gid: number; home: string; chroot?: string; shell: string; source: Account['sources'][string]}): Account {
  const root = a.chroot ?? a.home
  const account: Account = {
    name: a.name,
    uid: a.uid,
    gid: a.gid,
    groups: [],
    home: a.home,
    shell: a.shell,
    sftpRoot: root,
    dataRoot: root,
    // They log in with a password (FTP has nothing else); no SSH key is known for them.
    login: {password: true, key: false},
    keys: [],
    authorizedKeysFiles: [],
    sources: {account: a.source, uid: a.source, gid: a.source, home: a.source, chroot: a.source, login: a.source},
    ftp: true,
  }
  if (a.chroot !== undefined) account.chroot = a.chroot
  return account
}

function noHome(name: string, file: string, line: number, server: FtpServer): Finding {
  return finding('ftp.user-no-home', `user:${name}`, `${file} line ${line}: no home directory, so ${server} refuses its login; not migrated`)
}

function checkUnique(names: Map<string, number>, name: string, file: string, line: number, field: string): void {
  const earlier = names.get(name)
  if (earlier !== undefined) throw new InputError(`${file} line ${line}, field ${field}: ${JSON.stringify(name)} is already on line ${earlier}`, {file, line, field})
  names.set(name, line)
}

// pureftpd.passwd fields (pure-pw(8)): login:password:uid:gid:gecos:home:upload_bandwidth:download_bandwidth:
// upload_ratio:download_ratio:max_connections:files_quota:size_quota:authorized_local_ips:refused_local_ips:
// authorized_client_ips:refused_client_ips:time_restrictions
const PURE_LIMITS = ['upload bandwidth', 'download bandwidth', 'upload ratio', 'download ratio', 'concurrent sessions', 'files quota', 'size quota']
const PURE_RESTRICTIONS = ['allowed local addresses', 'refused local addresses', 'allowed client addresses', 'refused client addresses', 'hours']

/**
 * pure-ftpd's virtual users. Every user logs in with a password; a home with "/./" chroots it (pure-pw -d). Limits
 * and restrictions Transfer cannot carry are findings; a user without a home is left out (pure-ftpd refuses it).
 */
export function parsePureftpdPasswd(input: TextFile): FtpAccounts {
  const {file} = input
  const accounts: Account[] = []
  const findings: Finding[] = []
  const names = new Map<string, number>()
  for (const {line, text} of contentLines(input.text)) {
    const f = text.split(':')
    if (f.length < 6) throw new InputError(`${file} line ${line}: ${f.length} field(s); pure-ftpd's format has at least 6 (login:password:uid:gid:gecos:home:...)`, {file, line})
    const name = f[0]
    if (!/^[^\s/]+$/.test(name)) throw new InputError(`${file} line ${line}, field login: empty or holds white space or "/"`, {file, line, field: 'login'})
    checkUnique(names, name, file, line, 'login')
    const uid = wholeNumber(f[2], file, line, 'uid')
    const gid = wholeNumber(f[3], file, line, 'gid')
    if (f[5] === '') {
      findings.push(noHome(name, file, line, 'pure-ftpd'))
      continue
    }
    if (!f[5].startsWith('/')) throw new InputError(`${file} line ${line}, field home: ${JSON.stringify(f[5])} is not an absolute path`, {file, line, field: 'home'})
    const {home, chroot} = splitChroot(f[5])
    accounts.push(ftpAccount({name, uid, gid, home, chroot, shell: '', source: 'pureftpd.passwd'}))
    const subject = `user:${name}`
    const limits = PURE_LIMITS.flatMap((what, i) => (f[6 + i] ? [`${what} ${f[6 + i]}`] : []))
    if (limits.length > 0) findings.push(finding('ftp.user-limits', subject, `${file} line ${line}: ${limits.join(', ')}`))
    const restrictions = PURE_RESTRICTIONS.flatMap((what, i) => (f[13 + i] ? [`${what} ${f[13 + i]}`] : []))
    if (restrictions.length > 0) findings.push(finding('ftp.login-restrictions', subject, `${file} line ${line}: ${restrictions.join(', ')}`))
  }
  return {accounts, findings}
}

// ---------------------------------------------------------------------------------------------------------------
// vsftpd

/** The vsftpd.conf settings that decide who logs in and where, with vsftpd's built-in defaults (vsftpd.conf(5)). */
export interface VsftpdSettings {
  local_enable: boolean
  userlist_enable: boolean
  userlist_deny: boolean
  userlist_file: string
  chroot_local_user: boolean
  chroot_list_enable: boolean
  chroot_list_file: string
  passwd_chroot_enable: boolean
  guest_enable: boolean
  guest_username: string
  local_root?: string
  user_sub_token?: string
  user_config_dir?: string
}

const VSFTPD_DEFAULTS: VsftpdSettings = {
  local_enable: false,
  userlist_enable: false,
  userlist_deny: true,
  userlist_file: '/etc/vsftpd.user_list',
  chroot_local_user: false,
  chroot_list_enable: false,
  chroot_list_file: '/etc/vsftpd.chroot_list',
  passwd_chroot_enable: false,
  guest_enable: false,
  guest_username: 'ftp',
}

const BOOLEAN_SETTINGS = new Set(['local_enable', 'userlist_enable', 'userlist_deny', 'chroot_local_user', 'chroot_list_enable', 'passwd_chroot_enable', 'guest_enable'])
const STRING_SETTINGS = new Set(['userlist_file', 'chroot_list_file', 'guest_username', 'local_root', 'user_sub_token', 'user_config_dir'])

/** vsftpd.conf: "option=value" lines (no spaces around "="), "#" comments. Options that do not matter here are skipped. */
export function parseVsftpdConf(input: TextFile): VsftpdSettings {
  const {file} = input
  const out: VsftpdSettings = {...VSFTPD_DEFAULTS}
  for (const {line, text} of contentLines(input.text)) {
    const eq = text.indexOf('=')
    if (eq <= 0) throw new InputError(`${file} line ${line}: not an option=value line`, {file, line})
    const key = text.slice(0, eq).trim()
    const value = text.slice(eq + 1)
    if (BOOLEAN_SETTINGS.has(key)) {
      const v = value.trim().toUpperCase()
      if (!['YES', 'NO', 'TRUE', 'FALSE', '1', '0'].includes(v)) throw new InputError(`${file} line ${line}, field ${key}: ${JSON.stringify(value)} is not YES or NO`, {file, line, field: key})
      ;(out as unknown as Record<string, unknown>)[key] = ['YES', 'TRUE', '1'].includes(v)
    } else if (STRING_SETTINGS.has(key)) {
      ;(out as unknown as Record<string, unknown>)[key] = value.trim()
    }
  }
  return out
}

/** One user name per line (vsftpd's user_list, chroot_list); blank lines and "#" lines are skipped. */
function nameList(input: TextFile): Set<string> {
  return new Set(contentLines(input.text).map((l) => l.text.trim()))
}

export interface VsftpdInput {
  conf: TextFile
  passwd: TextFile
  /** a copy of the userlist_file; needed when vsftpd.conf enables the list */
  userList?: TextFile
  /** a copy of the chroot_list_file; needed when vsftpd.conf enables the list */
  chrootList?: TextFile
}

/** login.defs' defaults on Debian: accounts outside [UID_MIN, UID_MAX] are system accounts. */
const UID_MIN = 1000
const UID_MAX = 60000

/**
 * vsftpd's local users: the accounts of the passwd copy that vsftpd lets in (local_enable, the user_list as an
 * allow or deny list per userlist_deny), with the directory they start in (local_root, else the home) and their
 * chroot (chroot_local_user, inverted for the users on the chroot_list). System accounts (uid outside 1000-60000,
 * as Debian's login.defs has it) only with includeSystem. PAM's rules (/etc/ftpusers, valid shells) are not read:
 * a finding says so.
 */
export function parseVsftpdAccounts(input: VsftpdInput, opts: {includeSystem?: boolean} = {}): FtpAccounts {
  const conf = parseVsftpdConf(input.conf)
  const usage = (message: string, suggestion: string) => new InputError(`${input.conf.file}: ${message}`, {file: input.conf.file, suggestions: [suggestion]})
  if (conf.guest_enable) {
    throw usage(
      `guest_enable=YES: vsftpd logs every user in as ${conf.guest_username} (virtual users through PAM), so passwd does not list them`,
      'Describe the virtual users in a CSV instead: sftp-cutover inventory --users-csv FILE (its columns: sftp-cutover inventory --help).',
    )
  }
  if (conf.userlist_enable && !input.userList) {
    throw usage(`userlist_enable=YES: vsftpd ${conf.userlist_deny ? 'refuses' : 'admits only'} the users in ${conf.userlist_file}`, `Pass a copy of ${conf.userlist_file} with --ftp-users-file FILE.`)
  }
  if (conf.chroot_list_enable && !input.chrootList) {
    throw usage(`chroot_list_enable=YES: the users in ${conf.chroot_list_file} are ${conf.chroot_local_user ? 'not ' : ''}chrooted`, `Pass a copy of ${conf.chroot_list_file} with --chroot-list FILE.`)
  }
  if (conf.local_root && !conf.local_root.startsWith('/')) {
    throw new InputError(`${input.conf.file}: local_root ${JSON.stringify(conf.local_root)} is not an absolute path`, {file: input.conf.file, field: 'local_root'})
  }
  const findings: Finding[] = []
  const unchecked = (reason: string) => findings.push(finding('ftp.accounts-unchecked', 'inventory', reason))
  const userList = conf.userlist_enable && input.userList ? nameList(input.userList) : undefined
  if (input.userList && !conf.userlist_enable) unchecked(`${input.userList.file} was given, but ${input.conf.file} does not enable it (userlist_enable=NO): vsftpd ignores it, and so does the inventory`)
  const chrootList = conf.chroot_list_enable && input.chrootList ? nameList(input.chrootList) : new Set<string>()
  if (input.chrootList && !conf.chroot_list_enable) unchecked(`${input.chrootList.file} was given, but ${input.conf.file} does not enable it (chroot_list_enable=NO): vsftpd ignores it, and so does the inventory`)
  if (!conf.local_enable) {
    unchecked(`${input.conf.file} does not enable local users (local_enable=NO): no account of ${input.passwd.file} may log in`)
    return {accounts: [], findings}
  }
  if (conf.user_config_dir) unchecked(`user_config_dir=${conf.user_config_dir}: per-user settings there (local_root and others) were not read`)
  unchecked("PAM's rules for vsftpd (/etc/ftpusers, valid shells in /etc/shells) were not read: an account listed here may be refused by PAM today")

  const accounts: Account[] = []
  const names = new Map<string, number>()
  const {file} = input.passwd
  for (const {line, text} of contentLines(input.passwd.text)) {
    if (/^[+-]/.test(text)) {
      unchecked(`${file} line ${line}: a NIS entry; the accounts it stands for were not read`)
      continue
    }
    const f = text.split(':')
    if (f.length !== 7) throw new InputError(`${file} line ${line}: ${f.length} field(s); passwd has 7 (name:password:uid:gid:gecos:home:shell)`, {file, line})
    const name = f[0]
    if (!/^[^\s/]+$/.test(name)) throw new InputError(`${file} line ${line}, field name: empty or holds white space or "/"`, {file, line, field: 'name'})
    checkUnique(names, name, file, line, 'name')
    const uid = wholeNumber(f[2], file, line, 'uid')
    const gid = wholeNumber(f[3], file, line, 'gid')
    if ((uid < UID_MIN || uid > UID_MAX) && !opts.includeSystem) continue
    if (userList && userList.has(name) === conf.userlist_deny) continue
    if (f[5] === '') {
      findings.push(noHome(name, file, line, 'vsftpd'))
      continue
    }
    if (!f[5].startsWith('/')) throw new InputError(`${file} line ${line}, field home: ${JSON.stringify(f[5])} is not an absolute path`, {file, line, field: 'home'})
    const chrooted = conf.chroot_local_user !== chrootList.has(name)
    const passwdHome = splitChroot(f[5])
    const localRoot = conf.local_root ? (conf.user_sub_token ? conf.local_root.replaceAll(conf.user_sub_token, name) : conf.local_root) : undefined
    // vsftpd changes into local_root (else the home) and chroots there; with passwd_chroot_enable, "/./" in the
    // home names the chroot instead.
    const home = trimSlash(localRoot ?? passwdHome.home)
    const chroot = !chrooted ? undefined : conf.passwd_chroot_enable && passwdHome.chroot && !localRoot ? passwdHome.chroot : home
    accounts.push(ftpAccount({name, uid, gid, home, chroot, shell: f[6], source: 'vsftpd.conf'}))
  }
  return {accounts, findings}
}
