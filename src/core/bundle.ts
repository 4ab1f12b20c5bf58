/**
 * The bundle printed by the collector script (collect-script.ts): its schema, and the accounts it describes.
 * Which accounts are SFTP logins is decided here, not on the box.
 */
import {z} from 'zod'

import {BUNDLE_FORMAT, BUNDLE_VERSION} from './collect-script.js'
import {InputError} from './input-error.js'
import type {Account, AuthorizedKey, FactSource, HostKey} from './inventory-model.js'
import {parseAuthorizedKeys, parseHostKeyLine} from './ssh-keys.js'
import {
  authorizedKeysPaths,
  type EffectiveSshd,
  effectiveFor,
  effectiveFromSshdT,
  expandTokens,
  loginDeniedReason,
  parseSshdConfig,
  type SshdConfig,
} from './sshd-config.js'

export const SHADOW_STATES = ['locked', 'nopassword', 'set', 'unknown'] as const
export type ShadowState = (typeof SHADOW_STATES)[number]

const fileText = z.object({path: z.string(), text: z.string()})

/** One file of a user's AuthorizedKeysFile: its text, or why it could not be read. */
const authorizedKeysFile = z.object({path: z.string(), text: z.string().optional(), error: z.string().optional()})

export const BundleSchema = z.object({
  format: z.literal(BUNDLE_FORMAT),
  version: z.literal(BUNDLE_VERSION),
  collectedAt: z.string(),
  hostname: z.string(),
  /** uid the collector ran as */
  uid: z.number().int(),
  /** passwd lines, field 2 always "x" */
  passwd: z.array(z.string()),
  group: z.array(z.string()),
  /** a state per account, never a hash */
  shadow: z.array(z.object({user: z.string(), state: z.enum(SHADOW_STATES)})),
  loginDefs: z.object({uidMin: z.number().int(), uidMax: z.number().int()}),
  sshdConfig: z.object({path: z.string(), text: z.string(), includes: z.record(z.string(), z.string())}),
  /** `sshd -T -C user=U,host=localhost,addr=127.0.0.1,laddr=127.0.0.1,lport=<first Port>` output per account it worked for */
  sshdT: z.record(z.string(), z.string()).optional(),
  authorizedKeys: z.record(z.string(), z.array(authorizedKeysFile)),
  /** host public keys (`.pub` next to each HostKey) */
  hostKeys: z.array(fileText).optional(),
  errors: z.array(z.string()),
})

export type Bundle = z.infer<typeof BundleSchema>

