/**
 * The session ("scope-down") policy for Transfer users in PATH home mode: the role may reach the whole bucket, the
 * session only the user's home. Transfer fills the variables per session from the user's HomeDirectory
 * (`/<bucket>/<prefix>/home/<owner>`): ${transfer:HomeBucket} is the bucket, ${transfer:HomeFolder} the rest
 * without the leading slash. Deriving both from HomeDirectory (not ${transfer:UserName}) keeps a renamed user
 * pointed at the legacy owner's prefix, and makes the policy the same text for every user.
 *
 * A session policy intersects with the role: whatever it does not allow is denied, so with SSE-KMS it must allow
 * the KMS calls too.
 */

/** Transfer's limit on the Policy field. */
export const MAX_POLICY_CHARS = 2048

const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/

export interface ScopeDownOptions {
  /** target.kmsKeyId: a key ARN restricts the KMS statement to it; an alias or bare id cannot, so it allows any key the role allows. */
  kmsKeyId?: string
}

export function scopeDownPolicy(opts: ScopeDownOptions = {}): string {
  const statements: Array<Record<string, unknown>> = [
    {
      Sid: 'ListHome',
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: 'arn:aws:s3:::${transfer:HomeBucket}',
      Condition: {StringLike: {'s3:prefix': ['${transfer:HomeFolder}', '${transfer:HomeFolder}/*']}},
    },
    {
      Sid: 'HomeObjects',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
      Resource: 'arn:aws:s3:::${transfer:HomeBucket}/${transfer:HomeFolder}/*',
    },
  ]
  if (opts.kmsKeyId) {
    statements.push({
      Sid: 'HomeKms',
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: KMS_KEY_ARN.test(opts.kmsKeyId) ? opts.kmsKeyId : '*',
    })
  }
  const policy = JSON.stringify({Version: '2012-10-17', Statement: statements})
  if (policy.length > MAX_POLICY_CHARS) throw new Error(`the session policy is ${policy.length} characters; Transfer allows ${MAX_POLICY_CHARS}`)
  return policy
}

/** Policies compare by content: key order and whitespace do not matter. */
export function canonicalPolicy(policy: string | undefined): string | undefined {
  if (policy === undefined || policy === '') return undefined
  try {
    return JSON.stringify(sortKeys(JSON.parse(policy)))
  } catch {
    return policy
  }
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as Record<string, unknown>)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    )
  }
  return value
}
