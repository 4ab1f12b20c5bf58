/**
 * The legacy box's private host keys, made ready for Transfer's ImportHostKey, and the plan for importing them.
 * Pure computation (no I/O): the service reads the files and calls Transfer.
 *
 * The private key text lives only in `HostPrivateKey.body`, which goes to ImportHostKey and nowhere else: nothing
 * here puts it in an error message, and the summaries the plan and the output use have no body.
 *
 * Formats: Transfer's documentation generates RSA and ECDSA host keys with `ssh-keygen -m PEM` and ED25519 keys in
 * OpenSSH format, and accepts no passphrase. So RSA becomes PKCS#1 PEM, ECDSA SEC1 PEM and ED25519 an unencrypted
 * openssh-key-v1 file, whatever the legacy file was (OpenSSH, PEM, PKCS#8, PuTTY; encrypted or not).
 *
 * Which key is used: AWS's "Add an additional server host key" page says the oldest key of each type (RSA, ECDSA,
 * ED25519) is the active one for that type. A key imported after one of the same type is therefore not presented
 * until the older one is deleted; the plan says so, and --replace deletes the older ones after the import.
 */
import {createHash, createPrivateKey, type KeyObject, randomBytes} from 'node:crypto'
import ssh2 from 'ssh2'

import {fingerprintOf} from './host-keys.js'
import type {HostKey} from './inventory-model.js'
import {ACCEPTED_KEY_TYPES, MIN_RSA_BITS} from './transfer-rules.js'


/** A host key without its private part: what plans, state and output may hold. */
export interface HostKeySummary {
  type: string
  bits: number
  /** SHA256:... as ssh-keygen -lf prints it */
  fingerprint: string
  /** MD5 colon-hex, the other form fingerprints are shown in */
  md5: string
  /** "<type> <base64>" */
  publicKey: string
  /** the file it was read from */
  source: string
  /** it needed a passphrase */
  encrypted: boolean
}

export interface HostPrivateKey extends HostKeySummary {
  /** The private key as ImportHostKey takes it. Secret: never log, store or print it. */
  body: string
}

export type HostKeyParse =
  | {ok: true; key: HostPrivateKey}
  | {ok: false; reason: 'passphrase-needed' | 'bad-passphrase' | 'unreadable' | 'unsupported'; message: string}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}

function sshString(data: Buffer | string): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data
  return Buffer.concat([u32(b.length), b])
}

function mpint(b: Buffer): Buffer {
  let i = 0
  while (i < b.length - 1 && b[i] === 0) i++
  const v = b.subarray(i)
  return sshString(v[0] & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v)
}

function b64url(s: string | undefined): Buffer {
  return Buffer.from(s ?? '', 'base64url')
}

const CURVES: Record<string, {name: string; bytes: number}> = {'P-256': {name: 'nistp256', bytes: 32}, 'P-384': {name: 'nistp384', bytes: 48}, 'P-521': {name: 'nistp521', bytes: 66}}

function leftPad(b: Buffer, n: number): Buffer {
  return b.length >= n ? b : Buffer.concat([Buffer.alloc(n - b.length), b])
}

