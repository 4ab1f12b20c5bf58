/**
 * The local stand-ins themselves (test/peers/): OpenSSH sshd with its throwaway users, moto and versitygw.
 * Every other integration test relies on what is checked here.
 */
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import {execFileSync} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {Readable} from 'node:stream'
import ssh2 from 'ssh2'
import type {Client as SshClient, ConnectConfig, SFTPWrapper} from 'ssh2'

import {loadPeers, motoClientConfig, versitygwClientConfig} from '../peers/env.js'
import {fingerprintOfBlob, keyTypeOfBlob} from '../peers/ssh-keys.js'

const peers = loadPeers()
const {sshd} = peers
const {keyUser, passwordUser, chrootUser} = sshd.users
const open: SshClient[] = []

afterEach(() => {
  for (const client of open.splice(0)) client.end()
})

interface Presented {
  fingerprint: string
  type: string
}

/** Connects with a hostVerifier that accepts only the peer's own host keys; reports the key presented. */
async function connect(config: ConnectConfig): Promise<{client: SshClient; presented: Presented}> {
  const allowed = new Set(sshd.hostKeys.map((k) => k.fingerprint))
  let presented: Presented | undefined
  const client = new ssh2.Client()
  open.push(client)
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve)
    client.once('error', reject)
    client.connect({
      host: sshd.host,
      port: sshd.port,
      readyTimeout: 15_000,
      ...config,
      hostVerifier: (key: Buffer) => {
        presented = {fingerprint: fingerprintOfBlob(key), type: keyTypeOfBlob(key)}
        return allowed.has(presented.fingerprint)
      },
    })
  })
  if (!presented) throw new Error('hostVerifier was not called')
  return {client, presented}
}

function keyAuth(user: typeof keyUser): ConnectConfig {
  return {username: user.name, privateKey: readFileSync(user.privateKeyPath!)}
}

async function sftpOf(client: SshClient): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => client.sftp((error, sftp) => (error ? reject(error) : resolve(sftp))))
}

async function readAll(sftp: SFTPWrapper, path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => sftp.readFile(path, (error, data) => (error ? reject(error) : resolve(data))))
}

async function exec(client: SshClient, command: string): Promise<{stdout: string; stderr: string; code: number | null}> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, stream) => {
      if (error) return reject(error)
      let stdout = ''
      let stderr = ''
      const timer = setTimeout(() => reject(new Error(`exec ${command}: no exit within 10 s`)), 10_000)
      stream.on('data', (d: Buffer) => (stdout += d.toString('utf8')))
      stream.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')))
      stream.on('close', (code: number | null) => {
        clearTimeout(timer)
        resolve({stdout, stderr, code})
      })
      stream.end() // no stdin
    })
  })
}

