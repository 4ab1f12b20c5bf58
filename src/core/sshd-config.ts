/**
 * sshd_config as sshd reads it (OpenSSH 9): Include, Match blocks, first value wins, and the settings that decide
 * how a user logs in for SFTP. Also reads `sshd -T` output, which is the authoritative answer when it is available.
 * Pure logic: the collector hands over every file's text.
 */

/** Where relative Include paths are resolved (OpenSSH's SSHDIR). */
export const SSH_DIR = '/etc/ssh'

export type MatchKind = 'user' | 'group' | 'host' | 'address' | 'localaddress' | 'localport' | 'rdomain' | 'all'

export interface MatchCriterion {
  kind: MatchKind
  /** comma-separated pattern list as written; empty for `all` */
  patterns: string
}

/** One `Match` line: every criterion must hold. */
export interface MatchBlock {
  criteria: MatchCriterion[]
  file: string
  line: number
  text: string
}

export interface SshdDirective {
  /** lowercased keyword */
  keyword: string
  /** arguments split as sshd splits them (quotes removed) */
  args: string[]
  /** the rest of the line after the keyword, as written (ForceCommand and Subsystem keep spaces) */
  value: string
  file: string
  line: number
  /** Match blocks this directive sits in (outer first: an Include inside a Match adds to it); empty = global */
  conditions: MatchBlock[]
}

export interface SshdConfig {
  path: string
  directives: SshdDirective[]
  /** every file read, main first */
  files: string[]
  /** problems found while reading (missing include, bad Match line) */
  errors: string[]
}

export type PermitRootLogin = 'yes' | 'no' | 'prohibit-password' | 'forced-commands-only'

/** The settings that matter for one user's SFTP login. */
export interface EffectiveSshd {
  chrootDirectory?: string
  forceCommand?: string
  /** as configured: tokens not expanded, relative paths not resolved (see authorizedKeysPaths) */
  authorizedKeysFile: string[]
  passwordAuthentication: boolean
  pubkeyAuthentication: boolean
  /** with UsePAM, keyboard-interactive is a password login too */
  kbdInteractiveAuthentication: boolean
  usePam: boolean
  permitRootLogin: PermitRootLogin
  /** the command of `Subsystem sftp`, e.g. internal-sftp */
  subsystemSftp?: string
  allowUsers?: string[]
  allowGroups?: string[]
  denyUsers?: string[]
  denyGroups?: string[]
  /** Match lines whose outcome depends on something not given (host, address, port): treated as not matching */
  undecided: string[]
}

export interface MatchContext {
  user: string
  /** every group of the user, the primary group included (sshd uses getgrouplist) */
  groups: string[]
  host?: string
  address?: string
  port?: number
  localAddress?: string
}

/** OpenSSH 9 defaults for what EffectiveSshd reports. */
export const SSHD_DEFAULTS = {
  authorizedKeysFile: ['.ssh/authorized_keys', '.ssh/authorized_keys2'],
  passwordAuthentication: true,
  pubkeyAuthentication: true,
  kbdInteractiveAuthentication: true,
  usePam: false,
  permitRootLogin: 'prohibit-password',
} as const

const MAX_INCLUDE_DEPTH = 16
const ACCUMULATING = ['allowusers', 'allowgroups', 'denyusers', 'denygroups'] as const
const KEYWORD_ALIASES: Record<string, string> = {challengeresponseauthentication: 'kbdinteractiveauthentication'}

/** Splits arguments like sshd's argv_split: double or single quotes, backslash escapes, `#` starts a comment. */
export function splitArgs(text: string): string[] {
  const args: string[] = []
  let i = 0
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i])) i++
    if (i >= text.length || text[i] === '#') break
    let arg = ''
    let quote: string | undefined
    for (; i < text.length; i++) {
      const c = text[i]
      if (c === '\\' && i + 1 < text.length && (quote ? text[i + 1] === quote || text[i + 1] === '\\' : /[\s\\'"]/.test(text[i + 1]))) {
        arg += text[++i]
      } else if (quote) {
        if (c === quote) quote = undefined
        else arg += c
      } else if (c === '"' || c === "'") {
        quote = c
      } else if (/\s/.test(c)) {
        break
      } else {
        arg += c
      }
    }
    args.push(arg)
  }
  return args
}

