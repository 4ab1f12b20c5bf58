/**
 * Transfer Family users from the legacy accounts: what each user should look like on the server (desired), and the
 * plan that takes the server from what it holds (actual) to that. Pure: no AWS, no state; the users service feeds
 * it and carries the plan out.
 *
 * Decisions, in one place:
 * - Paths: a chrooted user saw its chroot as "/", so its logical home is one mapping Entry "/" -> the owner's home
 *   target. A user who was not chrooted saw absolute paths (scripts use them): Entry <data root, e.g. /home/alice>
 *   -> the owner's home target, and it logs in to its old home. Targets come from key-mapping.ts, the mapping sync
 *   uses, so every user sees exactly the files sync put under <prefix>/home/<owner>/.
 * - Renames: Transfer rejects some legacy names. A renamed user gets the new name on Transfer, while its home still
 *   points at the legacy owner's prefix, where sync put (and keeps putting) the files. Nothing is moved or copied.
 * - Keys: the legacy box is authoritative for the keys of every user it imports. A key on Transfer whose
 *   fingerprint is not among the user's usable legacy keys is removed, so a key revoked on the legacy box stops
 *   working on Transfer too.
 * - A user without a usable key is not created (unless allowed); one that already exists is kept and its keys
 *   still follow the legacy box.
 */
import {FTP_MOVE} from './findings.js'
import {fingerprintOf} from './host-keys.js'
import type {Account, AuthorizedKey, Finding, KeyFormat} from './inventory-model.js'
import {homeDirectoryTarget, homeKeyPrefix} from './key-mapping.js'
import {canonicalPolicy, scopeDownPolicy} from './scope-down-policy.js'
import {type KeyAcceptance, keyDecision, keyVerdict, MAX_PATH_CHARS, restrictionAdvice, userNameProblem} from './transfer-rules.js'

export type HomeMode = 'logical' | 'path'
export type ServerDomain = 'S3' | 'EFS'

export const TAG_LEGACY_UID = 'sftp-cutover:legacy-uid'
export const TAG_LEGACY_NAME = 'sftp-cutover:legacy-name'
export const TAG_SOURCE_HOST = 'sftp-cutover:source-host'

// ---------------------------------------------------------------------------------------------------------------
// Keys

export interface KeyRef {
  fingerprint: string
  type: string
  bits?: number
  comment: string
  /** where it was found: "<file>:<line>" */
  source: string
  format: KeyFormat
}

/** A key that will be on Transfer: the body is the OpenSSH one-line form without options. */
export interface WantedKey extends KeyRef {
  body: string
  /** options that were stripped */
  options: string[]
  /** what the operator accepted for this key (users import --accept-key-options, --import-dead-keys) */
  acceptedRisks: string[]
}

export interface RefusedKey {
  fingerprint?: string
  type: string
  bits?: number
  comment: string
  source: string
  finding: Finding
}

/** A key Transfer holds for a user. */
export interface ActualKey {
  id: string
  body: string
  fingerprint?: string
  type?: string
  comment?: string
}

/** Type, fingerprint and comment of an OpenSSH one-line public key, or undefined when it cannot be read. */
export function publicKeyInfo(body: string): {type: string; fingerprint: string; comment: string} | undefined {
  const m = /^\s*(\S+)\s+([A-Za-z0-9+/]+={0,3})(?:\s+(.*?))?\s*$/.exec(body)
  if (!m) return undefined
  const blob = Buffer.from(m[2], 'base64')
  if (blob.length < 8) return undefined
  return {type: m[1], fingerprint: fingerprintOf(blob), comment: m[3] ?? ''}
}

function keySource(key: AuthorizedKey): string {
  return `${key.file}:${key.line}`
}

/**
 * Uses the inventory's explanation (src/core/findings.ts) for the same subject and rule when it has one, so the plan
 * and the inventory report say the same thing; `hint` adds what to do about it with this command.
 */
function explained(mine: Finding, inventory: Finding[], hint?: string): Finding {
  const theirs = inventory.find((f) => f.subject === mine.subject && f.rule === mine.rule)
  if (!theirs) return hint ? {...mine, fix: `${mine.fix} ${hint}`.trim()} : mine
  return {...mine, reason: theirs.reason, fix: hint ? `${theirs.fix} ${hint}` : theirs.fix}
}

