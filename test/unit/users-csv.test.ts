import {InputError, parseUsersCsv, USERS_CSV_COLUMNS} from '../../src/core/users-csv.js'
import {KeyDir, type TestKey} from './helpers/keygen.js'

const keys = new KeyDir()
let ed: TestKey
let rsa: TestKey
beforeAll(() => {
  ed = keys.generate(['-t', 'ed25519'], 'alice@laptop')
  rsa = keys.generate(['-t', 'rsa', '-b', '2048'], 'alice@desktop')
})
afterAll(() => keys.remove())

const header = 'name,uid,gid,groups,home,chroot,password_login,public_keys'

function thrown(fn: () => unknown): InputError {
  try {
    fn()
  } catch (err) {
    if (err instanceof InputError) return err
    throw err
  }
  throw new Error('expected an InputError')
}

describe('parseUsersCsv', () => {
  it('documents every column', () => {
    expect(Object.keys(USERS_CSV_COLUMNS)).toEqual(header.split(','))
  })

  it('reads accounts with RFC 4180 quoting, CRLF, several keys and options containing ; and ,', () => {
    const keyWithOptions = `command="echo a;b",from="10.0.0.0/8,192.168.0.1" ${ed.line}`
    const text = [
      '\uFEFF' + header,
      `alice,1001,1001,sftp;staff,/home/alice,,yes,"${keyWithOptions.replace(/"/g, '""')};${rsa.line}"`,
      '"bob, the builder",1002,100,,/srv/bob,/srv/chroot/bob,no,',
      '',
    ].join('\r\n')
    const {accounts} = parseUsersCsv(text, 'users.csv')
    expect(accounts).toHaveLength(2)
    const [a, b] = accounts
    expect(a).toMatchObject({
      name: 'alice',
      uid: 1001,
      gid: 1001,
      groups: ['sftp', 'staff'],
      home: '/home/alice',
      sftpRoot: '/home/alice',
      dataRoot: '/home/alice',
      login: {password: true, key: true},
      authorizedKeysFiles: [],
    })
    expect(a.chroot).toBeUndefined()
    expect(a.keys.map((k) => [k.type, k.fingerprint, k.options, k.file])).toEqual([
      ['ssh-ed25519', ed.fingerprint, ['command="echo a;b"', 'from="10.0.0.0/8,192.168.0.1"'], 'users.csv line 2'],
      ['ssh-rsa', rsa.fingerprint, [], 'users.csv line 2'],
    ])
    expect(a.keys[1].bits).toBe(2048)
    expect(b).toMatchObject({name: 'bob, the builder', gid: 100, groups: [], chroot: '/srv/chroot/bob', sftpRoot: '/srv/chroot/bob', login: {password: false, key: false}, keys: []})
    expect(b.sources.uid).toBe('csv')
  })

  it('accepts columns in any order and leaves optional ones out', () => {
    const {accounts} = parseUsersCsv('home,gid,uid,name\n/home/c,5,7,carol\n', 'u.csv')
    expect(accounts[0]).toMatchObject({name: 'carol', uid: 7, gid: 5, home: '/home/c', groups: [], login: {password: false, key: false}})
  })

  it('keeps a quoted field spanning lines and counts lines from where the record starts', () => {
    const text = `${header}\nalice,1,1,,/h,,no,"${ed.line}\n"\nbob,x,1,,/h,,no,\n`
    const err = thrown(() => parseUsersCsv(text, 'users.csv'))
    expect(err.message).toBe('users.csv line 4, field uid: "x" is not a whole number')
    expect([err.line, err.field, err.exitCode]).toEqual([4, 'uid', 2])
  })

  it('keeps an unreadable key with its error instead of failing', () => {
    const {accounts} = parseUsersCsv(`${header}\nalice,1,1,,/h,,no,ssh-ed25519 AAAA-not-base64\n`, 'users.csv')
    expect(accounts[0].keys).toEqual([
      {type: 'unknown', comment: '', options: [], format: 'openssh', file: 'users.csv line 2', line: 1, error: 'the key data is not valid base64'},
    ])
    expect(accounts[0].login.key).toBe(false)
  })

  it.each([
    ['', 'users.csv: empty; the first line must name the columns: name,uid,gid,groups,home,chroot,password_login,public_keys'],
    ['name,uid,gid,home,shell\n', 'users.csv line 1, field shell: unknown column; the columns are name,uid,gid,groups,home,chroot,password_login,public_keys'],
    ['name,uid,home\n', 'users.csv line 1, field gid: required column missing from the header'],
    ['name,uid,gid,home,uid\n', 'users.csv line 1, field uid: column named twice'],
    [`${header}\nalice,1,1\n`, 'users.csv line 2: 3 fields, the header has 8'],
    [`${header}\n,1,1,,/h,,,\n`, 'users.csv line 2, field name: empty'],
    [`${header}\na,1,1,,/h,,,\na,2,2,,/h,,,\n`, 'users.csv line 3, field name: "a" is already on line 2'],
    [`${header}\na,1,-1,,/h,,,\n`, 'users.csv line 2, field gid: "-1" is not a whole number'],
    [`${header}\na,1,1,,home/a,,,\n`, 'users.csv line 2, field home: "home/a" is not an absolute path'],
    [`${header}\na,1,1,,/h,jail,,\n`, 'users.csv line 2, field chroot: "jail" is not an absolute path'],
    [`${header}\na,1,1,,/h,,maybe,\n`, 'users.csv line 2, field password_login: "maybe" is not yes or no'],
    [`${header}\na,1,1,,/h,,no,"unclosed\n`, 'users.csv line 2: a quoted field is not closed'],
    [`${header}\na,1,1,,/h,,no,ab"c\n`, 'users.csv line 2: a quote inside an unquoted field (quote the whole field and double the quote)'],
    [`${header}\na,1,1,,/h,,"no"x,\n`, 'users.csv line 2: text after a closing quote'],
  ])('rejects %j', (text, message) => {
    const err = thrown(() => parseUsersCsv(text, 'users.csv'))
    expect(err.message).toBe(message)
  })
})