function resolveIncludePath(arg: string, sshDir: string): string {
  return arg.startsWith('/') ? arg : `${sshDir}/${arg}`
}

/** Glob as glob(3) expands it: `*` and `?` do not cross `/`, `[...]` classes. */
function globRegex(pattern: string): RegExp {
  let re = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '*') re += '[^/]*'
    else if (c === '?') re += '[^/]'
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2)
      if (end < 0) re += '\\['
      else {
        re += '[' + pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\') + ']'
        i = end
      }
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&')
  }
  return new RegExp(`^${re}$`)
}

function parseMatchLine(args: string[], file: string, line: number, text: string): MatchBlock | string {
  const criteria: MatchCriterion[] = []
  for (let i = 0; i < args.length; i++) {
    const kind = args[i].toLowerCase()
    if (kind === 'all') {
      criteria.push({kind: 'all', patterns: ''})
      continue
    }
    if (!['user', 'group', 'host', 'address', 'localaddress', 'localport', 'rdomain'].includes(kind)) {
      return `${file}:${line}: unsupported Match criterion ${args[i]}`
    }
    const patterns = args[i + 1]
    if (patterns === undefined) return `${file}:${line}: Match ${args[i]} without a value`
    criteria.push({kind: kind as MatchKind, patterns})
    i++
  }
  if (criteria.length === 0) return `${file}:${line}: Match without criteria`
  return {criteria, file, line, text}
}

/**
 * Parses sshd_config and the files it includes. `includes` holds every file an Include may name, keyed by
 * absolute path (the collector expanded the globs); relative Include paths are resolved against /etc/ssh.
 */
export function parseSshdConfig(main: {path: string; text: string}, includes: Record<string, string> = {}, opts: {sshDir?: string} = {}): SshdConfig {
  const sshDir = opts.sshDir ?? SSH_DIR
  const config: SshdConfig = {path: main.path, directives: [], files: [], errors: []}
  const included = Object.keys(includes).sort()

  const readFile = (path: string, text: string, outer: MatchBlock[], depth: number): void => {
    config.files.push(path)
    // A Match inside an included file ends with that file (sshd restores the including context).
    let current = outer
    text.split('\n').forEach((raw, index) => {
      const lineNo = index + 1
      const line = raw.replace(/\r$/, '').trim()
      if (line === '' || line.startsWith('#')) return
      const m = /^([^\s=]+)\s*(?:=\s*)?(.*)$/.exec(line)
      if (!m) return
      const keyword = m[1].toLowerCase()
      const value = m[2].trim()
      const args = splitArgs(value)
      if (keyword === 'match') {
        const block = parseMatchLine(args, path, lineNo, line)
        if (typeof block === 'string') config.errors.push(block)
        // An unreadable Match must not let its directives apply to everyone: make it never match.
        current = [...outer, typeof block === 'string' ? {criteria: [{kind: 'user', patterns: '!*'}], file: path, line: lineNo, text: line} : block]
        return
      }
      if (keyword === 'include') {
        if (depth >= MAX_INCLUDE_DEPTH) {
          config.errors.push(`${path}:${lineNo}: Include nested too deeply`)
          return
        }
        for (const arg of args) {
          const target = resolveIncludePath(arg, sshDir)
          const matches = /[*?[]/.test(target) ? included.filter((p) => globRegex(target).test(p)) : target in includes ? [target] : []
          if (matches.length === 0 && !/[*?[]/.test(target)) config.errors.push(`${path}:${lineNo}: Include ${target}: file not in the bundle`)
          for (const p of matches) readFile(p, includes[p], current, depth + 1)
        }
        return
      }
      config.directives.push({keyword: KEYWORD_ALIASES[keyword] ?? keyword, args, value, file: path, line: lineNo, conditions: current})
    })
  }
  readFile(main.path, main.text, [], 0)
  return config
}

function wildcardRegex(pattern: string, caseInsensitive: boolean): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\/]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')
  return new RegExp(`^${body}$`, caseInsensitive ? 'i' : '')
}

