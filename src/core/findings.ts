/**
 * What will not survive the move to Transfer Family + S3, found in the inventory. Each rule has a stable id, a
 * severity and a fix; RULES lists them all for the reports. fileFinding runs once per file while the walker
 * streams, so it must stay cheap: a few byte scans and no allocation when there is nothing to say.
 *
 * Not a rule: hard links. SFTP v3 does not report a link count, so a file with several names is simply copied
 * once per name (FileEntry has no nlink); nothing breaks, it only costs space.
 */
import {isUtf8} from 'node:buffer'

import type {Account, AuthorizedKey, FileEntry, Finding, HostKey, Severity} from './inventory-model.js'
import {hostKeyImportable, keyDecision, keyVerdict, MAX_KEY_BODY_CHARS, objectSizeProblem, pathProblems, restrictionAdvice, userNameProblem} from './transfer-rules.js'

export interface Rule {
  id: string
  severity: Severity
  title: string
  fix: string
}

function rule(id: string, severity: Severity, title: string, fix: string): Rule {
  return {id, severity, title, fix}
}

const RECENT_SECONDS = 24 * 3600

export const RULES = {
  'user.name-invalid': rule('user.name-invalid', 'blocker', 'User name Transfer does not accept', 'Rename the user on Transfer (3-100 characters: letters, digits, _ @ . -; not starting with @ . -; not root) and tell the user the new name.'),
  'user.password-only': rule('user.password-only', 'blocker', 'Logs in with a password only', 'Give the user an SSH key, or use a custom identity provider (Lambda or API Gateway) or AWS Directory Service: service-managed Transfer users have keys only.'),
  'user.password-also': rule('user.password-also', 'warning', 'Has a key but also logs in with a password', 'Make sure the user\'s clients use the key: Transfer service-managed users cannot log in with a password.'),
  'user.password-unknown': rule('user.password-unknown', 'warning', 'Password login unknown', 'Collect the bundle as root so the password state is known, or confirm with the user how they log in.'),
  'user.no-keys': rule('user.no-keys', 'warning', 'No key Transfer can use', 'Have the user create an Ed25519 or RSA >= 2048 key and add its public key before cutover.'),
  'key.dsa': rule('key.dsa', 'blocker', 'DSA key', 'Transfer refuses ssh-dss: have the user create an Ed25519 or RSA >= 2048 key.'),
  'key.rsa-short': rule('key.rsa-short', 'blocker', 'RSA key shorter than 2048 bits', 'Have the user create an Ed25519 or RSA >= 2048 key.'),
  'key.sk': rule('key.sk', 'blocker', 'Security-key (FIDO) key', 'Transfer accepts only ssh-rsa, ssh-ed25519 and ecdsa-sha2-nistp256/384/521 keys: have the user add one of those.'),
  'key.type-unsupported': rule('key.type-unsupported', 'blocker', 'Key type Transfer does not accept', 'Transfer accepts only ssh-rsa, ssh-ed25519 and ecdsa-sha2-nistp256/384/521 keys (no certificates): have the user add one of those.'),
  'key.too-long': rule('key.too-long', 'blocker', 'Public key longer than Transfer accepts', `ImportSshPublicKey takes at most ${MAX_KEY_BODY_CHARS} characters (the comment is dropped when it does not fit): have the user create an Ed25519 key.`),
  'key.cert-authority': rule('key.cert-authority', 'blocker', 'Certificate authority trusted for user certificates', 'Transfer Family has no user certificates: issue each user who logs in with a certificate signed by this CA a plain key (Ed25519), add it on the legacy box and run inventory again.'),
  'key.options': rule('key.options', 'blocker', 'Key restricted by authorized_keys options', 'Transfer Family has no per-key options: enforce the restriction at the server (see the reason), or accept the unrestricted key for this user with users import --accept-key-options USER (recorded as an accepted risk).'),
  'key.dead': rule('key.dead', 'warning', 'Key that sshd ignores today', 'Nothing to do to keep today\'s access: it is not imported. If the user should log in with it, fix it on the legacy box (or import it with users import --import-dead-keys USER).'),
  'key.format': rule('key.format', 'info', 'Key not in OpenSSH one-line form', 'Nothing to do: it is converted to the OpenSSH one-line form when imported.'),
  'key.unparseable': rule('key.unparseable', 'warning', 'Line that is not a readable public key', 'Fix or remove the line on the box; it is not imported.'),
  'key.shared': rule('key.shared', 'warning', 'Same key authorizes several users', 'Check that the users are really the same person or system; consider a key per user.'),
  'key.duplicate': rule('key.duplicate', 'info', 'Same key listed twice for one user', 'Nothing to do: it is imported once.'),
  'file.name-not-utf8': rule('file.name-not-utf8', 'blocker', 'File name is not UTF-8', 'Rename the file on the box (convmv can convert names from a legacy encoding): S3-backed Transfer servers need UTF-8 names.'),
  'file.name-control-chars': rule('file.name-control-chars', 'blocker', 'File name contains control characters', 'Rename the file on the box: control characters cannot be typed by clients and break S3 listings.'),
  'file.key-invalid': rule('file.key-invalid', 'blocker', "Path with an empty, '.' or '..' component", 'Rename the file: such a path cannot be an S3 key that SFTP clients can reach.'),
  'file.key-too-long': rule('file.key-too-long', 'blocker', 'S3 key longer than 1024 bytes', 'Shorten the path or the bucket prefix: S3 keys are at most 1024 bytes of UTF-8.'),
  'file.too-large': rule('file.too-large', 'blocker', 'File larger than 5 TiB', 'S3 objects are at most 5 TiB: split the file or keep it off S3.'),
  'file.symlink': rule('file.symlink', 'warning', 'Symbolic link', 'S3 has no links: the link is not migrated; copy what it points to if the user needs it at that path.'),
  'file.special': rule('file.special', 'warning', 'Special file (fifo, socket, device)', 'Not migrated: S3 holds regular files only.'),
  'file.unreadable': rule('file.unreadable', 'warning', 'Could not be read', 'Give the migration login read access (or run as root), or accept that it is not migrated.'),
  'file.empty-dir': rule('file.empty-dir', 'info', 'Empty directory', 'Nothing to do: it becomes a zero-byte object ending in "/".'),
  'file.recent': rule('file.recent', 'info', 'Changed in the last 24 hours', 'Plan the final delta sync inside the freeze window; re-run sync until then.'),
  'hostkey.dsa': rule('hostkey.dsa', 'warning', 'DSA host key', 'Transfer imports RSA >= 2048, ECDSA and Ed25519 host keys only: clients that know only this key will see a new host key.'),
  'hostkey.rsa-short': rule('hostkey.rsa-short', 'warning', 'RSA host key shorter than 2048 bits', 'Transfer imports RSA host keys of 2048 bits or more: clients that know only this key will see a new host key.'),
  'hostkey.unsupported': rule('hostkey.unsupported', 'warning', 'Host key type Transfer cannot import', 'Clients that know only this key will see a new host key: tell them the new fingerprint.'),
  'user.ftp-login': rule('user.ftp-login', 'warning', 'Logs in over FTP today', 'Tell the user\'s clients to move to SFTP, and import the user\'s SSH public key: users import --keys-dir DIR (DIR/<user>.pub), or users import --interactive asks for it. FTPS on Transfer would need a custom identity provider (Lambda or API Gateway), which this tool does not create.'),
  'ftp.user-no-home': rule('ftp.user-no-home', 'warning', 'FTP user without a home directory', 'The FTP server refuses its login today, so it is not migrated; give it a home in the FTP server\'s user file and run inventory again if it should be.'),
  'ftp.login-restrictions': rule('ftp.login-restrictions', 'warning', 'FTP login limited by client address or time of day', 'Transfer Family has no per-user address or time limits: restrict who reaches the endpoint with its security group, or accept that the limit is lost.'),
  'ftp.user-limits': rule('ftp.user-limits', 'info', 'FTP quota, ratio or bandwidth limit', 'Transfer Family has no per-user quotas, ratios or bandwidth limits: they are not carried over.'),
  'ftp.accounts-unchecked': rule('ftp.accounts-unchecked', 'info', 'FTP login rules that were not read', 'Check the named rules on the box; remove an account from the plan (users import --only) if the FTP server refuses it today.'),
  'hostkey.probe-failed': rule('hostkey.probe-failed', 'warning', 'A host key type could not be read', 'Re-run the inventory; if it fails again, list the keys on the box (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) and compare them with the inventory.'),
} as const satisfies Record<string, Rule>

