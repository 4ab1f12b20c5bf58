/**
 * The collector script against the real peer sshd: run locally as root with dash (and busybox sh when it is
 * installed), over SSH as the peer's root login with `sh -s`, and as an ordinary user; the bundle it prints is read
 * with the bundle schema and must describe the peer's users exactly. Other peers running on this machine at the
 * same time have users too (sc*): the peer's AllowUsers must keep them out.
 */
import {execFileSync} from 'node:child_process'
import {existsSync, readFileSync, statSync, truncateSync, appendFileSync} from 'node:fs'

import {resolveCredentials, SshSession, type SshTarget} from '../../src/adapters/ssh.js'
import {accountsFromBundle, type Bundle, hostKeysFromBundle, parseBundle} from '../../src/core/bundle.js'
import {collectScript} from '../../src/core/collect-script.js'
import {accountFindings} from '../../src/core/findings.js'
import type {Account} from '../../src/core/inventory-model.js'
import {loadPeers} from '../peers/env.js'
import {fingerprintOfPublicKeyLine} from '../peers/ssh-keys.js'
import {base64Lines, KeyDir} from '../unit/helpers/keygen.js'

const {sshd} = loadPeers()
const {keyUser, passwordUser, chrootUser, adminUser} = sshd.users
const script = collectScript({sshdConfig: sshd.configFile})
const ourNames = [keyUser.name, passwordUser.name, chrootUser.name].sort()

function run(command: string, args: string[]): string {
  return execFileSync(command, args, {input: script, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['pipe', 'pipe', 'pipe']})
}

const byName = (accounts: Account[]) => Object.fromEntries(accounts.map((a) => [a.name, a]))

/** What every collection made as root must say about the peer's users. */
function expectPeerAccounts(accounts: Account[], configSource: 'sshd -T' | 'sshd_config'): void {
  expect(accounts.map((a) => a.name).sort()).toEqual(ourNames)
  const a = byName(accounts)
  expect(a[keyUser.name]).toMatchObject({
    uid: keyUser.uid,
    gid: keyUser.gid,
    home: keyUser.home,
    shell: '/bin/bash',
    sftpRoot: keyUser.home,
    dataRoot: keyUser.home,
    login: {key: true},
    authorizedKeysFiles: [`${keyUser.home}/.ssh/authorized_keys`, `${sshd.dir}/authorized_keys/${keyUser.name}`],
  })
  expect(a[keyUser.name].chroot).toBeUndefined()
  expect(a[keyUser.name].keys.map((k) => k.fingerprint)).toEqual([fingerprintOfPublicKeyLine(keyUser.publicKeyLine as string)])
  expect(a[passwordUser.name]).toMatchObject({uid: passwordUser.uid, home: passwordUser.home, keys: [], login: {key: false}})
  expect(a[chrootUser.name]).toMatchObject({
    uid: chrootUser.uid,
    home: chrootUser.home,
    shell: '/usr/sbin/nologin',
    groups: [sshd.group],
    chroot: chrootUser.sftpRoot,
    forceCommand: 'internal-sftp',
    sftpRoot: chrootUser.sftpRoot,
    dataRoot: chrootUser.sftpRoot,
    login: {key: true},
  })
  expect(a[chrootUser.name].keys.map((k) => [k.type, k.bits, k.fingerprint, k.file])).toEqual([
    ['ssh-rsa', 3072, fingerprintOfPublicKeyLine(chrootUser.publicKeyLine as string), chrootUser.authorizedKeysFile],
  ])
  for (const account of accounts) expect(account.sources.chroot).toBe(configSource)
}

function collectLocally(shell: string[]): {text: string; bundle: Bundle} {
  const text = run(shell[0], [...shell.slice(1), '-s'])
  return {text, bundle: parseBundle(text, `${shell.join(' ')} output`)}
}

