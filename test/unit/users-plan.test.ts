/**
 * Planning Transfer users from legacy accounts, without AWS: names, keys, homes (the mapping sync uses), renames and
 * the diff against what Transfer holds.
 */
import {generateKeyPairSync} from 'node:crypto'

import {parseHostPrivateKey} from '../../src/core/host-key-import.js'
import type {Account, AuthorizedKey} from '../../src/core/inventory-model.js'
import {homeDirectoryTarget} from '../../src/core/key-mapping.js'
import {MAX_POLICY_CHARS, canonicalPolicy, scopeDownPolicy} from '../../src/core/scope-down-policy.js'
import {parseAuthorizedKeys} from '../../src/core/ssh-keys.js'
import {
  type ActualUser,
  classifyKey,
  type DesireInput,
  desiredUsers,
  homeLayout,
  planUsers,
  publicKeyInfo,
  renameProblem,
  TAG_LEGACY_NAME,
  TAG_LEGACY_UID,
  TAG_SOURCE_HOST,
} from '../../src/core/users-plan.js'
import {userNameProblem} from '../../src/core/transfer-rules.js'

/** A fresh public key line ("<type> <base64>") of the given kind, made with node:crypto. */
function publicKey(kind: 'ed25519' | 'rsa2048' | 'rsa1024' | 'ecdsa'): string {
  const pair =
    kind === 'ed25519'
      ? generateKeyPairSync('ed25519')
      : kind === 'ecdsa'
        ? generateKeyPairSync('ec', {namedCurve: 'P-256'})
        : generateKeyPairSync('rsa', {modulusLength: kind === 'rsa1024' ? 1024 : 2048})
  const parsed = parseHostPrivateKey(pair.privateKey.export({type: 'pkcs8', format: 'pem'}).toString(), 'generated')
  if (!parsed.ok) throw new Error(parsed.message)
  return parsed.key.publicKey
}

function keys(text: string, file = '/home/u/.ssh/authorized_keys'): AuthorizedKey[] {
  return parseAuthorizedKeys(text, file)
}

function account(name: string, over: Partial<Account> = {}): Account {
  const home = over.home ?? `/home/${name}`
  return {
    name,
    uid: 1000,
    gid: 1000,
    groups: [],
    home,
    shell: '/bin/bash',
    sftpRoot: home,
    dataRoot: home,
    login: {password: false, key: true},
    keys: [],
    authorizedKeysFiles: [],
    sources: {},
    ...over,
  }
}

const ED = publicKey('ed25519')
const ED2 = publicKey('ed25519')
const RSA = publicKey('rsa2048')
const RSA1024 = publicKey('rsa1024')

function input(accounts: Account[], over: Partial<DesireInput> = {}): DesireInput {
  return {
    accounts,
    sourceHost: 'legacy.example.com:22',
    bucket: 'acme-sftp',
    prefix: 'migrated',
    roleArn: 'arn:aws:iam::123456789012:role/sftp-users',
    domain: 'S3',
    homeMode: 'logical',
    renames: {},
    excludedKeys: {},
    allowNoKeys: false,
    ...over,
  }
}

describe('names', () => {
  it('accepts what Transfer accepts and says why not otherwise', () => {
    expect(userNameProblem('alice')).toBeUndefined()
    expect(userNameProblem('a.b-c@d_e')).toBeUndefined()
    expect(userNameProblem('ab')).toMatch(/shorter than 3 characters/)
    expect(userNameProblem('-alice')).toMatch(/not a valid Transfer user name/)
    expect(userNameProblem('j doe')).toMatch(/not a valid/)
    expect(userNameProblem('x'.repeat(101))).toMatch(/not a valid/)
    expect(userNameProblem('root')).toMatch(/cannot log in/)
  })

  it('checks a proposed rename against the other users\' Transfer names', () => {
    const accounts = [account('ab'), account('bob'), account('carol')]
    expect(renameProblem('ab', 'abc', accounts, {})).toBeUndefined()
    expect(renameProblem('ab', 'bob', accounts, {})).toMatch(/already the Transfer name of bob/)
    expect(renameProblem('ab', 'carla', accounts, {carol: 'carla'})).toMatch(/already the Transfer name of carol/)
    expect(renameProblem('ab', 'x', accounts, {})).toMatch(/shorter than 3 characters/)
  })
})

