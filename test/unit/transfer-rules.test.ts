/**
 * One rule set: a corpus of keys and names goes through every place that judges them (inventory findings, users
 * plan, what users import sends, sync's plan, the object key mapping verify uses) and each must reach the verdict
 * of src/core/transfer-rules.ts. Before the rules lived in one module, an over-long key with a comment was a
 * blocker in the inventory and imported by users import.
 */
import {randomBytes} from 'node:crypto'

import {accountFindings, fileFinding} from '../../src/core/findings.js'
import type {Account, AuthorizedKey, FileEntry} from '../../src/core/inventory-model.js'
import {objectKeyBytes, objectKeyFor} from '../../src/core/key-mapping.js'
import {parseAuthorizedKeys} from '../../src/core/ssh-keys.js'
import {planEntry, type ScanEntry} from '../../src/core/sync-plan.js'
import {keyDecision, MAX_KEY_BODY_CHARS, pathProblems, userNameProblem} from '../../src/core/transfer-rules.js'
import {desiredUsers, planUsers} from '../../src/core/users-plan.js'
import {KeyDir, sshString, type TestKey} from './helpers/keygen.js'

const keys = new KeyDir()
let corpus: Array<{name: string; key: AuthorizedKey}> = []
let ed: TestKey

/** An RSA public key line with a modulus of `bits` bits (random: only its size matters here). */
function rsaLine(bits: number, comment: string): string {
  const modulus = Buffer.concat([Buffer.from([0x00, 0xc1]), randomBytes(bits / 8 - 1)])
  return `ssh-rsa ${Buffer.concat([sshString('ssh-rsa'), sshString(Buffer.from([1, 0, 1])), sshString(modulus)]).toString('base64')} ${comment}`.trim()
}

beforeAll(() => {
  ed = keys.generate(['-t', 'ed25519'], 'ed@laptop')
  const ecdsa = keys.generate(['-t', 'ecdsa', '-b', '384'], 'ec@laptop')
  const rsa = keys.generate(['-t', 'rsa', '-b', '2048'], 'rsa@laptop')
  const short = keys.generate(['-t', 'rsa', '-b', '1024'], 'short')
  const dsa = keys.generate(['-t', 'dsa'], 'old')
  const sk = `sk-ssh-ed25519@openssh.com ${Buffer.concat([sshString('sk-ssh-ed25519@openssh.com'), sshString(randomBytes(32)), sshString('ssh:')]).toString('base64')} fido`
  const line = (text: string, file = '/home/alice/.ssh/authorized_keys') => parseAuthorizedKeys(text, file)[0]
  corpus = [
    {name: 'ed25519', key: line(ed.line)},
    {name: 'ecdsa', key: line(ecdsa.line)},
    {name: 'rsa 2048', key: line(rsa.line)},
    {name: 'rsa 1024', key: line(short.line)},
    {name: 'dsa', key: line(dsa.line)},
    {name: 'security key', key: line(sk)},
    {name: 'garbage', key: line('ssh-ed25519 not-base64!')},
    // 8192 bits fit in 2048 characters only without the comment: the comment is dropped, the key imported.
    {name: 'long key, long comment', key: line(rsaLine(8192, 'c'.repeat(900)))},
    {name: 'too long even without a comment', key: line(rsaLine(16384, 'x'))},
    {name: 'cert-authority', key: line(`cert-authority,principals="alice" ${ed.line}`)},
    {name: 'from= and no-pty', key: line(`from="10.0.0.0/8",no-pty ${rsa.line}`)},
    {name: 'command=internal-sftp', key: line(`command="internal-sftp" ${ecdsa.line}`)},
    {name: 'expiry-time', key: line(`expiry-time="20300101" ${ed.line}`)},
    {name: 'harmless option', key: line(`environment="A=b" ${ed.line}`)},
    {name: 'dead: not an AuthorizedKeysFile', key: {...line(ed.line, '/home/alice/.ssh/authorized_keys2'), dead: 'the file is not named by AuthorizedKeysFile'}},
    {name: 'dead and restricted', key: {...line(`from="10.1.0.0/16" ${ecdsa.line}`), dead: 'sshd cannot read RFC 4716 in authorized_keys'}},
  ]
})
afterAll(() => keys.remove())

function account(name: string, key: AuthorizedKey): Account {
  return {name, uid: 1000, gid: 1000, groups: [], home: `/home/${name}`, shell: '/bin/bash', sftpRoot: `/home/${name}`, dataRoot: `/home/${name}`, login: {password: false, key: true}, keys: [key], authorizedKeysFiles: [], sources: {}}
}

