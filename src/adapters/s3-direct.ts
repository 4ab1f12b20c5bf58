import type {S3Client} from '@aws-sdk/client-s3'
import {SignatureV4} from '@smithy/signature-v4'
import {Agent as HttpAgent, request as httpRequest, type IncomingMessage} from 'node:http'
import {Agent as HttpsAgent, request as httpsRequest} from 'node:https'
import type {Readable} from 'node:stream'

import {retry, RETRY} from '../core/retry.js'
import type {ObjectHead, WriteResult} from './object-target.js'
import {isTransientS3Error} from './s3-errors.js'

/** Tags as the x-amz-tagging header (and the SDK's Tagging) carries them: a URL query string. */
export const taggingHeader = (tags: Record<string, string> = {}) =>
  Object.entries(tags)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&')

/** Where requests for the bucket go, as the SDK resolved it for HeadBucket (endpoint rules, path or virtual host). */
export interface BucketEndpoint {
  protocol: string
  hostname: string
  port?: number
  /** "/bucket" (path style) or "" (virtual host): object paths are <basePath>/<encoded key> */
  basePath: string
}

// Each segment percent-encoded as S3 signs it (RFC 3986 unreserved kept, and "/" between segments).
export const encodeKey = (key: string) =>
  key
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/')

const TRANSIENT_CODES = new Set(['SlowDown', 'RequestTimeout', 'InternalError', 'ServiceUnavailable', 'RequestTimeTooSkewed'])
/** Error answers without a body (every HEAD), by status: the name the SDK gives them and what it means here. */
const BODYLESS_ERRORS: Record<number, [string, string]> = {
  400: ['BadRequest', 'S3 refused the request as malformed'],
  403: ['Forbidden', 'access denied: the credentials may not read this object (s3:GetObject), or a KMS key refuses them'],
  404: ['NotFound', 'no such object'],
  412: ['PreconditionFailed', 'the object is not the version asked for'],
  500: ['InternalError', 'S3 failed internally'],
  503: ['ServiceUnavailable', 'S3 is slowing requests down (throttled)'],
}

/**
 * PutObject, HeadObject and GetObject without the SDK's per-request machinery. Profiling 20,000 small files put the
 * SDK at about half a millisecond of CPU per request (middleware stack resolution, endpoint rules, schema
 * serialisation): about half of sync's CPU, and nearly all of verify's (100,000 HEADs took 75 s, CPU-bound). Here one
 * request is signed with the SDK's own SigV4 signer and credentials, sent on a keep-alive connection to the endpoint
 * the SDK resolved for the bucket, and retried with backoff on throttling, 5xx and network errors. Used only when that
 * endpoint is signed with plain SigV4; anything else goes through the SDK.
 */
export class DirectRequests {
  private readonly signer: SignatureV4
  private readonly agent: HttpAgent
  private readonly send: typeof httpRequest

  constructor(
    s3: S3Client,
    private readonly endpoint: BucketEndpoint,
  ) {
    const config = s3.config as unknown as {credentials: ConstructorParameters<typeof SignatureV4>[0]['credentials']; region: () => Promise<string>; sha256: ConstructorParameters<typeof SignatureV4>[0]['sha256']}
    this.signer = new SignatureV4({credentials: config.credentials, region: config.region, service: 's3', sha256: config.sha256, uriEscapePath: false, applyChecksum: false})
    const https = endpoint.protocol === 'https:'
    this.agent = https ? new HttpsAgent({keepAlive: true, maxSockets: 256}) : new HttpAgent({keepAlive: true, maxSockets: 256})
    this.send = https ? httpsRequest : httpRequest
  }

  async put(key: string, body: Buffer, headers: Record<string, string>): Promise<WriteResult> {
    const res = await this.request('PUT', key, headers, body)
    const echoed = res.headers['x-amz-checksum-crc32']
    if (echoed && echoed !== headers['x-amz-checksum-crc32']) throw Object.assign(new Error(`S3 stored CRC32 ${String(echoed)}, not the one sent`), {name: 'BadDigest'})
    return {etag: res.headers.etag, versionId: res.headers['x-amz-version-id'] as string | undefined}
  }

