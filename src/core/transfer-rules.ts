/**
 * What AWS Transfer Family and S3 accept, in one place: key types and sizes, user names, object keys, names and
 * sizes. Inventory findings, users plan and import, sync and the cutover preflight take every verdict from here,
 * so they cannot disagree about the same key or name. Pure: no I/O.
 */
import {isUtf8} from 'node:buffer'

import type {AuthorizedKey} from './inventory-model.js'

// ---------------------------------------------------------------------------------------------------------------
// Limits

/** Key types ImportSshPublicKey (users) and ImportHostKey (host keys) accept. */
export const ACCEPTED_KEY_TYPES: readonly string[] = ['ssh-rsa', 'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521']
export const MIN_RSA_BITS = 2048
/** ImportSshPublicKey's limit on SshPublicKeyBody, in characters. */
export const MAX_KEY_BODY_CHARS = 2048
/** CreateUser UserName. */
export const USER_NAME_PATTERN = /^[\w][\w@.-]{2,99}$/
/** HomeDirectoryMapEntry Entry and Target, and HomeDirectory. */
export const MAX_PATH_CHARS = 1024
/** S3 object keys, in bytes of UTF-8. */
export const MAX_S3_KEY_BYTES = 1024
/** Largest S3 object. */
export const MAX_OBJECT_BYTES = 5 * 1024 ** 4
/** Multipart upload: at most 10,000 parts (sync's parts, 8 MiB and up, stay within S3's 5 MiB to 5 GiB). */
export const MAX_PARTS = 10_000

// ---------------------------------------------------------------------------------------------------------------
// User names