/** OpenSSH `*`/`?` wildcard match of one pattern. */
export function matchPattern(value: string, pattern: string, caseInsensitive = false): boolean {
  return wildcardRegex(pattern, caseInsensitive).test(value)
}

/**
 * OpenSSH match_pattern_list: comma-separated patterns, `!` negates. 1 = a positive pattern matched and no
 * negated one did, -1 = a negated pattern matched, 0 = nothing matched.
 */
export function matchPatternList(value: string, list: string, caseInsensitive = false): 1 | 0 | -1 {
  let positive = false
  for (const raw of list.split(',')) {
    const negated = raw.startsWith('!')
    const pattern = negated ? raw.slice(1) : raw
    if (matchPattern(value, pattern, caseInsensitive)) {
      if (negated) return -1
      positive = true
    }
  }
  return positive ? 1 : 0
}

function ipv4ToInt(address: string): number | undefined {
  const parts = address.split('.')
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined
  return parts.reduce((n, p) => n * 256 + Number(p), 0)
}

function addressMatches(address: string, pattern: string): boolean {
  const cidr = /^([^/]+)\/(\d{1,2})$/.exec(pattern)
  if (cidr) {
    const [net, addr, bits] = [ipv4ToInt(cidr[1]), ipv4ToInt(address), Number(cidr[2])]
    if (net === undefined || addr === undefined || bits > 32) return false
    const size = 2 ** (32 - bits)
    return Math.floor(addr / size) === Math.floor(net / size)
  }
  return matchPattern(address, pattern, true)
}

/** OpenSSH addr_match_list: like matchPatternList, with CIDR (IPv4) entries. */
export function addressMatchList(address: string, list: string): 1 | 0 | -1 {
  let positive = false
  for (const raw of list.split(',')) {
    const negated = raw.startsWith('!')
    if (addressMatches(address, negated ? raw.slice(1) : raw)) {
      if (negated) return -1
      positive = true
    }
  }
  return positive ? 1 : 0
}

/** Whether a Match line holds; undefined when it depends on a fact the context lacks. */
export function matchBlockHolds(block: MatchBlock, who: MatchContext): boolean | undefined {
  let undecided = false
  for (const c of block.criteria) {
    let ok: boolean | undefined
    switch (c.kind) {
      case 'all':
        ok = true
        break
      case 'user':
        ok = matchPatternList(who.user, c.patterns) === 1
        break
      case 'group': {
        // sshd: a negated match on any group fails the criterion; otherwise any positive match passes.
        const results = who.groups.map((g) => matchPatternList(g, c.patterns))
        ok = !results.includes(-1) && results.includes(1)
        break
      }
      case 'host':
        ok = who.host === undefined ? undefined : matchPatternList(who.host, c.patterns, true) === 1
        break
      case 'address':
        ok = who.address === undefined ? undefined : addressMatchList(who.address, c.patterns) === 1
        break
      case 'localaddress':
        ok = who.localAddress === undefined ? undefined : addressMatchList(who.localAddress, c.patterns) === 1
        break
      case 'localport':
        ok = who.port === undefined ? undefined : matchPatternList(String(who.port), c.patterns) === 1
        break
      case 'rdomain':
        ok = undefined
        break
    }
    if (ok === false) return false
    if (ok === undefined) undecided = true
  }
  return undecided ? undefined : true
}

function yesNo(value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback
  return value.toLowerCase() === 'yes'
}

