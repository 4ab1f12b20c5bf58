/**
 * What sync, verify and doctor say about the S3 target: the encryption objects get (the bucket default unless
 * target.kmsKeyId is set), a store that does not implement a bucket API, and errors whose body is not S3's XML.
 * As the built CLI against a private OpenSSH sshd, moto (which applies a bucket's default encryption to new objects
 * and reports it on HEAD) and versitygw, with a recording HTTP proxy in front of S3 where a test needs to see or
 * change what S3 answers.
 */
import {HeadObjectCommand, PutBucketEncryptionCommand, PutObjectCommand, PutPublicAccessBlockCommand, type S3Client} from '@aws-sdk/client-s3'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import type {VerifyResult} from '../../src/services/verify.js'
import {type SshdPeer, startSshd} from '../peers/index.js'
import {makeProject, moto, newBucket, removeScratch, type S3Peer, s3Of, startS3Proxy, versitygw} from './sync-helpers.js'

type Check = {id: string; status: string; detail: string; fix?: string}

let sshd: SshdPeer
let peer: S3Peer
let s3: S3Client

beforeAll(async () => {
  sshd = await startSshd()
  peer = moto()
  s3 = s3Of(peer)
})

afterAll(async () => {
  s3?.destroy()
  await sshd?.stop()
  removeScratch()
})

/** A bucket whose default encryption is as given, with public access blocked. */
async function bucketWith(label: string, algorithm: 'aws:kms' | 'AES256'): Promise<string> {
  const bucket = await newBucket(peer, label)
  const rule = algorithm === 'aws:kms' ? {SSEAlgorithm: algorithm, KMSMasterKeyID: 'arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-aaaa-bbbb-cccc-0123456789ab'} : {SSEAlgorithm: algorithm}
  await s3.send(new PutBucketEncryptionCommand({Bucket: bucket, ServerSideEncryptionConfiguration: {Rules: [{ApplyServerSideEncryptionByDefault: rule}]}}))
  const all = {BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true}
  await s3.send(new PutPublicAccessBlockCommand({Bucket: bucket, PublicAccessBlockConfiguration: all}))
  return bucket
}

function tree(name: string): string {
  const root = join(sshd.dir, name)
  mkdirSync(root)
  writeFileSync(join(root, 'a.txt'), 'alpha\n')
  writeFileSync(join(root, 'b.txt'), 'bravo\n')
  return root
}

/** doctor's s3.bucket check, with every other service on moto (target.endpoint) and S3 on `s3` (target.s3Endpoint). */
async function doctorS3(bucket: string, s3: S3Peer = peer, s3Endpoint?: string): Promise<{code: number; check: Check}> {
  const project = makeProject({sshd, s3, bucket, s3Endpoint})
  const yaml = join(project.dir, 'sftp-cutover.yaml')
  writeFileSync(yaml, readFileSync(yaml, 'utf8').replace('target:\n', `target:\n  endpoint: ${peer.config.endpoint}\n`))
  const r = await project.run(['doctor', '--json'])
  const check = JSON.parse(r.stdout).checks.find((c: Check) => c.id === 's3.bucket') as Check
  return {code: r.code, check}
}

describe('encryption', () => {
  it('without target.kmsKeyId sync sends no encryption header, so objects get the bucket default (SSE-KMS), and verify checks it', async () => {
    const bucket = await bucketWith('ssekms', 'aws:kms')
    const proxy = await startS3Proxy(peer.config.endpoint)
    try {
      const project = makeProject({sshd, s3: peer, s3Endpoint: proxy.url, bucket, roots: [tree('sse-default')]})
      expect((await project.run(['sync', '--json'])).code).toBe(0)
      const puts = proxy.requests.filter((q) => q.method === 'PUT' && q.path.endsWith('.txt'))
      expect(puts).toHaveLength(2)
      expect(puts.filter((q) => q.sse !== undefined)).toEqual([])
      const head = await s3.send(new HeadObjectCommand({Bucket: bucket, Key: 'home/sse-default/a.txt'}))
      expect(head.ServerSideEncryption).toBe('aws:kms')

      const v = await project.run(['verify', '--json'])
      expect(v.code).toBe(0)
      expect(v.json<VerifyResult>().encryption).toEqual({expected: 'aws:kms with key arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-aaaa-bbbb-cccc-0123456789ab (the bucket default)'})

      // An object rewritten with SSE-S3 behind sync's back (same bytes, checksum and metadata): only its encryption differs.
      const key = 'home/sse-default/b.txt'
      const before = await s3.send(new HeadObjectCommand({Bucket: bucket, Key: key}))
      await s3.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: 'bravo\n', ChecksumAlgorithm: 'CRC32', Metadata: before.Metadata, ServerSideEncryption: 'AES256'}))
      const after = await project.run(['verify', '--json'])
      expect(after.code).toBe(3)
      expect(after.json<VerifyResult>().mismatches.map((m) => `${m.problem} ${m.key}: ${m.detail}`)).toEqual([
        `encryption ${key}: encrypted with AES256, expected aws:kms with key arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-aaaa-bbbb-cccc-0123456789ab (the bucket default)`,
      ])
    } finally {
      await proxy.close()
    }
  })

  it('with target.kmsKeyId every object is written with that key, and verify expects it', async () => {
    const bucket = await bucketWith('ssekey', 'AES256')
    const kmsKeyId = 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555'
    const proxy = await startS3Proxy(peer.config.endpoint)
    try {
      const project = makeProject({sshd, s3: peer, s3Endpoint: proxy.url, bucket, roots: [tree('sse-key')], kmsKeyId})
      expect((await project.run(['sync', '--json'])).code).toBe(0)
      expect(proxy.requests.filter((q) => q.method === 'PUT' && q.path.endsWith('.txt')).map((q) => q.sse)).toEqual(['aws:kms', 'aws:kms'])
      const v = await project.run(['verify', '--json'])
      expect(v.json<VerifyResult>().mismatches).toEqual([])
      expect(v.json<VerifyResult>().encryption).toEqual({expected: `aws:kms with key ${kmsKeyId} (target.kmsKeyId)`})
    } finally {
      await proxy.close()
    }
  })

  it('doctor warns when the bucket default is not SSE-KMS, even without target.kmsKeyId', async () => {
    const {code, check} = await doctorS3(await bucketWith('sses3', 'AES256'))
    expect(check.status).toBe('warn')
    expect(check.detail).toMatch(/default encryption AES256, not SSE-KMS/)
    expect(check.fix).toMatch(/SSE-KMS .*sync sends no encryption header without target\.kmsKeyId/)
    expect(code).not.toBe(1)
    expect((await doctorS3(await bucketWith('ssekms-ok', 'aws:kms'))).check.status).toBe('pass')
  })
})