describe('keys', () => {
  it('imports ed25519, ECDSA and RSA >= 2048 in OpenSSH form, with the comment', () => {
    for (const line of [ED, publicKey('ecdsa'), RSA]) {
      const [k] = keys(`${line} alice@laptop`)
      const c = classifyKey('alice', k)
      expect(c.refused).toBeUndefined()
      expect(c.wanted!.body).toBe(`${line} alice@laptop`)
      expect(publicKeyInfo(c.wanted!.body)!.fingerprint).toBe(k.fingerprint)
    }
  })

  it('refuses DSA and short RSA keys with the reason and what to do', () => {
    const dsa: AuthorizedKey = {type: 'ssh-dss', bits: 1024, fingerprint: 'SHA256:x', comment: '', options: [], format: 'openssh', openssh: 'ssh-dss AAAA', file: '/f', line: 3}
    const d = classifyKey('alice', dsa)
    expect(d.refused!.finding).toMatchObject({rule: 'key.dsa', subject: 'key:alice:SHA256:x'})
    expect(d.refused!.finding.reason).toMatch(/^\/f:3: a DSA key; Transfer Family does not accept DSA/)
    const [short] = keys(RSA1024)
    const r = classifyKey('alice', short)
    expect(r.refused!.finding.rule).toBe('key.rsa-short')
    expect(r.refused!.finding.reason).toMatch(/RSA key of 1024 bits; Transfer Family needs at least 2048/)
    expect(r.refused!.finding.fix).toMatch(/ed25519/)
  })

  it('uses the inventory\'s explanation of a refused key when it has one', () => {
    const [short] = keys(RSA1024)
    const inventory = [{rule: 'key.rsa-short', severity: 'warning' as const, subject: `key:alice:${short.fingerprint}`, reason: 'inventory says: too short', fix: 'inventory fix'}]
    expect(classifyKey('alice', short, inventory).refused!.finding).toMatchObject({reason: 'inventory says: too short', fix: 'inventory fix'})
  })

  it('refuses a key with restricting options unless the user\'s are accepted, then strips them as an accepted risk', () => {
    const [withOptions] = keys(`from="10.0.0.0/8",command="/bin/false",no-pty ${ED} restricted`)
    const refused = classifyKey('alice', withOptions)
    expect(refused.wanted).toBeUndefined()
    expect(refused.refused!.finding).toMatchObject({rule: 'key.options', severity: 'blocker'})
    expect(refused.refused!.finding.reason).toContain('restricted by from="10.0.0.0/8",command="/bin/false",no-pty')
    expect(refused.refused!.finding.fix).toMatch(/security group \(AllowedClientCidr/)
    expect(refused.refused!.finding.fix).toContain('--accept-key-options alice')

    const c = classifyKey('alice', withOptions, [], {keyOptions: true})
    expect(c.wanted!.body).toBe(`${ED} restricted`)
    expect(c.wanted!.options).toEqual(['from="10.0.0.0/8"', 'command="/bin/false"', 'no-pty'])
    expect(c.wanted!.acceptedRisks).toEqual(['imported without its restrictions from="10.0.0.0/8",command="/bin/false",no-pty'])
    expect(c.notes[0]).toMatchObject({rule: 'key.accepted-risk', severity: 'warning'})
  })

  it('refuses a cert-authority line whatever is accepted: Transfer has no user certificates', () => {
    const [ca] = keys(`cert-authority,principals="alice" ${ED} corp-ca`)
    for (const accepted of [{}, {keyOptions: true, deadKeys: true}]) {
      const c = classifyKey('alice', ca, [], accepted)
      expect(c.wanted).toBeUndefined()
      expect(c.refused!.finding.rule).toBe('key.cert-authority')
      expect(c.refused!.finding.fix).toMatch(/plain key/)
    }
  })

  it('refuses a key sshd ignores today unless the user opts in, and does not count it as a problem', () => {
    const [k] = keys(`${ED} old`)
    const dead = {...k, dead: 'in /home/alice/.ssh/authorized_keys2, which AuthorizedKeysFile does not name'}
    const c = classifyKey('alice', dead)
    expect(c.refused!.finding).toMatchObject({rule: 'key.dead', severity: 'warning'})
    expect(c.refused!.finding.reason).toContain('dead today: in /home/alice/.ssh/authorized_keys2')
    expect(c.refused!.finding.fix).toContain('--import-dead-keys alice')
    const opted = classifyKey('alice', dead, [], {deadKeys: true})
    expect(opted.wanted!.acceptedRisks).toEqual([expect.stringContaining('imported although sshd ignores it today')])
  })

  it('reports RFC 4716 and PuTTY conversions', () => {
    const b64 = ED.split(' ')[1]
    const rfc = keys(`---- BEGIN SSH2 PUBLIC KEY ----\nComment: "bob rfc"\n${b64.match(/.{1,64}/g)!.join('\n')}\n---- END SSH2 PUBLIC KEY ----\n`)[0]
    const r = classifyKey('bob', rfc)
    expect(r.wanted!.body).toBe(`${ED} bob rfc`)
    expect(r.notes[0]).toMatchObject({rule: 'key.format', severity: 'info'})
    expect(r.notes[0].reason).toContain('RFC 4716')

    const putty = keys(`PuTTY-User-Key-File-2: ssh-ed25519\nEncryption: none\nComment: bob putty\nPublic-Lines: 1\n${b64}\nPrivate-Lines: 1\nAAAA\nPrivate-MAC: 00\n`)[0]
    const p = classifyKey('bob', putty)
    expect(p.wanted!.body).toBe(`${ED} bob putty`)
    expect(p.notes[0].reason).toContain('PuTTY')
  })

  it('refuses lines it cannot read and key types Transfer does not take', () => {
    expect(classifyKey('a', keys('ssh-ed25519 not-base64!')[0]).refused!.finding.rule).toBe('key.unparseable')
    const sk: AuthorizedKey = {type: 'sk-ssh-ed25519@openssh.com', bits: 256, fingerprint: 'SHA256:y', comment: '', options: [], format: 'openssh', openssh: 'sk-ssh-ed25519@openssh.com AAAA', file: '/f', line: 1}
    expect(classifyKey('a', sk).refused!.finding.rule).toBe('key.sk')
    const cert: AuthorizedKey = {...sk, type: 'ssh-ed25519-cert-v01@openssh.com', openssh: 'ssh-ed25519-cert-v01@openssh.com AAAA'}
    expect(classifyKey('a', cert).refused!.finding.rule).toBe('key.type-unsupported')
  })
})

describe('homes', () => {
  const t = {bucket: 'acme-sftp', prefix: 'migrated', owner: 'alice', mode: 'logical' as const}

  it('a chrooted user sees "/" exactly as in its chroot: one mapping / -> its home target', () => {
    const a = account('alice', {home: '/srv/chroot/alice', chroot: '/srv/chroot/alice', sftpRoot: '/srv/chroot/alice', dataRoot: '/srv/chroot/alice'})
    expect(homeLayout(a, t)).toEqual({
      homeDirectoryType: 'LOGICAL',
      homeDirectory: '/',
      homeDirectoryMappings: [{Entry: '/', Target: '/acme-sftp/migrated/home/alice', Type: 'DIRECTORY'}],
    })
    expect(homeLayout(a, t).homeDirectoryMappings![0].Target).toBe(homeDirectoryTarget('acme-sftp', 'migrated', 'alice'))
  })

  it('a chrooted user whose data is a folder inside the chroot sees it at the same path', () => {
    const a = account('alice', {chroot: '/srv/chroot/alice', sftpRoot: '/srv/chroot/alice', dataRoot: '/srv/chroot/alice/upload'})
    expect(homeLayout(a, t).homeDirectoryMappings).toEqual([{Entry: '/upload', Target: '/acme-sftp/migrated/home/alice', Type: 'DIRECTORY'}])
  })

  it('a user who was not chrooted keeps its absolute paths and logs in to its old home', () => {
    expect(homeLayout(account('alice'), t)).toEqual({
      homeDirectoryType: 'LOGICAL',
      homeDirectory: '/home/alice',
      homeDirectoryMappings: [{Entry: '/home/alice', Target: '/acme-sftp/migrated/home/alice', Type: 'DIRECTORY'}],
    })
    expect(homeLayout(account('alice'), {...t, prefix: ''}).homeDirectoryMappings![0].Target).toBe('/acme-sftp/home/alice')
  })

  it('path mode: the home target with a scope-down policy', () => {
    const l = homeLayout(account('alice'), {...t, mode: 'path'})
    expect(l).toEqual({homeDirectoryType: 'PATH', homeDirectory: '/acme-sftp/migrated/home/alice', policy: scopeDownPolicy({})})
  })
})

describe('scope-down policy', () => {
  it('lists only the home prefix and reads, writes and deletes only under it, with Transfer\'s variables', () => {
    const p = JSON.parse(scopeDownPolicy())
    expect(p.Statement).toEqual([
      {
        Sid: 'ListHome',
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: 'arn:aws:s3:::${transfer:HomeBucket}',
        Condition: {StringLike: {'s3:prefix': ['${transfer:HomeFolder}', '${transfer:HomeFolder}/*']}},
      },
      {Sid: 'HomeObjects', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], Resource: 'arn:aws:s3:::${transfer:HomeBucket}/${transfer:HomeFolder}/*'},
    ])
  })

  it('allows the KMS calls SSE-KMS needs (a session policy denies what it does not allow) and stays within 2048 characters', () => {
    const arn = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'
    const withKey = scopeDownPolicy({kmsKeyId: arn})
    expect(JSON.parse(withKey).Statement[2]).toEqual({Sid: 'HomeKms', Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: arn})
    expect(JSON.parse(scopeDownPolicy({kmsKeyId: 'alias/sftp'})).Statement[2].Resource).toBe('*')
    expect(withKey.length).toBeLessThanOrEqual(MAX_POLICY_CHARS)
    expect(withKey.length).toBeLessThan(800)
  })

  it('compares policies by content', () => {
    expect(canonicalPolicy('{"b":1, "a":[{"d":2,"c":3}]}')).toBe(canonicalPolicy('{"a":[{"c":3,"d":2}],"b":1}'))
    expect(canonicalPolicy('')).toBeUndefined()
  })
})

