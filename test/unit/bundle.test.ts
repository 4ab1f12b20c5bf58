import {accountsFromBundle, type Bundle, hostKeysFromBundle, parseBundle} from '../../src/core/bundle.js'
import {InputError} from '../../src/core/input-error.js'
import {KeyDir, type TestKey} from './helpers/keygen.js'

const keys = new KeyDir()
let alice: TestKey
let carol: TestKey
let rootKey: TestKey
let host: TestKey
beforeAll(() => {
  alice = keys.generate(['-t', 'ed25519'], 'alice@laptop')
  carol = keys.generate(['-t', 'rsa', '-b', '2048'], 'carol@pc')
  rootKey = keys.generate(['-t', 'ed25519'], 'root@admin')
  host = keys.generate(['-t', 'ecdsa', '-b', '256'], 'root@box')
})
afterAll(() => keys.remove())

const sshdConfig = [
  'Include /etc/ssh/sshd_config.d/*.conf',
  'AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/keys/%u',
  'AllowGroups users sftp wheel',
  'DenyUsers mallory',
  'Subsystem sftp /usr/lib/openssh/sftp-server',
  'Match Group sftp',
  '  ChrootDirectory /srv/chroot/%u',
  '  ForceCommand internal-sftp',
].join('\n')

function bundle(over: Partial<Bundle> = {}): Bundle {
  return {
    format: 'sftp-cutover-bundle',
    version: 1,
    collectedAt: '2026-01-01T00:00:00Z',
    hostname: 'legacy',
    uid: 0,
    passwd: [
      'root:x:0:0:root:/root:/bin/bash',
      'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
      'backup:x:999:999:backup:/var/backups:/bin/sh',
      'alice:x:1001:100:Alice:/home/alice:/bin/bash',
      'bob:x:1002:100:Bob:/home/bob:/bin/bash',
      'carol:x:1003:1003:Carol:/home/carol:/usr/sbin/nologin',
      'dave:x:1004:100:Dave:/home/dave:/usr/sbin/nologin',
      'mallory:x:1005:100::/home/mallory:/bin/bash',
      'erin:x:1006:1006::/home/erin:/bin/bash',
      'frank:x:1007:100::/home/frank:/bin/bash',
      'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
      'alice:x:2001:100:duplicate from LDAP:/ldap/alice:/bin/bash',
      'broken line',
    ],
    group: ['root:x:0:', 'users:x:100:', 'sftp:x:2000:carol', 'carol:x:1003:', 'erin:x:1006:', 'wheel:x:10:backup,root'],
    shadow: [
      {user: 'root', state: 'locked'},
      {user: 'alice', state: 'nopassword'},
      {user: 'bob', state: 'set'},
      {user: 'carol', state: 'nopassword'},
      {user: 'dave', state: 'set'},
      {user: 'mallory', state: 'set'},
      {user: 'erin', state: 'set'},
      {user: 'frank', state: 'locked'},
    ],
    loginDefs: {uidMin: 1000, uidMax: 60000},
    sshdConfig: {path: '/etc/ssh/sshd_config', text: sshdConfig, includes: {'/etc/ssh/sshd_config.d/10-pw.conf': 'PasswordAuthentication yes\nPermitRootLogin prohibit-password\n'}},
    authorizedKeys: {
      root: [{path: '/etc/ssh/keys/root', text: `${rootKey.line}\n`}],
      alice: [
        {path: '/home/alice/.ssh/authorized_keys', text: `# laptop\n${alice.line}\n`},
        // collected, but not in alice's effective AuthorizedKeysFile: sshd ignores it (a dead key)
        {path: '/home/alice/.ssh/authorized_keys2', text: `${carol.line}\n`},
      ],
      carol: [
        {path: '/etc/ssh/keys/carol', text: `${carol.line}\n`},
        {path: '/home/carol/.ssh/authorized_keys', error: 'not readable by uid 0'},
      ],
      backup: [{path: '/etc/ssh/keys/backup', text: `${alice.line}\n`}],
    },
    hostKeys: [{path: '/etc/ssh/ssh_host_ecdsa_key.pub', text: `${host.line}\n`}],
    errors: ['something the collector said'],
    ...over,
  }
}

