import {createHash} from 'node:crypto'
import {readFile} from 'node:fs/promises'

import {binaries} from './paths.js'
import {run} from './proc.js'

/** OpenSSH key types the peers generate. */
export type SshKeyType = 'ssh-ed25519' | 'ecdsa-sha2-nistp256' | 'ssh-rsa'

/** `SHA256:<base64 without padding>` of a public key blob, as `ssh-keygen -lf` prints it. */
export function fingerprintOfBlob(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`
}

/** Fingerprint of an OpenSSH one-line public key (`<type> <base64> [comment]`). */
export function fingerprintOfPublicKeyLine(line: string): string {
  const [, b64] = line.trim().split(/\s+/)
  if (!b64) throw new Error(`not an OpenSSH public key line: ${line}`)
  return fingerprintOfBlob(Buffer.from(b64, 'base64'))
}

/** The key type named inside the blob (first SSH string), e.g. `ssh-ed25519`. */
export function keyTypeOfBlob(blob: Buffer): string {
  const length = blob.readUInt32BE(0)
  return blob.subarray(4, 4 + length).toString('ascii')
}

export interface GeneratedKey {
  type: SshKeyType
  privateKeyPath: string
  publicKeyPath: string
  /** `<type> <base64> <comment>` */
  publicKeyLine: string
  fingerprint: string
}

const keygenArgs: Record<SshKeyType, string[]> = {
  'ssh-ed25519': ['-t', 'ed25519'],
  'ecdsa-sha2-nistp256': ['-t', 'ecdsa', '-b', '256'],
  'ssh-rsa': ['-t', 'rsa', '-b', '3072'],
}

/** Generates an unencrypted OpenSSH-format key pair with ssh-keygen (mode 0600 private key). */
export async function generateKey(type: SshKeyType, privateKeyPath: string, comment: string): Promise<GeneratedKey> {
  await run(binaries.sshKeygen, [...keygenArgs[type], '-N', '', '-C', comment, '-q', '-f', privateKeyPath])
  const publicKeyPath = `${privateKeyPath}.pub`
  const publicKeyLine = (await readFile(publicKeyPath, 'utf8')).trim()
  const actualType = publicKeyLine.split(/\s+/)[0]
  if (actualType !== type) throw new Error(`ssh-keygen made a ${actualType} key, expected ${type}`)
  return {type, privateKeyPath, publicKeyPath, publicKeyLine, fingerprint: fingerprintOfPublicKeyLine(publicKeyLine)}
}
