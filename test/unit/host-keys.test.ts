import {createHash, createHmac, generateKeyPairSync} from 'node:crypto'

import {entryMatchesHost, fingerprintOf, keyTypeOf, parseKnownHosts, preferredHostKeyTypes, sendsHostKeyList, verifyHostKey} from '../../src/core/host-keys.js'

function newPublicKeyLine(): {line: string; blob: Buffer; b64: string} {
  const {publicKey} = generateKeyPairSync('ed25519', {publicKeyEncoding: {type: 'spki', format: 'der'}, privateKeyEncoding: {type: 'pkcs8', format: 'der'}})
  // SSH wire form: string "ssh-ed25519", string <32-byte key> (the last 32 bytes of the SPKI DER).
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b])
  const blob = Buffer.concat([str(Buffer.from('ssh-ed25519')), str(publicKey.subarray(-32))])
  const b64 = blob.toString('base64')
  return {line: `ssh-ed25519 ${b64}`, blob, b64}
}

function hashedHost(name: string): string {
  const salt = Buffer.from('0123456789abcdef0123')
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`
}

describe('host keys', () => {
  const a = newPublicKeyLine()
  const b = newPublicKeyLine()

  it('fingerprints like ssh-keygen -lf and reads the key type', () => {
    expect(fingerprintOf(a.blob)).toBe('SHA256:' + createHash('sha256').update(a.blob).digest('base64').replace(/=+$/, ''))
    expect(fingerprintOf(a.blob)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/)
    expect(keyTypeOf(a.blob)).toBe('ssh-ed25519')
  })

  it('matches plain, bracketed-port, wildcard, negated and hashed known_hosts entries', () => {
    const entries = parseKnownHosts(
      [
        '# comment',
        `legacy.example.com,10.0.0.5 ${a.line}`,
        `[127.0.0.1]:2222 ${a.line}`,
        `*.corp.example,!bad.corp.example ${a.line}`,
        `${hashedHost('[hashed.example]:2022')} ${a.line}`,
        'garbage line',
      ].join('\n'),
    )
    expect(entries).toHaveLength(4)
    const matches = (host: string, port: number) => entries.some((e) => entryMatchesHost(e, host, port))
    expect(matches('legacy.example.com', 22)).toBe(true)
    expect(matches('legacy.example.com', 2222)).toBe(false)
    expect(matches('127.0.0.1', 2222)).toBe(true)
    expect(matches('127.0.0.1', 22)).toBe(false)
    expect(matches('sftp.corp.example', 22)).toBe(true)
    expect(matches('bad.corp.example', 22)).toBe(false)
    expect(matches('hashed.example', 2022)).toBe(true)
    expect(matches('hashed.example', 22)).toBe(false)
  })

  it('accepts only the pinned fingerprint', () => {
    expect(verifyHostKey(a.blob, 'h', 22, {pinnedFingerprint: fingerprintOf(a.blob)})).toMatchObject({ok: true})
    const v = verifyHostKey(b.blob, 'h', 22, {pinnedFingerprint: fingerprintOf(a.blob)})
    expect(v).toMatchObject({ok: false, reason: 'mismatch', fingerprint: fingerprintOf(b.blob), expected: [fingerprintOf(a.blob)]})
  })

  it('refuses unknown, changed and revoked keys against known_hosts', () => {
    const known = parseKnownHosts(`[h]:2222 ${a.line}\n@revoked * ${b.line}`)
    expect(verifyHostKey(a.blob, 'h', 2222, {knownHosts: known})).toMatchObject({ok: true, keyType: 'ssh-ed25519'})
    expect(verifyHostKey(a.blob, 'other', 22, {knownHosts: parseKnownHosts(`[h]:2222 ${a.line}`)})).toMatchObject({ok: false, reason: 'unknown'})
    const changed = newPublicKeyLine()
    expect(verifyHostKey(changed.blob, 'h', 2222, {knownHosts: known})).toMatchObject({ok: false, reason: 'mismatch'})
    expect(verifyHostKey(b.blob, 'h', 2222, {knownHosts: known})).toMatchObject({ok: false, reason: 'revoked'})
    expect(verifyHostKey(a.blob, 'h', 2222, {knownHosts: [], pinnedFingerprint: undefined})).toMatchObject({ok: false, reason: 'unknown'})
  })

  it('prefers the key types known_hosts holds for the host', () => {
    const known = parseKnownHosts(`[h]:2222 ${a.line}\nother ssh-rsa ${a.b64}`)
    expect(preferredHostKeyTypes(known, 'h', 2222)).toEqual(['ssh-ed25519'])
  })
})

describe('sendsHostKeyList', () => {
  it('is true for OpenSSH 6.8 and later only', () => {
    expect(['OpenSSH_9.2p1', 'OpenSSH_6.8', 'OpenSSH_7.4p1', 'OpenSSH_10.0'].map(sendsHostKeyList)).toEqual([true, true, true, true])
    expect(['OpenSSH_6.7p1', 'OpenSSH_5.3', 'ssh2js1.16.0', 'dropbear_2022.83', 'unknown', 'mod_sftp', 'XOpenSSH_9.2'].map(sendsHostKeyList)).toEqual([false, false, false, false, false, false, false])
  })
})