function permitRootLogin(value: string | undefined): PermitRootLogin {
  const v = (value ?? SSHD_DEFAULTS.permitRootLogin).toLowerCase()
  if (v === 'without-password') return 'prohibit-password'
  return (['yes', 'no', 'prohibit-password', 'forced-commands-only'] as const).find((x) => x === v) ?? 'no'
}

function noneToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value === '' || value.toLowerCase() === 'none' ? undefined : value
}

/** Builds EffectiveSshd from "first value" and "accumulated values" lookups. */
function buildEffective(first: (keyword: string) => SshdDirectiveValue | undefined, all: (keyword: string) => string[] | undefined, undecided: string[]): EffectiveSshd {
  const akf = first('authorizedkeysfile')
  const authorizedKeysFile = akf === undefined ? [...SSHD_DEFAULTS.authorizedKeysFile] : akf.args.length === 1 && akf.args[0].toLowerCase() === 'none' ? [] : akf.args
  const effective: EffectiveSshd = {
    authorizedKeysFile,
    passwordAuthentication: yesNo(first('passwordauthentication')?.args[0], SSHD_DEFAULTS.passwordAuthentication),
    pubkeyAuthentication: yesNo(first('pubkeyauthentication')?.args[0], SSHD_DEFAULTS.pubkeyAuthentication),
    kbdInteractiveAuthentication: yesNo(first('kbdinteractiveauthentication')?.args[0], SSHD_DEFAULTS.kbdInteractiveAuthentication),
    usePam: yesNo(first('usepam')?.args[0], SSHD_DEFAULTS.usePam),
    permitRootLogin: permitRootLogin(first('permitrootlogin')?.args[0]),
    undecided,
  }
  const chroot = noneToUndefined(first('chrootdirectory')?.args[0])
  if (chroot !== undefined) effective.chrootDirectory = chroot
  const force = noneToUndefined(first('forcecommand')?.value)
  if (force !== undefined) effective.forceCommand = force
  const sftp = first('subsystem:sftp')
  if (sftp !== undefined) effective.subsystemSftp = sftp.value
  const lists = {allowusers: 'allowUsers', allowgroups: 'allowGroups', denyusers: 'denyUsers', denygroups: 'denyGroups'} as const
  for (const keyword of ACCUMULATING) {
    const values = all(keyword)
    if (values && values.length > 0) effective[lists[keyword]] = values
  }
  return effective
}

interface SshdDirectiveValue {
  args: string[]
  value: string
}

/** The Subsystem lines are keyed by subsystem name; the value is the command. */
function lookupKey(d: {keyword: string; args: string[]; value: string}): {key: string; entry: SshdDirectiveValue} {
  if (d.keyword === 'subsystem' && d.args.length >= 2) {
    return {key: `subsystem:${d.args[0].toLowerCase()}`, entry: {args: d.args.slice(1), value: d.value.replace(/^\S+\s+/, '')}}
  }
  return {key: d.keyword, entry: d}
}

function collect(directives: Array<{keyword: string; args: string[]; value: string}>): {first: Map<string, SshdDirectiveValue>; all: Map<string, string[]>} {
  const first = new Map<string, SshdDirectiveValue>()
  const all = new Map<string, string[]>()
  for (const d of directives) {
    const {key, entry} = lookupKey(d)
    if (!first.has(key)) first.set(key, entry)
    if ((ACCUMULATING as readonly string[]).includes(key)) all.set(key, [...(all.get(key) ?? []), ...entry.args])
  }
  return {first, all}
}

/**
 * The settings in effect for one user, as sshd computes them: values from matching Match blocks (first one wins)
 * override global ones (first one wins); AllowUsers & co. accumulate, and a Match block's lists replace the global
 * lists.
 */
