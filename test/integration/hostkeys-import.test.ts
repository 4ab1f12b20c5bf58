/**
 * hostkeys import with the peer sshd's real private host keys (sshd.hostKeys[i].privateKeyPath), checked against
 * the host keys inventory recorded from it.
 *
 * moto 5.2.5 has no ImportHostKey and no ListHostKeys: the built CLI runs against moto for the dry run and for the
 * failure path (ImportHostKey missing), and the command runs in-process with a fake TransferHostKeys (the static
 * transferOverride seam) for the success path: imports, an older key of the same type staying active, --replace,
 * idempotency. The exact request shapes of those calls are asserted in test/unit/users-transfer-adapter.test.ts.
 *
 * Every run checks that no private key material (the files' base64 lines, the converted bodies sent to Transfer,
 * the passphrase) reaches stdout, stderr, the log file or the state database (all its files, WAL included).
 */
import {createPrivateKey} from 'node:crypto'
import {chmodSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {format} from 'node:util'
import ssh2 from 'ssh2'

import type {TransferHostKeys} from '../../src/adapters/transfer-users.js'
import HostkeysImport from '../../src/commands/hostkeys/import.js'
import {fingerprintOf} from '../../src/core/host-keys.js'
import {parseHostPrivateKey, type ServerHostKey} from '../../src/core/host-key-import.js'
import type {HostKeysResult} from '../../src/services/hostkeys.js'
import {createMigrationTarget, type MigrationTarget} from '../fixtures/aws-target.js'
import {loadPeers} from '../peers/env.js'
import {recordInventory, runUsersCli, sshKeygen, writeProject} from './users-helpers.js'

const ROOT = join(import.meta.dirname, '..', '..')
const {sshd} = loadPeers()
const PASSPHRASE = 'pass-phrase-7f3c9e1b-never-shown'
let target: MigrationTarget
let project: ReturnType<typeof writeProject>
let scratch: string
let encryptedKey: string
const secrets: string[] = []

/**
 * What must never be shown: the private scalars of each key (RSA d, p, q; EC and Ed25519 d), as base64 at each of
 * the three byte alignments and as hex, and the base64 lines of the key files and of the bodies sent to Transfer
 * except those that are public too (an RSA file also holds the modulus, which is in the public key).
 */
function secretMarkers(keyText: string, publicLine: string, passphrase?: string): string[] {
  const parsed = ssh2.utils.parseKey(keyText, passphrase)
  if (parsed instanceof Error || Array.isArray(parsed)) throw new Error('test key does not parse')
  const jwk = createPrivateKey(parsed.getPrivatePEM()).export({format: 'jwk'})
  const scalars = [jwk.d, jwk.p, jwk.q].filter((v): v is string => typeof v === 'string').map((v) => Buffer.from(v, 'base64url'))
  const markers: string[] = []
  for (const b of scalars) {
    markers.push(b.toString('hex').slice(8, 40))
    for (const shift of [0, 1, 2]) markers.push(b.subarray(shift).toString('base64').slice(4, 28))
  }
  const blob = Buffer.from(publicLine.split(/\s+/)[1], 'base64')
  const publicForms = [0, 1, 2].map((shift) => blob.subarray(shift).toString('base64'))
  const converted = parseHostPrivateKey(keyText, 'k', passphrase)
  if (!converted.ok) throw new Error(converted.message)
  for (const text of [keyText, converted.key.body]) {
    for (const line of text.split('\n').map((l) => l.trim())) {
      if (line.length < 16 || line.startsWith('-----')) continue
      if (publicForms.some((p) => p.includes(line.replace(/=+$/, '')))) continue
      markers.push(line)
    }
  }
  return markers
}

/** Asserts that no secret appears in the given texts nor in any file of the project's state directory. */
function expectNoSecrets(dir: string, ...texts: string[]): void {
  const stateDir = join(dir, '.sftp-cutover')
  const files = readdirSync(stateDir).map((f) => join(stateDir, f))
  const haystacks = [...texts.map((t, i) => ({where: `output ${i}`, text: t})), ...files.map((f) => ({where: f, text: readFileSync(f).toString('latin1')}))]
  expect(files.some((f) => f.endsWith('state.db'))).toBe(true)
  expect(files.some((f) => f.endsWith('.log'))).toBe(true)
  for (const {where, text} of haystacks) {
    for (const s of secrets) {
      if (text.includes(s)) throw new Error(`secret material found in ${where}: ${s.slice(0, 8)}...`)
    }
  }
}

const keyArgs = () => sshd.hostKeys.flatMap((k) => ['--key-file', k.privateKeyPath])
const legacyFingerprints = () => Object.fromEntries(sshd.hostKeys.map((k) => [k.type, k.fingerprint]))

/** A Transfer server's host keys in memory: records the bodies it is sent (the test checks them). */
class FakeHostKeys implements TransferHostKeys {
  bodies: string[] = []
  keys: ServerHostKey[]
  private n = 0
  constructor(
    readonly serverId: string,
    existing: ServerHostKey[],
  ) {
    this.keys = [...existing]
  }
  async describeServer() {
    return {serverId: this.serverId, domain: 'S3' as const, identityProviderType: 'SERVICE_MANAGED', state: 'ONLINE', protocols: ['SFTP']}
  }
  async listHostKeys() {
    return this.keys.map((k) => ({...k}))
  }
  async importHostKey(body: string) {
    this.bodies.push(body)
    const parsed = ssh2.utils.parseKey(body)
    if (parsed instanceof Error || Array.isArray(parsed)) throw Object.assign(new Error('Invalid host key body'), {name: 'InvalidRequestException'})
    const id = `hostkey-${String(++this.n).padStart(17, '0')}`
    this.keys.push({id, type: parsed.type, fingerprint: fingerprintOf(parsed.getPublicSSH()), dateImported: new Date(Date.UTC(2025, 0, 1, 0, 0, this.n)).toISOString()})
    return id
  }
  async deleteHostKey(id: string) {
    this.keys = this.keys.filter((k) => k.id !== id)
  }
}

/** Runs the command in this process (so a fake Transfer can stand in), capturing everything it writes. */
async function runInProcess(configFile: string, args: string[], fake: FakeHostKeys): Promise<{code: number; stdout: string; stderr: string; json: HostKeysResult}> {
  const out: string[] = []
  const err: string[] = []
  const saved = {stdout: process.stdout.write, stderr: process.stderr.write, log: console.log, error: console.error, warn: console.warn, info: console.info}
  const savedCode = process.exitCode
  process.exitCode = 0
  process.stdout.write = ((chunk: string | Uint8Array) => (out.push(String(chunk)), true)) as typeof process.stdout.write
  process.stderr.write = ((chunk: string | Uint8Array) => (err.push(String(chunk)), true)) as typeof process.stderr.write
  console.log = console.info = (...a: unknown[]) => void out.push(`${format(...a)}\n`)
  console.error = console.warn = (...a: unknown[]) => void err.push(`${format(...a)}\n`)
  HostkeysImport.transferOverride = () => fake
  try {
    await HostkeysImport.run(['--config', configFile, ...args], ROOT)
  } finally {
    Object.assign(process.stdout, {write: saved.stdout})
    Object.assign(process.stderr, {write: saved.stderr})
    Object.assign(console, {log: saved.log, error: saved.error, warn: saved.warn, info: saved.info})
    HostkeysImport.transferOverride = undefined
  }
  const code = Number(process.exitCode ?? 0)
  process.exitCode = savedCode
  const stdout = out.join('')
  return {code, stdout, stderr: err.join(''), json: (args.includes('--json') ? JSON.parse(stdout) : undefined) as HostKeysResult}
}

beforeAll(async () => {
  target = await createMigrationTarget()
  project = writeProject(sshd, target)
  recordInventory(project.stateDb, sshd)
  scratch = mkdtempSync(join(tmpdir(), 'sct-hostkeys-'))
  // An encrypted copy of the ed25519 host key (as some boxes keep their key backups).
  encryptedKey = join(scratch, 'ssh_host_ed25519_key.enc')
  copyFileSync(sshd.hostKeys.find((k) => k.type === 'ssh-ed25519')!.privateKeyPath, encryptedKey)
  chmodSync(encryptedKey, 0o600)
  await sshKeygen(['-p', '-q', '-P', '', '-N', PASSPHRASE, '-f', encryptedKey])

  for (const k of sshd.hostKeys) secrets.push(...secretMarkers(readFileSync(k.privateKeyPath, 'utf8'), k.publicKeyLine))
  const ed = sshd.hostKeys.find((k) => k.type === 'ssh-ed25519')!
  secrets.push(...secretMarkers(readFileSync(encryptedKey, 'utf8'), ed.publicKeyLine, PASSPHRASE), PASSPHRASE)
  expect(secrets.length).toBeGreaterThan(40)
})

describe('hostkeys import', () => {
  it('--dry-run against moto: every legacy key matches what inventory recorded and would be imported; no secret anywhere', async () => {
    const r = await runUsersCli(['hostkeys', 'import', ...keyArgs(), '--dry-run', '--json'], {cwd: project.dir})
    expect(r.code).toBe(0)
    const result = r.json<HostKeysResult>()
    expect(result.keys.map((k) => [k.type, k.outcome, k.legacyFingerprint === k.fingerprint, k.legacyFingerprint === legacyFingerprints()[k.type]]).sort()).toEqual([
      ['ecdsa-sha2-nistp256', 'would import', true, true],
      ['ssh-ed25519', 'would import', true, true],
      ['ssh-rsa', 'would import', true, true],
    ])
    expect(result.warnings.map((w) => w.code)).toEqual(['cannot-list'])
    const text = await runUsersCli(['hostkeys', 'import', ...keyArgs(), '--dry-run'], {cwd: project.dir})
    expect(text.stdout).toMatch(/ssh-ed25519 +would import +SHA256:/)
    expect(text.stdout).toContain('ListHostKeys is not available at this endpoint')
    expectNoSecrets(project.dir, r.stdout, r.stderr, text.stdout, text.stderr)
    // The check itself catches a leak: each key file, and each body as it would be sent.
    for (const k of sshd.hostKeys) {
      const file = readFileSync(k.privateKeyPath, 'utf8')
      const body = parseHostPrivateKey(file, k.privateKeyPath)
      expect(() => expectNoSecrets(project.dir, file)).toThrow(/secret material found in output 0/)
      expect(() => expectNoSecrets(project.dir, `error: ${body.ok ? body.key.body : ''}`)).toThrow(/secret material found/)
    }
    expect(() => expectNoSecrets(project.dir, `HK_PASS=${PASSPHRASE}`)).toThrow(/secret material found/)
  })

  it('against moto, which has no ImportHostKey: fails with exit 1 and says why, without leaking the keys', async () => {
    const r = await runUsersCli(['hostkeys', 'import', ...keyArgs(), '--json'], {cwd: project.dir})
    expect(r.code).toBe(1)
    const result = r.json<HostKeysResult>()
    expect(result.failed).toBe(true)
    expect(result.keys.map((k) => k.outcome)).toEqual(['failed', 'failed', 'failed'])
    expect(result.keys[0].reason).toBe('ImportHostKey is not available at this endpoint (an emulator?): the key was not imported')
    expectNoSecrets(project.dir, r.stdout, r.stderr)
  })

  it('imports the legacy keys; warns that an older service key of the same type stays active; --replace fixes it; idempotent', async () => {
    const generated: ServerHostKey = {id: 'hostkey-0000000000000service', type: 'ssh-rsa', fingerprint: 'SHA256:c2VydmljZS1nZW5lcmF0ZWQta2V5LWZpbmdlcnByaW50', dateImported: '2020-01-01T00:00:00.000Z'}
    const fake = new FakeHostKeys(target.serverId, [generated])
    const own = writeProject(sshd, target)
    recordInventory(own.stateDb, sshd)
    const run = (args: string[]) => runInProcess(own.configFile, args, fake)

    const first = await run([...keyArgs(), '--json'])
    expect(first.code).toBe(3)
    const byType = Object.fromEntries(first.json.keys.map((k) => [k.type, k]))
    for (const type of ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ssh-rsa']) {
      expect(byType[type]).toMatchObject({outcome: 'imported', legacyFingerprint: legacyFingerprints()[type], transferFingerprint: legacyFingerprints()[type]})
    }
    expect([byType['ssh-ed25519'].active, byType['ecdsa-sha2-nistp256'].active, byType['ssh-rsa'].active]).toEqual([true, true, false])
    expect(first.json.warnings).toMatchObject([{code: 'older-key-active', type: 'ssh-rsa', problem: true}])
    expect(first.json.warnings[0].fix).toContain(`aws transfer delete-host-key --server-id ${target.serverId} --host-key-id hostkey-0000000000000service`)

    // What was sent is each legacy key, in a form OpenSSH itself reads back to the same public key.
    expect(fake.bodies).toHaveLength(3)
    for (const body of fake.bodies) {
      const file = join(scratch, 'check_key')
      writeFileSync(file, body, {mode: 0o600})
      const pub = (await sshKeygen(['-y', '-f', file])).trim()
      rmSync(file)
      expect(sshd.hostKeys.map((k) => k.publicKeyLine.split(/\s+/).slice(0, 2).join(' '))).toContain(pub.split(/\s+/).slice(0, 2).join(' '))
    }
    expect(fake.bodies.map((b) => b.split('\n')[0]).sort()).toEqual(['-----BEGIN EC PRIVATE KEY-----', '-----BEGIN OPENSSH PRIVATE KEY-----', '-----BEGIN RSA PRIVATE KEY-----'])

    const replaced = await run([...keyArgs(), '--replace', '--json'])
    expect(replaced.code).toBe(0)
    expect(replaced.json.keys.map((k) => k.outcome)).toEqual(['unchanged', 'unchanged', 'unchanged'])
    expect(replaced.json.deleted).toEqual([{hostKeyId: generated.id, type: 'ssh-rsa', fingerprint: generated.fingerprint, outcome: 'deleted'}])
    expect(replaced.json.keys.every((k) => k.active === true)).toBe(true)

    const again = await run([...keyArgs(), '--json'])
    expect(again.code).toBe(0)
    expect(again.json.keys.map((k) => k.outcome)).toEqual(['unchanged', 'unchanged', 'unchanged'])
    expect(again.json.deleted).toEqual([])
    expect(fake.bodies).toHaveLength(3)

    const text = await run([...keyArgs()])
    for (const k of sshd.hostKeys) expect(text.stdout).toMatch(new RegExp(`^${k.type} +unchanged +${k.fingerprint.replace(/[+/]/g, '\\$&')} +${k.fingerprint.replace(/[+/]/g, '\\$&')} +hostkey-\\d+ +yes$`, 'm'))
    expectNoSecrets(own.dir, first.stdout, first.stderr, replaced.stdout, replaced.stderr, again.stdout, again.stderr, text.stdout, text.stderr)
  })

  it('takes the passphrase of an encrypted key from the variable named by --passphrase-env, and never shows it', async () => {
    const r = await runUsersCli(['hostkeys', 'import', '--key-file', encryptedKey, '--passphrase-env', 'HK_PASS', '--dry-run', '--json'], {cwd: project.dir, env: {HK_PASS: PASSPHRASE}})
    const result = r.json<HostKeysResult>()
    expect(result.keys).toMatchObject([{type: 'ssh-ed25519', outcome: 'would import', legacyFingerprint: legacyFingerprints()['ssh-ed25519']}])
    expect(r.code).toBe(3) // the ECDSA and RSA keys the legacy server offers are not given
    expect(result.problems).toEqual([expect.stringMatching(/^ecdsa-sha2-nistp256: the legacy server offers/), expect.stringMatching(/^ssh-rsa: the legacy server offers/)])

    // On a terminal it asks (the Prompter is scripted here, through BaseCommand.prompterOverride).
    const asked: string[] = []
    HostkeysImport.prompterOverride = {
      input: async () => '',
      confirm: async () => false,
      select: async () => '' as never,
      secret: async ({message}) => (asked.push(message), PASSPHRASE),
    }
    const own = writeProject(sshd, target)
    recordInventory(own.stateDb, sshd)
    const fake = new FakeHostKeys(target.serverId, [])
    try {
      const prompted = await runInProcess(own.configFile, ['--key-file', encryptedKey, '--json'], fake)
      expect(asked).toEqual([`Passphrase for ${encryptedKey}`])
      expect(prompted.json.keys).toMatchObject([{type: 'ssh-ed25519', outcome: 'imported', transferFingerprint: legacyFingerprints()['ssh-ed25519']}])
      expect(fake.bodies[0]).not.toContain('ENCRYPTED')
      expectNoSecrets(own.dir, prompted.stdout, prompted.stderr)
    } finally {
      HostkeysImport.prompterOverride = undefined
    }

    const noTty = await runUsersCli(['hostkeys', 'import', '--key-file', encryptedKey, '--dry-run', '--json'], {cwd: project.dir})
    expect(noTty.code).toBe(2)
    expect(noTty.json<{error: {code: string; suggestions: string[]}}>().error).toMatchObject({code: 'PROMPT_NEEDED', suggestions: [expect.stringContaining('--passphrase-env NAME')]})

    const wrong = await runUsersCli(['hostkeys', 'import', '--key-file', encryptedKey, '--passphrase-env', 'HK_PASS', '--dry-run', '--json'], {cwd: project.dir, env: {HK_PASS: 'not-it'}})
    expect(wrong.code).toBe(3)
    expect(wrong.json<HostKeysResult>().keys[0]).toMatchObject({outcome: 'refused', reason: `${encryptedKey}: the passphrase does not decrypt the key`})
    expectNoSecrets(project.dir, r.stdout, r.stderr, noTty.stdout, noTty.stderr, wrong.stdout, wrong.stderr)
  })

  it('refuses a key that is not one of the legacy server\'s host keys', async () => {
    const stranger = join(scratch, 'stranger_ed25519')
    await sshKeygen(['-t', 'ed25519', '-N', '', '-q', '-f', stranger])
    const r = await runUsersCli(['hostkeys', 'import', '--key-file', stranger, '--dry-run', '--json'], {cwd: project.dir})
    expect(r.code).toBe(3)
    const [k] = r.json<HostKeysResult>().keys
    expect(k).toMatchObject({type: 'ssh-ed25519', outcome: 'refused'})
    expect(k.reason).toContain(`is not a host key the legacy server presented (inventory recorded ssh-ed25519 ${legacyFingerprints()['ssh-ed25519']})`)
  })
})
