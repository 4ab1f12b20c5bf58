/**
 * cutover --soft against the real peers: a private OpenSSH sshd (the legacy box, logging to a file at VERBOSE) and
 * moto (Transfer, Route 53, S3). The record is switched before the freeze; a client still writes to the legacy box
 * and another still logs in to it while the box is drained; the file is copied, the straggler named, then the box is
 * frozen. Stand-in, said plainly: the smoke test logs in to the sshd peer as the "new endpoint" (moto has no SFTP), so
 * the canary user also shows up in the legacy log after the switch.
 */
import {GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {SshSession} from '../../src/adapters/ssh.js'
import {createMigrationTarget, type MigrationTarget} from '../fixtures/aws-target.js'
import {cutoverInitArgs, prepareForCutover} from './helpers/cutover-project.js'
import {motoClientConfig} from '../peers/env.js'
import {startSshd, type SshdPeer} from '../peers/index.js'
import {CLI, cleanEnv, runCli} from './helpers/cli.js'

let peer: SshdPeer
let target: MigrationTarget
let dir: string
let env: NodeJS.ProcessEnv
const s3 = new S3Client(motoClientConfig())
const cli = (args: string[]) => runCli(args, {cwd: dir, env, timeoutMs: 120_000})

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sct-soft-'))
  const logFile = join(dir, 'sshd.log')
  peer = await startSshd({sampleTree: true, logFile})
  target = await createMigrationTarget()
  env = {AWS_ACCESS_KEY_ID: target.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: target.credentials.secretAccessKey}
  const init = await cli([...cutoverInitArgs(peer, target), '--cutover-sshd-log', logFile])
  expect(init.stderr).toBe('')
  await prepareForCutover(cli, peer, target, dir)
}, 300_000)

afterAll(async () => {
  s3.destroy()
  await peer?.stop()
})

it('cutover --soft switches first, drains the box until quiet (copying what still arrives, naming stragglers), then freezes', async () => {
  const chroot = peer.users.chrootUser
  const child = spawn(process.execPath, [CLI, 'cutover', '--soft', '--until-quiet', '4s', '--yes'], {cwd: dir, env: {...cleanEnv(), ...env}, stdio: ['ignore', 'pipe', 'pipe']})
  let stderr = ''
  let acted: Promise<void> | undefined
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString()
    if (!acted && /^pass 1:/m.test(stderr)) {
      // the record is switched, the box not frozen: a client still writes there, another still logs in
      expect(existsSync(join(peer.dir, 'frozen'))).toBe(false)
      writeFileSync(join(peer.users.keyUser.home, 'during-drain.txt'), 'uploaded to the legacy box after the switch\n')
      acted = SshSession.connect({host: peer.host, port: peer.port, username: chroot.name, useAgent: false, knownHostsFile: peer.knownHostsFile}, {privateKey: readFileSync(chroot.privateKeyPath!)}).then((s) => s.close())
    }
  })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  await acted
  expect({code, stderr: code ? stderr : ''}).toEqual({code: 0, stderr: ''})
  expect(stderr).toMatch(new RegExp(`straggler: ${chroot.name} from 127\\.0\\.0\\.1 still connects to the legacy box`))
  expect(stderr).toMatch(/pass \d+: nothing changed, quiet for \S+ of 4s; last change \S+: 1 file\(s\) copied \(\w+\/during-drain\.txt\)/)
  expect(existsSync(join(peer.dir, 'frozen'))).toBe(true)
  const head = await s3.send(new HeadObjectCommand({Bucket: target.bucket, Key: `home/${peer.users.keyUser.name}/during-drain.txt`}))
  expect(head.ContentLength).toBe(Buffer.byteLength('uploaded to the legacy box after the switch\n'))

  // the same soft cutover again: complete, nothing repeated; the steps in the soft order
  const again = await cli(['cutover', '--soft', '--until-quiet', '4s', '--yes', '--json'])
  const result = again.json<{outcome: string; steps: Array<{id: string; status: string; summary: string}>}>()
  expect(result.outcome).toBe('unchanged')
  expect(result.steps.map((s) => s.id)).toEqual(['preflight', 'confirm', 'dns-switch', 'smoke-test', 'drain', 'freeze', 'sync', 'verify', 'report'])
  expect(result.steps.find((s) => s.id === 'drain')!.summary).toMatch(new RegExp(`stragglers: .*${chroot.name}@127\\.0\\.0\\.1`))
}, 180_000)

it('after the switch, the drain keeps what a client uploaded through Transfer over a file that also changed on the box, and stops with exit 3', async () => {
  const user = peer.users.keyUser
  const key = `home/${user.name}/during-drain.txt`
  // a partner delivers through Transfer while a straggler rewrites the same file on the legacy box
  await s3.send(new PutObjectCommand({Bucket: target.bucket, Key: key, Body: 'delivered through Transfer\n'}))
  const at = new Date('2026-01-02T03:04:05Z')
  writeFileSync(join(user.home, 'during-drain.txt'), 'rewritten on the legacy box\n')
  utimesSync(join(user.home, 'during-drain.txt'), at, at)
  const r = await cli(['cutover', '--soft', '--from', 'drain', '--until-quiet', '2s', '--yes', '--json'])
  expect(r.code).toBe(3)
  expect(r.stdout).toMatch(/the drain found 1 path\(s\) changed both on the legacy box and through Transfer/)
  const body = async (Key: string) => (await s3.send(new GetObjectCommand({Bucket: target.bucket, Key}))).Body!.transformToString()
  expect(await body(key)).toBe('delivered through Transfer\n')
  expect(await body(`${key}.from-legacy-20260102T030405Z`)).toBe('rewritten on the legacy box\n')
}, 120_000)