function pathText(path: PropertyKey[]): string {
  let out = ''
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`
    else if (typeof p === 'string' && /^[A-Za-z_][\w-]*$/.test(p)) out += out === '' ? p : `.${p}`
    else out += `[${JSON.stringify(String(p))}]`
  }
  return out === '' ? '(top level)' : out
}

function issueText(issue: z.core.$ZodIssue): string {
  const message = issue.message.replace(/^Invalid (input|option): /, '')
  if (issue.code === 'invalid_type' && / received undefined$/.test(message)) return `missing (expected ${issue.expected})`
  return message
}

/** Reads and checks a bundle. Errors name the file and the field: `bundle.json: authorizedKeys.alice[0].path: expected string, received number`. */
export function parseBundle(text: string, file = 'bundle.json'): Bundle {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw new InputError(`${file}: not JSON: ${(err as Error).message}`, {
      file,
      suggestions: ['Save only the standard output of the collector script (its errors are inside the JSON).'],
    })
  }
  const format = (data as {format?: unknown} | null)?.format
  if (format !== BUNDLE_FORMAT) {
    throw new InputError(`${file}: not an sftp-cutover bundle (format is ${JSON.stringify(format)})`, {file, field: 'format'})
  }
  const version = (data as {version?: unknown}).version
  if (typeof version === 'number' && version > BUNDLE_VERSION) {
    throw new InputError(`${file}: bundle version ${version} is newer than this sftp-cutover reads (${BUNDLE_VERSION})`, {
      file,
      field: 'version',
      suggestions: ['Use the collector script printed by this version of sftp-cutover.'],
    })
  }
  const result = BundleSchema.safeParse(data)
  if (!result.success) {
    const issues = result.error.issues
    const shown = issues.slice(0, 5).map((i) => `${pathText(i.path)}: ${issueText(i)}`)
    if (issues.length > 5) shown.push(`and ${issues.length - 5} more`)
    throw new InputError(`${file}: ${shown.join('; ')}`, {file, field: pathText(issues[0].path)})
  }
  return result.data
}

interface PasswdEntry {
  name: string
  uid: number
  gid: number
  home: string
  shell: string
}

function parsePasswd(lines: string[], errors: string[]): PasswdEntry[] {
  const seen = new Set<string>()
  const entries: PasswdEntry[] = []
  for (const line of lines) {
    const f = line.split(':')
    if (f.length < 7 || !/^\d+$/.test(f[2]) || !/^\d+$/.test(f[3])) {
      errors.push(`passwd: cannot read line ${JSON.stringify(line)}`)
      continue
    }
    // getent may list a name twice (files, then LDAP): the first one is the one that logs in.
    if (seen.has(f[0])) continue
    seen.add(f[0])
    entries.push({name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5], shell: f[6] === '' ? '/bin/sh' : f[6]})
  }
  return entries
}

/** gid -> group name, and user -> supplementary group names. */
function parseGroups(lines: string[]): {byGid: Map<number, string>; memberOf: Map<string, string[]>} {
  const byGid = new Map<number, string>()
  const memberOf = new Map<string, string[]>()
  for (const line of lines) {
    const [name, , gid, members = ''] = line.split(':')
    if (!name || !/^\d+$/.test(gid ?? '')) continue
    if (!byGid.has(Number(gid))) byGid.set(Number(gid), name)
    for (const m of members.split(',').filter(Boolean)) memberOf.set(m, [...new Set([...(memberOf.get(m) ?? []), name])])
  }
  return {byGid, memberOf}
}

/** Match blocks whose outcome depends on the client (sshd -T was asked for a local client). */
function clientDependentMatches(config: SshdConfig): string[] {
  const blocks = new Set(config.directives.flatMap((d) => d.conditions))
  return [...blocks]
    .filter((b) => b.criteria.some((c) => ['host', 'address', 'localaddress', 'localport', 'rdomain'].includes(c.kind)))
    .map((b) => `${b.file}:${b.line}: ${b.text}`)
}

/** Shells that cannot run a command: such accounts reach SFTP only through internal-sftp. */
const NO_SHELL = /\/(nologin|false)$/

function sftpWithoutShell(e: EffectiveSshd): boolean {
  const command = e.forceCommand ?? e.subsystemSftp ?? ''
  return /^internal-sftp(\s|$)/.test(command)
}

/** The authorized_keys options OpenSSH knows; sshd refuses a whole line with any other. */
const SSHD_KEY_OPTIONS = new Set([
  'agent-forwarding', 'cert-authority', 'command', 'environment', 'expiry-time', 'from', 'no-agent-forwarding', 'no-port-forwarding', 'no-pty', 'no-user-rc',
  'no-x11-forwarding', 'permitlisten', 'permitopen', 'port-forwarding', 'principals', 'pty', 'no-touch-required', 'verify-required', 'restrict', 'tunnel', 'user-rc',
  'x11-forwarding',
])

/** expiry-time="YYYYMMDD[HHMM[SS]]" as seconds since the epoch (read as UTC; the box's zone is not known). */
function expirySeconds(value: string): number | undefined {
  const m = /^"?(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?Z?"?$/.exec(value)
  if (!m) return undefined
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)) / 1000
}

/**
 * Why sshd ignores a key today for this account, or undefined when the key lets the user in (as far as the
 * configuration and the file say: StrictModes on the file's permissions is not checked).
 */
export function deadReason(key: AuthorizedKey, ctx: {named: boolean; effective: EffectiveSshd; root: boolean; collectedAt: number}): string | undefined {
  if (!ctx.named) {
    const names = ctx.effective.authorizedKeysFile.length > 0 ? ctx.effective.authorizedKeysFile.join(' ') : 'none'
    return `${key.file} is not read by sshd for this user (AuthorizedKeysFile ${names})`
  }
  if (key.format === 'rfc4716' || key.format === 'putty') {
    return `sshd reads only OpenSSH one-line keys in authorized_keys; this is ${key.format === 'putty' ? 'a PuTTY key file' : 'an RFC 4716 block'} (convert it with ssh-keygen -i to make it work)`
  }
  if (key.error !== undefined) return undefined // unreadable: refused anyway, with its own reason
  const unknown = key.options.map((o) => o.split('=')[0].toLowerCase()).filter((n) => !SSHD_KEY_OPTIONS.has(n))
  if (unknown.length > 0) return `sshd refuses the line: unknown option ${unknown.join(', ')}`
  if (!ctx.effective.pubkeyAuthentication) return 'PubkeyAuthentication is off for this user'
  if (ctx.root && ctx.effective.permitRootLogin === 'no') return 'PermitRootLogin no'
  if (ctx.root && ctx.effective.permitRootLogin === 'forced-commands-only' && !key.options.some((o) => /^command=/i.test(o))) return 'PermitRootLogin forced-commands-only and the key has no command='
  const expiry = key.options.find((o) => /^expiry-time=/i.test(o))
  const expires = expiry === undefined ? undefined : expirySeconds(expiry.slice(expiry.indexOf('=') + 1))
  if (expires !== undefined && expires <= ctx.collectedAt) return `${expiry} has passed`
  return undefined
}

export interface AccountsFromBundle {
  accounts: Account[]
  errors: string[]
  collectedAs: 'root' | 'user'
}

/**
 * The accounts that log in over SFTP according to the bundle: allowed by AllowUsers/AllowGroups/DenyUsers/
 * DenyGroups, able to run SFTP (a real shell, or internal-sftp), with a usable key or password (or a password
 * whose state is unknown because the collector was not root), uid within login.defs' [UID_MIN, UID_MAX]
 * unless includeSystem (then root and system accounts are considered too).
 * With ftp (the box serves FTP; the bundle came over its SSH): sshd's login rules and chroots do not apply, so every
 * regular account that is not locked and has a password (or a key) is listed, a superset of the FTP server's users.
 */
export function accountsFromBundle(bundle: Bundle, opts: {includeSystem?: boolean; ftp?: boolean} = {}): AccountsFromBundle {
  const errors = bundle.errors.map((e) => `collector: ${e}`)
  const collectedAs = bundle.uid === 0 ? 'root' : 'user'
  const config = parseSshdConfig({path: bundle.sshdConfig.path, text: bundle.sshdConfig.text}, bundle.sshdConfig.includes)
  errors.push(...config.errors)
  const sshdT = bundle.sshdT ?? {}
  if (Object.keys(sshdT).length > 0) {
    for (const m of clientDependentMatches(config)) errors.push(`${m}: depends on the client; sshd -T evaluated it for a client at 127.0.0.1 (localhost) on the first Port`)
  }
  const shadow = new Map(bundle.shadow.map((s) => [s.user, s.state]))
  const {byGid, memberOf} = parseGroups(bundle.group)
  const {uidMin, uidMax} = bundle.loginDefs
  const collectedAt = Date.parse(bundle.collectedAt) / 1000
  const accounts: Account[] = []

  for (const pw of parsePasswd(bundle.passwd, errors)) {
    const regular = pw.uid >= uidMin && pw.uid <= uidMax
    if (!regular && !opts.includeSystem) continue
    const group = byGid.get(pw.gid)
    const groups = memberOf.get(pw.name) ?? []
    const allGroups = [...new Set([...(group ? [group] : []), ...groups])]
    const fromSshdT = sshdT[pw.name] !== undefined
    const effective = fromSshdT ? effectiveFromSshdT(sshdT[pw.name]) : effectiveFor(config, {user: pw.name, groups: allGroups})
    const configSource: FactSource = fromSshdT ? 'sshd -T' : 'sshd_config'
    for (const u of effective.undecided) errors.push(`${pw.name}: ${u}: depends on the client; assumed not to apply`)

    // Users of an FTP server log in through the FTP server's rules, not sshd's: every account with a password may.
    if (!opts.ftp && loginDeniedReason(effective, pw.name, allGroups) !== undefined) continue
    if (!opts.ftp && NO_SHELL.test(pw.shell) && !sftpWithoutShell(effective)) continue
    const state: ShadowState = shadow.get(pw.name) ?? 'unknown'
    if (state === 'locked' && (opts.ftp || !effective.usePam)) continue // sshd without PAM (and pam_unix for FTP) refuses '!' accounts

    const ctx = {user: pw.name, home: pw.home, uid: pw.uid}
    const files = authorizedKeysPaths(effective, ctx)
    const root = pw.uid === 0
    const keys: AuthorizedKey[] = []
    // Every key file the collector found: those sshd does not read for this user are kept, marked dead, so the
    // inventory can say why they grant nothing today.
    for (const entry of bundle.authorizedKeys[pw.name] ?? []) {
      const named = files.includes(entry.path)
      if (entry.error !== undefined) {
        if (named) errors.push(`${pw.name}: ${entry.path}: ${entry.error}`)
        continue
      }
      for (const k of parseAuthorizedKeys(entry.text ?? '', entry.path)) {
        const dead = deadReason(k, {named, effective, root, collectedAt})
        keys.push(dead === undefined ? k : {...k, dead})
      }
    }

    const key = keys.some((k) => k.error === undefined && k.dead === undefined)
    const passwordMethods = effective.passwordAuthentication || (effective.usePam && effective.kbdInteractiveAuthentication)
    const rootPassword = !root || effective.permitRootLogin === 'yes'
    const passwordState = state === 'set' ? true : state === 'unknown' ? ('unknown' as const) : false
    const password: boolean | 'unknown' = opts.ftp ? passwordState : !passwordMethods || !rootPassword ? false : passwordState
    // An account whose only keys are dead is kept: the inventory says why they grant nothing, and the operator may opt in.
    if (!key && password === false && !keys.some((k) => k.dead !== undefined)) continue

    // sshd's ChrootDirectory does not apply to FTP logins (the FTP server's own chroot is not known here).
    const chroot = effective.chrootDirectory === undefined || opts.ftp ? undefined : expandTokens(effective.chrootDirectory, ctx)
    const account: Account = {
      name: pw.name,
      uid: pw.uid,
      gid: pw.gid,
      groups,
      home: pw.home,
      shell: pw.shell,
      sftpRoot: chroot ?? pw.home,
      // OpenSSH starts a chrooted user in its home inside the chroot when that exists: kept simple, the chroot.
      dataRoot: chroot ?? pw.home,
      login: {password, key},
      keys,
      authorizedKeysFiles: files,
      sources: {
        account: 'bundle',
        uid: 'passwd',
        gid: 'passwd',
        home: 'passwd',
        shell: 'passwd',
        groups: 'passwd',
        password: state === 'unknown' ? 'bundle' : 'shadow',
        chroot: configSource,
        forceCommand: configSource,
        authorizedKeysFiles: configSource,
        login: configSource,
        keys: 'authorized_keys',
      },
    }
    if (group !== undefined) account.group = group
    if (chroot !== undefined) account.chroot = chroot
    if (effective.forceCommand !== undefined) account.forceCommand = effective.forceCommand
    accounts.push(account)
  }
  return {accounts, errors, collectedAs}
}

/** The host public keys the bundle carries; lines that are not keys are reported, not thrown. */
export function hostKeysFromBundle(bundle: Bundle): {hostKeys: HostKey[]; errors: string[]} {
  const hostKeys: HostKey[] = []
  const errors: string[] = []
  for (const file of bundle.hostKeys ?? []) {
    for (const line of file.text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'))) {
      try {
        hostKeys.push(parseHostKeyLine(line))
      } catch (err) {
        errors.push(`${file.path}: ${(err as Error).message}`)
      }
    }
  }
  return {hostKeys, errors}
}
