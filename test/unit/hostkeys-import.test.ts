/**
 * Legacy private host keys prepared for ImportHostKey (formats AWS documents: PEM for RSA and ECDSA, OpenSSH for
 * ED25519, no passphrase), and the import plan: match against the inventory, what is already there, which key of a
 * type is active (the oldest), --replace.
 */
import {generateKeyPairSync} from 'node:crypto'
import ssh2 from 'ssh2'

import {
  type HostKeySummary,
  md5Fingerprint,
  parseHostPrivateKey,
  planHostKeys,
  sameFingerprint,
  summarize,
} from '../../src/core/host-key-import.js'
import {fingerprintOf} from '../../src/core/host-keys.js'
import type {HostKey} from '../../src/core/inventory-model.js'

function pkcs8(kind: 'ed25519' | 'rsa' | 'ec' | 'rsa1024' | 'ec384', passphrase?: string): string {
  const pair =
    kind === 'ed25519'
      ? generateKeyPairSync('ed25519')
      : kind === 'ec' || kind === 'ec384'
        ? generateKeyPairSync('ec', {namedCurve: kind === 'ec' ? 'P-256' : 'P-384'})
        : generateKeyPairSync('rsa', {modulusLength: kind === 'rsa' ? 3072 : 1024})
  return pair.privateKey.export({type: 'pkcs8', format: 'pem', ...(passphrase ? {cipher: 'aes-256-cbc', passphrase} : {})}).toString()
}

function parsed(text: string, passphrase?: string) {
  const r = parseHostPrivateKey(text, '/tmp/key', passphrase)
  if (!r.ok) throw new Error(r.message)
  return r.key
}

function legacyOf(key: HostKeySummary): HostKey {
  return {type: key.type, bits: key.bits, fingerprint: key.fingerprint, publicKey: key.publicKey}
}

describe('private host keys', () => {
  it('converts each type to the format Transfer documents, and the body is the same key', () => {
    const cases = [
      ['ed25519', 'ssh-ed25519', /^-----BEGIN OPENSSH PRIVATE KEY-----\n/],
      ['rsa', 'ssh-rsa', /^-----BEGIN RSA PRIVATE KEY-----\n/],
      ['ec', 'ecdsa-sha2-nistp256', /^-----BEGIN EC PRIVATE KEY-----\n/],
      ['ec384', 'ecdsa-sha2-nistp384', /^-----BEGIN EC PRIVATE KEY-----\n/],
    ] as const
    for (const [kind, type, armour] of cases) {
      const key = parsed(pkcs8(kind))
      expect(key.type).toBe(type)
      expect(key.body).toMatch(armour)
      expect(key.encrypted).toBe(false)
      const again = ssh2.utils.parseKey(key.body)
      if (again instanceof Error || Array.isArray(again)) throw new Error('body does not parse')
      expect(fingerprintOf(again.getPublicSSH())).toBe(key.fingerprint)
      expect(key.publicKey).toBe(`${type} ${again.getPublicSSH().toString('base64')}`)
      expect(key.md5).toBe(md5Fingerprint(again.getPublicSSH()))
    }
    expect(parsed(pkcs8('rsa')).bits).toBe(3072)
  })

  it('decrypts an encrypted key with its passphrase and sends it unencrypted; says when a passphrase is needed or wrong', () => {
    const text = pkcs8('ed25519', 'correct horse')
    expect(parseHostPrivateKey(text, '/k')).toEqual({ok: false, reason: 'passphrase-needed', message: 'the key is encrypted'})
    expect(parseHostPrivateKey(text, '/k', 'wrong')).toMatchObject({ok: false, reason: 'bad-passphrase'})
    const key = parsed(text, 'correct horse')
    expect(key.encrypted).toBe(true)
    expect(key.body).not.toContain('ENCRYPTED')
    expect(ssh2.utils.parseKey(key.body)).not.toBeInstanceOf(Error)
  })

  it('refuses DSA, public keys and garbage without echoing the file', () => {
    const dsa = generateKeyPairSync('dsa', {modulusLength: 2048, divisorLength: 256}).privateKey.export({type: 'pkcs8', format: 'pem'}).toString()
    expect(parseHostPrivateKey(dsa, '/k')).toMatchObject({ok: false, reason: 'unsupported', message: expect.stringMatching(/DSA/)})
    const pub = parsed(pkcs8('ed25519')).publicKey
    expect(parseHostPrivateKey(pub, '/k')).toMatchObject({ok: false, reason: 'unreadable', message: expect.stringMatching(/public key/)})
    const secretish = '-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LXNlY3JldC1zZWNyZXQ=\n-----END OPENSSH PRIVATE KEY-----\n'
    const r = parseHostPrivateKey(secretish, '/k')
    expect(r.ok).toBe(false)
    expect(JSON.stringify(r)).not.toContain('c2VjcmV0')
  })

  it('the summary has no private part', () => {
    const key = parsed(pkcs8('ed25519'))
    expect(Object.keys(summarize(key)).sort()).toEqual(['bits', 'encrypted', 'fingerprint', 'md5', 'publicKey', 'source', 'type'])
  })
})

describe('fingerprints as Transfer lists them', () => {
  it('matches SHA256 with or without padding, and MD5', () => {
    const key = summarize(parsed(pkcs8('ed25519')))
    expect(sameFingerprint(key.fingerprint, key)).toBe(true)
    expect(sameFingerprint(`${key.fingerprint}=`, key)).toBe(true)
    expect(sameFingerprint(key.md5, key)).toBe(true)
    expect(sameFingerprint(`MD5:${key.md5.toUpperCase()}`, key)).toBe(true)
    expect(sameFingerprint('SHA256:something-else', key)).toBe(false)
    expect(sameFingerprint(undefined, key)).toBe(false)
  })
})