describe('desired users', () => {
  it('one spec per account: role, tags with uid, legacy name and source host, placeholder under the owner prefix', () => {
    const [d] = desiredUsers(input([account('alice', {uid: 1234, keys: keys(ED)})]))
    expect(d).toMatchObject({legacyName: 'alice', userName: 'alice', selected: true, blockers: [], placeholderKey: 'migrated/home/alice/'})
    expect(d.spec).toMatchObject({
      userName: 'alice',
      role: 'arn:aws:iam::123456789012:role/sftp-users',
      tags: {[TAG_LEGACY_UID]: '1234', [TAG_LEGACY_NAME]: 'alice', [TAG_SOURCE_HOST]: 'legacy.example.com:22'},
    })
    expect(d.spec.posixProfile).toBeUndefined()
  })

  it('EFS-backed servers get the legacy uid and gid as PosixProfile and no S3 placeholder', () => {
    const [d] = desiredUsers(input([account('alice', {uid: 1234, gid: 99, keys: keys(ED)})], {domain: 'EFS'}))
    expect(d.spec.posixProfile).toEqual({uid: 1234, gid: 99})
    expect(d.placeholderKey).toBeUndefined()
  })

  it('a renamed user gets the new name while its home stays at the legacy owner\'s prefix', () => {
    const [d] = desiredUsers(input([account('ab', {keys: keys(ED)})], {renames: {ab: 'abc'}}))
    expect(d).toMatchObject({legacyName: 'ab', userName: 'abc', renamed: true, blockers: [], placeholderKey: 'migrated/home/ab/'})
    expect(d.spec.homeDirectoryMappings![0].Target).toBe('/acme-sftp/migrated/home/ab')
    expect(d.spec.tags[TAG_LEGACY_NAME]).toBe('ab')
    expect(d.notes.map((n) => n.rule)).toContain('user.renamed')
  })

  it('blocks invalid names, invalid renames and two users on one Transfer name', () => {
    const ds = desiredUsers(input([account('ab', {keys: keys(ED)}), account('bob', {keys: keys(ED2)}), account('carol', {keys: keys(RSA)})], {renames: {carol: 'bob'}}))
    const by = Object.fromEntries(ds.map((d) => [d.legacyName, d.blockers.map((b) => b.rule)]))
    expect(by).toEqual({ab: ['user.name-invalid'], bob: ['user.name-collision'], carol: ['user.name-collision']})
    const [bad] = desiredUsers(input([account('dave', {keys: keys(ED)})], {renames: {dave: 'd'}}))
    expect(bad.blockers[0].rule).toBe('user.rename-invalid')
  })

  it('a user without a usable key is blocked, or only warned about with allowNoKeys; password users are told why', () => {
    const pw = account('pat', {login: {password: true, key: false}})
    const [blocked] = desiredUsers(input([pw]))
    expect(blocked.blockers[0]).toMatchObject({rule: 'user.password-only', severity: 'blocker'})
    expect(blocked.blockers[0].reason).toMatch(/password.*SSH keys only/)
    expect(blocked.blockers[0].fix).toMatch(/custom identity provider.*--allow-no-keys/)
    const [allowed] = desiredUsers(input([pw], {allowNoKeys: true}))
    expect(allowed.blockers).toEqual([])
    expect(allowed.notes[0]).toMatchObject({rule: 'user.password-only', severity: 'warning'})
    const [refusedOnly] = desiredUsers(input([account('old', {keys: keys(RSA1024)})]))
    expect(refusedOnly.blockers[0].reason).toBe('has no usable SSH key (1 refused)')
  })

  it('leaves out keys the engineer excluded, and duplicates', () => {
    const ks = keys(`${ED}\n${ED2}\n${ED} again`)
    const [d] = desiredUsers(input([account('alice', {keys: ks})], {excludedKeys: {alice: [ks[1].fingerprint!]}}))
    expect(d.keys.wanted.map((k) => k.fingerprint)).toEqual([ks[0].fingerprint])
    expect(d.keys.excluded.map((k) => k.fingerprint)).toEqual([ks[1].fingerprint])
  })
})

