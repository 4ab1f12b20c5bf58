import {randomBytes} from 'node:crypto'

import {accountFindings, displayPath, fileFinding, hostKeyFindings, isRecent, parseDisplayPath, recentFinding, RULES} from '../../src/core/findings.js'
import type {Account, FileEntry, HostKey} from '../../src/core/inventory-model.js'
import {parseAuthorizedKeys, parseHostKeyLine} from '../../src/core/ssh-keys.js'
import {base64Lines, KeyDir, sshString, type TestKey} from './helpers/keygen.js'

const keys = new KeyDir()
const k: Record<'ed' | 'ed2' | 'rsa1024' | 'rsa2048' | 'dsa' | 'ecdsa', TestKey> = {} as never
beforeAll(() => {
  k.ed = keys.generate(['-t', 'ed25519'], 'ed')
  k.ed2 = keys.generate(['-t', 'ed25519'], 'ed2')
  k.rsa1024 = keys.generate(['-t', 'rsa', '-b', '1024'], 'short')
  k.rsa2048 = keys.generate(['-t', 'rsa', '-b', '2048'], 'ok')
  k.dsa = keys.generate(['-t', 'dsa'], 'old')
  k.ecdsa = keys.generate(['-t', 'ecdsa', '-b', '384'], 'ec')
})
afterAll(() => keys.remove())

function account(name: string, keyText: string, password: boolean | 'unknown' = false): Account {
  const parsed = parseAuthorizedKeys(keyText, `/home/${name}/.ssh/authorized_keys`)
  return {
    name,
    uid: 1000,
    gid: 1000,
    groups: [],
    home: `/home/${name}`,
    shell: '/bin/bash',
    sftpRoot: `/home/${name}`,
    dataRoot: `/home/${name}`,
    login: {password, key: parsed.some((p) => !p.error)},
    keys: parsed,
    authorizedKeysFiles: [],
    sources: {},
  }
}

const rules = (findings: Array<{rule: string; subject: string}>) => findings.map((f) => `${f.rule} ${f.subject}`)

describe('RULES', () => {
  it('has one entry per id with the agreed severities', () => {
    for (const [id, rule] of Object.entries(RULES)) expect(rule.id).toBe(id)
    const severity = Object.fromEntries(Object.values(RULES).map((r) => [r.id, r.severity]))
    expect(severity).toMatchObject({
      'user.name-invalid': 'blocker',
      'user.password-only': 'blocker',
      'user.no-keys': 'warning',
      'key.dsa': 'blocker',
      'key.rsa-short': 'blocker',
      'key.options': 'blocker',
      'key.cert-authority': 'blocker',
      'key.dead': 'warning',
      'key.format': 'info',
      'key.unparseable': 'warning',
      'key.shared': 'warning',
      'key.sk': 'blocker',
      'file.name-not-utf8': 'blocker',
      'file.name-control-chars': 'blocker',
      'file.key-too-long': 'blocker',
      'file.symlink': 'warning',
      'file.special': 'warning',
      'file.unreadable': 'warning',
      'file.too-large': 'blocker',
      'file.empty-dir': 'info',
      'file.recent': 'info',
      'hostkey.dsa': 'warning',
      'hostkey.rsa-short': 'warning',
    })
  })
})