export function effectiveFor(config: SshdConfig, who: MatchContext): EffectiveSshd {
  const undecided: string[] = []
  const holds = new Map<MatchBlock, boolean>()
  const blockHolds = (b: MatchBlock): boolean => {
    let h = holds.get(b)
    if (h === undefined) {
      const r = matchBlockHolds(b, who)
      if (r === undefined) undecided.push(`${b.file}:${b.line}: ${b.text}`)
      h = r === true
      holds.set(b, h)
    }
    return h
  }
  const globals = collect(config.directives.filter((d) => d.conditions.length === 0))
  const matched = collect(config.directives.filter((d) => d.conditions.length > 0 && d.conditions.every(blockHolds)))
  return buildEffective(
    (k) => matched.first.get(k) ?? globals.first.get(k),
    (k) => matched.all.get(k) ?? globals.all.get(k),
    undecided,
  )
}

/** Reads `sshd -T` output (lowercase `keyword value` lines, lists one value per line) into the same shape. */
export function effectiveFromSshdT(text: string): EffectiveSshd {
  const directives = text
    .split('\n')
    .map((l) => l.replace(/\r$/, '').trim())
    .filter((l) => l !== '')
    .map((l) => {
      const m = /^(\S+)\s*(.*)$/.exec(l) as RegExpExecArray
      // sshd -T prints values verbatim (no quoting): split on whitespace only.
      return {keyword: m[1].toLowerCase(), args: m[2] === '' ? [] : m[2].split(/\s+/), value: m[2]}
    })
  const {first, all} = collect(directives)
  return buildEffective(
    (k) => first.get(k),
    (k) => all.get(k),
    [],
  )
}

/** Expands the %-tokens sshd expands in ChrootDirectory and AuthorizedKeysFile: %% %u %h %U. */
export function expandTokens(value: string, ctx: {user: string; home: string; uid: number}): string {
  return value.replace(/%([%uhU])/g, (_, t: string) => (t === '%' ? '%' : t === 'u' ? ctx.user : t === 'h' ? ctx.home : String(ctx.uid)))
}

/** The authorized keys files sshd reads for this user: tokens expanded, relative paths taken from the home. */
export function authorizedKeysPaths(effective: Pick<EffectiveSshd, 'authorizedKeysFile'>, ctx: {user: string; home: string; uid: number}): string[] {
  return effective.authorizedKeysFile.map((f) => {
    const path = expandTokens(f, ctx)
    return path.startsWith('/') ? path : `${ctx.home.replace(/\/+$/, '')}/${path}`
  })
}

/** The user part of an AllowUsers/DenyUsers entry (`user@host` restricts the client host, which we cannot know). */
function userPart(pattern: string): string {
  const at = pattern.indexOf('@')
  return at < 0 ? pattern : pattern.slice(0, at)
}

/** Why sshd would refuse this user by AllowUsers/AllowGroups/DenyUsers/DenyGroups, in sshd's order; undefined if it would not. */
export function loginDeniedReason(effective: Pick<EffectiveSshd, 'allowUsers' | 'allowGroups' | 'denyUsers' | 'denyGroups'>, user: string, groups: string[]): string | undefined {
  const deny = effective.denyUsers?.find((p) => matchPattern(user, userPart(p)))
  if (deny) return `DenyUsers ${deny}`
  if (effective.allowUsers && !effective.allowUsers.some((p) => matchPattern(user, userPart(p)))) return 'not in AllowUsers'
  const denyGroup = effective.denyGroups?.find((p) => groups.some((g) => matchPattern(g, p)))
  if (denyGroup) return `DenyGroups ${denyGroup}`
  if (effective.allowGroups && !effective.allowGroups.some((p) => groups.some((g) => matchPattern(g, p)))) return 'in no group of AllowGroups'
  return undefined
}

/** True when AllowUsers/AllowGroups/DenyUsers/DenyGroups let this user in. `groups` includes the primary group. */
export function isLoginAllowed(effective: Pick<EffectiveSshd, 'allowUsers' | 'allowGroups' | 'denyUsers' | 'denyGroups'>, user: string, groups: string[]): boolean {
  return loginDeniedReason(effective, user, groups) === undefined
}
