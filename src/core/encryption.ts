/** Server-side encryption: what an object should carry, and whether it does. Pure logic, no I/O. */

export interface Encryption {
  /** x-amz-server-side-encryption: AES256, aws:kms, aws:kms:dsse; undefined when S3 reports none */
  algorithm?: string
  kmsKeyId?: string
}

export interface ExpectedEncryption extends Encryption {
  algorithm: string
  /** Where the expectation comes from, for messages: "target.kmsKeyId" or "the bucket default" */
  from: string
}

/** A key id, key ARN or alias as given; a key ARN's id is its last segment. Aliases cannot be compared with key ids. */
const keyIdOf = (k: string) => k.replace(/^arn:[^:]+:kms:[^:]*:[^:]*:key\//, '')
const isAlias = (k: string) => /(^|:)alias\//.test(k)

/** Why an object's encryption is not the expected one, or undefined when it is (or cannot be told apart). */
export function encryptionProblem(actual: Encryption, want: ExpectedEncryption): string | undefined {
  const wanted = `${want.algorithm}${want.kmsKeyId ? ` with key ${want.kmsKeyId}` : ''} (${want.from})`
  if (actual.algorithm !== want.algorithm) return `encrypted with ${actual.algorithm ?? 'no server-side encryption'}, expected ${wanted}`
  if (want.kmsKeyId && actual.kmsKeyId && !isAlias(want.kmsKeyId) && keyIdOf(want.kmsKeyId) !== keyIdOf(actual.kmsKeyId)) {
    return `encrypted with key ${actual.kmsKeyId}, expected ${wanted}`
  }
  return undefined
}