describe('parseBundle', () => {
  const thrown = (text: string) => {
    try {
      parseBundle(text, 'bundle.json')
    } catch (err) {
      expect(err).toBeInstanceOf(InputError)
      return (err as InputError).message
    }
    throw new Error('expected an error')
  }

  it('accepts what the collector prints', () => {
    const b = bundle()
    expect(parseBundle(JSON.stringify(b))).toEqual(b)
  })

  it('names the file and the field', () => {
    const bad = bundle({authorizedKeys: {alice: [{path: 3 as unknown as string, text: ''}]}})
    expect(thrown(JSON.stringify(bad))).toBe('bundle.json: authorizedKeys.alice[0].path: expected string, received number')
    const missing: Record<string, unknown> = {...bundle()}
    delete missing.passwd
    expect(thrown(JSON.stringify(missing))).toBe('bundle.json: passwd: missing (expected array)')
    const include = bundle({sshdConfig: {path: '/etc/ssh/sshd_config', text: '', includes: {'/etc/ssh/a.conf': 1 as unknown as string}}})
    expect(thrown(JSON.stringify(include))).toBe('bundle.json: sshdConfig.includes["/etc/ssh/a.conf"]: expected string, received number')
    const state = bundle({shadow: [{user: 'a', state: 'hash' as 'set'}]})
    expect(thrown(JSON.stringify(state))).toBe('bundle.json: shadow[0].state: expected one of "locked"|"nopassword"|"set"|"unknown"')
  })

  it('says when it is not a bundle at all, or too new', () => {
    expect(thrown('{"format": "x"')).toMatch(/^bundle\.json: not JSON: /)
    expect(thrown('[]')).toBe('bundle.json: not an sftp-cutover bundle (format is undefined)')
    expect(thrown(JSON.stringify({...bundle(), version: 2}))).toBe('bundle.json: bundle version 2 is newer than this sftp-cutover reads (1)')
  })
})