const KEY_VERDICT_RULES = new Set(['key.unparseable', 'key.cert-authority', 'key.dsa', 'key.sk', 'key.type-unsupported', 'key.rsa-short', 'key.too-long', 'key.dead', 'key.options'])

/** The inventory's verdict on the key: the first finding that keeps it off Transfer, or 'import'. */
function inventoryVerdict(key: AuthorizedKey): string {
  const f = accountFindings([account('alice', key)]).find((x) => x.subject.startsWith('key:') && KEY_VERDICT_RULES.has(x.rule))
  return f?.rule ?? 'import'
}

/** The users plan's verdict, and the body users import would send. */
function planVerdict(key: AuthorizedKey, accepted = {}): {verdict: string; body?: string} {
  const desired = desiredUsers({
    accounts: [account('alice', key)],
    sourceHost: 'box:22',
    bucket: 'b',
    prefix: 'p',
    roleArn: 'arn:aws:iam::1:role/r',
    domain: 'S3',
    homeMode: 'logical',
    renames: {},
    excludedKeys: {},
    accepted: {alice: accepted},
    allowNoKeys: true,
  })
  const plan = planUsers(desired, new Map(), new Map(), {names: [], source: 'state', action: 'report'})
  const u = plan.users[0]
  if (u.keys.import.length > 0) return {verdict: 'import', body: u.keys.import[0].body}
  return {verdict: u.keys.refused[0].finding.rule}
}

describe('keys: every consumer reaches the verdict of transfer-rules', () => {
  it('inventory findings, users plan and users import agree on each key of the corpus', () => {
    const table = corpus.map(({name, key}) => {
      const d = keyDecision(key)
      const rules = d.import ? 'import' : d.rule
      const plan = planVerdict(key)
      expect({name, inventory: inventoryVerdict(key)}).toEqual({name, inventory: rules})
      expect({name, plan: plan.verdict}).toEqual({name, plan: rules})
      if (d.import) expect(plan.body).toBe(d.body)
      return [name, rules]
    })
    expect(Object.fromEntries(table)).toEqual({
      ed25519: 'import',
      ecdsa: 'import',
      'rsa 2048': 'import',
      'rsa 1024': 'key.rsa-short',
      dsa: 'key.dsa',
      'security key': 'key.sk',
      garbage: 'key.unparseable',
      'long key, long comment': 'import',
      'too long even without a comment': 'key.too-long',
      'cert-authority': 'key.cert-authority',
      'from= and no-pty': 'key.options',
      'command=internal-sftp': 'key.options',
      'expiry-time': 'key.options',
      'harmless option': 'import',
      'dead: not an AuthorizedKeysFile': 'key.dead',
      'dead and restricted': 'key.dead',
    })
  })

  it('the over-long key with a comment goes to Transfer without the comment, within the limit', () => {
    const {key} = corpus.find((c) => c.name === 'long key, long comment')!
    expect(key.openssh!.length).toBeGreaterThan(MAX_KEY_BODY_CHARS)
    const {body} = planVerdict(key)
    expect(body!.length).toBeLessThanOrEqual(MAX_KEY_BODY_CHARS)
    expect(body).toBe(key.openssh!.split(' ').slice(0, 2).join(' '))
  })

  it('with the user\'s acceptances the plan imports dead and restricted keys, never a cert-authority or a refused type', () => {
    const all = {deadKeys: true, keyOptions: true}
    const verdicts = Object.fromEntries(corpus.map(({name, key}) => [name, planVerdict(key, all).verdict]))
    expect(verdicts).toMatchObject({
      'from= and no-pty': 'import',
      'expiry-time': 'import',
      'dead: not an AuthorizedKeysFile': 'import',
      'dead and restricted': 'import',
      'cert-authority': 'key.cert-authority',
      dsa: 'key.dsa',
    })
    // Only dead keys accepted: the restricted dead key still waits for the options to be accepted.
    expect(planVerdict(corpus.find((c) => c.name === 'dead and restricted')!.key, {deadKeys: true}).verdict).toBe('key.options')
  })

  it('user names: the inventory and the plan say the same', () => {
    for (const name of ['root', 'ab', 'has space', '-dash', 'alice', 'a.b@example.com', 'x'.repeat(100), 'x'.repeat(101)]) {
      const inventory = accountFindings([account(name, corpus[0].key)]).find((f) => f.rule === 'user.name-invalid')?.reason
      const plan = desiredUsers({accounts: [account(name, corpus[0].key)], sourceHost: 'h', bucket: 'b', prefix: '', roleArn: 'r', domain: 'S3', homeMode: 'logical', renames: {}, excludedKeys: {}, allowNoKeys: false})[0].blockers.find(
        (b) => b.rule === 'user.name-invalid',
      )?.reason
      expect({name, inventory, plan}).toEqual({name, inventory: userNameProblem(name), plan: userNameProblem(name)})
    }
  })
})

