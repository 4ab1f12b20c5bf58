/**
 * users.csv: the accounts to migrate, written by hand when the legacy box cannot be asked (no shell access, an
 * appliance). RFC 4180: comma-separated, fields with commas, quotes or line breaks in double quotes, a quote
 * inside them doubled (""). A header row naming the columns is required; column order is free.
 *
 *   name            required  login name (Transfer user name)
 *   uid             required  numeric user id (whole number)
 *   gid             required  numeric primary group id (whole number)
 *   groups          optional  supplementary group names, ';'-separated
 *   home            required  absolute home directory on the box
 *   chroot          optional  absolute ChrootDirectory when the user is chrooted; empty otherwise
 *   password_login  optional  yes/no (true/false, 1/0): the user logs in with a password today; empty = no
 *   public_keys     optional  OpenSSH public key lines ("ssh-ed25519 AAAA... comment"), ';'-separated
 *
 * Example:
 *   name,uid,gid,groups,home,chroot,password_login,public_keys
 *   alice,1001,1001,sftp;staff,/home/alice,,no,"ssh-ed25519 AAAAC3... alice@laptop"
 */
import {InputError} from './input-error.js'
import type {Account, AuthorizedKey} from './inventory-model.js'
import {parseAuthorizedKeys} from './ssh-keys.js'

export {InputError} from './input-error.js'

export const USERS_CSV_COLUMNS = {
  name: {required: true, description: 'login name (Transfer user name)'},
  uid: {required: true, description: 'numeric user id (whole number)'},
  gid: {required: true, description: 'numeric primary group id (whole number)'},
  groups: {required: false, description: "supplementary group names, ';'-separated"},
  home: {required: true, description: 'absolute home directory on the box'},
  chroot: {required: false, description: 'absolute ChrootDirectory when the user is chrooted; empty otherwise'},
  password_login: {required: false, description: 'yes/no (true/false, 1/0): the user logs in with a password today; empty = no'},
  public_keys: {required: false, description: "OpenSSH public key lines (\"ssh-ed25519 AAAA... comment\"), ';'-separated"},
} as const

export type UsersCsvColumn = keyof typeof USERS_CSV_COLUMNS

interface CsvRecord {
  /** physical line the record starts on (1-based) */
  line: number
  fields: string[]
}

/** RFC 4180 records; a quoted field may span lines. */
function parseCsv(text: string, file: string): CsvRecord[] {
  const records: CsvRecord[] = []
  let fields: string[] = []
  let field = ''
  let line = 1
  let start = 1
  let quoted = false
  let wasQuoted = false
  const endField = () => {
    fields.push(field)
    field = ''
    wasQuoted = false
  }
  const endRecord = () => {
    endField()
    if (!(fields.length === 1 && fields[0] === '')) records.push({line: start, fields})
    fields = []
  }
  const body = text.replace(/^\uFEFF/, '')
  for (let i = 0; i < body.length; i++) {
    const c = body[i]
    if (quoted) {
      if (c === '"' && body[i + 1] === '"') {
        field += '"'
        i++
      } else if (c === '"') quoted = false
      else {
        if (c === '\n') line++
        field += c
      }
    } else if (c === '"') {
      if (field !== '' || wasQuoted) throw new InputError(`${file} line ${line}: a quote inside an unquoted field (quote the whole field and double the quote)`, {file, line})
      quoted = true
      wasQuoted = true
    } else if (c === ',') endField()
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && body[i + 1] === '\n') i++
      endRecord()
      line++
      start = line
    } else {
      if (wasQuoted) throw new InputError(`${file} line ${line}: text after a closing quote`, {file, line})
      field += c
    }
  }
  if (quoted) throw new InputError(`${file} line ${start}: a quoted field is not closed`, {file, line: start})
  endRecord()
  return records
}

function fieldError(file: string, line: number, field: string, problem: string): InputError {
  return new InputError(`${file} line ${line}, field ${field}: ${problem}`, {file, line, field})
}

function wholeNumber(value: string, file: string, line: number, field: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) > 0xffffffff) throw fieldError(file, line, field, `${JSON.stringify(value)} is not a whole number`)
  return Number(value)
}

