/**
 * init and doctor against the real peers: OpenSSH sshd (the legacy box) and moto (Transfer, S3, Route 53, STS).
 * The CLI runs as a separate process with no terminal, as in CI or a cron job.
 */
import {execFileSync} from 'node:child_process'
import {copyFileSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {loadPeers} from '../peers/env.js'
import {createMigrationTarget, type MigrationTarget} from '../fixtures/aws-target.js'
import {type CliRun, runCli} from './helpers/cli.js'

type Check = {id: string; status: string; detail: string; fix?: string}
type DoctorJson = {ok: boolean; checks: Check[]}

const peers = loadPeers()
const {sshd} = peers
let target: MigrationTarget

function awsEnv(t: MigrationTarget): NodeJS.ProcessEnv {
  return {AWS_ACCESS_KEY_ID: t.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: t.credentials.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true'}
}

function initArgs(t: MigrationTarget, extra: Record<string, string | undefined> = {}): string[] {
  const values: Record<string, string | undefined> = {
    'source-host': sshd.host,
    'source-port': String(sshd.port),
    'source-username': sshd.users.keyUser.name,
    'source-identity-file': sshd.users.keyUser.privateKeyPath,
    'source-known-hosts-file': sshd.knownHostsFile,
    'target-region': t.region,
    'target-endpoint': t.endpoint,
    'target-bucket': t.bucket,
    'target-transfer-server-id': t.serverId,
    'target-user-role-arn': t.roleArn,
    'dns-hosted-zone-id': t.hostedZoneId,
    'dns-record-name': t.recordName,
    ...extra,
  }
  return ['init', '--no-prompt', ...Object.entries(values).flatMap(([k, v]) => (v === undefined ? [] : [`--${k}`, v]))]
}

async function project(extra: Record<string, string | undefined> = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'sct-project-'))
  const efs = mkdtempSync(join(tmpdir(), 'sct-efs-'))
  const r = await runCli(initArgs(target, {'efs-path': efs, ...extra}), {cwd: dir, env: awsEnv(target)})
  expect({code: r.code, stderr: r.stderr}).toEqual({code: 0, stderr: ''})
  return dir
}

function check(r: CliRun, id: string): Check {
  const c = r.json<DoctorJson>().checks.find((x) => x.id === id)
  if (!c) throw new Error(`no check ${id} in ${r.stdout}`)
  return c
}

beforeAll(async () => {
  target = await createMigrationTarget()
})

describe('init', () => {
  it('without a terminal and without the required flags exits 2 naming the flags', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sct-project-'))
    const r = await runCli(['init'], {cwd: dir})
    expect(r.code).toBe(2)
    for (const flag of ['--source-host', '--source-username', '--target-region', '--target-bucket', '--source-host-key-fingerprint', '--source-identity-file']) {
      expect(r.stderr).toContain(flag)
    }
    expect(() => readFileSync(join(dir, 'sftp-cutover.yaml'))).toThrow()
  })

  it('rejects invalid values naming each key and writes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sct-project-'))
    const r = await runCli(initArgs(target, {'source-port': '70000', 'target-bucket': 'My_Bucket', 'source-known-hosts-file': undefined, 'source-host-key-fingerprint': 'abc'}), {cwd: dir})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/source\.port = 70000 \(--source-port\): must be from 1 to 65535/)
    expect(r.stderr).toMatch(/target\.bucket = "My_Bucket" \(--target-bucket\): must be a valid S3 bucket name/)
    expect(r.stderr).toMatch(/source\.hostKeyFingerprint = "abc" \(--source-host-key-fingerprint\): must be an OpenSSH SHA-256 fingerprint/)
    expect(() => readFileSync(join(dir, 'sftp-cutover.yaml'))).toThrow()
  })

  it('writes a file that doctor accepts, and a second identical init changes nothing', async () => {
    const dir = await project()
    const yaml = readFileSync(join(dir, 'sftp-cutover.yaml'), 'utf8')
    expect(yaml).toContain(`bucket: ${target.bucket}`)
    expect(yaml).toContain(`identityFile: ${sshd.users.keyUser.privateKeyPath}`)
    const again = await runCli([...initArgs(target, {'efs-path': yaml.match(/path: (.*)/)![1]}), '--json'], {cwd: dir})
    expect(again.code).toBe(0)
    expect(again.json<{outcome: string}>().outcome).toBe('unchanged')
    const other = await runCli(initArgs(target, {'target-bucket': 'another-bucket'}), {cwd: dir})
    expect(other.code).toBe(2)
    expect(other.stderr).toMatch(/already exists.*\n.*--force/)
    expect(readFileSync(join(dir, 'sftp-cutover.yaml'), 'utf8')).toBe(yaml)
  })
})

