/**
 * Parity of access, against the real peer sshd: users plan imports exactly the keys that log in today. The key user's
 * authorized_keys holds a plain key, an RFC 4716 block, a key with an option sshd does not know, an expired key, a
 * key restricted by from= and a cert-authority line; a key sits in ~/.ssh/authorized_keys2, which the peer's
 * AuthorizedKeysFile does not name. The real `inventory` reads the box (online, as root); then every key the plan
 * would import logs in with the OpenSSH client, and every key it refuses as dead does not. Opt-ins per user
 * (--import-dead-keys, --accept-key-options) are shown in the plan, remembered and listed in the migration report.
 * Transfer is moto (runs the built CLI: npm run build).
 */
import {execFile} from 'node:child_process'
import {chownSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {SqliteStateStore} from '../../src/adapters/state.js'
import {TransferStore} from '../../src/adapters/transfer-store.js'
import type {Finding} from '../../src/core/inventory-model.js'
import type {UsersImportResult, UsersPlan} from '../../src/services/users.js'
import {createMigrationTarget, type MigrationTarget} from '../fixtures/aws-target.js'
import {binaries} from '../peers/paths.js'
import {startSshd, type SshdPeer} from '../peers/sshd.js'
import {runUsersCli, sshKeygen, writeProject} from './users-helpers.js'

let peer: SshdPeer
let target: MigrationTarget
let project: ReturnType<typeof writeProject>
let keysDir: string
const NAMES = ['plain', 'rfc', 'unknownopt', 'expired', 'from', 'ca', 'akf2'] as const
type Name = (typeof NAMES)[number]
const fps = {} as Record<Name, string>
const pub = (name: Name) => readFileSync(join(keysDir, `${name}.pub`), 'utf8').trim()

/** Logs in to the peer as the key user with one private key (OpenSSH client, no agent, no password): exit code. */
function sshLogin(name: Name): Promise<number> {
  const args = [
    '-F', '/dev/null',
    '-i', join(keysDir, name),
    '-o', 'IdentitiesOnly=yes',
    '-o', 'IdentityAgent=none',
    '-o', 'BatchMode=yes',
    '-o', 'PasswordAuthentication=no',
    '-o', 'KbdInteractiveAuthentication=no',
    '-o', `UserKnownHostsFile=${peer.knownHostsFile}`,
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'ConnectTimeout=10',
    '-p', String(peer.port),
    `${peer.users.keyUser.name}@127.0.0.1`,
    'true',
  ]
  return new Promise((resolve) => execFile(binaries.ssh, args, {timeout: 30_000}, (err) => resolve(err ? ((err as {code?: number}).code ?? 1) : 0)))
}

const cli = (args: string[]) => runUsersCli(args, {cwd: project.dir})
const userOf = (plan: UsersPlan) => plan.users.find((u) => u.legacyName === peer.users.keyUser.name)!
const nameOf = (fp: string | undefined) => NAMES.find((n) => fps[n] === fp) ?? fp

beforeAll(async () => {
  peer = await startSshd()
  target = await createMigrationTarget()
  project = writeProject(peer, target)
  keysDir = mkdtempSync(join(tmpdir(), 'sct-parity-'))
  for (const name of NAMES) {
    await sshKeygen(['-t', 'ed25519', '-N', '', '-q', '-C', `${name}@laptop`, '-f', join(keysDir, name)])
    fps[name] = (await sshKeygen(['-l', '-E', 'sha256', '-f', join(keysDir, `${name}.pub`)])).split(/\s+/)[1]
  }
  const {keyUser} = peer.users
  const rfc = await sshKeygen(['-e', '-f', join(keysDir, 'rfc.pub')])
  writeFileSync(
    keyUser.authorizedKeysFile!,
    [
      pub('plain'),
      rfc.trim(),
      `no-such-option ${pub('unknownopt')}`,
      `expiry-time="20200101" ${pub('expired')}`,
      `from="127.0.0.1",no-pty ${pub('from')}`,
      `cert-authority ${pub('ca')}`,
      '',
    ].join('\n'),
  )
  const akf2 = join(keyUser.home, '.ssh', 'authorized_keys2')
  writeFileSync(akf2, `${pub('akf2')}\n`, {mode: 0o600})
  chownSync(akf2, keyUser.uid, keyUser.gid)
  const inv = await runUsersCli(['inventory', '--json', '--sshd-config', peer.configFile], {cwd: project.dir})
  if (inv.code !== 0 && inv.code !== 3) throw new Error(`inventory failed (exit ${inv.code}): ${inv.stdout}\n${inv.stderr}`)
})

afterAll(async () => {
  await peer?.stop()
})

describe('users plan imports exactly the keys that log in today', () => {
  it('the inventory reports each key with the verdict the plan uses', async () => {
    const r = await cli(['inventory', 'report', '--json'])
    const findings = r.json<{findings: Finding[]}>().findings.filter((f) => f.subject.startsWith(`key:${peer.users.keyUser.name}:`))
    const by = (name: Name) => findings.filter((f) => f.subject.endsWith(fps[name])).map((f) => f.rule).sort()
    expect(by('plain')).toEqual([])
    expect(by('rfc')).toEqual(['key.dead'])
    expect(by('unknownopt')).toEqual(['key.dead'])
    expect(by('expired')).toEqual(['key.dead', 'key.options'])
    expect(by('akf2')).toEqual(['key.dead'])
    expect(by('from')).toEqual(['key.options'])
    expect(by('ca')).toEqual(['key.cert-authority'])
    const ca = findings.find((f) => f.rule === 'key.cert-authority')!
    expect(ca).toMatchObject({severity: 'blocker'})
    expect(ca.fix).toMatch(/plain key/)
    expect(findings.find((f) => f.rule === 'key.dead' && f.subject.endsWith(fps.akf2))!.reason).toMatch(/authorized_keys2 is not read by sshd for this user \(AuthorizedKeysFile \.ssh\/authorized_keys /)
  })

  it('every key the plan imports logs in today; every key it refuses as dead does not', async () => {
    const r = await cli(['users', 'plan', '--json'])
    expect(r.code).toBe(3) // the from= key and the cert-authority line are blockers until dealt with
    const u = userOf(r.json<UsersPlan>())
    const imported = u.keys.import.map((k) => nameOf(k.fingerprint))
    const refused = Object.fromEntries(u.keys.refused.map((k) => [nameOf(k.fingerprint), k.finding.rule]))
    expect(imported).toEqual(['plain'])
    expect(refused).toEqual({rfc: 'key.dead', unknownopt: 'key.dead', expired: 'key.dead', akf2: 'key.dead', from: 'key.options', ca: 'key.cert-authority'})

    for (const name of imported) expect({name, exit: await sshLogin(name as Name)}).toEqual({name, exit: 0})
    for (const [name, rule] of Object.entries(refused)) {
      if (rule === 'key.dead') expect({name, exit: await sshLogin(name as Name)}).toEqual({name, exit: 255})
    }
    // The restricted key works today, from 127.0.0.1 only: it is refused for what Transfer would drop, not as dead.
    expect(await sshLogin('from')).toBe(0)

    const text = await cli(['users', 'plan'])
    expect(text.stdout).toMatch(/x key\.options: .*restricted by from="127\.0\.0\.1",no-pty/)
    expect(text.stdout).toMatch(/x key\.cert-authority: .*Transfer Family has no user certificates/)
    expect(text.stdout).toMatch(/key ssh-ed25519 \S+ not imported: dead today: .*authorized_keys2 is not read by sshd/)
    expect(text.stdout).toMatch(/keys: 2 to import, 0 to remove, 6 refused \(4 dead today\)/) // and the chrooted user's key
  })

  it('opt-ins per user: shown in the plan, the keys imported, remembered, and listed in the migration report', async () => {
    const {keyUser} = peer.users
    const r = await cli(['users', 'import', '--accept-key-options', keyUser.name, '--import-dead-keys', keyUser.name, '--json'])
    expect(r.code).toBe(3) // still: the cert-authority line
    const result = r.json<UsersImportResult>()
    expect(result.plan.accepted).toEqual({[keyUser.name]: {deadKeys: true, keyOptions: true}})
    const u = userOf(result.plan)
    expect(u.keys.import.map((k) => nameOf(k.fingerprint)).sort()).toEqual(['akf2', 'expired', 'from', 'plain', 'rfc', 'unknownopt'])
    expect(u.keys.refused.map((k) => k.finding.rule)).toEqual(['key.cert-authority'])
    expect(u.keys.import.find((k) => k.fingerprint === fps.from)!.acceptedRisks).toEqual(['imported without its restrictions from="127.0.0.1",no-pty'])
    expect(result.summary).toMatchObject({created: 2, failed: 0}) // and the chrooted user

    const state = new SqliteStateStore(project.stateDb)
    const accepted = new TransferStore(state).acceptances()
    state.close()
    expect(accepted[keyUser.name]).toMatchObject({deadKeys: true, keyOptions: true})

    // Remembered: the next plan without the flags keeps the keys, and says why.
    const plan = await cli(['users', 'plan'])
    expect(plan.stdout).toContain(`Accepted risks (imported on purpose, listed in the migration report):\n  ${keyUser.name}: keys sshd ignores today and keys without their restricting options`)
    expect(plan.stdout).toMatch(new RegExp(`^UNCHANGED +${keyUser.name}$`, 'm'))

    const report = await cli(['report', '--json'])
    const markdown = readFileSync(report.json<{files: {md: string}}>().files.md, 'utf8')
    expect(markdown).toContain('## Accepted risks')
    expect(markdown).toContain(`| ${keyUser.name} | keys are imported without the authorized_keys options that restricted them (users import --accept-key-options) |`)
    expect(markdown).toMatch(new RegExp(`\\| key\\.options \\| key:${keyUser.name}:${fps.from.replace(/[+/]/g, '\\$&')} \\| accepted risk: imported without its options \\|`))
  })

  it('refuses an opt-in for a user the inventory does not know (exit 2)', async () => {
    const r = await cli(['users', 'plan', '--import-dead-keys', 'nobody', '--json'])
    expect(r.code).toBe(2)
    expect(r.json<{error: {message: string}}>().error.message).toBe('--import-dead-keys names users the inventory does not know: nobody')
  })
})
