/**
 * Public keys as found on legacy boxes: OpenSSH authorized_keys lines (with options), RFC 4716 blocks and the
 * public half of PuTTY .ppk files, possibly mixed in one file. Pure parsing, no I/O. Nothing is ever dropped: a
 * line that is not a key becomes an AuthorizedKey of type 'unknown' with `error` set, so inventory can report it.
 */
import {fingerprintOf} from './host-keys.js'
import type {AuthorizedKey, HostKey, KeyFormat} from './inventory-model.js'

/** Key types whose blob this module understands (bits are known for each). */
export const KNOWN_KEY_TYPES = [
  'ssh-rsa',
  'ssh-dss',
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
] as const

const CERT_SUFFIX = '-cert-v01@openssh.com'
const CURVE_BITS: Record<string, number> = {nistp256: 256, nistp384: 384, nistp521: 521}

export interface KeyBlobInfo {
  type: string
  bits?: number
  fingerprint: string
}

/** Reads SSH wire-format fields (RFC 4251) and fails with a plain message when the blob is short. */
class BlobReader {
  private offset = 0
  constructor(private readonly blob: Buffer) {}

  bytes(what: string): Buffer {
    if (this.offset + 4 > this.blob.length) throw new Error(`key blob ends before its ${what}`)
    const len = this.blob.readUInt32BE(this.offset)
    const start = this.offset + 4
    if (start + len > this.blob.length) throw new Error(`key blob ends inside its ${what}`)
    this.offset = start + len
    return this.blob.subarray(start, start + len)
  }

  string(what: string): string {
    return this.bytes(what).toString('latin1')
  }

  get remaining(): number {
    return this.blob.length - this.offset
  }
}

/** Bit length of an SSH mpint (big-endian two's complement; the leading zero byte of a positive value is ignored). */
export function mpintBits(mpint: Buffer): number {
  let i = 0
  while (i < mpint.length && mpint[i] === 0) i++
  if (i === mpint.length) return 0
  return (mpint.length - i - 1) * 8 + (32 - Math.clz32(mpint[i]))
}

/**
 * Type and size of a public key blob. Throws with a readable reason when the blob is malformed or has trailing
 * bytes (OpenSSH refuses those too). Unknown key types are returned without bits.
 */