  /** HeadObject with the stored checksum; undefined when there is no such object. */
  async head(key: string): Promise<ObjectHead | undefined> {
    const res = await this.request('HEAD', key, {'x-amz-checksum-mode': 'ENABLED'}, undefined, [404])
    if (res.status === 404) return undefined
    const h = res.headers
    const metadata: Record<string, string> = {}
    for (const [name, value] of Object.entries(h)) if (name.startsWith('x-amz-meta-') && typeof value === 'string') metadata[name.slice(11)] = value
    const one = (name: string) => (typeof h[name] === 'string' ? (h[name] as string) : undefined)
    const encryption = {algorithm: one('x-amz-server-side-encryption'), kmsKeyId: one('x-amz-server-side-encryption-aws-kms-key-id')}
    return {size: Number(h['content-length'] ?? -1), crc32: one('x-amz-checksum-crc32'), checksumType: one('x-amz-checksum-type'), metadata, etag: one('etag'), versionId: one('x-amz-version-id'), encryption}
  }

  /** GetObject as a stream of the body: bounded memory for any size (verify --deep hashes it as it arrives). */
  async get(key: string): Promise<Readable> {
    return (await this.request('GET', key, {}, undefined, [], true)).stream!
  }

  destroy(): void {
    this.agent.destroy()
  }

  private request(method: Method, key: string, headers: Record<string, string>, body?: Buffer, expected: number[] = [], stream = false): Promise<DirectResponse> {
    return retry(() => this.once(method, key, headers, body, expected, stream), {...RETRY.s3Request, isTransient: isTransientS3Error})
  }

  /** One request; with `stream`, a successful answer's body is handed over unread (errors are always read). */
  private async once(method: Method, key: string, headers: Record<string, string>, body: Buffer | undefined, expected: number[], stream: boolean): Promise<DirectResponse> {
    const {protocol, hostname, port, basePath} = this.endpoint
    const host = port ? `${hostname}:${port}` : hostname
    const signed = await this.signer.sign({
      method,
      protocol,
      hostname,
      port,
      path: `${basePath}/${encodeKey(key)}`,
      query: {},
      headers: {host, ...(body ? {'content-length': String(body.length)} : {}), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...headers},
    })
    const res = await new Promise<DirectResponse>((resolve, reject) => {
      const req = this.send({agent: this.agent, method, hostname, port, path: signed.path, headers: signed.headers, timeout: 120_000}, (r) => {
        const ok = (r.statusCode ?? 0) >= 200 && (r.statusCode ?? 0) < 300
        if (stream && ok) return resolve({status: r.statusCode ?? 0, headers: r.headers, body: Buffer.alloc(0), stream: r})
        const chunks: Buffer[] = []
        r.on('data', (c: Buffer) => chunks.push(c))
        r.on('end', () => resolve({status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks)}))
        r.on('error', reject)
      })
      req.on('timeout', () => req.destroy(Object.assign(new Error('no answer from S3 within 120 s'), {code: 'ETIMEDOUT'})))
      req.on('error', reject)
      req.end(body)
    })
    if ((res.status >= 200 && res.status < 300) || expected.includes(res.status)) return res
    // HEAD answers carry no body: the status is all there is, named as the SDK names it.
    const text = res.body.toString('utf8')
    const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? BODYLESS_ERRORS[res.status]?.[0] ?? `HTTP${res.status}`
    const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? (text.slice(0, 200) || BODYLESS_ERRORS[res.status]?.[1] || `HTTP ${res.status}`)
    throw Object.assign(new Error(message), {name: code, $metadata: {httpStatusCode: res.status}, ...(TRANSIENT_CODES.has(code) ? {$retryable: {}} : {})})
  }
}

type Method = 'PUT' | 'HEAD' | 'GET'

interface DirectResponse {
  status: number
  headers: IncomingMessage['headers']
  body: Buffer
  /** The unread body of a successful streamed GET */
  stream?: IncomingMessage
}