describe('doctor', () => {
  it('passes every check against the peers', async () => {
    const dir = await project()
    const r = await runCli(['doctor', '--json'], {cwd: dir, env: awsEnv(target)})
    const result = r.json<DoctorJson>()
    expect(result.checks.filter((c) => c.status !== 'pass')).toEqual([])
    expect(r.code).toBe(0)
    expect(result.checks.map((c) => c.id)).toEqual([
      'source.reachable', 'source.hostKey', 'source.auth', 'source.sftp', 'source.exec', 'source.server',
      'aws.identity', 'transfer.server', 's3.bucket', 'iam.userRole', 'dns.zone', 'dns.record', 'efs.path',
    ])
    expect(check(r, 'source.server').detail).toMatch(/OpenSSH_9\.\d.*max read \d+ B/)
    expect(check(r, 'dns.record').detail).toContain('A 127.0.0.1')
    expect(check(r, 's3.bucket').detail).toMatch(/aws:kms.*public access blocked/)
    const text = await runCli(['doctor'], {cwd: dir, env: awsEnv(target)})
    expect(text.stdout).toMatch(/^PASS {2}source\.reachable/m)
    expect(text.stdout).toMatch(/13 passed, 0 warnings, 0 failed, 0 skipped/)
  })

  it('verifies the host key against a hashed known_hosts file too', async () => {
    const hashed = join(mkdtempSync(join(tmpdir(), 'sct-kh-')), 'known_hosts')
    copyFileSync(sshd.knownHostsFile, hashed)
    execFileSync('ssh-keygen', ['-H', '-f', hashed], {stdio: 'ignore'})
    expect(readFileSync(hashed, 'utf8')).toMatch(/^\|1\|/)
    const dir = await project({'source-known-hosts-file': hashed})
    const r = await runCli(['doctor', '--json'], {cwd: dir, env: awsEnv(target)})
    expect(check(r, 'source.hostKey').status).toBe('pass')
    expect(r.code).toBe(0)
  })

  it('refuses a wrong pinned fingerprint, prints every key the server presented and exits 3', async () => {
    const wrong = 'SHA256:' + 'A'.repeat(43)
    const dir = await project({'source-known-hosts-file': undefined, 'source-host-key-fingerprint': wrong})
    const r = await runCli(['doctor', '--json'], {cwd: dir, env: awsEnv(target)})
    expect(r.code).toBe(3)
    const hk = check(r, 'source.hostKey')
    expect(hk.status).toBe('fail')
    // every key type is tried for the pin (the pinned key may be the box's RSA or ECDSA key): all are listed
    const presented = sshd.hostKeys.map((k) => k.fingerprint).filter((fp) => hk.detail.includes(fp))
    expect(presented).toHaveLength(sshd.hostKeys.length)
    expect(hk.detail).toContain(`is the pinned ${wrong}`)
    // the fix names a command doctor's user can run, not a flag only init has
    // fingerprints are base64: + and / are literal characters, not regex syntax
    expect(hk.fix).toMatch(new RegExp(`sftp-cutover config set source\\.hostKeyFingerprint (${presented.map((f) => f.replace(/[+/]/g, '\\$&')).join('|')})`))
    expect(check(r, 'source.auth').status).toBe('skip')
    const text = await runCli(['doctor'], {cwd: dir, env: awsEnv(target)})
    expect(text.code).toBe(3)
    expect(text.stdout).toContain(presented[0])
  })

  it('refuses a host key that known_hosts does not hold', async () => {
    const empty = join(mkdtempSync(join(tmpdir(), 'sct-kh-')), 'known_hosts')
    writeFileSync(empty, `[otherhost]:22 ${sshd.hostKeys[0].publicKeyLine}\n`)
    const dir = await project({'source-known-hosts-file': empty})
    const r = await runCli(['doctor', '--json'], {cwd: dir, env: awsEnv(target)})
    expect(r.code).toBe(3)
    expect(check(r, 'source.hostKey').detail).toMatch(/unknown: .* is in no known_hosts entry/)
  })

  it('fails the login check on a wrong password', async () => {
    const dir = await project({'source-username': sshd.users.passwordUser.name, 'source-identity-file': undefined, 'source-password-env': 'LEGACY_PASSWORD'})
    const r = await runCli(['doctor', '--json'], {cwd: dir, env: {...awsEnv(target), LEGACY_PASSWORD: 'not-the-password'}})
    expect(r.code).toBe(3)
    expect(check(r, 'source.hostKey').status).toBe('pass')
    const auth = check(r, 'source.auth')
    expect(auth).toMatchObject({status: 'fail'})
    expect(auth.detail).toMatch(new RegExp(`authentication as ${sshd.users.passwordUser.name} on 127\\.0\\.0\\.1:${sshd.port} failed`))
    expect(r.stdout).not.toContain('not-the-password')
    // the right password passes
    const ok = await runCli(['doctor', '--json'], {cwd: dir, env: {...awsEnv(target), LEGACY_PASSWORD: sshd.users.passwordUser.password}})
    expect(check(ok, 'source.auth').status).toBe('pass')
  })

  it('warns that a chrooted sftp-only login cannot run commands', async () => {
    const dir = await project({'source-username': sshd.users.chrootUser.name, 'source-identity-file': sshd.users.chrootUser.privateKeyPath})
    const r = await runCli(['doctor', '--json'], {cwd: dir, env: awsEnv(target)})
    expect(check(r, 'source.sftp')).toMatchObject({status: 'pass'})
    expect(check(r, 'source.sftp').detail).toContain('login directory /')
    expect(check(r, 'source.exec')).toMatchObject({status: 'warn'})
    expect(check(r, 'source.exec').fix).toContain('inventory collect-script')
    expect(r.code).toBe(0)
  })

  it.each([
    ['an unknown Transfer server id', {'target-transfer-server-id': 's-0123456789abcdef0'}, 'transfer.server', /s-0123456789abcdef0 does not exist/],
    ['a missing bucket', {'target-bucket': 'sct-no-such-bucket'}, 's3.bucket', /bucket sct-no-such-bucket does not exist/],
    ['a public hosted zone', {'dns-hosted-zone-id': 'PUBLIC'}, 'dns.zone', /is a public hosted zone/],
    ['an unreachable source', {'source-port': '1'}, 'source.reachable', /cannot open TCP 127\.0\.0\.1:1: ECONNREFUSED/],
  ])('fails the matching check with %s', async (_what, extra, id, reason) => {
    const values = {...extra} as Record<string, string>
    if (values['dns-hosted-zone-id'] === 'PUBLIC') values['dns-hosted-zone-id'] = target.publicZoneId
    const dir = await project(values)
    const r = await runCli(['doctor', '--json'], {cwd: dir, env: awsEnv(target)})
    expect(r.code).toBe(3)
    const c = check(r, id)
    expect(c.status).toBe('fail')
    expect(c.detail).toMatch(reason)
    expect(c.fix).toBeTruthy()
    expect(r.json<DoctorJson>().checks.filter((x) => x.status === 'fail').map((x) => x.id)).toEqual([id])
  })

  it('exits 2 naming the problem when there is no configuration', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sct-project-'))
    const r = await runCli(['doctor', '--json'], {cwd: dir})
    expect(r.code).toBe(2)
    expect(r.json<{error: {code: string; message: string; suggestions: string[]}}>().error).toMatchObject({code: 'NO_CONFIG'})
  })
})
