/**
 * Public key parsing against real keys made by ssh-keygen (OpenSSH 9.2): bits and fingerprints must equal what
 * `ssh-keygen -lf` prints; RFC 4716 text comes from `ssh-keygen -e`; PuTTY files are written by hand from a real
 * key's blob.
 */
import {randomBytes} from 'node:crypto'

import {mpintBits, parseAuthorizedKeys, parseHostKeyLine, parseKeyBlob, splitKeyOptions} from '../../src/core/ssh-keys.js'
import {base64Lines, KeyDir, sshString, type TestKey} from './helpers/keygen.js'

const keys = new KeyDir()
let ed25519: TestKey
let rsa2048: TestKey
const generated: Array<{args: string[]; type: string; bits: number}> = [
  {args: ['-t', 'ed25519'], type: 'ssh-ed25519', bits: 256},
  {args: ['-t', 'ecdsa', '-b', '256'], type: 'ecdsa-sha2-nistp256', bits: 256},
  {args: ['-t', 'ecdsa', '-b', '384'], type: 'ecdsa-sha2-nistp384', bits: 384},
  {args: ['-t', 'ecdsa', '-b', '521'], type: 'ecdsa-sha2-nistp521', bits: 521},
  {args: ['-t', 'rsa', '-b', '1024'], type: 'ssh-rsa', bits: 1024},
  {args: ['-t', 'rsa', '-b', '2048'], type: 'ssh-rsa', bits: 2048},
  {args: ['-t', 'rsa', '-b', '3072'], type: 'ssh-rsa', bits: 3072},
  // OpenSSH 9.2 still generates DSA keys (it only stopped accepting them by default).
  {args: ['-t', 'dsa'], type: 'ssh-dss', bits: 1024},
]
const made = new Map<string, TestKey>()

beforeAll(() => {
  for (const g of generated) made.set(g.args.join(' '), keys.generate(g.args, `${g.type} test key`))
  ed25519 = made.get('-t ed25519') as TestKey
  rsa2048 = made.get('-t rsa -b 2048') as TestKey
})
afterAll(() => keys.remove())

