/**
 * sync from an FTP box when things go wrong, against real pure-ftpd (explicit TLS, pinned certificate, MLSD) and
 * vsftpd (plain FTP, LIST), into versitygw:
 * kill -9 in the middle of a multipart upload (the next run resumes it), the control connection cut (toxiproxy in
 * front of the control port, disabled for a second), a data connection cut (the kernel destroys the passive-port
 * sockets: `ss -K`, as root), and the file changing while it is read (not recorded; the next run copies it).
 * Every run ends with S3 holding exactly the bytes of the tree on disk.
 */
import {ListMultipartUploadsCommand, ListPartsCommand, type S3Client} from '@aws-sdk/client-s3'
import {execFile, spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {appendFileSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {SqliteStateStore} from '../../src/adapters/state.js'
import type {SyncResult} from '../../src/services/sync.js'
import {type FtpPeer, startPureFtpd, startVsftpd} from '../peers/ftp.js'
import {startToxiproxy, type ToxiproxyPeer} from '../peers/toxiproxy.js'
import {CLI, cleanEnv, runCli} from './helpers/cli.js'
import {downloadAll, expectedObjects, newBucket, removeScratch, s3Of, scratchDir, versitygw} from './sync-helpers.js'


const PREFIX = 'migrated'
const BIG = 'data/big.bin'
let toxiproxy: ToxiproxyPeer
let s3: S3Client

beforeAll(async () => {
  toxiproxy = await startToxiproxy()
  s3 = s3Of(versitygw())
})

afterAll(async () => {
  s3?.destroy()
  await toxiproxy?.stop()
  removeScratch()
})

describe.each([
  ['pure-ftpd over explicit TLS', startPureFtpd],
  ['vsftpd over plain FTP', startVsftpd],
])('%s', (_name, start) => {
let peer: FtpPeer

beforeAll(async () => {
  // 40 MiB and an odd tail: five 8 MiB parts
  peer = await start({big: randomBytes(40 * 1024 * 1024 + 777)})
})

afterAll(async () => {
  await peer?.stop()
})

async function project(port = peer.port) {
  const dir = scratchDir('ftp-faults-')
  const s = versitygw()
  const bucket = await newBucket(s, 'ff')
  writeFileSync(
    join(dir, 'sftp-cutover.yaml'),
    ['source:', `  protocol: ${peer.tls ? 'ftps' : 'ftp'}`, `  host: ${peer.host}`, `  port: ${port}`, `  username: ${peer.user}`, '  passwordEnv: LEGACY_FTP_PASSWORD', ...(peer.tls ? [`  tlsFingerprint: "${peer.tls.fingerprint}"`] : []), `  roots: ["${peer.ftpPath}"]`,
      'target:', `  region: ${s.config.region}`, `  bucket: ${bucket}`, `  s3Endpoint: ${s.config.endpoint}`, `  prefix: ${PREFIX}`].join('\n') + '\n',
  )
  const env = {AWS_ACCESS_KEY_ID: s.config.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s.config.credentials.secretAccessKey, LEGACY_FTP_PASSWORD: peer.password}
  return {
    dir,
    bucket,
    run: (args: string[]) => runCli(args, {cwd: dir, env, timeoutMs: 170_000}),
    spawn: (args: string[]) => spawn(process.execPath, [CLI, ...args], {cwd: dir, env: {...cleanEnv(), ...env}, stdio: ['ignore', 'pipe', 'pipe']}),
    log: () => readFileSync(join(dir, '.sftp-cutover', 'sftp-cutover.log'), 'utf8'),
  }
}

/** Parts S3 holds of the big file's multipart upload in progress (0 before it exists). */
async function partsStored(bucket: string): Promise<number> {
  const uploads = (await s3.send(new ListMultipartUploadsCommand({Bucket: bucket}))).Uploads ?? []
  const up = uploads.find((u) => u.Key?.endsWith(BIG))
  if (!up) return 0
  return ((await s3.send(new ListPartsCommand({Bucket: bucket, Key: up.Key, UploadId: up.UploadId}))).Parts ?? []).length
}

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

/** S3 holds exactly the tree's bytes (the latin1 name cannot be a key: the one problem reported). */
async function expectComplete(bucket: string, result: SyncResult): Promise<void> {
  expect(result.problems.map((p) => `${p.kind}${p.kind === 'bad-name' ? '' : `: ${p.reason}`}`)).toEqual(['bad-name'])
  expect(await downloadAll(s3, bucket, PREFIX)).toEqual(expectedObjects([{owner: 'partner1', root: peer.root}], PREFIX))
}

it('kill -9 during the multipart upload: the next run resumes it and S3 holds the exact bytes', async () => {
  const p = await project()
  const child = p.spawn(['sync', '--bwlimit', '8M', '--json'])
  await waitFor('a stored part', async () => (await partsStored(p.bucket)) >= 1)
  child.kill('SIGKILL')
  await new Promise((resolve) => child.once('exit', resolve))
  const r = await p.run(['sync', '--json'])
  const result = r.json<SyncResult>()
  expect(result.counts.resumedUploads).toBe(1)
  await expectComplete(p.bucket, result)
})

it('a cut control connection is replaced and the read continues where it stopped', async () => {
  const proxy = await toxiproxy.proxy(`ftp-control-${randomBytes(3).toString('hex')}`, `127.0.0.1:${peer.port}`)
  const p = await project(proxy.port)
  const child = p.spawn(['sync', '--bwlimit', '8M', '--json'])
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  await waitFor('a stored part', async () => (await partsStored(p.bucket)) >= 1)
  const set = (enabled: boolean) => fetch(`${toxiproxy.api}/proxies/${proxy.name}`, {method: 'POST', body: JSON.stringify({enabled})}).then((res) => expect(res.ok).toBe(true))
  await set(false)
  await sleep(1000)
  await set(true)
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  expect(code).toBe(3)
  await expectComplete(p.bucket, JSON.parse(out) as SyncResult)
  expect(p.log()).toMatch(/sync\.source\.reconnect/)
})

it('a cut data connection is replaced and the read continues where it stopped', async () => {
  const p = await project()
  const child = p.spawn(['sync', '--bwlimit', '8M', '--json'])
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  await waitFor('a stored part', async () => (await partsStored(p.bucket)) >= 1)
  const [low, high] = peer.passivePorts
  // the server's ends of the passive data connections: the kernel resets them (the control connection is untouched)
  await new Promise<void>((resolve, reject) => execFile('/usr/bin/ss', ['-K', `( sport >= :${low} and sport <= :${high} )`], (err) => (err ? reject(err) : resolve())))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  expect(code).toBe(3)
  await expectComplete(p.bucket, JSON.parse(out) as SyncResult)
  expect(p.log()).toMatch(/sync\.source\.reconnect/)
})

it('a file that changes while it is read is not recorded; the next run copies the new bytes', async () => {
  const p = await project()
  const child = p.spawn(['sync', '--bwlimit', '8M', '--json'])
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  await waitFor('a stored part', async () => (await partsStored(p.bucket)) >= 1)
  appendFileSync(join(peer.root, BIG), 'appended while it was read\n')
  await new Promise((resolve) => child.once('exit', resolve))
  const first = JSON.parse(out) as SyncResult
  expect(first.problems.find((x) => x.kind === 'changed-during-read')?.path).toBe(BIG)
  const state = new SqliteStateStore(join(p.dir, '.sftp-cutover', 'state.db'))
  try {
    expect(state.db.prepare('SELECT count(*) AS n FROM sync_manifest WHERE key LIKE ?').get(`%${BIG}`)).toEqual({n: 0})
  } finally {
    state.close()
  }
  const second = (await p.run(['sync', '--json'])).json<SyncResult>()
  await expectComplete(p.bucket, second)
})
})