describe('collect script as root (dash)', () => {
  let root: {text: string; bundle: Bundle}
  beforeAll(() => {
    root = collectLocally(['dash'])
  })

  it('finds exactly the peer users, as sshd -T sees them', () => {
    const {bundle} = root
    expect(bundle.uid).toBe(0)
    expect(bundle.errors).toEqual([])
    expect(Object.keys(bundle.sshdT ?? {})).toEqual(expect.arrayContaining([...ourNames, 'root']))
    const {accounts, errors, collectedAs} = accountsFromBundle(bundle)
    expect(collectedAs).toBe('root')
    expect(errors).toEqual([])
    expectPeerAccounts(accounts, 'sshd -T')
    const a = byName(accounts)
    expect(a[keyUser.name].login.password).toBe(false) // password field '*'
    expect(a[passwordUser.name].login.password).toBe(true)
    expect(a[chrootUser.name].login.password).toBe(false)
    // Other peers' users exist in passwd but are not let in by this peer's AllowUsers.
    const otherPeerUsers = bundle.passwd.map((l) => l.split(':')[0]).filter((n) => /^sc[a-z0-9]{5}[kpc]$/.test(n) && !ourNames.includes(n))
    for (const n of otherPeerUsers) expect(accounts.map((x) => x.name)).not.toContain(n)
  })

  it('selects root (the admin login, key only) only with includeSystem', () => {
    const {accounts} = accountsFromBundle(root.bundle, {includeSystem: true})
    expect(accounts.map((a) => a.name).sort()).toEqual([...ourNames, 'root'].sort())
    const admin = byName(accounts).root
    expect(admin).toMatchObject({uid: 0, home: '/root', login: {password: false, key: true}})
    expect(admin.keys.map((k) => k.fingerprint)).toEqual([fingerprintOfPublicKeyLine(adminUser.publicKeyLine as string)])
  })

  it('carries the host public keys, the config and the shadow state, never a password hash', () => {
    const {bundle, text} = root
    expect(hostKeysFromBundle(bundle).hostKeys.map((k) => k.fingerprint).sort()).toEqual(sshd.hostKeys.map((k) => k.fingerprint).sort())
    expect(bundle.sshdConfig.path).toBe(sshd.configFile)
    expect(bundle.sshdConfig.text).toBe(readFileSync(sshd.configFile, 'utf8'))
    const state = Object.fromEntries(bundle.shadow.map((s) => [s.user, s.state]))
    expect([state[keyUser.name], state[passwordUser.name], state[chrootUser.name]]).toEqual(['nopassword', 'set', 'nopassword'])
    const hash = readFileSync('/etc/shadow', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${passwordUser.name}:`))
      ?.split(':')[1] as string
    expect(hash).toMatch(/^\$/)
    expect(text).not.toContain(hash)
    expect(text).not.toMatch(/\$(1|2[aby]?|5|6|7|y|gy)\$[./0-9A-Za-z]{8,}/)
    for (const line of bundle.passwd) expect(line.split(':')[1]).toBe('x')
  })

  // busybox is installed by scripts/install-peers.sh: a missing one fails here rather than skipping.
  const busybox = ['/usr/bin/busybox', '/bin/busybox'].find((p) => existsSync(p)) ?? '/usr/bin/busybox'
  it('prints the same bundle under busybox sh', () => {
    const bb = collectLocally([busybox as string, 'sh'])
    expect({...bb.bundle, collectedAt: ''}).toEqual({...root.bundle, collectedAt: ''})
  })
})

describe('collect script over SSH', () => {
  it('runs with sh -s as the peer root login and gives the same accounts', async () => {
    const target: SshTarget = {host: sshd.host, port: sshd.port, username: 'root', identityFile: adminUser.privateKeyPath, useAgent: false, knownHostsFile: sshd.knownHostsFile}
    const session = await SshSession.connect(target, await resolveCredentials(target, {}))
    try {
      const r = await session.exec('sh -s', {stdin: script, timeoutMs: 60_000})
      expect(r.stderr.toString()).toBe('')
      expect(r.code).toBe(0)
      const text = r.stdout.toString('utf8')
      const bundle = parseBundle(text, 'ssh output')
      expect(bundle.errors).toEqual([])
      const {accounts, errors} = accountsFromBundle(bundle)
      expect(errors).toEqual([])
      expectPeerAccounts(accounts, 'sshd -T')
      expect(byName(accounts)[passwordUser.name].login.password).toBe(true)
      expect(text).not.toMatch(/\$(1|2[aby]?|5|6|7|y|gy)\$[./0-9A-Za-z]{8,}/)
    } finally {
      session.close()
    }
  })
})

describe('collect script as an ordinary user', () => {
  it('degrades: says so, password states unknown, falls back to sshd_config, still one valid bundle', () => {
    const text = run('runuser', ['-u', keyUser.name, '--', 'sh', '-s'])
    const bundle = parseBundle(text, 'non-root output')
    expect(bundle.uid).toBe(keyUser.uid)
    expect(bundle.errors[0]).toBe(
      `collected as uid ${keyUser.uid}, not root: password states are unknown, sshd -T may fail and other users' files may be unreadable; run as root for full results`,
    )
    expect(bundle.errors[1]).toMatch(/^sshd -T failed \(for root, not tried for the others\): .*no hostkeys available/)
    expect(bundle.sshdT).toEqual({})
    expect(new Set(bundle.shadow.map((s) => s.state))).toEqual(new Set(['unknown']))
    // root's central key file is 0600
    expect(bundle.authorizedKeys.root).toEqual([{path: `${sshd.dir}/authorized_keys/root`, error: `not readable by uid ${keyUser.uid}`}])
    const {accounts, collectedAs} = accountsFromBundle(bundle)
    expect(collectedAs).toBe('user')
    expectPeerAccounts(accounts, 'sshd_config')
    for (const a of accounts) expect(a.login.password).toBe('unknown')
  })
})