describe('accountFindings', () => {
  it('flags user names Transfer refuses', () => {
    const names = ['root', 'ab', 'has space', '-dash', 'alice', 'a.b@example.com', 'x'.repeat(100), 'x'.repeat(101)]
    const found = accountFindings(names.map((n) => account(n, k.ed.line))).filter((f) => f.rule === 'user.name-invalid')
    expect(found.map((f) => f.subject)).toEqual(['user:root', 'user:ab', 'user:has space', 'user:-dash', `user:${'x'.repeat(101)}`])
    expect(found[0].reason).toBe('"root" cannot log in to Transfer Family')
    expect(found[0].severity).toBe('blocker')
  })

  it('tells password-only, password-too, unknown password and keyless users apart', () => {
    const found = accountFindings([
      account('pwonly', '', true),
      account('pwdsa', k.dsa.line, true),
      account('pwalso', k.ed.line, true),
      account('pwunknown', '', 'unknown'),
      account('nokeys', ''),
      account('onlybad', `${k.rsa1024.line}\n${k.dsa.line}`),
      account('fine', k.rsa2048.line),
    ]).filter((f) => f.rule.startsWith('user.'))
    expect(rules(found)).toEqual([
      'user.password-only user:pwonly',
      'user.password-only user:pwdsa',
      'user.password-also user:pwalso',
      'user.password-unknown user:pwunknown',
      'user.no-keys user:nokeys',
      'user.no-keys user:onlybad',
    ])
    expect(found[0].reason).toBe('logs in with a password and has no key')
    expect(found[5].reason).toBe('none of its 2 key(s) can be used on Transfer')
  })

  it('flags each key problem with the key as subject', () => {
    const rfc = ['---- BEGIN SSH2 PUBLIC KEY ----', 'Comment: "ec"', ...base64Lines(k.ecdsa.blob), '---- END SSH2 PUBLIC KEY ----'].join('\n')
    const ppk = ['PuTTY-User-Key-File-2: ssh-ed25519', 'Encryption: none', 'Comment: p', `Public-Lines: ${base64Lines(k.ed2.blob).length}`, ...base64Lines(k.ed2.blob), 'Private-Lines: 0', 'Private-MAC: 00'].join('\n')
    const skBlob = Buffer.concat([sshString('sk-ssh-ed25519@openssh.com'), sshString(randomBytes(32)), sshString('ssh:')])
    // A 16384-bit RSA key does not fit ImportSshPublicKey's 2048 characters (built by hand: generating one is slow).
    const modulus = Buffer.concat([Buffer.from([0x00, 0xc1]), randomBytes(2047)])
    const bigRsa = Buffer.concat([sshString('ssh-rsa'), sshString(Buffer.from([1, 0, 1])), sshString(modulus)])
    const text = [
      k.dsa.line,
      k.rsa1024.line,
      `from="10.0.0.0/8",command="/bin/true",no-pty,no-port-forwarding ${k.rsa2048.line}`,
      rfc,
      ppk,
      'garbage line',
      `sk-ssh-ed25519@openssh.com ${skBlob.toString('base64')} fido`,
      `ssh-rsa ${bigRsa.toString('base64')}`,
      k.ed.line,
      k.ed.line,
    ].join('\n')
    const found = accountFindings([account('alice', text), account('bob', k.ed.line), account('carol', `${k.ed.line}\n${k.rsa2048.line}`)]).filter((f) => f.rule.startsWith('key.'))
    const fp = (key: TestKey) => key.fingerprint
    const skFp = parseAuthorizedKeys(`sk-ssh-ed25519@openssh.com ${skBlob.toString('base64')}`, 'x')[0].fingerprint
    const bigFp = parseAuthorizedKeys(`ssh-rsa ${bigRsa.toString('base64')}`, 'x')[0].fingerprint
    expect(rules(found)).toEqual([
      `key.dsa key:alice:${fp(k.dsa)}`,
      `key.rsa-short key:alice:${fp(k.rsa1024)}`,
      `key.options key:alice:${fp(k.rsa2048)}`,
      `key.shared key:alice:${fp(k.rsa2048)}`,
      `key.format key:alice:${fp(k.ecdsa)}`,
      `key.format key:alice:${fp(k.ed2)}`,
      'key.unparseable key:alice:/home/alice/.ssh/authorized_keys:18',
      `key.sk key:alice:${skFp}`,
      `key.too-long key:alice:${bigFp}`,
      `key.shared key:alice:${fp(k.ed)}`,
      `key.duplicate key:alice:${fp(k.ed)}`,
      `key.shared key:bob:${fp(k.ed)}`,
      `key.shared key:carol:${fp(k.ed)}`,
      `key.shared key:carol:${fp(k.rsa2048)}`,
    ])
    const byRule = (rule: string) => found.find((f) => f.rule === rule)
    expect(byRule('key.options')?.reason).toBe(
      '/home/alice/.ssh/authorized_keys:3: restricted by from="10.0.0.0/8",command="/bin/true",no-pty,no-port-forwarding; Transfer Family has no per-key options',
    )
    expect(byRule('key.options')?.fix).toMatch(/^from: Limit the source addresses at the server instead: the Transfer server's security group \(AllowedClientCidr/)
    expect(byRule('key.format')?.reason).toBe('/home/alice/.ssh/authorized_keys:4: RFC 4716 format')
    expect(byRule('key.rsa-short')?.reason).toBe('/home/alice/.ssh/authorized_keys:2: an RSA key of 1024 bits; Transfer Family needs at least 2048')
    expect(byRule('key.shared')?.reason).toBe('also authorizes carol')
    expect(found.find((f) => f.subject === `key:alice:${fp(k.ed)}` && f.rule === 'key.shared')?.reason).toBe('also authorizes bob, carol')
  })
})

describe('hostKeyFindings', () => {
  it('warns about DSA, short RSA and types Transfer cannot import', () => {
    const skBlob = Buffer.concat([sshString('sk-ssh-ed25519@openssh.com'), sshString(randomBytes(32)), sshString('ssh:')])
    const hostKeys: HostKey[] = [k.dsa, k.rsa1024, k.rsa2048, k.ed, k.ecdsa].map((key) => parseHostKeyLine(key.line))
    hostKeys.push(parseHostKeyLine(`sk-ssh-ed25519@openssh.com ${skBlob.toString('base64')}`))
    expect(rules(hostKeyFindings(hostKeys))).toEqual(['hostkey.dsa hostkey:ssh-dss', 'hostkey.rsa-short hostkey:ssh-rsa', 'hostkey.unsupported hostkey:sk-ssh-ed25519@openssh.com'])
    expect(hostKeyFindings(hostKeys)[1].reason).toBe(`${k.rsa1024.fingerprint}: 1024-bit RSA host key`)
  })
})

describe('displayPath', () => {
  it('shows UTF-8 as text and everything else as \\xNN, a backslash as \\\\', () => {
    expect(displayPath(Buffer.from('dir/café ✓.txt'))).toBe('dir/café ✓.txt')
    expect(displayPath(Buffer.from([0x63, 0x61, 0x66, 0xe9]))).toBe('caf\\xe9')
    expect(displayPath(Buffer.from('a\\b\nc\x7f'))).toBe('a\\\\b\\x0ac\\x7f')
    // overlong, surrogate and truncated sequences are not UTF-8
    expect(displayPath(Buffer.from([0xc0, 0x80, 0xed, 0xa0, 0x80, 0xe2, 0x82]))).toBe('\\xc0\\x80\\xed\\xa0\\x80\\xe2\\x82')
    expect(displayPath(Buffer.from([0xf0, 0x9f, 0x98, 0x80, 0xff]))).toBe('😀\\xff')
  })

  it('is lossless: parseDisplayPath gives the same bytes back', () => {
    for (let i = 0; i < 2000; i++) {
      const buf = randomBytes(i % 40)
      expect(parseDisplayPath(displayPath(buf)).equals(buf)).toBe(true)
    }
    const literal = Buffer.from('looks like \\x41 but is text')
    expect(displayPath(literal)).toBe('looks like \\\\x41 but is text')
    expect(parseDisplayPath(displayPath(literal)).equals(literal)).toBe(true)
  })
})

describe('fileFinding', () => {
  const now = 1_800_000_000
  const entry = (over: Partial<FileEntry>): FileEntry => ({owner: 'alice', path: Buffer.from('docs/a.txt'), type: 'file', size: 10, mtime: now - 86_400 * 30, mode: 0o644, uid: 1000, gid: 1000, ...over})
  const ctx = {now, s3KeyBytes: 40}

  it('says nothing about an ordinary file', () => {
    expect(fileFinding(entry({}), ctx)).toEqual([])
    expect(fileFinding(entry({type: 'dir', path: Buffer.from('docs')}), ctx)).toEqual([])
  })

  it('flags names S3 or SFTP clients cannot use', () => {
    const found = fileFinding(entry({path: Buffer.from([0x6e, 0xe9, 0x0a, 0x2f, 0x2e, 0x2e, 0x2f, 0x78])}), {now, s3KeyBytes: 1025})
    expect(rules(found)).toEqual([
      'file.name-not-utf8 file:alice:n\\xe9\\x0a/../x',
      'file.name-control-chars file:alice:n\\xe9\\x0a/../x',
      'file.key-invalid file:alice:n\\xe9\\x0a/../x',
      'file.key-too-long file:alice:n\\xe9\\x0a/../x',
    ])
    expect(found[3].reason).toBe('the S3 key would be 1025 bytes; S3 allows 1024')
    expect(rules(fileFinding(entry({path: Buffer.from('a//b')}), ctx))).toEqual(['file.key-invalid file:alice:a//b'])
    expect(rules(fileFinding(entry({path: Buffer.from('./b')}), ctx))).toEqual(['file.key-invalid file:alice:./b'])
    expect(fileFinding(entry({path: Buffer.from('.hidden/..x/...')}), ctx)).toEqual([])
  })

  it('flags types, sizes, unreadable entries, empty directories and recent changes', () => {
    expect(rules(fileFinding(entry({type: 'symlink', linkTarget: Buffer.from('/etc/passwd')}), ctx))).toEqual(['file.symlink file:alice:docs/a.txt'])
    expect(fileFinding(entry({type: 'symlink', linkTarget: Buffer.from('/etc/passwd')}), ctx)[0].reason).toBe('points to /etc/passwd')
    for (const type of ['fifo', 'socket', 'char', 'block'] as const) expect(rules(fileFinding(entry({type}), ctx))).toEqual(['file.special file:alice:docs/a.txt'])
    expect(rules(fileFinding(entry({size: 5 * 1024 ** 4 + 1}), ctx))).toEqual(['file.too-large file:alice:docs/a.txt'])
    expect(fileFinding(entry({size: 5 * 1024 ** 4}), ctx)).toEqual([])
    expect(rules(fileFinding(entry({type: 'dir', error: 'permission denied'}), ctx))).toEqual(['file.unreadable file:alice:docs/a.txt'])
    expect(rules(fileFinding(entry({type: 'dir'}), {...ctx, emptyDir: true}))).toEqual(['file.empty-dir file:alice:docs/a.txt'])
  })

  it('counts recent changes per owner instead of a finding per file', () => {
    expect(fileFinding(entry({mtime: now - 3600}), ctx)).toEqual([])
    expect(isRecent(entry({mtime: now - 3600}), now)).toBe(true)
    expect(isRecent(entry({mtime: now - 25 * 3600}), now)).toBe(false)
    expect(isRecent(entry({type: 'dir', mtime: now - 3600}), now)).toBe(false)
    expect(recentFinding('alice', 12, ['a.txt', 'b.txt'])).toEqual({
      rule: 'file.recent',
      severity: 'info',
      subject: 'user:alice',
      reason: '12 file(s) modified in the last 24 hours (e.g. a.txt, b.txt): the user is active',
      fix: RULES['file.recent'].fix,
    })
  })
})