export type RuleId = keyof typeof RULES

/** What is said of every FTP user (inventory, users plan, cutover preflight): Transfer's service-managed users are SFTP-only with SSH keys. */
export const FTP_MOVE =
  "logs in over FTP today; Transfer's service-managed users are SFTP-only with SSH keys, so its clients must move to SFTP with a key (or to FTPS with a custom identity provider, which this tool does not create)"

export function finding(id: RuleId, subject: string, reason: string): Finding {
  const r = RULES[id]
  return {rule: r.id, severity: r.severity, subject, reason, fix: r.fix}
}

function keySubject(user: string, key: AuthorizedKey): string {
  return `key:${user}:${key.fingerprint ?? `${key.file}:${key.line}`}`
}

/** Findings about one key (every verdict from transfer-rules.ts); empty when Transfer takes it as it is. */
function keyFindings(user: string, key: AuthorizedKey): Finding[] {
  const subject = keySubject(user, key)
  const where = `${key.file}:${key.line}`
  const v = keyVerdict(key)
  const out: Finding[] = []
  if (v.refusal) out.push(finding(v.refusal.rule, subject, v.refusal.reason))
  if (v.dead !== undefined) out.push(finding('key.dead', subject, `${where}: ${v.dead}`))
  if (v.refusal?.rule === 'key.unparseable') return out
  if (v.restrictions.length > 0 && v.refusal === undefined) {
    out.push({...finding('key.options', subject, `${where}: restricted by ${v.restrictions.join(',')}; Transfer Family has no per-key options`), fix: `${restrictionAdvice(v.restrictions)} ${RULES['key.options'].fix}`})
  }
  // A dead key is not converted: it is not imported (unless the operator opts in, which the plan then says).
  if ((key.format === 'rfc4716' || key.format === 'putty') && v.dead === undefined) {
    out.push(finding('key.format', subject, `${where}: ${key.format === 'putty' ? 'PuTTY' : 'RFC 4716'} format`))
  }
  return out
}