function absolutePath(value: string, file: string, line: number, field: string): string {
  if (!value.startsWith('/')) throw fieldError(file, line, field, `${JSON.stringify(value)} is not an absolute path`)
  return value
}

function yesNo(value: string, file: string, line: number, field: string): boolean {
  const v = value.trim().toLowerCase()
  if (['', 'no', 'false', '0', 'n'].includes(v)) return false
  if (['yes', 'true', '1', 'y'].includes(v)) return true
  throw fieldError(file, line, field, `${JSON.stringify(value)} is not yes or no`)
}

/** Splits on ';' outside double quotes, so a key option like command="a;b" stays whole. */
function splitKeys(value: string): string[] {
  const parts: string[] = []
  let current = ''
  let quoted = false
  for (const c of value) {
    if (c === '"') quoted = !quoted
    if (c === ';' && !quoted) {
      parts.push(current)
      current = ''
    } else current += c
  }
  parts.push(current)
  return parts.map((p) => p.trim()).filter(Boolean)
}

/**
 * The accounts in users.csv. Throws InputError naming the line and field on the first bad value
 * (`users.csv line 4, field uid: "abc" is not a whole number`). Keys that cannot be read are kept with an error
 * (like unreadable authorized_keys lines), so the findings report them.
 */
export function parseUsersCsv(text: string, file = 'users.csv'): {accounts: Account[]} {
  const records = parseCsv(text, file)
  if (records.length === 0) throw new InputError(`${file}: empty; the first line must name the columns: ${Object.keys(USERS_CSV_COLUMNS).join(',')}`, {file, line: 1})
  const [header, ...rows] = records
  const columns = header.fields.map((f) => f.trim().toLowerCase())
  columns.forEach((c, i) => {
    if (!(c in USERS_CSV_COLUMNS)) throw fieldError(file, header.line, c || `#${i + 1}`, `unknown column; the columns are ${Object.keys(USERS_CSV_COLUMNS).join(',')}`)
    if (columns.indexOf(c) !== i) throw fieldError(file, header.line, c, 'column named twice')
  })
  for (const [name, spec] of Object.entries(USERS_CSV_COLUMNS)) {
    if (spec.required && !columns.includes(name)) throw fieldError(file, header.line, name, 'required column missing from the header')
  }

  const names = new Map<string, number>()
  const accounts = rows.map((row) => {
    const {line} = row
    if (row.fields.length !== columns.length) {
      throw new InputError(`${file} line ${line}: ${row.fields.length} fields, the header has ${columns.length}`, {file, line})
    }
    const get = (c: UsersCsvColumn): string => {
      const i = columns.indexOf(c)
      return i < 0 ? '' : row.fields[i]
    }
    const name = get('name').trim()
    if (name === '') throw fieldError(file, line, 'name', 'empty')
    const earlier = names.get(name)
    if (earlier !== undefined) throw fieldError(file, line, 'name', `${JSON.stringify(name)} is already on line ${earlier}`)
    names.set(name, line)
    const home = absolutePath(get('home').trim(), file, line, 'home')
    const chrootValue = get('chroot').trim()
    const chroot = chrootValue === '' ? undefined : absolutePath(chrootValue, file, line, 'chroot')
    const keys: AuthorizedKey[] = splitKeys(get('public_keys')).flatMap((k) => parseAuthorizedKeys(k, `${file} line ${line}`))
    const password = yesNo(get('password_login'), file, line, 'password_login')
    const account: Account = {
      name,
      uid: wholeNumber(get('uid'), file, line, 'uid'),
      gid: wholeNumber(get('gid'), file, line, 'gid'),
      groups: get('groups')
        .split(';')
        .map((g) => g.trim())
        .filter(Boolean),
      home,
      shell: '',
      sftpRoot: chroot ?? home,
      dataRoot: chroot ?? home,
      login: {password, key: keys.some((k) => k.error === undefined)},
      keys,
      authorizedKeysFiles: [],
      sources: {account: 'csv', uid: 'csv', gid: 'csv', groups: 'csv', home: 'csv', chroot: 'csv', login: 'csv', keys: 'csv'},
    }
    if (chroot !== undefined) account.chroot = chroot
    return account
  })
  return {accounts}
}