export function parseKeyBlob(blob: Buffer): KeyBlobInfo {
  const r = new BlobReader(blob)
  const type = r.string('key type')
  if (!/^[\x21-\x7e]{1,64}$/.test(type)) throw new Error('key blob does not start with a key type name')
  let base = type
  if (type.endsWith(CERT_SUFFIX)) {
    // Certificates carry a nonce before the same fields as the plain key; the rest of the cert is not our business.
    base = type.slice(0, -CERT_SUFFIX.length)
    r.bytes('certificate nonce')
  }
  let bits: number | undefined
  switch (base) {
    case 'ssh-rsa':
      r.bytes('RSA exponent')
      bits = mpintBits(r.bytes('RSA modulus'))
      break
    case 'ssh-dss':
      bits = mpintBits(r.bytes('DSA p'))
      r.bytes('DSA q')
      r.bytes('DSA g')
      r.bytes('DSA public value')
      break
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384':
    case 'ecdsa-sha2-nistp521':
    case 'sk-ecdsa-sha2-nistp256@openssh.com': {
      const curve = r.string('curve name')
      const expected = base.replace(/^(sk-)?ecdsa-sha2-/, '').replace(/@openssh\.com$/, '')
      if (curve !== expected) throw new Error(`key type ${base} names curve ${curve}`)
      bits = CURVE_BITS[curve]
      r.bytes('EC point')
      if (base.startsWith('sk-')) r.string('security key application')
      break
    }
    case 'ssh-ed25519':
    case 'sk-ssh-ed25519@openssh.com': {
      const pk = r.bytes('Ed25519 public key')
      if (pk.length !== 32) throw new Error(`Ed25519 public key is ${pk.length} bytes, expected 32`)
      bits = 256
      if (base.startsWith('sk-')) r.string('security key application')
      break
    }
    default:
      return {type, fingerprint: fingerprintOf(blob)}
  }
  if (base === type && r.remaining !== 0) throw new Error(`key blob has ${r.remaining} bytes after the ${type} key`)
  return {type, bits, fingerprint: fingerprintOf(blob)}
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

function decodeBase64(text: string): Buffer {
  if (!BASE64.test(text) || text.length % 4 === 1) throw new Error('the key data is not valid base64')
  return Buffer.from(text, 'base64')
}

/** Parsed key fields, or why not. `declaredType` is checked against the type inside the blob. */
function keyFromBlob(declaredType: string | undefined, b64: string): {info: KeyBlobInfo; b64: string} {
  const blob = decodeBase64(b64)
  const info = parseKeyBlob(blob)
  if (declaredType !== undefined && declaredType !== info.type) {
    throw new Error(`the line says ${declaredType} but the key data is ${info.type}`)
  }
  // Re-encode so the OpenSSH form is canonical (padding, no stray whitespace).
  return {info, b64: blob.toString('base64')}
}

function opensshLine(type: string, b64: string, comment: string): string {
  return comment ? `${type} ${b64} ${comment}` : `${type} ${b64}`
}

/**
 * Splits the options prefix of an authorized_keys line (`from="a,b",command="echo \"x\"",no-pty key...`).
 * Returns the options as written and the rest of the line, or undefined when the quotes do not close.
 */
export function splitKeyOptions(line: string): {options: string[]; rest: string} | undefined {
  const options: string[] = []
  let current = ''
  let quoted = false
  let i = 0
  for (; i < line.length; i++) {
    const c = line[i]
    if (quoted) {
      if (c === '\\' && line[i + 1] === '"') {
        current += '\\"'
        i++
        continue
      }
      if (c === '"') quoted = false
      current += c
      continue
    }
    if (c === '"') {
      quoted = true
      current += c
    } else if (c === ',') {
      options.push(current)
      current = ''
    } else if (c === ' ' || c === '\t') {
      break
    } else {
      current += c
    }
  }
  if (quoted) return undefined
  options.push(current)
  return {options: options.filter((o) => o !== ''), rest: line.slice(i).trim()}
}

/** Private key material must never be echoed: recognise it by its armour. */
const PRIVATE_BEGIN = /^-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----/
const RFC4716_BEGIN = /^---- BEGIN SSH2 PUBLIC KEY ----$/
const RFC4716_END = /^---- END SSH2 PUBLIC KEY ----$/
const PUTTY_HEADER = /^PuTTY-User-Key-File-([23]): *(\S+)$/

interface Line {
  text: string
  number: number
}

function toLines(text: string): Line[] {
  return text.split('\n').map((t, i) => ({text: t.replace(/\r$/, ''), number: i + 1}))
}

function unknownKey(file: string, line: number, error: string, comment = ''): AuthorizedKey {
  return {type: 'unknown', comment, options: [], format: 'unknown', file, line, error}
}

/** Shows the start of a bad line so the operator can find it, without dumping long (possibly secret) content. */
function preview(text: string): string {
  const t = text.trim()
  return JSON.stringify(t.length > 40 ? `${t.slice(0, 40)}…` : t)
}

function parsedKey(fields: {
  /** the type the text declares, checked against the blob; RFC 4716 declares none */
  type: string | undefined
  b64: string
  comment: string
  options: string[]
  format: KeyFormat
  file: string
  line: number
}): AuthorizedKey {
  try {
    const {info, b64} = keyFromBlob(fields.type, fields.b64)
    const key: AuthorizedKey = {
      type: info.type,
      fingerprint: info.fingerprint,
      comment: fields.comment,
      options: fields.options,
      format: fields.format,
      openssh: opensshLine(info.type, b64, fields.comment),
      file: fields.file,
      line: fields.line,
    }
    if (info.bits !== undefined) key.bits = info.bits
    if (!(KNOWN_KEY_TYPES as readonly string[]).includes(info.type)) key.error = `unsupported key type ${info.type}`
    return key
  } catch (err) {
    return {
      type: 'unknown',
      comment: fields.comment,
      options: fields.options,
      format: fields.format,
      file: fields.file,
      line: fields.line,
      error: (err as Error).message,
    }
  }
}

/** True when `word` followed by `b64` is a key whose blob names `word` as its type (so there is no options prefix). */
function startsWithKey(word: string, b64: string | undefined): boolean {
  if (!b64 || !BASE64.test(b64)) return false
  try {
    return parseKeyBlob(Buffer.from(b64, 'base64')).type === word
  } catch {
    return false
  }
}

/** One OpenSSH authorized_keys line (already known not to be blank or a comment). */
export function parseOpensshKeyLine(text: string, file: string, line: number): AuthorizedKey {
  const trimmed = text.trim()
  const [first, second] = trimmed.split(/\s+/)
  let options: string[] = []
  let rest = trimmed
  // As sshd does: try the line as a bare key first, and only then as options followed by a key.
  if (!startsWithKey(first, second) && !/^(ssh-|ecdsa-|sk-)/.test(first)) {
    const split = splitKeyOptions(trimmed)
    if (!split) return unknownKey(file, line, `unbalanced quotes in the options of ${preview(trimmed)}`)
    options = split.options
    rest = split.rest
  }
  const m = /^(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(rest)
  if (!m) {
    const err = options.length > 0 ? `no key after the options in ${preview(trimmed)}` : `not a public key line: ${preview(trimmed)}`
    return {...unknownKey(file, line, err), options}
  }
  return parsedKey({type: m[1], b64: m[2], comment: (m[3] ?? '').trim(), options, format: 'openssh', file, line})
}

/** An RFC 4716 block starting at lines[start] (the BEGIN line). Returns the key and the index after the block. */
function parseRfc4716(lines: Line[], start: number, file: string): {key: AuthorizedKey; next: number} {
  const begin = lines[start].number
  let comment = ''
  let body = ''
  let i = start + 1
  for (; i < lines.length; i++) {
    const t = lines[i].text.trim()
    if (RFC4716_END.test(t)) break
    const header = /^([\x21-\x39\x3b-\x7e]{1,64}):\s?(.*)$/.exec(t)
    if (header && body === '') {
      // A header value continues on the next line when it ends with a backslash.
      let value = header[2]
      while (value.endsWith('\\') && i + 1 < lines.length) {
        value = value.slice(0, -1) + lines[++i].text.trim()
      }
      if (header[1].toLowerCase() === 'comment') comment = value.replace(/^"(.*)"$/, '$1')
      continue
    }
    body += t
  }
  if (i >= lines.length) return {key: unknownKey(file, begin, 'RFC 4716 block without an END line', comment), next: i}
  const key = parsedKey({type: undefined, b64: body, comment, options: [], format: 'rfc4716', file, line: begin})
  return {key, next: i + 1}
}

/** The public half of a PuTTY .ppk starting at lines[start] (the header). Private lines are skipped unread. */
function parsePutty(lines: Line[], start: number, file: string): {key: AuthorizedKey; next: number} {
  const header = PUTTY_HEADER.exec(lines[start].text.trim())
  const declared = header?.[2]
  const begin = lines[start].number
  let comment = ''
  let body: string | undefined
  let i = start + 1
  for (; i < lines.length; i++) {
    const t = lines[i].text.trim()
    const field = /^([A-Za-z0-9-]+): *(.*)$/.exec(t)
    if (!field) break
    const [, name, value] = field
    if (name === 'Comment') comment = value
    else if (name === 'Public-Lines' || name === 'Private-Lines') {
      const n = Number(value)
      if (!Number.isInteger(n) || n < 0) return {key: unknownKey(file, begin, `PuTTY key: bad ${name} ${preview(value)}`, comment), next: i + 1}
      if (name === 'Public-Lines') {
        body = lines
          .slice(i + 1, i + 1 + n)
          .map((l) => l.text.trim())
          .join('')
      }
      i += n
    } else if (name === 'Private-MAC') {
      i++
      break
    }
  }
  if (body === undefined) return {key: unknownKey(file, begin, 'PuTTY key without Public-Lines', comment), next: i}
  const key = parsedKey({type: declared, b64: body, comment, options: [], format: 'putty', file, line: begin})
  return {key, next: i}
}

/** Skips a PEM private key block without reading it into any result. */
function skipPrivateKey(lines: Line[], start: number, file: string): {key: AuthorizedKey; next: number} {
  let i = start + 1
  while (i < lines.length && !/^-----END [A-Z0-9 ]*-----/.test(lines[i].text.trim())) i++
  const key = unknownKey(
    file,
    lines[start].number,
    `a private key (lines ${lines[start].number}-${lines[Math.min(i, lines.length - 1)].number}) is in this file; it is not shown: remove it from the box`,
  )
  return {key, next: i + 1}
}

/**
 * Every key in an authorized_keys-style file, in file order. `file` names the source in each result
 * (a path, or e.g. "users.csv line 4").
 */
export function parseAuthorizedKeys(text: string, file: string): AuthorizedKey[] {
  const lines = toLines(text)
  const keys: AuthorizedKey[] = []
  let i = 0
  while (i < lines.length) {
    const t = lines[i].text.trim()
    if (t === '' || t.startsWith('#')) {
      i++
      continue
    }
    let block: {key: AuthorizedKey; next: number} | undefined
    if (RFC4716_BEGIN.test(t)) block = parseRfc4716(lines, i, file)
    else if (PUTTY_HEADER.test(t)) block = parsePutty(lines, i, file)
    else if (PRIVATE_BEGIN.test(t)) block = skipPrivateKey(lines, i, file)
    if (block) {
      keys.push(block.key)
      i = block.next
      continue
    }
    keys.push(parseOpensshKeyLine(t, file, lines[i].number))
    i++
  }
  return keys
}

/**
 * A host public key line: `<type> <base64> [comment]`, or a known_hosts / ssh-keyscan line with a host field
 * before the type. Throws when the key cannot be read.
 */
export function parseHostKeyLine(line: string): HostKey {
  const fields = line.trim().split(/\s+/)
  let at = 0
  if (fields.length >= 3 && !startsWithKey(fields[0], fields[1]) && startsWithKey(fields[1], fields[2])) at = 1
  const [type, b64] = [fields[at], fields[at + 1]]
  if (!type || !b64) throw new Error(`not a host key line: ${preview(line)}`)
  const {info, b64: canonical} = keyFromBlob(type, b64)
  const key: HostKey = {type: info.type, fingerprint: info.fingerprint, publicKey: `${info.type} ${canonical}`}
  if (info.bits !== undefined) key.bits = info.bits
  return key
}