describe('accountsFromBundle', () => {
  it('selects the SFTP logins and describes them from sshd_config', () => {
    const {accounts, errors, collectedAs} = accountsFromBundle(bundle())
    expect(collectedAs).toBe('root')
    // dave: nologin shell and the external sftp-server; erin: not in AllowGroups; mallory: DenyUsers;
    // frank: locked without PAM; nobody, daemon, backup, root: outside UID_MIN..UID_MAX.
    expect(accounts.map((a) => a.name)).toEqual(['alice', 'bob', 'carol'])
    const [a, b, c] = accounts
    expect(a).toEqual({
      name: 'alice',
      uid: 1001,
      gid: 100,
      groups: [],
      group: 'users',
      home: '/home/alice',
      shell: '/bin/bash',
      sftpRoot: '/home/alice',
      dataRoot: '/home/alice',
      login: {password: false, key: true},
      keys: [
        {
          type: 'ssh-ed25519',
          bits: 256,
          fingerprint: alice.fingerprint,
          comment: 'alice@laptop',
          options: [],
          format: 'openssh',
          openssh: alice.line,
          file: '/home/alice/.ssh/authorized_keys',
          line: 2,
        },
        {
          type: 'ssh-rsa',
          bits: 2048,
          fingerprint: carol.fingerprint,
          comment: 'carol@pc',
          options: [],
          format: 'openssh',
          openssh: carol.line,
          file: '/home/alice/.ssh/authorized_keys2',
          line: 1,
          dead: '/home/alice/.ssh/authorized_keys2 is not read by sshd for this user (AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/keys/%u)',
        },
      ],
      authorizedKeysFiles: ['/home/alice/.ssh/authorized_keys', '/etc/ssh/keys/alice'],
      sources: expect.objectContaining({uid: 'passwd', chroot: 'sshd_config', keys: 'authorized_keys', password: 'shadow'}),
    })
    expect(b).toMatchObject({name: 'bob', login: {password: true, key: false}, keys: []})
    expect(c).toMatchObject({
      name: 'carol',
      groups: ['sftp'],
      group: 'carol',
      chroot: '/srv/chroot/carol',
      forceCommand: 'internal-sftp',
      sftpRoot: '/srv/chroot/carol',
      dataRoot: '/srv/chroot/carol',
      login: {password: false, key: true},
      // sshd reads authorized keys before the chroot: relative paths are from the home in passwd
      authorizedKeysFiles: ['/home/carol/.ssh/authorized_keys', '/etc/ssh/keys/carol'],
    })
    expect(c.keys.map((k) => k.fingerprint)).toEqual([carol.fingerprint])
    expect(errors).toEqual([
      'collector: something the collector said',
      'passwd: cannot read line "broken line"',
      'carol: /home/carol/.ssh/authorized_keys: not readable by uid 0',
    ])
  })

  it('considers root and system accounts only with includeSystem, and applies PermitRootLogin', () => {
    const {accounts} = accountsFromBundle(bundle({shadow: [{user: 'root', state: 'set'}]}), {includeSystem: true})
    expect(accounts.map((a) => a.name)).toEqual(['root', 'backup', 'alice', 'bob', 'carol', 'frank'])
    // prohibit-password: root's key only
    expect(accounts[0].login).toEqual({password: false, key: true})
    // backup is in wheel (AllowGroups) through the group file; it has no shadow entry here, so its password is unknown
    expect(accounts[1]).toMatchObject({groups: ['wheel'], login: {password: 'unknown', key: true}})
  })

  it('prefers sshd -T when the collector could run it', () => {
    const sshdT = [
      'usepam yes',
      'permitrootlogin no',
      'passwordauthentication no',
      'kbdinteractiveauthentication yes',
      'pubkeyauthentication yes',
      'chrootdirectory /jail/%u',
      'forcecommand internal-sftp -d /in',
      'authorizedkeysfile /etc/ssh/keys/%u',
      'subsystem sftp internal-sftp',
    ].join('\n')
    const shadow = bundle().shadow.map((s) => (s.user === 'alice' ? {user: 'alice', state: 'set' as const} : s))
    const {accounts, errors} = accountsFromBundle(bundle({shadow, sshdT: {alice: sshdT, frank: sshdT.replace('chrootdirectory /jail/%u', 'chrootdirectory none')}}))
    const alice = accounts.find((a) => a.name === 'alice')
    // /home/alice/.ssh/authorized_keys is not in sshd -T's list: its keys are dead; keyboard-interactive through PAM is a password login
    expect(alice).toMatchObject({chroot: '/jail/alice', forceCommand: 'internal-sftp -d /in', login: {password: true, key: false}, authorizedKeysFiles: ['/etc/ssh/keys/alice']})
    expect(alice!.keys.map((k) => [k.file, k.dead])).toEqual([
      ['/home/alice/.ssh/authorized_keys', '/home/alice/.ssh/authorized_keys is not read by sshd for this user (AuthorizedKeysFile /etc/ssh/keys/%u)'],
      ['/home/alice/.ssh/authorized_keys2', '/home/alice/.ssh/authorized_keys2 is not read by sshd for this user (AuthorizedKeysFile /etc/ssh/keys/%u)'],
    ])
    expect(alice?.sources.chroot).toBe('sshd -T')
    // frank is locked, which with PAM does not stop keys; but he has none, and no usable password.
    expect(accounts.map((a) => a.name)).toEqual(['alice', 'bob', 'carol'])
    expect(errors).not.toContain(expect.stringMatching(/depends on the client/))
  })

  it('marks the keys sshd ignores today as dead, with the reason: format, unknown option, expired, PubkeyAuthentication off', () => {
    const rfc = keys.rfc4716(carol)
    const text = [alice.line, rfc.trim(), `bogus-option ${carol.line}`, `expiry-time="20251231" ${alice.line}`, `expiry-time="20300101" ${carol.line}`, `cert-authority ${alice.line}`].join('\n')
    const b = bundle({authorizedKeys: {alice: [{path: '/home/alice/.ssh/authorized_keys', text}]}})
    const dead = (x: Bundle) => accountsFromBundle(x).accounts.find((a) => a.name === 'alice')!.keys.map((k) => k.dead ?? 'live')
    expect(dead(b)).toEqual([
      'live',
      'sshd reads only OpenSSH one-line keys in authorized_keys; this is an RFC 4716 block (convert it with ssh-keygen -i to make it work)',
      'sshd refuses the line: unknown option bogus-option',
      'expiry-time="20251231" has passed',
      'live',
      'live', // a CA, not a login key: refused by the Transfer rules, not dead
    ])
    const off = {...b, sshdConfig: {...b.sshdConfig, text: `${sshdConfig}\nMatch User alice\n  PubkeyAuthentication no`}}
    expect(accountsFromBundle(off).accounts.find((a) => a.name === 'alice')!.keys.every((k) => k.dead !== undefined)).toBe(true)
  })

  it('keeps an account whose only keys are dead (login: key false), so the inventory can report them', () => {
    const b = bundle({authorizedKeys: {alice: [{path: '/home/alice/.ssh/authorized_keys2', text: `${alice.line}\n`}]}})
    const a = accountsFromBundle(b).accounts.find((x) => x.name === 'alice')
    expect(a).toMatchObject({login: {password: false, key: false}, keys: [{fingerprint: alice.fingerprint, dead: expect.stringContaining('is not read by sshd')}]})
  })

  it('keeps accounts whose password state is unknown when collected without root', () => {
    const shadow = bundle().passwd.flatMap((l) => (l.includes(':') ? [{user: l.split(':')[0], state: 'unknown' as const}] : []))
    const {accounts, collectedAs} = accountsFromBundle(bundle({uid: 1001, shadow, authorizedKeys: {}}))
    expect(collectedAs).toBe('user')
    // frank is no longer known to be locked
    expect(accounts.map((a) => [a.name, a.login.password, a.sources.password])).toEqual([
      ['alice', 'unknown', 'bundle'],
      ['bob', 'unknown', 'bundle'],
      ['carol', 'unknown', 'bundle'],
      ['frank', 'unknown', 'bundle'],
    ])
  })

  it('reports Match blocks it cannot decide', () => {
    const {errors} = accountsFromBundle(bundle({sshdConfig: {path: '/etc/ssh/sshd_config', text: `${sshdConfig}\nMatch Address 10.0.0.0/8\n  PasswordAuthentication no\n`, includes: {}}}))
    expect(errors).toContain('alice: /etc/ssh/sshd_config:9: Match Address 10.0.0.0/8: depends on the client; assumed not to apply')
  })
})

describe('hostKeysFromBundle', () => {
  it('reads the host public keys', () => {
    expect(hostKeysFromBundle(bundle())).toEqual({hostKeys: [{type: 'ecdsa-sha2-nistp256', bits: 256, fingerprint: host.fingerprint, publicKey: `ecdsa-sha2-nistp256 ${host.b64}`}], errors: []})
    expect(hostKeysFromBundle(bundle({hostKeys: [{path: '/x.pub', text: 'junk\n'}]})).errors).toEqual(['/x.pub: not a host key line: "junk"'])
  })
})