/** A key Transfer would import for this user without any acceptance (transfer-rules.ts decides). */
export function isTransferUsableKey(key: AuthorizedKey): boolean {
  return keyDecision(key).import
}

function nameFinding(name: string): Finding | undefined {
  const problem = userNameProblem(name)
  return problem === undefined ? undefined : finding('user.name-invalid', `user:${name}`, problem)
}

/** Findings about the accounts and their keys, including keys shared between accounts. */
export function accountFindings(accounts: Account[]): Finding[] {
  const out: Finding[] = []
  const owners = new Map<string, Set<string>>()
  for (const a of accounts) {
    for (const k of a.keys) if (k.fingerprint) owners.set(k.fingerprint, (owners.get(k.fingerprint) ?? new Set()).add(a.name))
  }
  for (const a of accounts) {
    const subject = `user:${a.name}`
    const invalid = nameFinding(a.name)
    if (invalid) out.push(invalid)
    const usable = a.keys.filter(isTransferUsableKey)
    if (a.ftp) {
      out.push(finding('user.ftp-login', subject, FTP_MOVE))
    } else if (a.login.password === true && usable.length === 0) {
      out.push(finding('user.password-only', subject, a.keys.length > 0 ? 'logs in with a password; none of its keys can be used on Transfer' : 'logs in with a password and has no key'))
    } else if (a.login.password === true) {
      out.push(finding('user.password-also', subject, `password login is enabled and ${usable.length} key(s) can be used`))
    } else if (a.login.password === 'unknown' && usable.length === 0) {
      out.push(finding('user.password-unknown', subject, 'whether it has a password is unknown, and it has no key Transfer can use'))
    } else if (usable.length === 0) {
      out.push(finding('user.no-keys', subject, a.keys.length > 0 ? `none of its ${a.keys.length} key(s) can be used on Transfer` : 'no authorized key'))
    }
    const seen = new Set<string>()
    for (const k of a.keys) {
      out.push(...keyFindings(a.name, k))
      if (!k.fingerprint) continue
      if (seen.has(k.fingerprint)) {
        out.push(finding('key.duplicate', keySubject(a.name, k), `${k.file}:${k.line}: listed more than once`))
        continue
      }
      seen.add(k.fingerprint)
      const others = [...(owners.get(k.fingerprint) ?? [])].filter((n) => n !== a.name)
      if (others.length > 0) out.push(finding('key.shared', keySubject(a.name, k), `also authorizes ${others.sort().join(', ')}`))
    }
  }
  return out
}

/** Findings about the legacy box's host keys (what Transfer can import to keep clients' known_hosts valid). */
export function hostKeyFindings(hostKeys: HostKey[]): Finding[] {
  const out: Finding[] = []
  for (const k of hostKeys) {
    const subject = `hostkey:${k.type}`
    if (hostKeyImportable(k.type, k.bits)) continue
    if (k.type === 'ssh-dss') out.push(finding('hostkey.dsa', subject, `${k.fingerprint}: DSA host key`))
    else if (k.type === 'ssh-rsa') out.push(finding('hostkey.rsa-short', subject, `${k.fingerprint}: ${k.bits ?? 'unknown'}-bit RSA host key`))
    else out.push(finding('hostkey.unsupported', subject, `${k.fingerprint}: ${k.type} host key`))
  }
  return out
}

/** A host key handshake that failed for another reason than the server lacking that key type: the list may be short. */
export function hostKeyProbeFinding(algorithm: string, reason: string): Finding {
  return finding('hostkey.probe-failed', `hostkey:${algorithm}`, `the handshake asking for the ${algorithm} host key failed (${reason}): the server may hold a key of this type that the inventory does not list`)
}