describe('OpenSSH authorized_keys lines', () => {
  it.each(generated)('reads $type ($bits bits) as ssh-keygen -lf does', (g) => {
    const key = made.get(g.args.join(' ')) as TestKey
    expect(key.bits).toBe(g.bits)
    const [parsed] = parseAuthorizedKeys(`${key.line}\n`, '/home/a/.ssh/authorized_keys')
    expect(parsed).toEqual({
      type: g.type,
      bits: key.bits,
      fingerprint: key.fingerprint,
      comment: `${g.type} test key`,
      options: [],
      format: 'openssh',
      openssh: key.line,
      file: '/home/a/.ssh/authorized_keys',
      line: 1,
    })
  })

  it('splits options with quoted commas, spaces and escaped quotes, and keeps a comment with spaces', () => {
    const line = `from="10.0.0.0/8,192.168.1.1",command="/bin/echo \\"hi, there\\"",no-pty,permitopen="host:22" ${ed25519.type} ${ed25519.b64} comment with  spaces`
    const [k] = parseAuthorizedKeys(line, 'ak')
    expect(k.options).toEqual(['from="10.0.0.0/8,192.168.1.1"', 'command="/bin/echo \\"hi, there\\""', 'no-pty', 'permitopen="host:22"'])
    expect(k.type).toBe('ssh-ed25519')
    expect(k.fingerprint).toBe(ed25519.fingerprint)
    expect(k.comment).toBe('comment with  spaces')
    expect(k.openssh).toBe(`${ed25519.type} ${ed25519.b64} comment with  spaces`)
    expect(k.error).toBeUndefined()
    expect(splitKeyOptions('a="unclosed,b')).toBeUndefined()
  })

  it('skips blank lines and comments, keeps line numbers, accepts CRLF, and never drops a bad line', () => {
    const text = [
      '# keys for alice',
      '',
      `${ed25519.line}\r`,
      'this is not a key',
      `ssh-rsa ${ed25519.b64} says rsa but is ed25519`,
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== truncated',
      'ssh-ed25519 not*base64',
      'no-pty,command="unclosed ssh-ed25519 AAAA',
      'ssh-foo',
      `  ${rsa2048.line}  `,
    ].join('\n')
    const parsed = parseAuthorizedKeys(text, 'f')
    expect(parsed.map((k) => [k.line, k.type])).toEqual([
      [3, 'ssh-ed25519'],
      [4, 'unknown'],
      [5, 'unknown'],
      [6, 'unknown'],
      [7, 'unknown'],
      [8, 'unknown'],
      [9, 'unknown'],
      [10, 'ssh-rsa'],
    ])
    expect(parsed[0].comment).toBe(ed25519.comment)
    expect(parsed[1].error).toMatch(/not valid base64|key blob/)
    expect(parsed[2].error).toBe('the line says ssh-rsa but the key data is ssh-ed25519')
    expect(parsed[3].error).toBe('key blob ends inside its Ed25519 public key')
    expect(parsed[4].error).toBe('the key data is not valid base64')
    expect(parsed[5].error).toMatch(/^unbalanced quotes/)
    expect(parsed[6].error).toMatch(/^not a public key line/)
    expect(parsed[7].fingerprint).toBe(rsa2048.fingerprint)
    for (const k of parsed.slice(1, 7)) {
      expect(k.fingerprint).toBeUndefined()
      expect(k.openssh).toBeUndefined()
    }
  })

  it('reports a pasted private key as one entry without showing it', () => {
    const secret = randomBytes(48).toString('base64')
    const text = `${ed25519.line}\n-----BEGIN OPENSSH PRIVATE KEY-----\n${secret}\n${secret}\n-----END OPENSSH PRIVATE KEY-----\n${rsa2048.line}\n`
    const parsed = parseAuthorizedKeys(text, 'f')
    expect(parsed.map((k) => k.type)).toEqual(['ssh-ed25519', 'unknown', 'ssh-rsa'])
    expect(parsed[1].error).toBe('a private key (lines 2-5) is in this file; it is not shown: remove it from the box')
    expect(JSON.stringify(parsed)).not.toContain(secret)
  })

  it('recognises security-key types (sk-ssh-ed25519, sk-ecdsa-sha2-nistp256) as ssh-keygen does', () => {
    const skEd = Buffer.concat([sshString('sk-ssh-ed25519@openssh.com'), sshString(ed25519.blob.subarray(ed25519.blob.length - 32)), sshString('ssh:')])
    const ecdsa = made.get('-t ecdsa -b 256') as TestKey
    // An ecdsa blob is type, curve, point: reuse curve and point, add the application.
    const ecdsaFields = ecdsa.blob.subarray(4 + 'ecdsa-sha2-nistp256'.length)
    const skEcdsa = Buffer.concat([sshString('sk-ecdsa-sha2-nistp256@openssh.com'), ecdsaFields, sshString('ssh:')])
    for (const [type, blob] of [
      ['sk-ssh-ed25519@openssh.com', skEd],
      ['sk-ecdsa-sha2-nistp256@openssh.com', skEcdsa],
    ] as const) {
      const expected = keys.fromLine(`${type} ${blob.toString('base64')} yubikey`)
      const [k] = parseAuthorizedKeys(expected.line, 'f')
      expect(k).toMatchObject({type, bits: expected.bits, fingerprint: expected.fingerprint, comment: 'yubikey', format: 'openssh'})
      expect(k.bits).toBe(256)
      expect(k.error).toBeUndefined()
    }
  })

  it('keeps an unknown but well-formed key type with its fingerprint and an error', () => {
    const blob = Buffer.concat([sshString('ssh-xmss@openssh.com'), sshString('XMSS_SHA2-256_W16_H10'), sshString(randomBytes(32))])
    const [k] = parseAuthorizedKeys(`ssh-xmss@openssh.com ${blob.toString('base64')}`, 'f')
    expect(k.type).toBe('ssh-xmss@openssh.com')
    expect(k.bits).toBeUndefined()
    expect(k.fingerprint).toMatch(/^SHA256:/)
    expect(k.error).toBe('unsupported key type ssh-xmss@openssh.com')
  })
})

describe('RFC 4716 blocks', () => {
  it('converts ssh-keygen -e output back to the OpenSSH line ssh-keygen -i makes', () => {
    for (const spec of ['-t rsa -b 3072', '-t ecdsa -b 384', '-t ed25519', '-t dsa']) {
      const key = made.get(spec) as TestKey
      const rfc = keys.rfc4716(key)
      const [k] = parseAuthorizedKeys(rfc, 'f')
      expect(k.format).toBe('rfc4716')
      expect(k.fingerprint).toBe(key.fingerprint)
      expect(k.bits).toBe(key.bits)
      expect(k.comment).toMatch(/^\d+-bit [A-Z0-9]+, converted by /)
      expect(k.openssh).toBe(`${keys.importRfc4716(rfc)} ${k.comment}`)
    }
  })

  it('reads continued header lines and mixes with OpenSSH lines in one file', () => {
    const body = base64Lines(ed25519.blob).join('\n') // two lines
    const text = [
      ed25519.line,
      '---- BEGIN SSH2 PUBLIC KEY ----',
      'Subject: alice',
      'Comment: "a long comment that \\',
      'continues here"',
      'x-private-tag: ignored',
      body,
      '---- END SSH2 PUBLIC KEY ----',
      rsa2048.line,
      '---- BEGIN SSH2 PUBLIC KEY ----',
      body,
    ].join('\n')
    const parsed = parseAuthorizedKeys(text, 'f')
    expect(parsed.map((k) => [k.line, k.format, k.type])).toEqual([
      [1, 'openssh', 'ssh-ed25519'],
      [2, 'rfc4716', 'ssh-ed25519'],
      [10, 'openssh', 'ssh-rsa'],
      [11, 'unknown', 'unknown'],
    ])
    expect(parsed[1].comment).toBe('a long comment that continues here')
    expect(parsed[1].openssh).toBe(`ssh-ed25519 ${ed25519.b64} a long comment that continues here`)
    expect(parsed[3].error).toBe('RFC 4716 block without an END line')
  })
})

