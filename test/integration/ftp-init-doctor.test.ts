/**
 * init and doctor for an FTP box: init shows the FTPS certificate's fingerprint and pins it only when confirmed
 * (scripted prompts), asks before plain FTP, and without a terminal names the flags it needs; doctor checks the
 * certificate and login, and warns that plain FTP sends the password in clear. Real pure-ftpd and vsftpd.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {initProject} from '../../src/services/init.js'
import type {Prompter} from '../../src/ui/prompter.js'
import {type FtpPeer, useFtpPeers} from '../peers/ftp.js'
import {runCli} from './helpers/cli.js'
import {removeScratch, scratchDir} from './sync-helpers.js'


const peers = useFtpPeers()
afterAll(removeScratch)

function scripted(answers: Array<string | boolean>): Prompter & {asked: string[]} {
  const asked: string[] = []
  const next = (message: string) => {
    asked.push(message)
    if (answers.length === 0) throw new Error(`unexpected question: ${message}`)
    return answers.shift()!
  }
  return {
    asked,
    input: async ({message}) => String(next(message)),
    secret: async ({message}) => String(next(message)),
    confirm: async ({message}) => Boolean(next(message)),
    select: async ({message}) => next(message) as never,
  }
}

const base = (peer: FtpPeer, protocol: string) => ({
  'source.protocol': protocol,
  'source.host': peer.host,
  'source.port': peer.port,
  'source.username': peer.user,
  'source.passwordEnv': 'LEGACY_FTP_PASSWORD',
  'target.region': 'us-east-1',
  'target.bucket': 'acme-ftp',
})

const project = () => scratchDir('ftp-init-')

type DoctorJson = {checks: Array<{id: string; status: string; detail: string; fix?: string}>}

it('init shows the FTPS certificate with its SHA-256 and pins it when confirmed; doctor then verifies it', async () => {
  const dir = project()
  const prompter = scripted([true])
  const r = await initProject({configFile: join(dir, 'sftp-cutover.yaml'), stateDir: join(dir, '.sftp-cutover'), values: base(peers.pure, 'ftps'), force: false, prompter})
  expect(prompter.asked[0]).toContain(`SHA-256 ${peers.pure.tls!.fingerprint}`)
  expect(prompter.asked[0]).toContain('self-signed')
  expect(r.config.source.tlsFingerprint).toBe(peers.pure.tls!.fingerprint)
  expect(readFileSync(join(dir, 'sftp-cutover.yaml'), 'utf8')).toContain(peers.pure.tls!.fingerprint)
  const d = await runCli(['doctor', '--json'], {cwd: dir, env: {LEGACY_FTP_PASSWORD: peers.pure.password, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_ENDPOINT_URL: 'http://127.0.0.1:9'}})
  const checks = d.json<DoctorJson>().checks
  expect(checks.find((c) => c.id === 'source.tls')).toMatchObject({status: 'pass', detail: `SHA-256 ${peers.pure.tls!.fingerprint} matches source.tlsFingerprint`})
  expect(checks.find((c) => c.id === 'source.auth')).toMatchObject({status: 'pass'})
  expect(checks.find((c) => c.id === 'source.ftp')?.detail).toMatch(/^MLSD .*binary mode/)
})

it('init does not pin a certificate that is not confirmed: it asks how to verify it instead', async () => {
  const dir = project()
  const other = 'AB:'.repeat(31) + 'AB'
  const prompter = scripted([false, 'fingerprint', other])
  const r = await initProject({configFile: join(dir, 'sftp-cutover.yaml'), stateDir: join(dir, '.sftp-cutover'), values: base(peers.pure, 'ftps'), force: false, prompter})
  expect(r.config.source.tlsFingerprint).toBe(other)
  // ... and every command then refuses the server's real certificate before logging in
  const d = await runCli(['doctor', '--json'], {cwd: dir, env: {LEGACY_FTP_PASSWORD: peers.pure.password, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_ENDPOINT_URL: 'http://127.0.0.1:9'}})
  const tls = d.json<DoctorJson>().checks.find((c) => c.id === 'source.tls')!
  expect(tls.status).toBe('fail')
  expect(tls.detail).toContain(`presented a TLS certificate with SHA-256 ${peers.pure.tls!.fingerprint}, not the pinned ${other}`)
  expect(d.json<DoctorJson>().checks.find((c) => c.id === 'source.auth')).toMatchObject({status: 'skip'})
})

it('without a terminal, init for FTPS names the certificate flags it needs (exit 2)', async () => {
  const dir = project()
  const flags = Object.entries(base(peers.pure, 'ftps')).flatMap(([k, v]) => [`--${k.replace('.', '-').replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase()}`, String(v)])
  const r = await runCli(['init', '--no-prompt', ...flags, '--json'], {cwd: dir})
  expect(r.code).toBe(2)
  expect(r.stdout).toMatch(/--source-tls-fingerprint or --source-tls-ca-file/)
})

it('plain FTP: init asks before writing it on a terminal; doctor warns the password goes in clear', async () => {
  const dir = project()
  await expect(initProject({configFile: join(dir, 'sftp-cutover.yaml'), stateDir: join(dir, '.sftp-cutover'), values: base(peers.vs, 'ftp'), force: false, prompter: scripted([false])})).rejects.toThrow(/plain FTP was not confirmed/)
  const prompter = scripted([true])
  await initProject({configFile: join(dir, 'sftp-cutover.yaml'), stateDir: join(dir, '.sftp-cutover'), values: base(peers.vs, 'ftp'), force: false, prompter})
  expect(prompter.asked[0]).toMatch(/password and every file cross the network in clear/)
  const d = await runCli(['doctor', '--json'], {cwd: dir, env: {LEGACY_FTP_PASSWORD: peers.vs.password, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_ENDPOINT_URL: 'http://127.0.0.1:9'}})
  const checks = d.json<DoctorJson>().checks
  expect(checks.find((c) => c.id === 'source.tls')).toMatchObject({status: 'warn', detail: 'source.protocol is ftp: the password and every file cross the network in clear'})
  expect(checks.find((c) => c.id === 'source.ftp')?.detail).toMatch(/^LIST only/)
})