describe('plan', () => {
  const unknown = {names: [], source: 'ListUsers' as const, action: 'report' as const}

  function actualFrom(spec: ReturnType<typeof desiredUsers>[number]['spec'], keyLines: string[]): ActualUser {
    return {
      userName: spec.userName,
      arn: `arn:aws:transfer:us-east-1:123456789012:user/s-1/${spec.userName}`,
      role: spec.role,
      homeDirectoryType: spec.homeDirectoryType,
      homeDirectory: spec.homeDirectory,
      homeDirectoryMappings: spec.homeDirectoryMappings,
      policy: spec.policy,
      tags: {...spec.tags, other: 'kept'},
      keys: keyLines.map((body, i) => ({id: `key-${i}`, body, ...publicKeyInfo(body)})),
    }
  }

  it('creates missing users with all their keys, and changes nothing when Transfer already matches', () => {
    const ds = desiredUsers(input([account('alice', {keys: keys(`${ED} a`)})]))
    const created = planUsers(ds, new Map([['alice', undefined]]), new Map([['migrated/home/alice/', false]]), unknown)
    expect(created.users[0]).toMatchObject({action: 'create', exists: false, placeholder: {key: 'migrated/home/alice/', exists: false}})
    expect(created.users[0].keys.import.map((k) => k.body)).toEqual([`${ED} a`])
    expect(created.summary).toMatchObject({create: 1, keysToImport: 1})
    expect(created.problems).toEqual([])

    const same = planUsers(ds, new Map([['alice', actualFrom(ds[0].spec, [`${ED} other comment`])]]), new Map([['migrated/home/alice/', true]]), unknown)
    expect(same.users[0]).toMatchObject({action: 'unchanged', changes: []})
    expect(same.users[0].keys).toMatchObject({import: [], remove: []})
    expect(same.summary).toMatchObject({create: 0, update: 0, unchanged: 1})
  })

  it('imports keys added on the legacy box and removes keys no longer there (compared by fingerprint)', () => {
    const ds = desiredUsers(input([account('alice', {keys: keys(`${ED2} new`)})]))
    const plan = planUsers(ds, new Map([['alice', actualFrom(ds[0].spec, [`${ED} old`])]]), new Map([['migrated/home/alice/', true]]), unknown)
    expect(plan.users[0].action).toBe('update')
    expect(plan.users[0].keys.import.map((k) => k.body)).toEqual([`${ED2} new`])
    expect(plan.users[0].keys.remove).toMatchObject([{id: 'key-0', fingerprint: publicKeyInfo(ED)!.fingerprint}])
    expect(plan.users[0].changes).toEqual([])
  })

  it('lists attribute, tag and placeholder changes of an existing user', () => {
    const ds = desiredUsers(input([account('alice', {keys: keys(ED), uid: 7})]))
    const actual = actualFrom(ds[0].spec, [ED])
    actual.role = 'arn:aws:iam::123456789012:role/old'
    actual.homeDirectoryMappings = [{Entry: '/', Target: '/acme-sftp/alice', Type: 'DIRECTORY'}]
    actual.tags[TAG_LEGACY_UID] = '6'
    actual.policy = '{"Version":"2012-10-17","Statement":[]}'
    const plan = planUsers(ds, new Map([['alice', actual]]), new Map([['migrated/home/alice/', false]]), unknown)
    expect(plan.users[0].action).toBe('update')
    expect(plan.users[0].changes.map((c) => c.field)).toEqual(['Role', 'HomeDirectoryMappings', 'Policy', 'Tags', 'HomePlaceholder'])
    expect(plan.users[0].changes.find((c) => c.field === 'Tags')).toEqual({field: 'Tags', before: {[TAG_LEGACY_UID]: '6'}, after: {[TAG_LEGACY_UID]: '7'}})
    expect(plan.users[0].adopted).toBe(false)
  })

  it('skips blocked users with the finding, and users not selected without one', () => {
    const ds = desiredUsers(input([account('ab', {keys: keys(ED)}), account('bob', {keys: keys(ED2)}), account('carol', {keys: keys(RSA1024)})], {only: ['ab', 'carol']}))
    const plan = planUsers(ds, new Map([['carol', undefined]]), new Map(), unknown)
    const by = Object.fromEntries(plan.users.map((u) => [u.legacyName, u]))
    expect(by.ab).toMatchObject({action: 'skip', selected: true})
    expect(by.ab.reasons[0].rule).toBe('user.name-invalid')
    expect(by.bob).toMatchObject({action: 'skip', selected: false, reasons: []})
    expect(by.carol.reasons[0].rule).toBe('user.no-keys')
    expect(plan.problems).toEqual([
      'ab: skipped: "ab" is shorter than 3 characters',
      'carol: skipped: has no usable SSH key (1 refused)',
      expect.stringMatching(/^carol: key refused: .*RSA key of 1024 bits/),
    ])
  })

  it('keeps an existing user whose keys were all removed on the legacy box, and removes its keys', () => {
    const ds = desiredUsers(input([account('alice', {keys: []})]))
    const withKey = desiredUsers(input([account('alice', {keys: keys(ED)})]))
    const plan = planUsers(ds, new Map([['alice', actualFrom(withKey[0].spec, [ED])]]), new Map([['migrated/home/alice/', true]]), unknown)
    expect(plan.users[0].action).toBe('update')
    expect(plan.users[0].keys.remove).toHaveLength(1)
    expect(plan.users[0].findings[0]).toMatchObject({rule: 'user.no-keys', severity: 'warning'})
    expect(plan.problems).toEqual([expect.stringMatching(/^alice: has no usable SSH key; it already exists on Transfer/)])
  })

  it('marks users that exist without sftp-cutover tags as adopted, and counts users to delete with --prune', () => {
    const ds = desiredUsers(input([account('alice', {keys: keys(ED)})]))
    const actual = {...actualFrom(ds[0].spec, [ED]), tags: {}}
    const plan = planUsers(ds, new Map([['alice', actual]]), new Map([['migrated/home/alice/', true]]), {names: ['stray'], source: 'ListUsers', action: 'delete'})
    expect(plan.users[0]).toMatchObject({action: 'update', adopted: true})
    expect(plan.summary.delete).toBe(1)
  })
})