describe('doctor against a store without the bucket APIs', () => {
  it('says which request the endpoint does not implement (a WARN, not a failure) and names target.s3Endpoint', async () => {
    // versitygw answers 501 NotImplemented to GetBucketEncryption and GetPublicAccessBlock.
    const store = versitygw()
    const {code, check} = await doctorS3(await newBucket(store, 'noapi'), store)
    expect(check.status).toBe('warn')
    expect(check.detail).toContain('target.s3Endpoint does not implement GetBucketEncryption (NotImplemented): the default encryption cannot be checked')
    expect(check.detail).toContain('target.s3Endpoint does not implement GetPublicAccessBlock (NotImplemented): public access blocking cannot be checked')
    expect(check.fix).not.toMatch(/target\.endpoint\b/)
    expect(code).not.toBe(1)
  })

  it('a failing S3 check names target.s3Endpoint, the key S3 requests use, not target.endpoint', async () => {
    const denied = {status: 403, contentType: 'application/xml', body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>'}
    const proxy = await startS3Proxy(peer.config.endpoint, {answer: (q) => (/[?&]encryption/.test(q.query) ? denied : undefined)})
    try {
      const {check} = await doctorS3(await bucketWith('broken', 'aws:kms'), peer, proxy.url)
      expect(check.status).toBe('fail')
      expect(check.fix).toContain('target.s3Endpoint')
      expect(check.fix).not.toMatch(/target\.endpoint\b/)
    } finally {
      await proxy.close()
    }
  })
})

describe('an S3 error whose body is an HTML page (a proxy or load balancer in front of S3)', () => {
  const page = {
    status: 403,
    contentType: 'text/html',
    body: '<!DOCTYPE html>\n<html>\n<head><title>403 Forbidden</title></head>\n<body>\n<center><h1>403 Forbidden</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n',
  }

  it('reaches the operator as one line: service, status, code and what to do (a file\'s upload, sent directly)', async () => {
    const bucket = await bucketWith('html-put', 'aws:kms')
    const proxy = await startS3Proxy(peer.config.endpoint, {answer: (q) => (q.method === 'PUT' && q.path.endsWith('/b.txt') ? page : undefined)})
    try {
      const project = makeProject({sshd, s3: peer, s3Endpoint: proxy.url, bucket, roots: [tree('html-put')]})
      const r = await project.run(['sync', '--json'])
      expect(r.code).toBe(3)
      const reasons = (r.json<{problems: Array<{path: string; reason: string}>}>()).problems.map((p) => `${p.path}: ${p.reason}`)
      expect(reasons).toEqual(['b.txt: S3 HTTP 403 Forbidden: 403 Forbidden; the answer is a web page, not the service\'s: check the endpoint and any proxy in between'])
    } finally {
      await proxy.close()
    }
  })

  it('reaches the operator as one line when a request through the SDK fails with it (exit 1)', async () => {
    const bucket = await bucketWith('html-sdk', 'aws:kms')
    // ListMultipartUploads (GET ?uploads), which sync sends through the SDK after copying.
    const proxy = await startS3Proxy(peer.config.endpoint, {answer: (q) => (q.method === 'GET' && /[?&]uploads/.test(q.query) ? page : undefined)})
    try {
      const project = makeProject({sshd, s3: peer, s3Endpoint: proxy.url, bucket, roots: [tree('html-sdk')]})
      const r = await project.run(['sync'])
      expect(r.code).toBe(1)
      // After the progress lines: the error, then what to do.
      const lines = r.stderr.trim().split('\n')
      const at = lines.findIndex((l) => l.startsWith('Error: '))
      expect(lines.slice(at + 1).every((l) => l.startsWith('  Fix: '))).toBe(true)
      expect(lines[at]).toMatch(/^Error: S3 HTTP 403( \S+)?: [^;]+; the answer is a web page, not the service's: check the endpoint and any proxy in between$/)
      expect(r.stderr).not.toMatch(/<|nginx/)
      const json = await project.run(['sync', '--json'])
      expect(json.json<{error: {code: string; message: string}}>().error).toMatchObject({code: 'AWS_ERROR', message: expect.stringMatching(/^S3 HTTP 403[^\n<]*$/)})
    } finally {
      await proxy.close()
    }
  })
})