describe('PuTTY .ppk files', () => {
  const privateLine = 'AAAAIPRIVATEPRIVATEPRIVATEPRIVATEPRIVATEPRIVATE0123456789abcdef'

  function ppk(version: 2 | 3, key: TestKey, comment: string): string {
    const pub = base64Lines(key.blob)
    const lines = [`PuTTY-User-Key-File-${version}: ${key.type}`, 'Encryption: none', `Comment: ${comment}`, `Public-Lines: ${pub.length}`, ...pub]
    if (version === 3) lines.push('Key-Derivation: Argon2id', 'Argon2-Memory: 8192', 'Argon2-Passes: 13', 'Argon2-Parallelism: 1', 'Argon2-Salt: 0123456789abcdef')
    lines.push('Private-Lines: 2', privateLine, privateLine, 'Private-MAC: 0123456789abcdef0123456789abcdef01234567')
    return `${lines.join('\r\n')}\r\n`
  }

  it.each([2, 3] as const)('reads the public half of a v%s file and never the private lines', (version) => {
    const first = ppk(version, rsa2048, 'rsa-key-20240101')
    const text = first + ppk(version, ed25519, 'ed25519-key-20240101') + ed25519.line
    const secondLine = first.split('\r\n').length
    const parsed = parseAuthorizedKeys(text, 'alice.ppk')
    expect(parsed).toEqual([
      {type: 'ssh-rsa', bits: 2048, fingerprint: rsa2048.fingerprint, comment: 'rsa-key-20240101', options: [], format: 'putty', openssh: `ssh-rsa ${rsa2048.b64} rsa-key-20240101`, file: 'alice.ppk', line: 1},
      {type: 'ssh-ed25519', bits: 256, fingerprint: ed25519.fingerprint, comment: 'ed25519-key-20240101', options: [], format: 'putty', openssh: `ssh-ed25519 ${ed25519.b64} ed25519-key-20240101`, file: 'alice.ppk', line: secondLine},
      expect.objectContaining({type: 'ssh-ed25519', format: 'openssh'}),
    ])
    expect(JSON.stringify(parsed)).not.toContain('PRIVATE')
  })

  it('checks the declared type against the blob', () => {
    const text = ppk(2, ed25519, 'x').replace('PuTTY-User-Key-File-2: ssh-ed25519', 'PuTTY-User-Key-File-2: ssh-rsa')
    const [k] = parseAuthorizedKeys(text, 'f')
    expect(k).toMatchObject({type: 'unknown', format: 'putty', error: 'the line says ssh-rsa but the key data is ssh-ed25519'})
  })
})

describe('key blobs', () => {
  it('measures mpints without their sign byte', () => {
    expect(mpintBits(Buffer.from([0x00, 0x80, 0x00]))).toBe(16)
    expect(mpintBits(Buffer.from([0x01]))).toBe(1)
    expect(mpintBits(Buffer.alloc(0))).toBe(0)
  })

  it('refuses trailing bytes and mismatched curves', () => {
    expect(() => parseKeyBlob(Buffer.concat([ed25519.blob, Buffer.from([0])]))).toThrow('key blob has 1 bytes after the ssh-ed25519 key')
    const ecdsa = made.get('-t ecdsa -b 256') as TestKey
    const wrong = Buffer.concat([sshString('ecdsa-sha2-nistp384'), ecdsa.blob.subarray(4 + 'ecdsa-sha2-nistp256'.length)])
    expect(() => parseKeyBlob(wrong)).toThrow('key type ecdsa-sha2-nistp384 names curve nistp256')
  })
})

describe('parseHostKeyLine', () => {
  it('reads a .pub line and a known_hosts / ssh-keyscan line', () => {
    const rsa = made.get('-t rsa -b 3072') as TestKey
    expect(parseHostKeyLine(rsa.line)).toEqual({type: 'ssh-rsa', bits: 3072, fingerprint: rsa.fingerprint, publicKey: `ssh-rsa ${rsa.b64}`})
    expect(parseHostKeyLine(`[127.0.0.1]:2222 ${ed25519.type} ${ed25519.b64}`)).toEqual({type: 'ssh-ed25519', bits: 256, fingerprint: ed25519.fingerprint, publicKey: `ssh-ed25519 ${ed25519.b64}`})
    const dsa = made.get('-t dsa') as TestKey
    expect(parseHostKeyLine(dsa.line)).toMatchObject({type: 'ssh-dss', bits: 1024, fingerprint: dsa.fingerprint})
  })

  it('throws on lines that are not keys', () => {
    expect(() => parseHostKeyLine('garbage')).toThrow('not a host key line')
    expect(() => parseHostKeyLine(`ssh-rsa ${ed25519.b64}`)).toThrow('the line says ssh-rsa but the key data is ssh-ed25519')
  })
})