/** The findings that mean "this user has no key it can log in with". */
export const NO_KEY_RULES: ReadonlySet<string> = new Set(['user.no-keys', 'user.password-only', 'user.ftp-needs-key'])

/** How an FTP user gets its key, for fixes. */
export const FTP_KEY_FIX = "Put the user's OpenSSH public key in DIR/<user>.pub and run users import --keys-dir DIR, or let users import --interactive ask for it."


const NEW_KEY_FIX = 'Ask the user for an ed25519 key (or RSA of 3072 bits or more), add it on the legacy box, run inventory again, then import again.'

/** What to do about a refused key, by rule, with this command. */
function refusalFix(rule: string, user: string, key: AuthorizedKey): string {
  switch (rule) {
    case 'key.unparseable':
      return 'Correct or remove the line on the legacy box; it cannot be used on Transfer.'
    case 'key.cert-authority':
      return 'Transfer Family has no user certificates: issue the users who log in with certificates from this CA a plain key (Ed25519), add it on the legacy box and run inventory again.'
    case 'key.dead':
      return `Not imported, so access stays as it is today. To import it anyway: users import --import-dead-keys ${user} (recorded as an accepted risk).`
    case 'key.options':
      return `${restrictionAdvice(keyVerdict(key).restrictions)} Or accept the unrestricted key: users import --accept-key-options ${user} (recorded as an accepted risk).`
    default:
      return NEW_KEY_FIX
  }
}

