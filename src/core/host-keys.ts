import {createHash, createHmac} from 'node:crypto'

/** OpenSSH-style fingerprint of a public key blob: SHA256:<base64 without padding>, as ssh-keygen -lf prints it. */
export function fingerprintOf(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')
}

/** The key type named inside an SSH public key blob (its first length-prefixed string). */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown'
  const len = keyBlob.readUInt32BE(0)
  return len > 0 && len < 64 && keyBlob.length >= 4 + len ? keyBlob.subarray(4, 4 + len).toString('latin1') : 'unknown'
}

export interface KnownHostEntry {
  marker?: '@revoked' | '@cert-authority'
  /** Plain patterns (host, [host]:port, wildcards, !negations) or one hashed entry. */
  patterns: string[]
  hashed?: {salt: Buffer; hash: Buffer}
  keyType: string
  keyBlob: Buffer
  line: number
}

/** Parses an OpenSSH known_hosts file; lines it cannot read are skipped, as ssh does. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = []
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim()
    if (!line || line.startsWith('#')) return
    const fields = line.split(/\s+/)
    let marker: KnownHostEntry['marker']
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') marker = fields.shift() as KnownHostEntry['marker']
    const [hosts, keyType, keyB64] = fields
    if (!hosts || !keyType || !keyB64) return
    const keyBlob = Buffer.from(keyB64, 'base64')
    if (keyBlob.length === 0) return
    const entry: KnownHostEntry = {marker, patterns: [], keyType, keyBlob, line: index + 1}
    if (hosts.startsWith('|1|')) {
      const [, , salt, hash] = hosts.split('|')
      if (!salt || !hash) return
      entry.hashed = {salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64')}
    } else {
      entry.patterns = hosts.split(',')
    }
    entries.push(entry)
  })
  return entries
}

/** The name ssh looks up: "host" on port 22, "[host]:port" otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`
}

function wildcardMatch(pattern: string, name: string): boolean {
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i')
  return re.test(name)
}

export function entryMatchesHost(entry: KnownHostEntry, host: string, port: number): boolean {
  const name = knownHostsName(host, port)
  if (entry.hashed) {
    const digest = createHmac('sha1', entry.hashed.salt).update(name).digest()
    return digest.equals(entry.hashed.hash)
  }
  let matched = false
  for (const pattern of entry.patterns) {
    if (pattern.startsWith('!')) {
      if (wildcardMatch(pattern.slice(1), name)) return false
    } else if (wildcardMatch(pattern, name)) {
      matched = true
    }
  }
  return matched
}

export type HostKeyVerdict =
  | {ok: true; fingerprint: string; keyType: string}
  | {ok: false; reason: 'mismatch' | 'unknown' | 'revoked'; fingerprint: string; keyType: string; expected: string[]}

export interface HostKeyTrust {
  pinnedFingerprint?: string
  knownHosts?: KnownHostEntry[]
}

/**
 * Decides whether the key a server presented is trusted. A pinned fingerprint must match exactly; otherwise the
 * known_hosts entries for this host must hold the same key. Nothing unknown is ever accepted.
 */
export function verifyHostKey(presented: Buffer, host: string, port: number, trust: HostKeyTrust): HostKeyVerdict {
  const fingerprint = fingerprintOf(presented)
  const keyType = keyTypeOf(presented)
  const forHost = (trust.knownHosts ?? []).filter((e) => e.marker !== '@cert-authority' && entryMatchesHost(e, host, port))
  if (forHost.some((e) => e.marker === '@revoked' && e.keyBlob.equals(presented))) {
    return {ok: false, reason: 'revoked', fingerprint, keyType, expected: []}
  }
  if (trust.pinnedFingerprint !== undefined) {
    return trust.pinnedFingerprint === fingerprint
      ? {ok: true, fingerprint, keyType}
      : {ok: false, reason: 'mismatch', fingerprint, keyType, expected: [trust.pinnedFingerprint]}
  }
  const trusted = forHost.filter((e) => e.marker === undefined)
  if (trusted.some((e) => e.keyBlob.equals(presented))) return {ok: true, fingerprint, keyType}
  return {
    ok: false,
    reason: trusted.length > 0 ? 'mismatch' : 'unknown',
    fingerprint,
    keyType,
    expected: trusted.map((e) => `${e.keyType} ${fingerprintOf(e.keyBlob)}`),
  }
}

/** Host key algorithms to offer first: the types known_hosts already holds for this host, as OpenSSH does. */
export function preferredHostKeyTypes(entries: KnownHostEntry[], host: string, port: number): string[] {
  const types = entries.filter((e) => e.marker === undefined && entryMatchesHost(e, host, port)).map((e) => e.keyType)
  return [...new Set(types)]
}

/**
 * Whether a server's software sends all its host keys after login (hostkeys-00@openssh.com): OpenSSH does since 6.8,
 * and no setting turns it off. Other servers are probed at once instead of being waited for.
 */
export function sendsHostKeyList(software: string): boolean {
  const m = /^OpenSSH_(\d+)\.(\d+)/.exec(software)
  return m !== null && (Number(m[1]) > 6 || (Number(m[1]) === 6 && Number(m[2]) >= 8))
}
