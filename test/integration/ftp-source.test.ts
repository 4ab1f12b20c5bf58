/**
 * An FTP box as the source, end to end with the built CLI: pure-ftpd over explicit TLS (MLSD, certificate pinned by
 * its SHA-256) and vsftpd over plain FTP (LIST only, anonymous), each serving the tricky tree, into versitygw (an
 * S3 that verifies every checksum). What S3 must hold is computed here from the tree on disk.
 */
import {chmodSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {SqliteStateStore} from '../../src/adapters/state.js'
import type {SyncResult} from '../../src/services/sync.js'
import type {VerifyResult} from '../../src/services/verify.js'
import {type FtpPeer, useFtpPeers} from '../peers/ftp.js'
import {downloadAll, expectedObjects, newBucket, type Project, removeScratch, s3Of, scratchDir, versitygw} from './sync-helpers.js'
import {CLI, cleanEnv, runCli} from './helpers/cli.js'
import {spawn} from 'node:child_process'


const PREFIX = 'migrated'
const OWNER = 'partner1'
const peers = useFtpPeers()
afterAll(removeScratch)

function ftpProject(peer: FtpPeer, bucket: string, opts: {protocol?: string; fingerprint?: string; port?: number} = {}): Project {
  const dir = scratchDir('ftp-')
  const s3 = versitygw()
  const protocol = opts.protocol ?? (peer.tls ? 'ftps' : 'ftp')
  const lines = [
    'source:',
    `  protocol: ${protocol}`,
    `  host: ${peer.host}`,
    `  port: ${opts.port ?? peer.port}`,
    `  username: ${peer.user}`,
    '  passwordEnv: LEGACY_FTP_PASSWORD',
    ...(protocol === 'ftps' ? [`  tlsFingerprint: "${opts.fingerprint ?? peer.tls!.fingerprint}"`] : []),
    'target:',
    `  region: ${s3.config.region}`,
    `  bucket: ${bucket}`,
    `  s3Endpoint: ${s3.config.endpoint}`,
    `  prefix: ${PREFIX}`,
  ]
  writeFileSync(join(dir, 'sftp-cutover.yaml'), lines.join('\n') + '\n')
  writeFileSync(join(dir, 'users.csv'), `name,uid,gid,home\n${OWNER},65534,65534,${peer.ftpPath}\n`)
  chmodSync(dir, 0o755)
  const env = {AWS_ACCESS_KEY_ID: s3.config.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.config.credentials.secretAccessKey, LEGACY_FTP_PASSWORD: peer.password}
  return {
    dir,
    stateDb: join(dir, '.sftp-cutover', 'state.db'),
    logFile: join(dir, '.sftp-cutover', 'sftp-cutover.log'),
    run: (args, o = {}) => runCli(args, {cwd: dir, env, timeoutMs: o.timeoutMs ?? 170_000}),
    spawn: (args) => spawn(process.execPath, [CLI, ...args], {cwd: dir, env: {...cleanEnv(), ...env}, stdio: ['ignore', 'pipe', 'pipe']}),
  }
}

function manifest(stateDb: string): Map<string, {sha256: string; size: number; mtime: number}> {
  const state = new SqliteStateStore(stateDb)
  try {
    const rows = state.db.prepare("SELECT key, sha256, size, mtime FROM sync_manifest WHERE kind = 'file'").all() as Array<{key: string; sha256: string; size: number; mtime: number}>
    return new Map(rows.map((r) => [r.key, r]))
  } finally {
    state.close()
  }
}

describe.each([
  ['pure-ftpd over explicit TLS', () => peers.pure],
  ['vsftpd over plain FTP', () => peers.vs],
])('%s', (_name, peerOf) => {
  let peer: FtpPeer
  let bucket: string
  let project: Project

  beforeAll(async () => {
    peer = peerOf()
    bucket = await newBucket(versitygw(), peer.server === 'vsftpd' ? 'fv' : 'fp')
    project = ftpProject(peer, bucket)
  })

  it('inventory walks the tree through the port, names byte-exact, with the FTP findings', async () => {
    const r = await project.run(['inventory', '--users-csv', 'users.csv', '--fail-on', 'blocker', '--json'])
    const out = r.json<{summary: {files: number}; findings: Array<{rule: string; subject: string}>}>()
    const rules = new Set(out.findings.map((f) => f.rule))
    // the latin1 name is a blocker for Transfer (S3 keys are UTF-8): exit 3, and the FTP finding says where it came from
    expect(r.code).toBe(3)
    expect(rules).toContain('file.name-not-utf8')
    expect(rules).toContain('ftp.names-not-utf8')
    expect(rules.has('ftp.anonymous')).toBe(peer.server === 'vsftpd')
    expect(rules.has('ftp.plain')).toBe(peer.server === 'vsftpd')
    expect(rules.has('ftp.list-times')).toBe(peer.server === 'vsftpd')
    const state = new SqliteStateStore(project.stateDb)
    try {
      const rows = state.db.prepare('SELECT path, type, size, mtime FROM inventory_files WHERE run_id = (SELECT max(id) FROM inventory_runs)').all() as Array<{path: Buffer; type: string; size: number; mtime: number}>
      const files = rows.filter((x) => x.type === 'file').map((x) => [Buffer.from(x.path).toString('latin1'), x.size, x.mtime])
      const want = peer.entries.filter((e) => e.type === 'file').map((e) => [e.path.toString('latin1'), e.size, e.mtime])
      // exact mtimes even from LIST (MDTM per file)
      expect(files.sort()).toEqual(want.sort())
    } finally {
      state.close()
    }
  })

  it('sync copies every file with its SHA-256 and CRC-32 checked by S3; the manifest holds the same; verify --source-hash agrees', async () => {
    const r = await project.run(['sync', '--json'])
    const result = r.json<SyncResult>()
    // the latin1 name cannot be an S3 key: reported, not copied
    expect(result.problems.map((p) => p.kind)).toEqual(['bad-name'])
    expect(r.code).toBe(3)
    const expected = expectedObjects([{owner: OWNER, root: peer.root}], PREFIX)
    const s3 = s3Of(versitygw())
    try {
      expect(await downloadAll(s3, bucket, PREFIX)).toEqual(expected)
    } finally {
      s3.destroy()
    }
    const m = manifest(project.stateDb)
    for (const [key, sha] of expected) if (sha !== 'dir') expect(m.get(key)?.sha256).toBe(sha)
    const v = await project.run(['verify', '--source-hash', '--json'])
    const vr = v.json<VerifyResult>()
    expect(vr.counts.source).toMatchObject({method: 'ftp-read', mismatched: 0})
    expect(vr.counts.source!.checked).toBe([...expected.values()].filter((x) => x !== 'dir').length)
    expect(v.stdout + v.stderr).not.toMatch(/LEGACY|password/i)
    // the password reaches neither the log, the state database nor the configuration
    for (const file of [project.logFile, project.stateDb, join(project.dir, 'sftp-cutover.yaml')]) expect(readFileSync(file).includes(peer.password)).toBe(false)
  })
})

it('a certificate other than the pinned one is refused before logging in (exit 3)', async () => {
  const project = ftpProject(peers.pure, 'unused-bucket', {fingerprint: 'AB:'.repeat(31) + 'AB'})
  const r = await project.run(['inventory', '--users-csv', 'users.csv', '--json'])
  expect(r.code).toBe(3)
  expect(r.json<{error: {code: string; message: string}}>().error).toMatchObject({code: 'CERTIFICATE_REJECTED'})
  expect(r.stdout).toContain(peers.pure.tls!.fingerprint)
})

it('sync --source-hash is refused for FTP before anything is copied (it runs sha256sum over SSH), naming verify --source-hash', async () => {
  const project = ftpProject(peers.vs, 'unused-bucket')
  const r = await project.run(['sync', '--source-hash', '--json'])
  expect(r.code).toBe(2)
  const error = r.json<{error: {code: string; message: string; suggestions: string[]}}>().error
  expect(error.code).toBe('SOURCE_HASH_UNAVAILABLE')
  expect(error.message).toMatch(/read over FTP/)
  expect(error.suggestions.join(' ')).toContain('sftp-cutover verify --source-hash')
})
