/**
 * sync --until-quiet against a private OpenSSH sshd (the legacy box, still written to) and moto's S3: it returns only
 * once the box has been quiet for the duration, and copies what was written while it waited.
 */
import {GetObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {spawn} from 'node:child_process'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {createMigrationTarget, type MigrationTarget} from '../fixtures/aws-target.js'
import {motoClientConfig} from '../peers/env.js'
import {startSshd, type SshdPeer} from '../peers/index.js'
import {CLI, cleanEnv, runCli} from './helpers/cli.js'

let peer: SshdPeer
let target: MigrationTarget
let dir: string
let env: NodeJS.ProcessEnv
const s3 = new S3Client(motoClientConfig())

beforeAll(async () => {
  peer = await startSshd()
  target = await createMigrationTarget()
  dir = mkdtempSync(join(tmpdir(), 'sct-quiet-'))
  env = {AWS_ACCESS_KEY_ID: target.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: target.credentials.secretAccessKey}
  const admin = peer.users.adminUser
  writeFileSync(join(peer.users.keyUser.home, 'before.txt'), 'there before the run\n')
  const init = await runCli(
    [
      'init', '--no-prompt',
      '--source-host', peer.host, '--source-port', String(peer.port), '--source-username', admin.name, '--source-identity-file', admin.privateKeyPath!,
      '--source-known-hosts-file', peer.knownHostsFile, '--source-roots', peer.users.keyUser.home,
      '--target-region', target.region, '--target-endpoint', target.endpoint, '--target-bucket', target.bucket,
    ],
    {cwd: dir, env},
  )
  expect(init.stderr).toBe('')
})

afterAll(async () => {
  s3.destroy()
  await peer?.stop()
})

it('sync --until-quiet returns once nothing has changed for the duration, and copies a file written during the wait', async () => {
  const user = peer.users.keyUser
  const started = Date.now()
  const child = spawn(process.execPath, [CLI, 'sync', '--until-quiet', '5s', '--json'], {cwd: dir, env: {...cleanEnv(), ...env}, stdio: ['ignore', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  let wroteAt = 0
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString()
    if (!wroteAt && stderr.includes('pass 1:')) {
      // a client still writing to the legacy box while the sync waits for quiet
      writeFileSync(join(user.home, 'late.txt'), 'written while sync waited for quiet\n')
      wroteAt = Date.now()
    }
  })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  const ended = Date.now()
  expect({code, stderr: code ? stderr : ''}).toEqual({code: 0, stderr: ''})
  expect(wroteAt).toBeGreaterThan(0)
  const result = JSON.parse(stdout) as {untilQuiet: {passes: number; copied: number; quietForMs: number; lastChange: {at: string; copied: number; examples: string[]}}}
  // pass 1 copied what was there (before.txt, .ssh/authorized_keys); a later pass copied late.txt alone; then 5 s with nothing new
  expect(stderr).toMatch(/^pass 1: [1-9]\d* change\(s\)/m)
  expect(result.untilQuiet.lastChange.copied).toBe(1)
  expect(result.untilQuiet.lastChange.examples).toEqual([`${user.name}/late.txt`])
  expect(Date.parse(result.untilQuiet.lastChange.at)).toBeGreaterThanOrEqual(wroteAt - 1000)
  expect(result.untilQuiet.quietForMs).toBeGreaterThanOrEqual(5000)
  expect(ended - Date.parse(result.untilQuiet.lastChange.at)).toBeGreaterThanOrEqual(5000)
  expect(ended - started).toBeLessThan(60_000)
  expect(stderr).toMatch(/pass \d+: nothing changed, quiet for \S+ of 5s; last change \S+: 1 file\(s\) copied \(\w+\/late\.txt\)/)
  const got = await s3.send(new GetObjectCommand({Bucket: target.bucket, Key: `home/${user.name}/late.txt`}))
  expect(await got.Body!.transformToString()).toBe('written while sync waited for quiet\n')
}, 120_000)