/** An unencrypted openssh-key-v1 file for an Ed25519 key (what `ssh-keygen -t ed25519 -N ""` writes). */
function opensshEd25519(pub: Buffer, seed: Buffer, comment: string): string {
  const publicBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)])
  const check = randomBytes(4)
  let priv = Buffer.concat([check, check, sshString('ssh-ed25519'), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(Buffer.from(comment, 'utf8'))])
  const pad: number[] = []
  for (let i = 1; (priv.length + pad.length) % 8 !== 0; i++) pad.push(i)
  priv = Buffer.concat([priv, Buffer.from(pad)])
  const file = Buffer.concat([Buffer.from('openssh-key-v1\0', 'latin1'), sshString('none'), sshString('none'), sshString(''), u32(1), sshString(publicBlob), sshString(priv)])
  const lines = file.toString('base64').match(/.{1,70}/g) ?? []
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`
}

function fromKeyObject(ko: KeyObject, comment: string): {type: string; bits: number; blob: Buffer; body: string} | {unsupported: string} {
  const kind = ko.asymmetricKeyType
  if (kind !== 'rsa' && kind !== 'ec' && kind !== 'ed25519') {
    return {unsupported: kind === 'dsa' ? 'a DSA key; Transfer Family does not accept DSA host keys' : `a ${kind} key; Transfer accepts RSA, ECDSA and ED25519 host keys`}
  }
  const jwk = ko.export({format: 'jwk'})
  switch (kind) {
    case 'rsa': {
      const n = b64url(jwk.n)
      const blob = Buffer.concat([sshString('ssh-rsa'), mpint(b64url(jwk.e)), mpint(n)])
      return {type: 'ssh-rsa', bits: ko.asymmetricKeyDetails?.modulusLength ?? n.length * 8, blob, body: ko.export({type: 'pkcs1', format: 'pem'}).toString()}
    }
    case 'ec': {
      const curve = CURVES[jwk.crv ?? '']
      if (!curve) return {unsupported: `an ECDSA key on curve ${jwk.crv}; Transfer accepts nistp256, nistp384 and nistp521`}
      const type = `ecdsa-sha2-${curve.name}`
      const q = Buffer.concat([Buffer.from([4]), leftPad(b64url(jwk.x), curve.bytes), leftPad(b64url(jwk.y), curve.bytes)])
      const blob = Buffer.concat([sshString(type), sshString(curve.name), sshString(q)])
      return {type, bits: Number(curve.name.slice(5)), blob, body: ko.export({type: 'sec1', format: 'pem'}).toString()}
    }
    case 'ed25519': {
      const pub = b64url(jwk.x)
      return {type: 'ssh-ed25519', bits: 256, blob: Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]), body: opensshEd25519(pub, b64url(jwk.d), comment)}
    }
  }
}

export function md5Fingerprint(blob: Buffer): string {
  return (createHash('md5').update(blob).digest('hex').match(/../g) ?? []).join(':')
}

/** ssh2's messages name the problem, never the key material; they are safe to show. */
function classifySsh2Error(err: Error, hadPassphrase: boolean): HostKeyParse {
  if (/no passphrase given/i.test(err.message)) return {ok: false, reason: 'passphrase-needed', message: 'the key is encrypted'}
  if (hadPassphrase && /passphrase|integrity check|decrypt/i.test(err.message)) return {ok: false, reason: 'bad-passphrase', message: 'the passphrase does not decrypt the key'}
  return {ok: false, reason: 'unreadable', message: `not a private key this tool can read (${err.message.slice(0, 120)})`}
}

/**
 * Reads one private host key (the text of a file) and prepares it for ImportHostKey. Returns why not when it
 * cannot: a passphrase is needed or wrong, the format is unknown, or Transfer does not take the key type.
 */
export function parseHostPrivateKey(text: string, source: string, passphrase?: string): HostKeyParse {
  let ko: KeyObject
  let comment = ''
  let encrypted = false
  if (/-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(text)) {
    encrypted = text.includes('BEGIN ENCRYPTED PRIVATE KEY')
    if (encrypted && !passphrase) return {ok: false, reason: 'passphrase-needed', message: 'the key is encrypted'}
    try {
      ko = createPrivateKey({key: text, format: 'pem', ...(passphrase ? {passphrase} : {})})
    } catch {
      return encrypted ? {ok: false, reason: 'bad-passphrase', message: 'the passphrase does not decrypt the key'} : {ok: false, reason: 'unreadable', message: 'not a PKCS#8 private key'}
    }
  } else {
    let parsed = ssh2.utils.parseKey(text)
    if (parsed instanceof Error && /no passphrase given/i.test(parsed.message)) {
      encrypted = true
      if (!passphrase) return {ok: false, reason: 'passphrase-needed', message: 'the key is encrypted'}
      parsed = ssh2.utils.parseKey(text, passphrase)
    }
    if (parsed instanceof Error) return classifySsh2Error(parsed, encrypted)
    if (Array.isArray(parsed)) return {ok: false, reason: 'unreadable', message: `the file holds ${parsed.length} keys; give one key per --key-file`}
    if (!parsed.isPrivateKey()) return {ok: false, reason: 'unreadable', message: 'this is a public key; ImportHostKey needs the private key (e.g. /etc/ssh/ssh_host_ed25519_key)'}
    if (parsed.type === 'ssh-dss') return {ok: false, reason: 'unsupported', message: 'a DSA key; Transfer Family does not accept DSA host keys'}
    comment = parsed.comment ?? ''
    try {
      ko = createPrivateKey(parsed.getPrivatePEM())
    } catch {
      return {ok: false, reason: 'unreadable', message: `a ${parsed.type} key this tool cannot convert`}
    }
  }
  const made = fromKeyObject(ko, comment)
  if ('unsupported' in made) return {ok: false, reason: 'unsupported', message: made.unsupported}
  // Self-check: the body we send must be the same key.
  const check = ssh2.utils.parseKey(made.body)
  if (check instanceof Error || Array.isArray(check) || !check.getPublicSSH().equals(made.blob)) {
    return {ok: false, reason: 'unreadable', message: `the ${made.type} key could not be converted faithfully`}
  }
  return {
    ok: true,
    key: {
      type: made.type,
      bits: made.bits,
      fingerprint: fingerprintOf(made.blob),
      md5: md5Fingerprint(made.blob),
      publicKey: `${made.type} ${made.blob.toString('base64')}`,
      source,
      encrypted,
      body: made.body,
    },
  }
}

/** The key without its private part. */
export function summarize(key: HostPrivateKey): HostKeySummary {
  const {type, bits, fingerprint, md5, publicKey, source, encrypted} = key
  return {type, bits, fingerprint, md5, publicKey, source, encrypted}
}

// ---------------------------------------------------------------------------------------------------------------
// Plan

/** A host key the Transfer server holds (ListHostKeys). */
export interface ServerHostKey {
  id: string
  type?: string
  fingerprint?: string
  description?: string
  dateImported?: string
}

/** A host key sftp-cutover imported earlier (state). */
export interface ImportedHostKey {
  hostKeyId: string
  type: string
  fingerprint: string
}

/** Transfer may print fingerprints as SHA256:<b64>, with or without padding, or as MD5 hex. */
export function sameFingerprint(listed: string | undefined, key: Pick<HostKeySummary, 'fingerprint' | 'md5'>): boolean {
  if (!listed) return false
  const l = listed.trim().replace(/^SHA256:/i, '').replace(/=+$/, '')
  if (l === key.fingerprint.replace(/^SHA256:/, '')) return true
  return l.replace(/^MD5:/i, '').toLowerCase() === key.md5
}

export interface HostKeyPlanItem {
  key: HostKeySummary
  /** the legacy host key (inventory) with the same fingerprint */
  legacy?: HostKey
  action: 'import' | 'unchanged' | 'refuse'
  reason?: string
  /** the HostKeyId on the server, when the key is already there */
  hostKeyId?: string
}

export interface HostKeyWarning {
  type: string
  code: 'older-key-active' | 'legacy-key-not-given' | 'legacy-type-unsupported' | 'cannot-list'
  message: string
  fix: string
  /** counts toward exit code 3 */
  problem: boolean
}

export interface HostKeyPlan {
  items: HostKeyPlanItem[]
  /** keys deleted after the import (--replace): older keys of the same type that would stay active */
  deletes: ServerHostKey[]
  warnings: HostKeyWarning[]
  problems: string[]
}

export interface HostKeyPlanInput {
  serverId: string
  /** what inventory recorded from the live server */
  legacy: HostKey[]
  given: HostKeySummary[]
  /** ListHostKeys; undefined when the endpoint does not have it */
  server: ServerHostKey[] | undefined
  imported: ImportedHostKey[]
  replace: boolean
}

export function planHostKeys(input: HostKeyPlanInput): HostKeyPlan {
  const items: HostKeyPlanItem[] = []
  const warnings: HostKeyWarning[] = []
  const deletes: ServerHostKey[] = []
  const seen = new Set<string>()
  for (const key of input.given) {
    if (seen.has(key.fingerprint)) continue
    seen.add(key.fingerprint)
    const legacy = input.legacy.find((h) => h.fingerprint === key.fingerprint)
    if (!legacy) {
      const offered = input.legacy.filter((h) => h.type === key.type).map((h) => h.fingerprint)
      items.push({
        key,
        action: 'refuse',
        reason: `${key.source}: its public key ${key.fingerprint} is not a host key the legacy server presented${offered.length > 0 ? ` (inventory recorded ${key.type} ${offered.join(', ')})` : ` (inventory recorded no ${key.type} key)`}`,
      })
      continue
    }
    if (key.type === 'ssh-rsa' && key.bits < MIN_RSA_BITS) {
      items.push({key, legacy, action: 'refuse', reason: `${key.source}: an RSA host key of ${key.bits} bits; Transfer Family needs at least ${MIN_RSA_BITS}`})
      continue
    }
    const onServer =
      input.server?.find((s) => sameFingerprint(s.fingerprint, key)) ??
      input.server?.find((s) => input.imported.some((i) => i.hostKeyId === s.id && i.fingerprint === key.fingerprint))
    const recorded = input.imported.find((i) => i.fingerprint === key.fingerprint)
    if (onServer) items.push({key, legacy, action: 'unchanged', hostKeyId: onServer.id})
    else if (input.server === undefined && recorded) items.push({key, legacy, action: 'unchanged', hostKeyId: recorded.hostKeyId})
    else items.push({key, legacy, action: 'import'})
  }

  // Keys of the same type that are older than ours stay the active ones.
  for (const item of items.filter((i) => i.action !== 'refuse')) {
    if (!input.server) continue
    const ours = item.hostKeyId ? input.server.find((s) => s.id === item.hostKeyId) : undefined
    const others = input.server.filter((s) => s.type === item.key.type && s.id !== item.hostKeyId && !sameFingerprint(s.fingerprint, item.key))
    const older = others.filter((s) => !ours || !ours.dateImported || !s.dateImported || s.dateImported <= ours.dateImported)
    if (older.length === 0) continue
    if (input.replace) {
      deletes.push(...older)
      continue
    }
    warnings.push({
      type: item.key.type,
      code: 'older-key-active',
      message: `the server already has ${older.length === 1 ? 'an older' : `${older.length} older`} ${item.key.type} host key${older.length === 1 ? '' : 's'} (${older
        .map((s) => `${s.id}${s.fingerprint ? ` ${s.fingerprint}` : ''}${s.dateImported ? ` from ${s.dateImported}` : ''}`)
        .join('; ')}); the oldest key of each type is the active one, so clients would still be shown that key, not the legacy one`,
      fix: `Delete ${older.length === 1 ? 'it' : 'them'} once nothing relies on ${older.length === 1 ? 'it' : 'them'}: run again with --replace, or ${older
        .map((s) => `aws transfer delete-host-key --server-id ${input.serverId} --host-key-id ${s.id}`)
        .join('; ')}`,
      problem: true,
    })
  }
  if (!input.server) {
    warnings.push({
      type: '*',
      code: 'cannot-list',
      message: 'ListHostKeys is not available at this endpoint: cannot tell whether an older key of the same type would stay the active one',
      fix: 'Check the server\'s host keys in the console or with aws transfer list-host-keys: the oldest key of each type is used.',
      problem: false,
    })
  }

  for (const legacy of input.legacy) {
    if (items.some((i) => i.legacy?.fingerprint === legacy.fingerprint && i.action !== 'refuse')) continue
    if (!ACCEPTED_KEY_TYPES.includes(legacy.type)) {
      warnings.push({
        type: legacy.type,
        code: 'legacy-type-unsupported',
        message: `the legacy server also offers a ${legacy.type} host key (${legacy.fingerprint}), which Transfer Family cannot hold`,
        fix: 'Clients that know only that key will see a new one: tell their owners the fingerprints of the keys that were imported.',
        problem: false,
      })
      continue
    }
    warnings.push({
      type: legacy.type,
      code: 'legacy-key-not-given',
      message: `the legacy server offers a ${legacy.type} host key (${legacy.fingerprint}) that is not being imported`,
      fix: `Pass its private key too (e.g. --key-file /etc/ssh/ssh_host_${legacy.type === 'ssh-rsa' ? 'rsa' : legacy.type.startsWith('ecdsa') ? 'ecdsa' : 'ed25519'}_key copied from the box); otherwise clients that pinned it see "host key changed".`,
      problem: true,
    })
  }

  const problems = [
    ...items.filter((i) => i.action === 'refuse').map((i) => `refused: ${i.reason}`),
    ...warnings.filter((w) => w.problem).map((w) => `${w.type}: ${w.message}`),
  ]
  return {items, deletes, warnings, problems}
}