/** Bytes that need escaping in a displayed path: controls, DEL, the backslash (so display stays reversible). */
function needsEscape(byte: number): boolean {
  return byte < 0x20 || byte === 0x7f || byte === 0x5c
}

/** Length of the well-formed UTF-8 sequence at buf[i] (Unicode table 3-7), or 0 when there is none. */
function utf8SequenceLength(buf: Buffer, i: number): number {
  const b0 = buf[i]
  if (b0 < 0x80) return 1
  const cont = (j: number, lo = 0x80, hi = 0xbf) => i + j < buf.length && buf[i + j] >= lo && buf[i + j] <= hi
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const [lo, hi] = b0 === 0xe0 ? [0xa0, 0xbf] : b0 === 0xed ? [0x80, 0x9f] : [0x80, 0xbf]
    return cont(1, lo, hi) && cont(2) ? 3 : 0
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const [lo, hi] = b0 === 0xf0 ? [0x90, 0xbf] : b0 === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf]
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0
  }
  return 0
}

const hex = (b: number) => `\\x${b.toString(16).padStart(2, '0')}`

/**
 * A raw path for people and reports: valid UTF-8 as text, every other byte, control characters and DEL as
 * `\xNN`, a backslash as `\\`. Lossless: parseDisplayPath gives the bytes back.
 */
export function displayPath(buf: Buffer): string {
  if (isUtf8(buf) && !buf.some(needsEscape)) return buf.toString('utf8')
  let out = ''
  let i = 0
  while (i < buf.length) {
    const b = buf[i]
    if (b === 0x5c) {
      out += '\\\\'
      i++
    } else if (needsEscape(b)) {
      out += hex(b)
      i++
    } else {
      const n = utf8SequenceLength(buf, i)
      if (n === 0) {
        out += hex(b)
        i++
      } else {
        out += buf.toString('utf8', i, i + n)
        i += n
      }
    }
  }
  return out
}

/** The bytes behind a displayPath string. */
export function parseDisplayPath(text: string): Buffer {
  const parts: Buffer[] = []
  let plain = ''
  const flush = () => {
    if (plain) parts.push(Buffer.from(plain, 'utf8'))
    plain = ''
  }
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && text[i + 1] === '\\') {
      plain += '\\'
      i++
    } else if (text[i] === '\\' && text[i + 1] === 'x' && /^[0-9a-f]{2}$/.test(text.slice(i + 2, i + 4))) {
      flush()
      parts.push(Buffer.from([parseInt(text.slice(i + 2, i + 4), 16)]))
      i += 3
    } else plain += text[i]
  }
  flush()
  return Buffer.concat(parts)
}

export interface FileFindingContext {
  /** now, in seconds since the epoch */
  now: number
  /** length in bytes of the S3 key the file maps to */
  s3KeyBytes: number
  /** set by the walker for a directory it found empty */
  emptyDir?: boolean
}

/**
 * Findings about one file (recent changes aside: isRecent); called per entry while walking, so it returns early and
 * allocates only when needed.
 */
export function fileFinding(entry: FileEntry, ctx: FileFindingContext): Finding[] {
  let out: Finding[] | undefined
  let subject: string | undefined
  const add = (id: RuleId, reason: string) => {
    subject ??= `file:${entry.owner}:${displayPath(entry.path)}`
    ;(out ??= []).push(finding(id, subject, reason))
  }
  if (entry.error !== undefined) add('file.unreadable', entry.error)
  for (const p of pathProblems(entry.path, ctx.s3KeyBytes)) add(p.rule, p.reason)
  switch (entry.type) {
    case 'file': {
      const tooLarge = objectSizeProblem(entry.size)
      if (tooLarge) add('file.too-large', tooLarge)
      break
    }
    case 'symlink':
      add('file.symlink', entry.linkTarget ? `points to ${displayPath(entry.linkTarget)}` : 'symbolic link')
      break
    case 'dir':
      if (ctx.emptyDir) add('file.empty-dir', 'no entries')
      break
    default:
      add('file.special', `${entry.type} file`)
  }
  return out ?? []
}

/** Changed in the last 24 hours: counted per owner (recentFinding), not a finding per file. */
export function isRecent(entry: FileEntry, now: number): boolean {
  return entry.type !== 'dir' && entry.mtime > now - RECENT_SECONDS
}

/** One line per owner whose files changed recently: the user is still active. */
export function recentFinding(owner: string, count: number, examples: string[]): Finding {
  return finding('file.recent', `user:${owner}`, `${count} file(s) modified in the last 24 hours (e.g. ${examples.join(', ')}): the user is active`)
}
