/**
 * Accounts from FTP servers' user files. pureftpd.passwd in test/fixtures/ftp-users was written by pure-pw 1.0.50
 * (Debian 12's pure-ftpd: useradd -d for alice and j.doe, -D with limits and restrictions for bob), then given a
 * comment, blank lines and a user without a home; the vsftpd files follow Debian 12's vsftpd.conf.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {accountFindings} from '../../src/core/findings.js'
import {parsePureftpdPasswd, parseVsftpdAccounts, parseVsftpdConf, type TextFile} from '../../src/core/ftp-users.js'
import {InputError} from '../../src/core/input-error.js'

const dir = join(import.meta.dirname, '../fixtures/ftp-users')
const fixture = (name: string): TextFile => ({file: name, text: readFileSync(join(dir, name), 'utf8')})
const hashes = (text: string) => [...text.matchAll(/\$argon2id\$[^:]+/g)].map((m) => m[0])

function thrown(fn: () => unknown): InputError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(InputError)
    return err as InputError
  }
  throw new Error('no error thrown')
}

describe('pureftpd.passwd', () => {
  const input = fixture('pureftpd.passwd')
  const {accounts, findings} = parsePureftpdPasswd(input)

  it('reads each virtual user with its ids and home; "/./" chroots it', () => {
    expect(accounts.map((a) => [a.name, a.uid, a.gid, a.home, a.chroot, a.dataRoot])).toEqual([
      ['alice', 2001, 2001, '/srv/ftp/alice', '/srv/ftp/alice', '/srv/ftp/alice'],
      ['bob', 2002, 2000, '/srv/ftp/shared', undefined, '/srv/ftp/shared'],
      ['j.doe', 2003, 2000, '/srv/ftp/partners/jdoe', '/srv/ftp/partners/jdoe', '/srv/ftp/partners/jdoe'],
    ])
    for (const a of accounts) expect(a).toMatchObject({ftp: true, login: {password: true, key: false}, keys: [], sources: {account: 'pureftpd.passwd'}})
  })

  it('leaves out a user without a home, naming the line, and states what Transfer cannot carry', () => {
    expect(findings.map((f) => [f.rule, f.subject, f.reason])).toEqual([
      ['ftp.user-limits', 'user:bob', 'pureftpd.passwd line 3: upload bandwidth 204800, download bandwidth 102400, files quota 1000, size quota 52428800'],
      ['ftp.login-restrictions', 'user:bob', 'pureftpd.passwd line 3: allowed client addresses 192.168.0.0/24, hours 900-1800'],
      ['ftp.user-no-home', 'user:nohome', 'pureftpd.passwd line 7: no home directory, so pure-ftpd refuses its login; not migrated'],
    ])
  })

  it('keeps no password hash anywhere in what it returns', () => {
    expect(hashes(input.text)).toHaveLength(4)
    const out = JSON.stringify({accounts, findings, more: accountFindings(accounts)})
    for (const h of hashes(input.text)) expect(out).not.toContain(h.slice(20))
  })

  it('names the file, line and field of a malformed line without quoting its hash', () => {
    const hash = hashes(input.text)[0]
    const short = thrown(() => parsePureftpdPasswd({file: 'p.passwd', text: `# users\n\nzed:${hash}:2001\n`}))
    expect(short.message).toBe("p.passwd line 3: 3 field(s); pure-ftpd's format has at least 6 (login:password:uid:gid:gecos:home:...)")
    expect(short).toMatchObject({file: 'p.passwd', line: 3, exitCode: 2})
    const uid = thrown(() => parsePureftpdPasswd({file: 'p.passwd', text: `zed:${hash}:abc:2000::/srv/ftp/zed/./::::::::::::\n`}))
    expect(uid.message).toBe('p.passwd line 1, field uid: "abc" is not a whole number')
    const relative = thrown(() => parsePureftpdPasswd({file: 'p.passwd', text: `zed:${hash}:1:2::srv/zed::::::::::::\n`}))
    expect(relative.message).toBe('p.passwd line 1, field home: "srv/zed" is not an absolute path')
    const twice = thrown(() => parsePureftpdPasswd({file: 'p.passwd', text: `zed:${hash}:1:2::/a\nzed:${hash}:1:2::/b\n`}))
    expect(twice.message).toBe('p.passwd line 2, field login: "zed" is already on line 1')
    for (const e of [short, uid, relative, twice]) expect(e.message).not.toContain(hash.slice(20))
  })

  it('a chroot above the start directory ("/srv/ftp/./alice") keeps both', () => {
    const {accounts: [a]} = parsePureftpdPasswd({file: 'p', text: 'alice:x:1:2::/srv/ftp/./alice::::::::::::\n'})
    expect([a.chroot, a.home, a.sftpRoot, a.dataRoot]).toEqual(['/srv/ftp', '/srv/ftp/alice', '/srv/ftp', '/srv/ftp'])
  })
})

describe('vsftpd', () => {
  const input = {conf: fixture('vsftpd.conf'), passwd: fixture('passwd'), userList: fixture('user_list'), chrootList: fixture('chroot_list')}

  it('reads the settings that decide logins, with vsftpd defaults for the rest', () => {
    expect(parseVsftpdConf(input.conf)).toMatchObject({local_enable: true, userlist_enable: true, userlist_deny: false, chroot_local_user: true, chroot_list_enable: true, passwd_chroot_enable: false, guest_enable: false})
    expect(parseVsftpdConf({file: 'empty.conf', text: ''})).toMatchObject({local_enable: false, userlist_deny: true, chroot_local_user: false})
  })

  it('admits the user_list (userlist_deny=NO) of the regular accounts; the chroot_list is the exception to chroot_local_user', () => {
    const {accounts, findings} = parseVsftpdAccounts(input)
    expect(accounts.map((a) => [a.name, a.uid, a.home, a.chroot, a.shell])).toEqual([
      ['carol', 1001, '/home/carol', '/home/carol', '/bin/bash'],
      ['dave', 1002, '/srv/partners/dave', '/srv/partners/dave', '/usr/sbin/nologin'],
      ['erin', 1003, '/home/erin', undefined, '/bin/bash'],
    ])
    expect(accounts.every((a) => a.ftp === true && a.login.password === true)).toBe(true)
    expect(findings.map((f) => [f.rule, f.subject])).toEqual([
      ['ftp.accounts-unchecked', 'inventory'],
      ['ftp.user-no-home', 'user:nohome'],
    ])
    expect(findings[1].reason).toBe('passwd line 9: no home directory, so vsftpd refuses its login; not migrated')
  })

  it('userlist_deny=YES refuses the listed users; --include-system brings system accounts', () => {
    const conf = {file: 'vsftpd.conf', text: 'local_enable=YES\nuserlist_enable=YES\n'}
    const {accounts} = parseVsftpdAccounts({conf, passwd: input.passwd, userList: {file: 'user_list', text: 'carol\nroot\n'}}, {includeSystem: true})
    expect(accounts.map((a) => a.name)).toEqual(['daemon', 'ftp', 'sshd', 'dave', 'erin', 'frank', 'nobody'])
  })

  it('passwd_chroot_enable chroots at "/./"; local_root with user_sub_token moves the start directory', () => {
    const passwdChroot = parseVsftpdAccounts({conf: {file: 'c', text: 'local_enable=YES\nchroot_local_user=YES\npasswd_chroot_enable=YES\n'}, passwd: input.passwd})
    expect(passwdChroot.accounts.find((a) => a.name === 'dave')).toMatchObject({chroot: '/srv/partners', home: '/srv/partners/dave', dataRoot: '/srv/partners'})
    const localRoot = parseVsftpdAccounts({conf: {file: 'c', text: 'local_enable=YES\nlocal_root=/srv/ftp/$USER\nuser_sub_token=$USER\n'}, passwd: input.passwd})
    expect(localRoot.accounts.find((a) => a.name === 'carol')).toMatchObject({home: '/srv/ftp/carol', dataRoot: '/srv/ftp/carol'})
    expect(localRoot.accounts.find((a) => a.name === 'carol')?.chroot).toBeUndefined()
  })

  it('says so when no local user may log in, and when a given list is not enabled', () => {
    const {accounts, findings} = parseVsftpdAccounts({conf: {file: 'vsftpd.conf', text: 'anonymous_enable=YES\n'}, passwd: input.passwd, userList: input.userList})
    expect(accounts).toEqual([])
    expect(findings.map((f) => f.reason)).toEqual([
      'user_list was given, but vsftpd.conf does not enable it (userlist_enable=NO): vsftpd ignores it, and so does the inventory',
      'vsftpd.conf does not enable local users (local_enable=NO): no account of passwd may log in',
    ])
  })

  it('refuses what it cannot read truthfully: an enabled list not given, guest (virtual) users, malformed lines', () => {
    expect(thrown(() => parseVsftpdAccounts({conf: input.conf, passwd: input.passwd, chrootList: input.chrootList})).message).toBe(
      'vsftpd.conf: userlist_enable=YES: vsftpd admits only the users in /etc/vsftpd.user_list',
    )
    expect(thrown(() => parseVsftpdAccounts({conf: input.conf, passwd: input.passwd, userList: input.userList})).suggestions).toEqual(['Pass a copy of /etc/vsftpd.chroot_list with --chroot-list FILE.'])
    expect(thrown(() => parseVsftpdAccounts({conf: {file: 'v.conf', text: 'local_enable=YES\nguest_enable=YES\n'}, passwd: input.passwd})).suggestions?.[0]).toMatch(/--users-csv FILE/)
    expect(thrown(() => parseVsftpdConf({file: 'v.conf', text: '# ok\nlocal_enable YES\n'})).message).toBe('v.conf line 2: not an option=value line')
    expect(thrown(() => parseVsftpdConf({file: 'v.conf', text: 'local_enable=maybe\n'})).message).toBe('v.conf line 1, field local_enable: "maybe" is not YES or NO')
    const conf = {file: 'c', text: 'local_enable=YES\n'}
    expect(thrown(() => parseVsftpdAccounts({conf, passwd: {file: 'passwd', text: 'root:x:0:0:root:/root:/bin/bash\ncarol:x:1001:1001\n'}})).message).toBe(
      'passwd line 2: 4 field(s); passwd has 7 (name:password:uid:gid:gecos:home:shell)',
    )
    expect(thrown(() => parseVsftpdAccounts({conf, passwd: {file: 'passwd', text: 'carol:$6$salt$hash:x:1001::/home/carol:/bin/sh\n'}})).message).toBe('passwd line 1, field uid: "x" is not a whole number')
  })

  it('tells each FTP user that its clients must move to SFTP with a key', () => {
    const {accounts} = parseVsftpdAccounts(input)
    const f = accountFindings(accounts).filter((x) => x.subject === 'user:carol')
    expect(f.map((x) => [x.rule, x.severity])).toEqual([['user.ftp-login', 'warning']])
    expect(f[0].reason).toMatch(/clients must move to SFTP with a key \(or to FTPS with a custom identity provider/)
    expect(f[0].fix).toMatch(/users import --keys-dir DIR/)
  })
})