describe('tricky authorized_keys content', () => {
  const keys = new KeyDir()
  afterAll(() => keys.remove())

  it('parses DSA, short RSA, options, RFC 4716 and odd comments from the box, and the findings fire', () => {
    const dsa = keys.generate(['-t', 'dsa'], 'old dsa')
    const rsa1024 = keys.generate(['-t', 'rsa', '-b', '1024'], 'short')
    const restricted = keys.generate(['-t', 'ed25519'], 'restricted')
    const rfc = keys.generate(['-t', 'ecdsa', '-b', '384'], 'ecdsa')
    const odd = keys.generate(['-t', 'ed25519'], 'x')
    const oddComment = 'say "hi" C:\\Users\\me\ttab'
    const added = [
      dsa.line,
      rsa1024.line,
      `from="10.0.0.0/8,192.168.1.1",command="/bin/echo \\"hi\\"",no-pty ${restricted.line}`,
      '---- BEGIN SSH2 PUBLIC KEY ----',
      'Comment: "ecdsa from \\',
      'windows"',
      ...base64Lines(rfc.blob),
      '---- END SSH2 PUBLIC KEY ----',
      `${odd.type} ${odd.b64} ${oddComment}\r`,
      '',
    ].join('\n')
    const file = keyUser.authorizedKeysFile as string
    const originalSize = statSync(file).size
    // Append and truncate back: the original key stays readable throughout (other tests log in with it).
    appendFileSync(file, added)
    let bundle: Bundle
    try {
      bundle = parseBundle(run('dash', ['-s']))
    } finally {
      truncateSync(file, originalSize)
    }
    expect(readFileSync(file, 'utf8')).toBe(`${keyUser.publicKeyLine}\n`)
    const collected = bundle.authorizedKeys[keyUser.name].find((f) => f.path === file)
    expect(collected?.text).toBe(`${keyUser.publicKeyLine}\n${added}`)

    const {accounts} = accountsFromBundle(bundle)
    const account = byName(accounts)[keyUser.name]
    expect(account.keys.map((k) => [k.type, k.bits, k.fingerprint, k.format, k.line])).toEqual([
      ['ssh-ed25519', 256, fingerprintOfPublicKeyLine(keyUser.publicKeyLine as string), 'openssh', 1],
      ['ssh-dss', 1024, dsa.fingerprint, 'openssh', 2],
      ['ssh-rsa', 1024, rsa1024.fingerprint, 'openssh', 3],
      ['ssh-ed25519', 256, restricted.fingerprint, 'openssh', 4],
      ['ecdsa-sha2-nistp384', 384, rfc.fingerprint, 'rfc4716', 5],
      ['ssh-ed25519', 256, odd.fingerprint, 'openssh', 5 + 4 + base64Lines(rfc.blob).length],
    ])
    expect(account.keys[3].options).toEqual(['from="10.0.0.0/8,192.168.1.1"', 'command="/bin/echo \\"hi\\""', 'no-pty'])
    expect(account.keys[3].openssh).toBe(restricted.line)
    expect(account.keys[4]).toMatchObject({comment: 'ecdsa from windows', openssh: `ecdsa-sha2-nistp384 ${rfc.b64} ecdsa from windows`})
    expect(account.keys[5].comment).toBe(oddComment)

    const findings = accountFindings(accounts).filter((f) => f.subject.startsWith(`key:${keyUser.name}:`))
    expect(findings.map((f) => [f.rule, f.subject.split(':').slice(2).join(':')])).toEqual([
      ['key.dsa', dsa.fingerprint],
      ['key.rsa-short', rsa1024.fingerprint],
      ['key.options', restricted.fingerprint],
      ['key.dead', rfc.fingerprint],
    ])
    expect(findings[2].reason).toMatch(/restricted by from="10\.0\.0\.0\/8,192\.168\.1\.1",command="\/bin\/echo \\"hi\\"",no-pty/)
    // sshd cannot read an RFC 4716 block in authorized_keys: the key grants no login today.
    expect(findings[3].reason).toMatch(/this is an RFC 4716 block/)
  })
})