describe('names: the inventory blocks exactly what sync skips', () => {
  const prefix = 'migrated'
  const names: Array<[string, Buffer]> = [
    ['plain', Buffer.from('docs/report.pdf')],
    ['utf-8', Buffer.from('docs/café ✓.txt')],
    ['CR', Buffer.from('docs/a\rb.txt')],
    ['LF', Buffer.from('docs/a\nb.txt')],
    ['tab', Buffer.from('docs/a\tb.txt')],
    ['other C0', Buffer.from('docs/a\x01b.txt')],
    ['DEL', Buffer.from('docs/a\x7fb.txt')],
    ['latin-1', Buffer.from([0x63, 0x61, 0x66, 0xe9])],
    ['dot-dot', Buffer.from('a/../b')],
    ['empty component', Buffer.from('a//b')],
    ['key too long', Buffer.from(`d/${'x'.repeat(1100)}`)],
  ]
  const scan = (path: Buffer, size = 10): ScanEntry => ({owner: 'alice', path, type: 'file', size, mtime: 1, mode: 0o100644, uid: 1, gid: 1, empty: false})
  const inventoryBlocks = (path: Buffer, size = 10) => {
    const entry: FileEntry = {owner: 'alice', path, type: 'file', size, mtime: 1, mode: 0o100644, uid: 1, gid: 1}
    return fileFinding(entry, {now: 2 * 86_400, s3KeyBytes: objectKeyBytes(prefix, 'alice', path)})
      .filter((f) => f.severity === 'blocker')
      .map((f) => f.rule)
  }

  it('each name: the inventory blockers, sync\'s skip and the object key mapping agree with pathProblems', () => {
    for (const [name, path] of names) {
      const rules = pathProblems(path, objectKeyBytes(prefix, 'alice', path)).map((p) => p.rule)
      const plan = planEntry(scan(path), undefined, {prefix, checksum: false})
      const key = objectKeyFor(prefix, 'alice', path)
      expect({name, inventory: inventoryBlocks(path)}).toEqual({name, inventory: rules})
      expect({name, sync: plan.action === 'skip' ? plan.kind : plan.action}).toEqual({name, sync: rules.length > 0 ? 'bad-name' : 'copy'})
      expect({name, mapped: key.ok}).toEqual({name, mapped: rules.length === 0})
    }
  })

  it('control characters: sync copies them only with the opt-in, and says how', () => {
    for (const [name, path] of names.filter(([n]) => ['CR', 'LF', 'tab', 'other C0', 'DEL'].includes(n))) {
      const refused = planEntry(scan(path), undefined, {prefix, checksum: false})
      expect({name, refused}).toMatchObject({name, refused: {action: 'skip', kind: 'bad-name', reason: expect.stringContaining('sync --allow-control-chars copies it anyway')}})
      const allowed = planEntry(scan(path), undefined, {prefix, checksum: false, allowControlChars: true})
      expect({name, allowed}).toEqual({name, allowed: {action: 'copy', key: `migrated/home/alice/${path.toString('utf8')}`, reason: 'new'}})
    }
    // The opt-in is about control characters only: a name that is not UTF-8 stays refused.
    expect(planEntry(scan(Buffer.from([0x0a, 0xe9])), undefined, {prefix, checksum: false, allowControlChars: true})).toMatchObject({action: 'skip', kind: 'bad-name'})
  })

  it('sizes: the inventory and sync agree on the 5 TiB object limit', () => {
    for (const size of [5 * 1024 ** 4, 5 * 1024 ** 4 + 1]) {
      const blocked = inventoryBlocks(Buffer.from('big.bin'), size).includes('file.too-large')
      const skipped = planEntry(scan(Buffer.from('big.bin'), size), undefined, {prefix, checksum: false}).action === 'skip'
      expect({size, blocked}).toEqual({size, blocked: skipped})
    }
  })
})
