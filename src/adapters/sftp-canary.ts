import {createHash, randomBytes} from 'node:crypto'
import ssh2 from 'ssh2'
import type {SFTPWrapper} from 'ssh2'

import {fingerprintOf, keyTypeOf} from '../core/host-keys.js'
import {CliError, ExitCode, errorMessage} from '../core/errors.js'
import {login} from './ssh.js'

export interface CanaryTarget {
  host: string
  port: number
  username: string
  privateKey: Buffer
  /** The fingerprints the endpoint must present: the legacy box's host keys, imported into Transfer */
  trustedFingerprints: string[]
}

export interface CanaryResult {
  hostKey: {type: string; fingerprint: string}
  path: string
  bytes: number
  sha256: string
  putMs: number
  getMs: number
}

const call = <T>(fn: (cb: (err: Error | null | undefined, v?: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))))

/**
 * Logs in to the new endpoint as the canary user and puts, gets and deletes a canary file, checking its bytes.
 * The endpoint must present one of the legacy host keys: that is what clients will see after the switch.
 */
export async function canaryRoundTrip(t: CanaryTarget, name = `.sftp-cutover-canary-${randomBytes(6).toString('hex')}.txt`, onWritten?: (path: string, body: Buffer) => Promise<void>): Promise<CanaryResult> {
  const client = new ssh2.Client()
  let presented: {type: string; fingerprint: string} | undefined
  await login(client, {
    host: t.host,
    port: t.port,
    username: t.username,
    privateKey: t.privateKey,
    readyTimeout: 20_000,
    hostVerifier: (key: Buffer) => {
      presented = {type: keyTypeOf(key), fingerprint: fingerprintOf(key)}
      return t.trustedFingerprints.includes(presented.fingerprint)
    },
  }).catch((err: Error) => {
    if (presented && !t.trustedFingerprints.includes(presented.fingerprint)) {
      throw new CliError(`the new endpoint ${t.host}:${t.port} presents ${presented.type} ${presented.fingerprint}, not a host key of the legacy box`, {
        exitCode: ExitCode.problems,
        code: 'ENDPOINT_HOST_KEY',
        suggestions: ['Import the legacy host keys first: sftp-cutover hostkeys import --key-file …; clients would see "host key changed".'],
      })
    }
    throw new CliError(`cannot log in to the new endpoint ${t.host}:${t.port} as ${t.username}: ${errorMessage(err)}`, {code: 'ENDPOINT_LOGIN'})
  })
  try {
    const sftp = await call<SFTPWrapper>((cb) => client.sftp(cb))
    const body = randomBytes(64 * 1024)
    const sha256 = createHash('sha256').update(body).digest('hex')
    let t0 = Date.now()
    await call<void>((cb) => sftp.writeFile(name, body, cb))
    const putMs = Date.now() - t0
    t0 = Date.now()
    const back = await call<Buffer>((cb) => sftp.readFile(name, cb))
    const getMs = Date.now() - t0
    try {
      if (!back.equals(body)) {
        throw new CliError(`the canary file read back from ${t.host} differs from what was written (${back.length} of ${body.length} bytes)`, {exitCode: ExitCode.problems, code: 'CANARY_MISMATCH'})
      }
      await onWritten?.(name, body)
    } finally {
      await call<void>((cb) => sftp.unlink(name, cb)).catch(() => undefined)
    }
    return {hostKey: presented!, path: name, bytes: body.length, sha256, putMs, getMs}
  } finally {
    client.end()
  }
}
