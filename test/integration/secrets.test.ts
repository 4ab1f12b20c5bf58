/**
 * No password, passphrase, private key or AWS secret may reach the log file, the state database, the configuration
 * or any command output, on success or on failure. Runs init and doctor against the real sshd and moto with
 * distinctive secrets, then searches every byte they left behind.
 */
import {execFileSync} from 'node:child_process'
import {appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {randomBytes} from 'node:crypto'

import {createMigrationTarget} from '../fixtures/aws-target.js'
import {startSshd, type SshdPeer} from '../peers/index.js'
import {runCli} from './helpers/cli.js'

// A private sshd: this test adds a key to the key user, which must not leak into other test files' peer.
let sshd: SshdPeer
beforeAll(async () => {
  sshd = await startSshd()
})
afterAll(async () => {
  await sshd?.stop()
})

function secretsIn(text: string, secrets: Record<string, string>): string[] {
  return Object.entries(secrets).flatMap(([name, value]) => (text.includes(value) ? [name] : []))
}

it('keeps every secret out of logs, state, configuration and output', async () => {
  const target = await createMigrationTarget()
  const passphrase = `pp-${randomBytes(12).toString('hex')}`
  const awsSecret = `aws-${randomBytes(16).toString('hex')}`
  const wrongPassword = `wrong-${randomBytes(8).toString('hex')}`
  const password = sshd.users.passwordUser.password!

  // An encrypted key for the key user, so that the passphrase path runs too.
  const keyDir = mkdtempSync(join(tmpdir(), 'sct-enc-key-'))
  const keyFile = join(keyDir, 'id_ed25519')
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-f', keyFile])
  expect(sshd.users.keyUser.authorizedKeysFile).toBeTruthy()
  appendFileSync(sshd.users.keyUser.authorizedKeysFile!, readFileSync(`${keyFile}.pub`))
  const privateKeyLines = readFileSync(keyFile, 'utf8').split('\n').filter((l) => /^[A-Za-z0-9+/=]{40,}$/.test(l))
  const unencryptedKeyLines = readFileSync(sshd.users.chrootUser.privateKeyPath!, 'utf8').split('\n').filter((l) => /^[A-Za-z0-9+/=]{40,}$/.test(l))
  expect(privateKeyLines.length).toBeGreaterThan(0)

  const secrets: Record<string, string> = {password, passphrase, awsSecret, wrongPassword}
  privateKeyLines.forEach((l, i) => (secrets[`encrypted key line ${i}`] = l))
  unencryptedKeyLines.forEach((l, i) => (secrets[`chroot user key line ${i}`] = l))

  const env = {AWS_ACCESS_KEY_ID: 'AKIDSECRETSTEST', AWS_SECRET_ACCESS_KEY: awsSecret, LEGACY_PASSPHRASE: passphrase, LEGACY_PASSWORD: password}
  const common = ['--source-host', sshd.host, '--source-port', String(sshd.port), '--source-known-hosts-file', sshd.knownHostsFile,
    '--target-region', target.region, '--target-endpoint', target.endpoint, '--target-bucket', target.bucket, '--target-transfer-server-id', target.serverId,
    '--dns-hosted-zone-id', target.hostedZoneId, '--dns-record-name', target.recordName, '--target-user-role-arn', target.roleArn]
  const projects = {
    encryptedKey: ['--source-username', sshd.users.keyUser.name, '--source-identity-file', keyFile, '--source-identity-passphrase-env', 'LEGACY_PASSPHRASE'],
    password: ['--source-username', sshd.users.passwordUser.name, '--source-password-env', 'LEGACY_PASSWORD'],
    plainKey: ['--source-username', sshd.users.chrootUser.name, '--source-identity-file', sshd.users.chrootUser.privateKeyPath!],
  }
  const outputs: string[] = []
  const dirs: string[] = []
  for (const [name, args] of Object.entries(projects)) {
    const dir = mkdtempSync(join(tmpdir(), `sct-secrets-${name}-`))
    dirs.push(dir)
    const init = await runCli(['init', '--no-prompt', '--verbose', ...common, ...args], {cwd: dir, env})
    expect(init.code).toBe(0)
    const ok = await runCli(['doctor', '--verbose', '--json'], {cwd: dir, env})
    expect(ok.json<{checks: Array<{id: string; status: string}>}>().checks.find((c) => c.id === 'source.auth')?.status).toBe('pass')
    const text = await runCli(['doctor', '--verbose'], {cwd: dir, env})
    // failure paths: wrong password / passphrase, and a wrong AWS endpoint
    const wrong = await runCli(['doctor', '--verbose'], {cwd: dir, env: {...env, LEGACY_PASSWORD: wrongPassword, LEGACY_PASSPHRASE: wrongPassword}})
    expect(wrong.code).toBe(name === 'plainKey' ? 0 : 3)
    const badAws = await runCli(['doctor', '--verbose', '--json', '--endpoint', 'http://127.0.0.1:1'], {cwd: dir, env})
    expect(badAws.code).toBe(3)
    for (const r of [init, ok, text, wrong, badAws]) outputs.push(r.stdout, r.stderr)
  }

  const files = dirs.flatMap((dir) => {
    const state = join(dir, '.sftp-cutover')
    return [join(dir, 'sftp-cutover.yaml'), ...readdirSync(state).map((f) => join(state, f))].filter((f) => existsSync(f))
  })
  const logs = files.filter((f) => f.endsWith('.log'))
  expect(logs).toHaveLength(3)
  for (const log of logs) expect(readFileSync(log, 'utf8')).toMatch(/doctor check/)
  expect(files.some((f) => f.endsWith('state.db'))).toBe(true)

  const leaks = [
    ...outputs.flatMap((o, i) => secretsIn(o, secrets).map((s) => `${s} in command output #${i}`)),
    ...files.flatMap((f) => secretsIn(readFileSync(f).toString('latin1'), secrets).map((s) => `${s} in ${f}`)),
  ]
  expect(leaks).toEqual([])
  // The wrong secrets did fail the login, and the message says so without the secret.
  expect(outputs.join('\n')).toMatch(/FAIL {2}source\.auth|wrong passphrase/)
})