describe('host key plan', () => {
  const ed = summarize(parsed(pkcs8('ed25519')))
  const ec = summarize(parsed(pkcs8('ec')))
  const rsa = summarize(parsed(pkcs8('rsa')))
  const legacy = [legacyOf(ed), legacyOf(ec), legacyOf(rsa)]
  const base = {serverId: 's-0123456789abcdef0', legacy, imported: [], replace: false}

  it('imports every key the legacy server offers when the server holds none of them', () => {
    const plan = planHostKeys({...base, given: [ed, ec, rsa], server: []})
    expect(plan.items.map((i) => [i.key.type, i.action])).toEqual([
      ['ssh-ed25519', 'import'],
      ['ecdsa-sha2-nistp256', 'import'],
      ['ssh-rsa', 'import'],
    ])
    expect(plan.warnings).toEqual([])
    expect(plan.problems).toEqual([])
  })

  it('refuses a key that is not one of the legacy server\'s host keys, naming what inventory recorded', () => {
    const stranger = summarize(parsed(pkcs8('ed25519')))
    const plan = planHostKeys({...base, given: [stranger, ec, rsa], server: []})
    expect(plan.items[0]).toMatchObject({action: 'refuse'})
    expect(plan.items[0].reason).toContain(`inventory recorded ssh-ed25519 ${ed.fingerprint}`)
    expect(plan.problems).toEqual([expect.stringMatching(/^refused: /), expect.stringMatching(/^ssh-ed25519: the legacy server offers a ssh-ed25519 host key .* not being imported/)])
  })

  it('refuses RSA host keys under 2048 bits', () => {
    const short = summarize(parsed(pkcs8('rsa1024')))
    const plan = planHostKeys({...base, legacy: [legacyOf(short)], given: [short], server: []})
    expect(plan.items[0].reason).toMatch(/RSA host key of 1024 bits/)
  })

  it('is idempotent: a key already on the server is unchanged', () => {
    const plan = planHostKeys({...base, given: [ed], legacy: [legacyOf(ed)], server: [{id: 'hostkey-0123456789abcdef0', type: 'ssh-ed25519', fingerprint: `${ed.fingerprint}=`, dateImported: '2025-01-01T00:00:00.000Z'}]})
    expect(plan.items[0]).toMatchObject({action: 'unchanged', hostKeyId: 'hostkey-0123456789abcdef0'})
    expect(plan.warnings).toEqual([])
  })

  it('warns when an older key of the same type would stay the active one, and says how to fix it', () => {
    const generated = {id: 'hostkey-00000000000000001', type: 'ssh-rsa', fingerprint: 'SHA256:generatedbyservice', dateImported: '2025-01-01T00:00:00.000Z'}
    const plan = planHostKeys({...base, given: [ed, ec, rsa], server: [generated]})
    expect(plan.warnings).toHaveLength(1)
    expect(plan.warnings[0]).toMatchObject({type: 'ssh-rsa', code: 'older-key-active', problem: true})
    expect(plan.warnings[0].message).toContain('hostkey-00000000000000001')
    expect(plan.warnings[0].fix).toContain('--replace')
    expect(plan.warnings[0].fix).toContain('aws transfer delete-host-key --server-id s-0123456789abcdef0 --host-key-id hostkey-00000000000000001')

    const replaced = planHostKeys({...base, given: [ed, ec, rsa], server: [generated], replace: true})
    expect(replaced.warnings).toEqual([])
    expect(replaced.deletes).toEqual([generated])
  })

  it('a newer key of the same type does not matter: ours is the oldest', () => {
    const ours = {id: 'hostkey-0000000000000000a', type: 'ssh-rsa', fingerprint: rsa.fingerprint, dateImported: '2025-01-01T00:00:00.000Z'}
    const newer = {id: 'hostkey-0000000000000000b', type: 'ssh-rsa', fingerprint: 'SHA256:x', dateImported: '2025-02-01T00:00:00.000Z'}
    const plan = planHostKeys({...base, legacy: [legacyOf(rsa)], given: [rsa], server: [ours, newer]})
    expect(plan.items[0].action).toBe('unchanged')
    expect(plan.warnings).toEqual([])
  })

  it('without ListHostKeys: what state recorded counts as imported, and it says it cannot check the order', () => {
    const plan = planHostKeys({...base, legacy: [legacyOf(ed)], given: [ed], server: undefined, imported: [{hostKeyId: 'hostkey-1', type: 'ssh-ed25519', fingerprint: ed.fingerprint}]})
    expect(plan.items[0]).toMatchObject({action: 'unchanged', hostKeyId: 'hostkey-1'})
    expect(plan.warnings).toMatchObject([{code: 'cannot-list', problem: false}])
    expect(plan.problems).toEqual([])
  })

  it('a legacy DSA host key is reported but cannot be imported', () => {
    const plan = planHostKeys({...base, legacy: [legacyOf(ed), {type: 'ssh-dss', bits: 1024, fingerprint: 'SHA256:dsa', publicKey: 'ssh-dss AAAA'}], given: [ed], server: []})
    expect(plan.warnings).toMatchObject([{code: 'legacy-type-unsupported', type: 'ssh-dss', problem: false}])
  })
})