describe('peer sshd', () => {
  it('lets keyUser in with its ed25519 key and serves a file over SFTP', async () => {
    const {client, presented} = await connect(keyAuth(keyUser))
    expect(sshd.hostKeys.map((k) => k.fingerprint)).toContain(presented.fingerprint)
    const sftp = await sftpOf(client)
    const sample = keyUser.sampleTree?.entries.find((e) => e.path === 'data/big.bin')
    if (sample) {
      const data = await readAll(sftp, `${keyUser.sampleTree!.sftpPath}/${sample.path}`)
      expect(data.length).toBe(sample.size)
      expect(createHash('sha256').update(data).digest('hex')).toBe(sample.sha256)
    }
    // Write then read back a file of our own (the peers may run without sample trees).
    const path = `${keyUser.home}/peers-test-${randomBytes(4).toString('hex')}.bin`
    const bytes = randomBytes(100_000)
    await new Promise<void>((resolve, reject) => sftp.writeFile(path, bytes, (e) => (e ? reject(e) : resolve())))
    expect((await readAll(sftp, path)).equals(bytes)).toBe(true)
    await new Promise<void>((resolve, reject) => sftp.unlink(path, (e) => (e ? reject(e) : resolve())))
  }, 30_000)

  it('runs commands for keyUser (a real shell)', async () => {
    const {client} = await connect(keyAuth(keyUser))
    const r = await exec(client, 'id -un')
    expect({out: r.stdout.trim(), code: r.code}).toEqual({out: keyUser.name, code: 0})
  }, 30_000)

  it('takes the password of passwordUser and refuses a wrong one', async () => {
    const {client} = await connect({username: passwordUser.name, password: passwordUser.password!})
    expect((await exec(client, 'id -un')).stdout.trim()).toBe(passwordUser.name)
    await expect(connect({username: passwordUser.name, password: `${passwordUser.password}x`})).rejects.toMatchObject({
      level: 'client-authentication',
    })
    // and keyUser has no password at all
    await expect(connect({username: keyUser.name, password: 'anything'})).rejects.toMatchObject({level: 'client-authentication'})
  }, 30_000)

  it('chroots chrootUser: /upload at the root, writable there only, and no shell', async () => {
    const {client} = await connect(keyAuth(chrootUser))
    const sftp = await sftpOf(client)
    const names = await new Promise<string[]>((resolve, reject) =>
      sftp.readdir('/', (e, list) => (e ? reject(e) : resolve(list.map((x) => x.filename)))),
    )
    expect(names).toEqual(['upload'])
    const ok = `/upload/peers-test-${randomBytes(4).toString('hex')}.txt`
    await new Promise<void>((resolve, reject) => sftp.writeFile(ok, 'hello', (e) => (e ? reject(e) : resolve())))
    await new Promise<void>((resolve, reject) => sftp.unlink(ok, (e) => (e ? reject(e) : resolve())))
    await expect(new Promise<void>((resolve, reject) => sftp.writeFile('/not-here.txt', 'x', (e) => (e ? reject(e) : resolve())))).rejects.toThrow(
      /permission denied/i,
    )

    // ForceCommand internal-sftp: OpenSSH answers any command (exec or shell) with a refusal, not a shell.
    const {client: again} = await connect(keyAuth(chrootUser))
    const r = await exec(again, 'echo shell-ran; id -un')
    expect(r.stdout).not.toContain('shell-ran')
    expect(r.stdout).not.toContain(chrootUser.name)
    expect({out: `${r.stdout}${r.stderr}`.trim(), code: r.code}).toEqual({out: 'This service allows sftp connections only.', code: 1})
  }, 30_000)

  it('offers each of its host keys, with the fingerprints it reports', async () => {
    expect(sshd.hostKeys.map((k) => k.type).sort()).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519', 'ssh-rsa'])
    for (const key of sshd.hostKeys) {
      // the fingerprint format is ssh-keygen's
      expect(execFileSync('/usr/bin/ssh-keygen', ['-lf', key.privateKeyPath], {encoding: 'utf8'})).toContain(` ${key.fingerprint} `)
      for (const algorithm of key.algorithms) {
        const {presented} = await connect({...keyAuth(keyUser), algorithms: {serverHostKey: [algorithm as 'ssh-ed25519']}})
        expect({algorithm, ...presented}).toEqual({algorithm, fingerprint: key.fingerprint, type: key.type})
      }
    }
  }, 60_000)

  it('works with the OpenSSH client and its known_hosts file, for each host key type', () => {
    for (const key of sshd.hostKeys) {
      const out = execFileSync(
        '/usr/bin/ssh',
        [
          '-p', String(sshd.port), '-i', keyUser.privateKeyPath!, '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes',
          '-o', `UserKnownHostsFile=${sshd.knownHostsFile}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes',
          '-o', `HostKeyAlgorithms=${key.algorithms.join(',')}`, `${keyUser.name}@${sshd.host}`, 'id -un',
        ],
        {encoding: 'utf8', timeout: 15_000},
      )
      expect(out.trim()).toBe(keyUser.name)
    }
  }, 60_000)

  it('describes users that AWS Transfer would accept, with their sample trees', () => {
    for (const user of [keyUser, passwordUser, chrootUser]) {
      expect(user.name).toMatch(/^[a-z][a-z0-9]{2,30}$/)
      expect(execFileSync('/usr/bin/getent', ['passwd', user.name], {encoding: 'utf8'})).toContain(`:${user.uid}:${user.gid}:`)
    }
    expect(chrootUser.sftpRoot).toBe(`${sshd.chrootBase}/${chrootUser.name}`)
    expect(execFileSync('/usr/bin/id', ['-Gn', chrootUser.name], {encoding: 'utf8'}).split(/\s+/)).toContain(sshd.group)
    if (keyUser.sampleTree) {
      const paths = keyUser.sampleTree.entries.map((e) => e.path)
      expect(paths).toEqual(expect.arrayContaining(['empty-dir', 'with space/file with space.txt', 'unicodé/naïve-文件.txt', 'data/big.bin']))
    }
  })
})

describe('peer moto', () => {
  const s3 = new S3Client(motoClientConfig(peers))

  it('answers S3 CreateBucket and ListBuckets', async () => {
    const bucket = `peers-test-${randomBytes(4).toString('hex')}`
    await s3.send(new CreateBucketCommand({Bucket: bucket}))
    const {Buckets} = await s3.send(new ListBucketsCommand({}))
    expect(Buckets?.map((b) => b.Name)).toContain(bucket)
  })

  it('stores a wrong checksum without verifying it (why data-plane tests use versitygw)', async () => {
    const bucket = `peers-test-${randomBytes(4).toString('hex')}`
    await s3.send(new CreateBucketCommand({Bucket: bucket}))
    const wrong = createHash('sha256').update('other bytes').digest('base64')
    await expect(
      s3.send(new PutObjectCommand({Bucket: bucket, Key: 'k', Body: Buffer.from('payload'), ChecksumSHA256: wrong})),
    ).resolves.toBeDefined()
  })
})

describe('peer versitygw', () => {
  const s3 = new S3Client(versitygwClientConfig(peers))
  // With WHEN_REQUIRED the SDK adds no checksum of its own, so only the one a test declares is sent.
  const bare = new S3Client({...versitygwClientConfig(peers), requestChecksumCalculation: 'WHEN_REQUIRED'})
  const bucket = `peers-test-${randomBytes(4).toString('hex')}`
  const body = randomBytes(256 * 1024)

  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({Bucket: bucket}))
  })

  it('stores and returns bytes (path-style)', async () => {
    const put = await s3.send(new PutObjectCommand({Bucket: bucket, Key: 'dir/object.bin', Body: body}))
    expect(put.ChecksumCRC32).toBeTruthy() // the SDK's default checksum, accepted and echoed
    const got = await s3.send(new GetObjectCommand({Bucket: bucket, Key: 'dir/object.bin'}))
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true)
  })

  it('rejects a PutObject whose declared checksum header is wrong (BadDigest, 400)', async () => {
    const other = randomBytes(32)
    const cases: Array<Record<string, string>> = [
      {ChecksumSHA256: createHash('sha256').update(other).digest('base64')},
      {ChecksumCRC32: Buffer.from([1, 2, 3, 4]).toString('base64')},
      {ChecksumCRC32C: Buffer.from([1, 2, 3, 4]).toString('base64')},
      {ChecksumSHA1: createHash('sha1').update(other).digest('base64')},
      {ChecksumCRC64NVME: Buffer.alloc(8, 7).toString('base64')},
      {ContentMD5: createHash('md5').update(other).digest('base64')},
    ]
    for (const declared of cases) {
      await expect(bare.send(new PutObjectCommand({Bucket: bucket, Key: 'bad', Body: body, ...declared}))).rejects.toMatchObject({
        name: 'BadDigest',
        $metadata: {httpStatusCode: 400},
      })
    }
    // the right value passes
    const right = createHash('sha256').update(body).digest('base64')
    const ok = await bare.send(new PutObjectCommand({Bucket: bucket, Key: 'good', Body: body, ChecksumSHA256: right}))
    expect(ok.ChecksumSHA256).toBe(right)
  })

  it('rejects a wrong UploadPart checksum and a wrong FULL_OBJECT checksum on CompleteMultipartUpload', async () => {
    const part = await s3.send(new CreateMultipartUploadCommand({Bucket: bucket, Key: 'mp-part', ChecksumAlgorithm: 'CRC32'}))
    await expect(
      bare.send(new UploadPartCommand({Bucket: bucket, Key: 'mp-part', UploadId: part.UploadId, PartNumber: 1, Body: body, ChecksumCRC32: 'AQIDBA=='})),
    ).rejects.toMatchObject({name: 'BadDigest', $metadata: {httpStatusCode: 400}})

    const Key = 'mp-full'
    const mp = await s3.send(new CreateMultipartUploadCommand({Bucket: bucket, Key, ChecksumAlgorithm: 'CRC64NVME', ChecksumType: 'FULL_OBJECT'}))
    expect(mp.ChecksumType).toBe('FULL_OBJECT')
    const p1 = await s3.send(new UploadPartCommand({Bucket: bucket, Key, UploadId: mp.UploadId, PartNumber: 1, Body: body, ChecksumAlgorithm: 'CRC64NVME'}))
    const complete = (ChecksumCRC64NVME: string): CompleteMultipartUploadCommand =>
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key,
        UploadId: mp.UploadId,
        ChecksumType: 'FULL_OBJECT',
        ChecksumCRC64NVME,
        MultipartUpload: {Parts: [{PartNumber: 1, ETag: p1.ETag, ChecksumCRC64NVME: p1.ChecksumCRC64NVME}]},
      })
    await expect(s3.send(complete(Buffer.alloc(8, 7).toString('base64')))).rejects.toMatchObject({name: 'BadDigest', $metadata: {httpStatusCode: 400}})
    // one part: the full-object CRC is the part's CRC; the upload is still open after the refusal
    const done = await s3.send(complete(p1.ChecksumCRC64NVME!))
    expect(done.ChecksumCRC64NVME).toBe(p1.ChecksumCRC64NVME)
  })

  it('rejects a streamed upload whose trailing checksum is wrong (aws-chunked trailer)', async () => {
    const command = new PutObjectCommand({Bucket: bucket, Key: 'trailer', Body: Readable.from([body]), ContentLength: body.length, ChecksumAlgorithm: 'CRC32'})
    // After the SDK framed the body as aws-chunked with `x-amz-checksum-crc32:<value>` at the end, spoil the value.
    command.middlewareStack.add(
      (next) => async (args) => {
        const request = (args as {request: {body: Readable; headers: Record<string, string>}}).request
        expect(request.headers['x-amz-trailer']).toBe('x-amz-checksum-crc32')
        const chunks: Buffer[] = []
        for await (const chunk of request.body) chunks.push(Buffer.from(chunk as Uint8Array))
        const framed = Buffer.concat(chunks).toString('latin1')
        const spoiled = framed.replace(/(x-amz-checksum-crc32:)([A-Za-z0-9+/]{6})==/, (_m, name: string, value: string) => `${name}${value === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA'}==`)
        expect(spoiled).not.toBe(framed)
        request.body = Readable.from([Buffer.from(spoiled, 'latin1')])
        return next(args)
      },
      {step: 'finalizeRequest', name: 'spoilTrailer', priority: 'low'},
    )
    const warn = console.warn // the SDK warns about a failed non-retryable streaming request
    console.warn = () => undefined
    try {
      await expect(s3.send(command)).rejects.toMatchObject({name: 'BadDigest', $metadata: {httpStatusCode: 400}})
    } finally {
      console.warn = warn
    }
  })
})