/** Whether one legacy key can go to Transfer (transfer-rules.ts decides), and what to say about it. */
export function classifyKey(user: string, key: AuthorizedKey, inventory: Finding[] = [], accepted: KeyAcceptance = {}): {wanted?: WantedKey; refused?: RefusedKey; notes: Finding[]} {
  const source = keySource(key)
  const subject = `key:${user}:${key.fingerprint ?? source}`
  const d = keyDecision(key, accepted)
  if (!d.import) {
    // Restricting options are the operator's call (one flag), and a CA's users lose their login: blockers. The
    // others are facts about the key. A dead key is reported, not a problem: leaving it out keeps today's access.
    const severity = d.rule === 'key.options' || d.rule === 'key.cert-authority' ? ('blocker' as const) : ('warning' as const)
    const mine: Finding = {rule: d.rule, severity, subject, reason: d.reason, fix: refusalFix(d.rule, user, key)}
    // The inventory's explanation where it has one; what to do with this command for the operator's choices.
    const finding = d.rule === 'key.options' || d.rule === 'key.dead' ? mine : {...explained(mine, inventory), severity}
    return {refused: {fingerprint: key.fingerprint, type: key.type, bits: key.bits, comment: key.comment, source, finding}, notes: []}
  }
  const notes: Finding[] = []
  const dropped = key.options.filter((o) => !keyVerdict(key).restrictions.includes(o))
  if (dropped.length > 0) {
    notes.push({rule: 'key.options-dropped', severity: 'info', subject, reason: `${source}: options ${dropped.join(',')} do not restrict the key and are not carried over`, fix: 'Nothing to do.'})
  }
  for (const risk of d.acceptedRisks) notes.push({rule: 'key.accepted-risk', severity: 'warning', subject, reason: `${source}: ${risk}`, fix: 'Accepted by the operator; listed in the migration report.'})
  if (key.format === 'rfc4716' || key.format === 'putty') {
    notes.push({rule: 'key.format', severity: 'info', subject, reason: `${source}: converted from ${key.format === 'putty' ? 'PuTTY' : 'RFC 4716'} to OpenSSH form`, fix: 'Nothing to do.'})
  }
  return {
    wanted: {fingerprint: key.fingerprint!, type: key.type, bits: key.bits, comment: key.comment, source, format: key.format, body: d.body, options: key.options, acceptedRisks: d.acceptedRisks},
    notes,
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Homes

export interface MappingEntry {
  Entry: string
  Target: string
  Type?: 'FILE' | 'DIRECTORY'
}

/** What Transfer should hold for a user (apart from its keys). */
export interface UserSpec {
  userName: string
  role: string
  homeDirectoryType: 'LOGICAL' | 'PATH'
  homeDirectory: string
  homeDirectoryMappings?: MappingEntry[]
  policy?: string
  posixProfile?: {uid: number; gid: number}
  tags: Record<string, string>
}

function trimSlash(p: string): string {
  const t = p.replace(/\/+$/, '')
  return t === '' ? '/' : t
}

function inside(child: string, parent: string): boolean {
  const c = trimSlash(child)
  const p = trimSlash(parent)
  return c === p || (p === '/' ? c.startsWith('/') : c.startsWith(p + '/'))
}

export interface HomeTarget {
  bucket: string
  prefix: string
  /** the owner sync files the user's data under: the legacy account name */
  owner: string
  mode: HomeMode
  kmsKeyId?: string
}

/**
 * Where the user lands and what it sees. Logical mode reproduces the legacy paths; path mode puts the user in
 * /<bucket>/<prefix>/home/<owner> with a session policy that keeps it there (the paths the user sees change).
 */
export function homeLayout(account: Account, t: HomeTarget): Pick<UserSpec, 'homeDirectoryType' | 'homeDirectory' | 'homeDirectoryMappings' | 'policy'> {
  const target = homeDirectoryTarget(t.bucket, t.prefix, t.owner)
  if (t.mode === 'path') {
    return {homeDirectoryType: 'PATH', homeDirectory: target, policy: scopeDownPolicy({kmsKeyId: t.kmsKeyId})}
  }
  const dataRoot = trimSlash(account.dataRoot || account.sftpRoot || account.home)
  if (account.chroot) {
    const chroot = trimSlash(account.chroot)
    // What the user saw of its data root inside the chroot: usually the chroot itself ("/").
    const entry = inside(dataRoot, chroot) && dataRoot !== chroot ? dataRoot.slice(chroot === '/' ? 0 : chroot.length) : '/'
    return {homeDirectoryType: 'LOGICAL', homeDirectory: '/', homeDirectoryMappings: [{Entry: entry, Target: target, Type: 'DIRECTORY'}]}
  }
  const home = trimSlash(account.home || dataRoot)
  return {
    homeDirectoryType: 'LOGICAL',
    homeDirectory: inside(home, dataRoot) ? home : dataRoot,
    homeDirectoryMappings: [{Entry: dataRoot, Target: target, Type: 'DIRECTORY'}],
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Desired state

export interface DesireInput {
  accounts: Account[]
  /** the inventory's findings, whose explanations the plan reuses */
  inventoryFindings?: Finding[]
  /** "host:port" of the legacy box, as the inventory recorded it */
  sourceHost: string
  bucket: string
  prefix: string
  roleArn: string
  kmsKeyId?: string
  domain: ServerDomain
  homeMode: HomeMode
  /** legacy names to import; undefined = every account */
  only?: string[]
  /** legacy name -> Transfer user name */
  renames: Record<string, string>
  /** legacy name -> fingerprints the engineer chose not to import */
  excludedKeys: Record<string, string[]>
  /** legacy name -> what the operator accepted for its keys (dead keys, restricting options) */
  accepted?: Record<string, KeyAcceptance>
  allowNoKeys: boolean
}

export interface DesiredUser {
  legacyName: string
  userName: string
  renamed: boolean
  selected: boolean
  /** what the operator accepted for this user's keys */
  accepted: KeyAcceptance
  /** findings that keep the user from being created */
  blockers: Finding[]
  /** everything else worth saying (stripped options, conversions, refused keys) */
  notes: Finding[]
  spec: UserSpec
  keys: {wanted: WantedKey[]; excluded: WantedKey[]; refused: RefusedKey[]}
  /** S3 key of the home folder placeholder (S3-backed servers) */
  placeholderKey?: string
  uid: number
}

export function desiredUsers(input: DesireInput): DesiredUser[] {
  const inventory = input.inventoryFindings ?? []
  const only = input.only ? new Set(input.only) : undefined
  const accounts = [...input.accounts].sort((a, b) => a.name.localeCompare(b.name))
  const nameOf = (a: Account) => input.renames[a.name] ?? a.name
  const claims = new Map<string, string[]>()
  for (const a of accounts) claims.set(nameOf(a), [...(claims.get(nameOf(a)) ?? []), a.name])

  return accounts.map((account) => {
    const legacyName = account.name
    const userName = nameOf(account)
    const renamed = userName !== legacyName
    const subject = `user:${legacyName}`
    const blockers: Finding[] = []
    const notes: Finding[] = []

    const nameProblem = userNameProblem(userName)
    if (nameProblem && !renamed) {
      blockers.push(
        explained(
          {rule: 'user.name-invalid', severity: 'blocker', subject, reason: nameProblem, fix: 'Rename it on Transfer.'},
          inventory,
          `With sftp-cutover: users import --interactive, or --rename ${legacyName}=<new name>; its files stay under home/${legacyName}/.`,
        ),
      )
    } else if (nameProblem) {
      blockers.push({rule: 'user.rename-invalid', severity: 'blocker', subject, reason: `the rename to ${userName} does not work: ${nameProblem}`, fix: `Choose another name: --rename ${legacyName}=<new name>.`})
    }
    const sharing = claims.get(userName) ?? []
    if (sharing.length > 1) {
      blockers.push({
        rule: 'user.name-collision',
        severity: 'blocker',
        subject,
        reason: `the Transfer name ${userName} would be used by ${sharing.join(' and ')}`,
        fix: 'Rename one of them: users import --interactive, or --rename <legacy>=<new name>.',
      })
    }
    if (renamed) notes.push({rule: 'user.renamed', severity: 'info', subject, reason: `imported as ${userName}; its home stays under home/${legacyName}/ where sync puts its files`, fix: 'Tell the user its new login name.'})

    const excluded = new Set(input.excludedKeys[legacyName] ?? [])
    const wanted: WantedKey[] = []
    const excludedKeys: WantedKey[] = []
    const refused: RefusedKey[] = []
    const seen = new Set<string>()
    for (const key of account.keys) {
      const c = classifyKey(legacyName, key, inventory, input.accepted?.[legacyName])
      if (c.refused) {
        refused.push(c.refused)
        notes.push(c.refused.finding)
        continue
      }
      const w = c.wanted!
      if (seen.has(w.fingerprint)) continue
      seen.add(w.fingerprint)
      if (excluded.has(w.fingerprint)) {
        excludedKeys.push(w)
        continue
      }
      wanted.push(w)
      notes.push(...c.notes)
    }
    if (wanted.length === 0) {
      const password = account.login.password === true
      const rule = account.ftp ? 'user.ftp-needs-key' : password ? 'user.password-only' : 'user.no-keys'
      const why = account.ftp
        ? `${FTP_MOVE}; it has no usable SSH key${refused.length > 0 ? ` (${refused.length} refused)` : ''}`
        : password
          ? 'logs in with a password and has no usable SSH key: service-managed Transfer users authenticate with SSH keys only'
          : `has no usable SSH key${refused.length > 0 ? ` (${refused.length} refused)` : ''}`
      const fix = account.ftp
        ? FTP_KEY_FIX
        : password
          ? 'Add a key for the user on the legacy box, or set up a custom identity provider (Lambda or API Gateway) or AWS Directory Service for password logins.'
          : 'Add a usable key on the legacy box and run inventory again.'
      const hint = 'Or import it anyway with --allow-no-keys (it cannot log in until a key is added).'
      const finding: Finding = {...explained({rule, severity: 'blocker', subject, reason: why, fix}, inventory, hint), severity: input.allowNoKeys ? 'warning' : 'blocker'}
      if (excludedKeys.length > 0) finding.reason = `${finding.reason} (${excludedKeys.length} key(s) excluded by the engineer)`
      if (input.allowNoKeys) notes.push(finding)
      else blockers.push(finding)
    } else if (account.ftp) {
      notes.push({rule: 'user.ftp-login', severity: 'warning', subject, reason: FTP_MOVE, fix: "Tell the user's clients to connect with SFTP and this key before the cutover."})
    }

    const layout = homeLayout(account, {bucket: input.bucket, prefix: input.prefix, owner: legacyName, mode: input.homeMode, kmsKeyId: input.kmsKeyId})
    for (const p of [layout.homeDirectory, ...(layout.homeDirectoryMappings ?? []).flatMap((m) => [m.Entry, m.Target])]) {
      if (p.length > MAX_PATH_CHARS) blockers.push({rule: 'user.path-too-long', severity: 'blocker', subject, reason: `the path ${p.slice(0, 60)}… is ${p.length} characters; Transfer allows ${MAX_PATH_CHARS}`, fix: 'Shorten target.prefix.'})
    }
    if (input.homeMode === 'path' && !account.chroot) {
      notes.push({
        rule: 'user.paths-change',
        severity: 'warning',
        subject,
        reason: `path home mode: the user sees ${layout.homeDirectory} instead of ${account.home}; scripts with absolute paths break`,
        fix: 'Use the default logical home mode to keep the legacy paths.',
      })
    }
    const spec: UserSpec = {
      userName,
      role: input.roleArn,
      ...layout,
      ...(input.domain === 'EFS' ? {posixProfile: {uid: account.uid, gid: account.gid}} : {}),
      tags: {[TAG_LEGACY_UID]: String(account.uid), [TAG_LEGACY_NAME]: legacyName, [TAG_SOURCE_HOST]: input.sourceHost},
    }
    return {
      legacyName,
      userName,
      renamed,
      selected: only ? only.has(legacyName) : true,
      accepted: input.accepted?.[legacyName] ?? {},
      blockers,
      notes,
      spec,
      keys: {wanted, excluded: excludedKeys, refused},
      placeholderKey: input.domain === 'S3' ? `${homeKeyPrefix(input.prefix, legacyName)}/` : undefined,
      uid: account.uid,
    }
  })
}

/** Checks a name the engineer proposes for a legacy user (wizard, --rename). */
export function renameProblem(legacyName: string, newName: string, accounts: Account[], renames: Record<string, string>): string | undefined {
  const problem = userNameProblem(newName)
  if (problem) return problem
  for (const a of accounts) {
    if (a.name === legacyName) continue
    if ((renames[a.name] ?? a.name) === newName) return `${newName} is already the Transfer name of ${a.name}`
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------------------------
// Plan

export interface ActualUser {
  userName: string
  arn: string
  role?: string
  homeDirectoryType?: 'LOGICAL' | 'PATH'
  homeDirectory?: string
  homeDirectoryMappings?: MappingEntry[]
  policy?: string
  posixProfile?: {uid: number; gid: number}
  tags: Record<string, string>
  keys: ActualKey[]
}

export type UserAction = 'create' | 'update' | 'unchanged' | 'skip'

export interface FieldChange {
  field: 'Role' | 'HomeDirectoryType' | 'HomeDirectory' | 'HomeDirectoryMappings' | 'Policy' | 'PosixProfile' | 'Tags' | 'HomePlaceholder'
  before?: unknown
  after?: unknown
}

export interface UserPlan {
  legacyName: string
  userName: string
  renamed: boolean
  selected: boolean
  /** what the operator accepted for this user's keys (users import --import-dead-keys, --accept-key-options) */
  accepted: KeyAcceptance
  action: UserAction
  /** why the user is skipped (empty when it is not, or when it was simply not selected) */
  reasons: Finding[]
  findings: Finding[]
  /** for updates: what changes (keys are under `keys`) */
  changes: FieldChange[]
  /** available: every usable legacy key not excluded; import/remove/keep: the diff with Transfer */
  keys: {available: KeyRef[]; import: WantedKey[]; remove: ActualKey[]; keep: KeyRef[]; refused: RefusedKey[]; excluded: KeyRef[]}
  spec: UserSpec
  placeholder?: {key: string; exists: boolean}
  exists: boolean
  /** the user's ARN on Transfer, when it exists */
  arn?: string
  /** exists on Transfer without sftp-cutover's tags: made by someone else, now brought in line with the legacy box */
  adopted: boolean
}

export interface UnknownUsers {
  /** Transfer users the inventory does not know (after renames) */
  names: string[]
  /** how they were found: ListUsers, or only the users sftp-cutover imported before (when ListUsers is unavailable) */
  source: 'ListUsers' | 'state'
  note?: string
  action: 'report' | 'delete'
}

export interface UsersPlanSummary {
  create: number
  update: number
  unchanged: number
  skip: number
  delete: number
  keysToImport: number
  keysToRemove: number
  keysRefused: number
  /** of the refused keys: those sshd ignores today */
  keysDead: number
}

export interface UsersPlanBody {
  users: UserPlan[]
  unknown: UnknownUsers
  summary: UsersPlanSummary
  /** one line per problem that makes the run exit 3 (skipped users, refused keys, users without keys) */
  problems: string[]
}

function keyRef(k: WantedKey): KeyRef {
  return {fingerprint: k.fingerprint, type: k.type, bits: k.bits, comment: k.comment, source: k.source, format: k.format}
}

function sameMappings(a: MappingEntry[] | undefined, b: MappingEntry[] | undefined): boolean {
  const norm = (l: MappingEntry[] | undefined) => JSON.stringify((l ?? []).map((m) => [m.Entry, m.Target, m.Type ?? '']))
  return norm(a) === norm(b)
}

/** Attribute differences between what Transfer holds and what it should hold. */
export function userChanges(spec: UserSpec, actual: ActualUser, placeholder?: {key: string; exists: boolean}): FieldChange[] {
  const changes: FieldChange[] = []
  if (actual.role !== spec.role) changes.push({field: 'Role', before: actual.role, after: spec.role})
  const type = actual.homeDirectoryType ?? 'PATH'
  if (type !== spec.homeDirectoryType) changes.push({field: 'HomeDirectoryType', before: type, after: spec.homeDirectoryType})
  if ((actual.homeDirectory ?? '') !== spec.homeDirectory) changes.push({field: 'HomeDirectory', before: actual.homeDirectory, after: spec.homeDirectory})
  if (spec.homeDirectoryType === 'LOGICAL' && !sameMappings(actual.homeDirectoryMappings, spec.homeDirectoryMappings)) {
    changes.push({field: 'HomeDirectoryMappings', before: actual.homeDirectoryMappings, after: spec.homeDirectoryMappings})
  }
  if (canonicalPolicy(actual.policy) !== canonicalPolicy(spec.policy)) changes.push({field: 'Policy', before: actual.policy, after: spec.policy})
  if (spec.posixProfile && (actual.posixProfile?.uid !== spec.posixProfile.uid || actual.posixProfile?.gid !== spec.posixProfile.gid)) {
    changes.push({field: 'PosixProfile', before: actual.posixProfile, after: spec.posixProfile})
  }
  const tagChanges = Object.entries(spec.tags).filter(([k, v]) => actual.tags[k] !== v)
  if (tagChanges.length > 0) {
    changes.push({field: 'Tags', before: Object.fromEntries(tagChanges.map(([k]) => [k, actual.tags[k]])), after: Object.fromEntries(tagChanges)})
  }
  if (placeholder && !placeholder.exists) changes.push({field: 'HomePlaceholder', before: undefined, after: placeholder.key})
  return changes
}

/**
 * The plan: a diff of desired and actual per user. `actual` maps Transfer user names to what DescribeUser returned
 * (undefined: no such user); `placeholders` maps S3 keys to whether they exist.
 */
export function planUsers(desired: DesiredUser[], actual: Map<string, ActualUser | undefined>, placeholders: Map<string, boolean>, unknown: UnknownUsers): UsersPlanBody {
  const users: UserPlan[] = desired.map((d) => {
    const current = actual.get(d.userName)
    const placeholder = d.placeholderKey ? {key: d.placeholderKey, exists: placeholders.get(d.placeholderKey) ?? false} : undefined
    const base = {
      legacyName: d.legacyName,
      userName: d.userName,
      renamed: d.renamed,
      selected: d.selected,
      accepted: d.accepted,
      spec: d.spec,
      placeholder,
      exists: current !== undefined,
      arn: current?.arn,
      adopted: current !== undefined && current.tags[TAG_LEGACY_NAME] === undefined,
    }
    const refused = d.selected ? d.keys.refused : []
    const excluded = d.keys.excluded.map(keyRef)
    const available = d.keys.wanted.map(keyRef)
    if (!d.selected) {
      return {...base, action: 'skip' as const, reasons: [], findings: [...d.blockers, ...d.notes], changes: [], keys: {available, import: [], remove: [], keep: [], refused: d.keys.refused, excluded}}
    }
    // An existing user whose only blocker is "no usable key" is kept in step: its old keys are removed.
    const blockers = current ? d.blockers.filter((b) => !NO_KEY_RULES.has(b.rule)) : d.blockers
    const findings = [
      ...d.blockers.map((b) =>
        current && NO_KEY_RULES.has(b.rule)
          ? {...b, severity: 'warning' as const, reason: `${b.reason}; it already exists on Transfer, so it is kept and its keys follow the legacy box`}
          : b,
      ),
      ...d.notes,
    ]
    if (blockers.length > 0) {
      return {...base, action: 'skip' as const, reasons: blockers, findings, changes: [], keys: {available, import: [], remove: [], keep: [], refused, excluded}}
    }
    if (!current) {
      return {...base, action: 'create' as const, reasons: [], findings, changes: [], keys: {available, import: d.keys.wanted, remove: [], keep: [], refused, excluded}}
    }
    const wantedFps = new Set(d.keys.wanted.map((k) => k.fingerprint))
    const actualFps = new Set(current.keys.map((k) => k.fingerprint).filter((f): f is string => f !== undefined))
    const keys = {
      available,
      import: d.keys.wanted.filter((k) => !actualFps.has(k.fingerprint)),
      remove: current.keys.filter((k) => k.fingerprint === undefined || !wantedFps.has(k.fingerprint)),
      keep: d.keys.wanted.filter((k) => actualFps.has(k.fingerprint)).map(keyRef),
      refused,
      excluded,
    }
    const changes = userChanges(d.spec, current, placeholder)
    const action = changes.length > 0 || keys.import.length > 0 || keys.remove.length > 0 ? ('update' as const) : ('unchanged' as const)
    return {...base, action, reasons: [], findings, changes, keys}
  })

  const count = (a: UserAction) => users.filter((u) => u.action === a).length
  const summary: UsersPlanSummary = {
    create: count('create'),
    update: count('update'),
    unchanged: count('unchanged'),
    skip: count('skip'),
    delete: unknown.action === 'delete' ? unknown.names.length : 0,
    keysToImport: users.reduce((n, u) => n + u.keys.import.length, 0),
    keysToRemove: users.reduce((n, u) => n + u.keys.remove.length, 0),
    keysRefused: users.reduce((n, u) => n + u.keys.refused.length, 0),
    keysDead: users.reduce((n, u) => n + u.keys.refused.filter((k) => k.finding.rule === 'key.dead').length, 0),
  }
  const problems: string[] = []
  for (const u of users) {
    if (!u.selected) continue
    for (const r of u.reasons) problems.push(`${u.legacyName}: skipped: ${r.reason}`)
    if (u.action !== 'skip') {
      const noKeys = u.findings.find((f) => NO_KEY_RULES.has(f.rule))
      if (noKeys) problems.push(`${u.legacyName}: ${noKeys.reason}`)
    }
    // A dead key left out keeps today's access exactly: reported in the plan, not a problem.
    for (const k of u.keys.refused) if (k.finding.rule !== 'key.dead') problems.push(`${u.legacyName}: key refused: ${k.finding.reason}`)
  }
  return {users, unknown, summary, problems}
}

/**
 * The FTP users of a plan and whether each has a key on Transfer (imported, or to import): their clients must move
 * to SFTP with it. Undefined when the plan has no FTP user. For the cutover preflight and users plan.
 */
export function ftpUsersStatus(users: UserPlan[]): {ok: boolean; detail: string} | undefined {
  const ftp = users.filter((u) => u.findings.some((f) => f.rule === 'user.ftp-login' || f.rule === 'user.ftp-needs-key'))
  if (ftp.length === 0) return undefined
  const keys = (u: UserPlan) => u.keys.import.length + u.keys.keep.length
  const keyless = ftp.filter((u) => keys(u) === 0)
  const each = ftp.map((u) => `${u.legacyName}${u.renamed ? ` (as ${u.userName})` : ''}: ${keys(u) > 0 ? `${keys(u)} key(s)` : 'no key'}`)
  return {
    ok: keyless.length === 0,
    detail: `${ftp.length} user(s) ${FTP_MOVE.replace('logs in', 'log in').replace('its clients', 'their clients')}: ${each.join(', ')}${keyless.length > 0 ? `. ${FTP_KEY_FIX}` : ''}`,
  }
}