/** Why Transfer would reject a user name, or undefined when it accepts it. */
export function userNameProblem(name: string): string | undefined {
  if (name === 'root') return '"root" cannot log in to Transfer Family'
  if (name.length < 3) return `"${name}" is shorter than 3 characters`
  if (!USER_NAME_PATTERN.test(name)) {
    return `"${name}" is not a valid Transfer user name: 3-100 characters; letters, digits and _, and after the first character also @ . -`
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------------------------
// Login keys

/** authorized_keys options that limit where or how a key may be used; Transfer Family has no per-key options. */
const RESTRICTING_OPTIONS: Record<string, string> = {
  from: "Limit the source addresses at the server instead: the Transfer server's security group (AllowedClientCidr in infra/sftp-transfer.yaml) or its VPC endpoint's network. It then applies to every user.",
  command: 'Transfer Family serves SFTP only, so a forced internal-sftp or sftp-server holds there; any other forced command (or its arguments, e.g. -R read-only) does not: use a scope-down policy or a logical home directory for what it limited.',
  'expiry-time': 'Transfer does not expire keys: delete the key on Transfer by that date (aws transfer delete-ssh-public-key), or have the user create a new key.',
  restrict: 'Transfer Family offers no shell, port, agent or X11 forwarding, so these limits hold there.',
  'no-port-forwarding': 'Transfer Family offers no port forwarding, so this limit holds there.',
  'no-agent-forwarding': 'Transfer Family offers no agent forwarding, so this limit holds there.',
  'no-x11-forwarding': 'Transfer Family offers no X11 forwarding, so this limit holds there.',
  'no-pty': 'Transfer Family offers no terminal, so this limit holds there.',
  'no-user-rc': 'Transfer Family runs no ~/.ssh/rc, so this limit holds there.',
  permitopen: 'Transfer Family offers no port forwarding, so this limit holds there.',
  permitlisten: 'Transfer Family offers no port forwarding, so this limit holds there.',
  tunnel: 'Transfer Family offers no tunnel devices, so this limit holds there.',
  'verify-required': 'Transfer Family does not accept security-key keys at all.',
}

/** The option's name, lower case: `from="10.0.0.0/8"` -> `from`. */
export function optionName(option: string): string {
  return option.split('=')[0].trim().toLowerCase()
}

/** The options of a key that restrict it and that Transfer Family will not enforce per key, as written. */
export function restrictingOptions(key: Pick<AuthorizedKey, 'options'>): string[] {
  return key.options.filter((o) => optionName(o) in RESTRICTING_OPTIONS)
}

/** What to do about the restricting options (one sentence per distinct option name, the server-level equivalent). */
export function restrictionAdvice(options: string[]): string {
  return [...new Set(options.map(optionName))].map((n) => `${n}: ${RESTRICTING_OPTIONS[n]}`).join(' ')
}

/** A cert-authority line: it trusts a CA that signs user certificates, it is not a login key itself. */
export function isCertAuthority(key: Pick<AuthorizedKey, 'options'>): boolean {
  return key.options.some((o) => optionName(o) === 'cert-authority')
}

export type KeyRefusalRule = 'key.unparseable' | 'key.cert-authority' | 'key.dsa' | 'key.sk' | 'key.type-unsupported' | 'key.rsa-short' | 'key.too-long'

export interface KeyVerdict {
  /** Why Transfer cannot take this key at all; no flag changes it. */
  refusal?: {rule: KeyRefusalRule; reason: string}
  /** Why sshd ignores this key today (it grants no login now); imported only when the user opts in. */
  dead?: string
  /** Restricting options Transfer does not enforce; imported only when the user's restrictions are accepted. */
  restrictions: string[]
  /** What ImportSshPublicKey gets: OpenSSH one-line form, no options; the comment when printable and it fits. */
  body?: string
}

/** The body Transfer gets for an OpenSSH one-line key: the comment travels when printable ASCII and within the limit. */
export function transferKeyBody(openssh: string): string {
  const [type, b64, ...rest] = openssh.trim().split(/\s+/)
  const comment = rest.join(' ')
  const withComment = comment && /^[\x20-\x7e]+$/.test(comment) ? `${type} ${b64} ${comment}` : `${type} ${b64}`
  return withComment.length <= MAX_KEY_BODY_CHARS ? withComment : `${type} ${b64}`
}

/** Everything Transfer Family says about one legacy login key. */
export function keyVerdict(key: AuthorizedKey): KeyVerdict {
  const where = `${key.file}:${key.line}`
  const restrictions = restrictingOptions(key)
  const refuse = (rule: KeyRefusalRule, reason: string): KeyVerdict => ({refusal: {rule, reason: `${where}: ${reason}`}, dead: key.dead, restrictions})
  if (key.error !== undefined || key.fingerprint === undefined || key.openssh === undefined) return refuse('key.unparseable', key.error ?? 'the key cannot be read')
  if (isCertAuthority(key)) {
    return refuse('key.cert-authority', `a cert-authority line (${key.type} CA key): it lets in users holding certificates this CA signed; Transfer Family has no user certificates`)
  }
  if (key.type === 'ssh-dss') return refuse('key.dsa', 'a DSA key; Transfer Family does not accept DSA (OpenSSH disabled it in 7.0)')
  if (key.type.startsWith('sk-')) return refuse('key.sk', `a ${key.type} (security key) key; Transfer Family accepts RSA, ECDSA and ED25519 keys only`)
  if (!ACCEPTED_KEY_TYPES.includes(key.type)) return refuse('key.type-unsupported', `a ${key.type} key; Transfer Family accepts RSA, ECDSA and ED25519 keys only`)
  if (key.type === 'ssh-rsa' && (key.bits ?? 0) < MIN_RSA_BITS) return refuse('key.rsa-short', `an RSA key of ${key.bits ?? 'unknown'} bits; Transfer Family needs at least ${MIN_RSA_BITS}`)
  const body = transferKeyBody(key.openssh)
  if (body.length > MAX_KEY_BODY_CHARS) return refuse('key.too-long', `the key is ${body.length} characters without its comment; Transfer accepts at most ${MAX_KEY_BODY_CHARS}`)
  return {dead: key.dead, restrictions, body}
}

/** What the operator accepted for one user (users import --import-dead-keys, --accept-key-options). */
export interface KeyAcceptance {
  deadKeys?: boolean
  keyOptions?: boolean
}

export type KeyDecision =
  | {import: true; body: string; acceptedRisks: string[]}
  | {import: false; rule: KeyRefusalRule | 'key.dead' | 'key.options'; reason: string}

/** Whether the key goes to Transfer for a user with these acceptances, and why not. */
export function keyDecision(key: AuthorizedKey, accepted: KeyAcceptance = {}): KeyDecision {
  const v = keyVerdict(key)
  const where = `${key.file}:${key.line}`
  if (v.refusal) return {import: false, ...v.refusal}
  if (v.dead !== undefined && !accepted.deadKeys) return {import: false, rule: 'key.dead', reason: `${where}: dead today: ${v.dead}`}
  if (v.restrictions.length > 0 && !accepted.keyOptions) {
    return {import: false, rule: 'key.options', reason: `${where}: restricted by ${v.restrictions.join(',')}; Transfer Family has no per-key options, so imported it would be unrestricted`}
  }
  const acceptedRisks: string[] = []
  if (v.dead !== undefined) acceptedRisks.push(`imported although sshd ignores it today (${v.dead})`)
  if (v.restrictions.length > 0) acceptedRisks.push(`imported without its restrictions ${v.restrictions.join(',')}`)
  return {import: true, body: v.body!, acceptedRisks}
}

/** Whether Transfer Family can import a host key of this type and size (ImportHostKey). */
export function hostKeyImportable(type: string, bits: number | undefined): boolean {
  return ACCEPTED_KEY_TYPES.includes(type) && !(type === 'ssh-rsa' && (bits ?? 0) < MIN_RSA_BITS)
}

// ---------------------------------------------------------------------------------------------------------------
// Names and objects

export type NameRule = 'file.name-not-utf8' | 'file.name-control-chars' | 'file.key-invalid' | 'file.key-too-long'

/** True when the name has a C0 control byte (CR, LF, tab, ...) or DEL. */
export function hasControlByte(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) if (buf[i] < 0x20 || buf[i] === 0x7f) return true
  return false
}

/** True when a component of the '/'-separated path is empty, '.' or '..' (a trailing '/' is allowed). Scans bytes. */
function hasBadComponent(path: Buffer): boolean {
  const end = path.length > 0 && path[path.length - 1] === 0x2f ? path.length - 1 : path.length
  let start = 0
  for (let i = 0; i <= end; i++) {
    if (i < end && path[i] !== 0x2f) continue
    const len = i - start
    if (len === 0 || (path[start] === 0x2e && (len === 1 || (len === 2 && path[start + 1] === 0x2e)))) return true
    start = i + 1
  }
  return false
}

/**
 * Why a file's relative path cannot become an S3 key that Transfer users reach, in the order the rules are checked;
 * empty when it can. `s3KeyBytes` is the length of the key it maps to. Runs per file: byte scans, no allocation
 * when there is nothing to say.
 */
export function pathProblems(relPath: Buffer, s3KeyBytes: number): Array<{rule: NameRule; reason: string}> {
  let out: Array<{rule: NameRule; reason: string}> | undefined
  const add = (rule: NameRule, reason: string) => (out ??= []).push({rule, reason})
  if (!isUtf8(relPath)) add('file.name-not-utf8', 'the name has bytes that are not UTF-8 (S3 keys and Transfer Family paths are UTF-8)')
  if (hasControlByte(relPath)) add('file.name-control-chars', 'the name has control characters (CR, LF, tab or other C0 bytes): clients cannot type it and it breaks S3 listings')
  if (relPath.length === 0 || hasBadComponent(relPath)) add('file.key-invalid', 'the path has an empty, "." or ".." component')
  if (s3KeyBytes > MAX_S3_KEY_BYTES) add('file.key-too-long', `the S3 key would be ${s3KeyBytes} bytes; S3 allows ${MAX_S3_KEY_BYTES}`)
  return out ?? []
}

/** Why S3 cannot hold an object of this size, or undefined. */
export function objectSizeProblem(size: number): string | undefined {
  return size > MAX_OBJECT_BYTES ? `${size} bytes is over the 5 TiB S3 object limit` : undefined
}
