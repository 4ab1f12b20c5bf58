/**
 * Shared by the sync and verify integration tests: a migration project pointed at a peer sshd and an S3 peer, the
 * built CLI, an HTTP proxy that counts (and can fail) S3 requests, a TCP proxy that cuts SSH connections, and an
 * independent view of what S3 must hold (walking the source tree on this machine, hashing with node:crypto).
 */
import {CreateBucketCommand, GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client} from '@aws-sdk/client-s3'
import {type ChildProcess, spawn} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {request as httpRequest, createServer as createHttpServer} from 'node:http'
import {connect, createServer, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {Readable} from 'node:stream'

import {InventoryStore} from '../../src/adapters/inventory-store.js'
import {SqliteStateStore} from '../../src/adapters/state.js'
import type {Account, FileEntry} from '../../src/core/inventory-model.js'
import {objectKeyFor} from '../../src/core/key-mapping.js'
import {MAX_OBJECT_BYTES} from '../../src/core/transfer-rules.js'
import {loadPeers, motoClientConfig, type PeerClientConfig, versitygwClientConfig} from '../peers/env.js'
import type {PeerUser, SshdInfo} from '../peers/types.js'
import {CLI, type CliRun, cleanEnv, runCli} from './helpers/cli.js'

let scratch: string | undefined
/** Project directories made here live under one directory, which removeScratch() removes. */
export function scratchDir(prefix: string): string {
  scratch ??= mkdtempSync(join(tmpdir(), 'sct-sync-'))
  return mkdtempSync(join(scratch, prefix))
}

/** Removes every project made by this process (call it in afterAll). */
export function removeScratch(): void {
  if (scratch) rmSync(scratch, {recursive: true, force: true})
  scratch = undefined
}


export interface S3Peer {
  name: 'versitygw' | 'moto'
  config: PeerClientConfig
  /** versitygw's posix data directory: <dataDir>/<bucket>/<key> */
  dataDir?: string
}

export const versitygw = (): S3Peer => ({name: 'versitygw', config: versitygwClientConfig(), dataDir: loadPeers().versitygw.dataDir})
export const moto = (): S3Peer => ({name: 'moto', config: motoClientConfig()})

export function s3Of(peer: S3Peer, endpoint = peer.config.endpoint): S3Client {
  return new S3Client({...peer.config, endpoint, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED'})
}

export async function newBucket(peer: S3Peer, label: string): Promise<string> {
  const bucket = `sct-${label}-${randomBytes(4).toString('hex')}`
  const s3 = s3Of(peer)
  try {
    await s3.send(new CreateBucketCommand({Bucket: bucket}))
  } finally {
    s3.destroy()
  }
  return bucket
}

export interface Project {
  dir: string
  stateDb: string
  logFile: string
  run(args: string[], opts?: {timeoutMs?: number}): Promise<CliRun>
  spawn(args: string[]): ChildProcess
}

export interface ProjectOptions {
  sshd: SshdInfo
  /** connect here instead of sshd's port (a proxy); the host key is then pinned by fingerprint */
  port?: number
  s3: S3Peer
  /** S3 endpoint to use instead of the peer's (a proxy) */
  s3Endpoint?: string
  bucket: string
  prefix?: string
  roots?: string[]
  efsPath?: string
  kmsKeyId?: string
  /** log in as this user (default: the admin login) */
  login?: PeerUser
}

/**
 * A project for an inventory of the sshd peer, made with `init --no-prompt` as an operator would (the login given,
 * the peer's known_hosts); no S3 is used. Its directory is removed by removeScratch().
 */
export async function initInventoryProject(sshd: Pick<SshdInfo, 'host' | 'port' | 'knownHostsFile'>, login: {name: string; privateKeyPath?: string}, prefix: string): Promise<string> {
  const dir = scratchDir(prefix)
  const r = await runCli(
    ['init', '--no-prompt', '--source-host', sshd.host, '--source-port', String(sshd.port), '--source-username', login.name, '--source-identity-file', login.privateKeyPath!,
      '--source-known-hosts-file', sshd.knownHostsFile, '--target-region', 'us-east-1', '--target-bucket', 'inventory-test'],
    {cwd: dir},
  )
  if (r.stderr !== '') throw new Error(`init failed: ${r.stderr}`)
  return dir
}

/** A project directory with sftp-cutover.yaml: the source read as root (the admin login), the target an S3 peer. */
export function makeProject(o: ProjectOptions): Project {
  const dir = scratchDir('project-')
  const admin = o.login ?? o.sshd.users.adminUser
  const ed25519 = o.sshd.hostKeys.find((k) => k.type === 'ssh-ed25519')!
  const lines = [
    'source:',
    `  host: ${o.sshd.host}`,
    `  port: ${o.port ?? o.sshd.port}`,
    `  username: ${admin.name}`,
    `  identityFile: ${admin.privateKeyPath}`,
    o.port ? `  hostKeyFingerprint: "${ed25519.fingerprint}"` : `  knownHostsFile: ${o.sshd.knownHostsFile}`,
    ...(o.roots ? ['  roots:', ...o.roots.map((r) => `    - ${JSON.stringify(r)}`)] : []),
    'target:',
    `  region: ${o.s3.config.region}`,
    `  bucket: ${o.bucket}`,
    `  s3Endpoint: ${o.s3Endpoint ?? o.s3.config.endpoint}`,
    ...(o.prefix ? [`  prefix: ${o.prefix}`] : []),
    ...(o.kmsKeyId ? [`  kmsKeyId: ${o.kmsKeyId}`] : []),
    ...(o.efsPath ? ['efs:', `  path: ${o.efsPath}`] : []),
  ]
  writeFileSync(join(dir, 'sftp-cutover.yaml'), lines.join('\n') + '\n')
  const env = {AWS_ACCESS_KEY_ID: o.s3.config.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: o.s3.config.credentials.secretAccessKey}
  return {
    dir,
    stateDb: join(dir, '.sftp-cutover', 'state.db'),
    logFile: join(dir, '.sftp-cutover', 'sftp-cutover.log'),
    run: (args, opts = {}) => runCli(args, {cwd: dir, env, timeoutMs: opts.timeoutMs ?? 170_000}),
    spawn: (args) => spawn(process.execPath, [CLI, ...args], {cwd: dir, env: {...cleanEnv(), ...env}, stdio: ['ignore', 'pipe', 'pipe']}),
  }
}

/** Writes a complete inventory run whose accounts' data roots are the given directories (what inventory would find). */
export function seedInventory(stateDb: string, roots: Array<{name: string; uid: number; gid: number; dataRoot: string}>, files: FileEntry[] = []): void {
  const state = new SqliteStateStore(stateDb)
  try {
    const store = new InventoryStore(state)
    const run = store.beginRun('test')
    const accounts: Account[] = roots.map((r) => ({
      name: r.name,
      uid: r.uid,
      gid: r.gid,
      groups: [],
      home: r.dataRoot,
      shell: '/bin/bash',
      sftpRoot: '/',
      dataRoot: r.dataRoot,
      login: {password: false, key: true},
      keys: [],
      authorizedKeysFiles: [],
      sources: {},
    }))
    store.addAccounts(run, accounts)
    store.addFiles(run, files)
    store.finishRun(run, 'complete', 'csv')
  } finally {
    state.close()
  }
}

/** A canned answer of the proxy instead of the peer's: status, content type and body as given. */
export interface ProxyAnswer {
  status: number
  contentType: string
  body: string
}

/**
 * An HTTP proxy in front of an S3 peer that records every request and can answer some with a failure instead:
 * `fail` gives a status (an S3 XML error body is written), `answer` a whole response (e.g. an HTML error page).
 */
export async function startS3Proxy(
  upstream: string,
  opts: {
    fail?: (method: string, path: string, n: number) => number | undefined
    answer?: (req: {method: string; path: string; query: string; headers: Record<string, string | string[] | undefined>}) => ProxyAnswer | undefined
  } = {},
) {
  const target = new URL(upstream)
  const requests: Array<{method: string; path: string; query: string; copySource?: string; sse?: string}> = []
  let n = 0
  let failed = 0
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const copySource = req.headers['x-amz-copy-source'] as string | undefined
    const sse = req.headers['x-amz-server-side-encryption'] as string | undefined
    requests.push({method: req.method ?? '', path: decodeURIComponent(url.pathname), query: url.search, ...(copySource ? {copySource: decodeURIComponent(copySource)} : {}), ...(sse ? {sse} : {})})
    const canned = opts.answer?.({method: req.method ?? '', path: url.pathname, query: url.search, headers: req.headers})
    if (canned) {
      failed++
      req.resume()
      req.on('end', () => {
        res.writeHead(canned.status, {'content-type': canned.contentType})
        res.end(req.method === 'HEAD' ? undefined : canned.body)
      })
      return
    }
    const failWith = opts.fail?.(req.method ?? '', url.pathname, ++n)
    if (failWith) {
      failed++
      req.resume()
      req.on('end', () => {
        res.writeHead(failWith, {'content-type': 'application/xml'})
        res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${failWith === 503 ? 'SlowDown' : 'InternalError'}</Code><Message>injected by the test</Message></Error>`)
      })
      return
    }
    const up = httpRequest({host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers}, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers)
      r.pipe(res)
    })
    up.on('error', () => res.destroy())
    req.pipe(up)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as {port: number}).port
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failed: () => failed,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** A TCP proxy in front of sshd whose connections the test can cut. */
export async function startTcpProxy(upstreamPort: number) {
  const sockets = new Set<Socket>()
  let accepted = 0
  const server = createServer((client) => {
    accepted++
    const up = connect(upstreamPort, '127.0.0.1')
    for (const s of [client, up]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => s.destroy())
    }
    client.pipe(up).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as {port: number}).port,
    accepted: () => accepted,
    cutAll: () => sockets.forEach((s) => s.destroy()),
    close: () => {
      sockets.forEach((s) => s.destroy())
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

export const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex')

/**
 * What S3 must hold for these roots, found independently of sync: every regular file (S3 key from the shared
 * mapping, sha256 of its bytes read here) and a "dir/" marker for every empty directory. Symbolic links, special
 * files, names that cannot be keys and files over 5 TiB have no object.
 */
export function expectedObjects(roots: Array<{owner: string; root: string}>, prefix = ''): Map<string, string> {
  const out = new Map<string, string>()
  for (const {owner, root} of roots) {
    const walk = (rel: Buffer) => {
      const abs = rel.length ? Buffer.concat([Buffer.from(root), Buffer.from('/'), rel]) : Buffer.from(root)
      const names = readdirSync(abs, {encoding: 'buffer'})
      if (names.length === 0 && rel.length > 0) {
        const key = objectKeyFor(prefix, owner, rel, true)
        if (key.ok) out.set(key.key, 'dir')
      }
      for (const name of names) {
        const childRel = rel.length ? Buffer.concat([rel, Buffer.from('/'), name]) : name
        const childAbs = Buffer.concat([abs, Buffer.from('/'), name])
        const st = lstatSync(childAbs)
        // sync leaves each home's .ssh directory out unless --include-ssh-dirs
        if (st.isDirectory()) {
          if (rel.length > 0 || name.toString('latin1') !== '.ssh') walk(childRel)
        }
        else if (st.isFile() && st.size <= MAX_OBJECT_BYTES) {
          const key = objectKeyFor(prefix, owner, childRel)
          if (key.ok) out.set(key.key, sha256(readFileSync(childAbs)))
        }
      }
    }
    walk(Buffer.alloc(0))
  }
  return out
}

export async function listKeys(s3: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = []
  let token: string | undefined
  do {
    const out = await s3.send(new ListObjectsV2Command({Bucket: bucket, Prefix: prefix, ContinuationToken: token}))
    for (const o of out.Contents ?? []) keys.push(o.Key!)
    token = out.IsTruncated ? out.NextContinuationToken : undefined
  } while (token)
  return keys.sort()
}

export async function objectSha256(s3: S3Client, bucket: string, key: string): Promise<string> {
  const out = await s3.send(new GetObjectCommand({Bucket: bucket, Key: key}))
  const hash = createHash('sha256')
  for await (const chunk of out.Body as Readable) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** Downloads every object and returns key -> sha256 ('dir' for "dir/" markers, which must be empty). */
export async function downloadAll(s3: S3Client, bucket: string, prefix = ''): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const keys = await listKeys(s3, bucket, prefix)
  for (let i = 0; i < keys.length; i += 16) {
    await Promise.all(
      keys.slice(i, i + 16).map(async (key) => {
        const sum = await objectSha256(s3, bucket, key)
        out.set(key, key.endsWith('/') && sum === sha256('') ? 'dir' : sum)
      }),
    )
  }
  return out
}

export async function multipartUploads(s3: S3Client, bucket: string): Promise<string[]> {
  const out = await s3.send(new ListMultipartUploadsCommand({Bucket: bucket}))
  return (out.Uploads ?? []).map((u) => `${u.Key} ${u.UploadId}`)
}

