/**
 * Where a legacy file goes in S3: s3://<bucket>/<prefix>/home/<owner>/<relative path>. The one mapping shared by
 * inventory (key length findings), sync (object keys), verify and users import (logical home directory targets),
 * so that each user's home on Transfer shows exactly their files.
 */

const utf8 = new TextDecoder('utf-8', {fatal: true})

/** The key prefix of an owner's home, without a trailing slash: "<prefix>/home/<owner>" or "home/<owner>". */
export function homeKeyPrefix(prefix: string, owner: string): string {
  return [prefix, 'home', owner].filter(Boolean).join('/')
}

/** What every home's key prefix starts with: "<prefix>/home/" or "home/" (then "<owner>/<relative path>"). */
export function homesKeyBase(prefix: string): string {
  return `${homeKeyPrefix(prefix, '')}/`
}

/** Transfer's logical home directory target for an owner: "/<bucket>/<prefix>/home/<owner>". */
export function homeDirectoryTarget(bucket: string, prefix: string, owner: string): string {
  return `/${bucket}/${homeKeyPrefix(prefix, owner)}`
}

export type KeyResult = {ok: true; key: string} | {ok: false; reason: string}

/**
 * The object key of a file or directory (directories end in "/", as Transfer Family expects). Names that S3 or
 * Transfer cannot hold are reported, never guessed at.
 */
export function objectKeyFor(prefix: string, owner: string, relPath: Buffer, isDir = false): KeyResult {
  let rel: string
  try {
    rel = utf8.decode(relPath)
  } catch {
    return {ok: false, reason: 'the name is not valid UTF-8 (S3 keys and Transfer Family paths are UTF-8)'}
  }
  const segments = rel.split('/')
  if (segments.some((s) => s === '' || s === '.' || s === '..')) return {ok: false, reason: 'the path has an empty, "." or ".." segment'}
  const key = `${homeKeyPrefix(prefix, owner)}/${rel}${isDir ? '/' : ''}`
  if (Buffer.byteLength(key) > 1024) return {ok: false, reason: `the S3 key would be ${Buffer.byteLength(key)} bytes; S3 allows 1024`}
  return {ok: true, key}
}

/** Byte length of the key a path would get, also for names that cannot be keys (for the length finding). */
export function objectKeyBytes(prefix: string, owner: string, relPath: Buffer): number {
  return Buffer.byteLength(homeKeyPrefix(prefix, owner)) + 1 + relPath.length
}

/**
 * The inverse of objectKeyFor: the owner and the path relative to the owner's root of a key under the homes, or
 * undefined for a key outside them (or one no file could have: an empty, "." or ".." segment). Directory markers
 * (keys ending in "/") come back with isDir.
 */
export function ownerPathForKey(prefix: string, key: string): {owner: string; relPath: Buffer; isDir: boolean} | undefined {
  const base = homesKeyBase(prefix)
  if (!key.startsWith(base)) return undefined
  const rest = key.slice(base.length)
  const slash = rest.indexOf('/')
  if (slash <= 0) return undefined
  const owner = rest.slice(0, slash)
  const isDir = rest.endsWith('/')
  const rel = rest.slice(slash + 1, isDir ? -1 : undefined)
  if (rel === '' || rel.split('/').some((s) => s === '' || s === '.' || s === '..')) return undefined
  return {owner, relPath: Buffer.from(rel), isDir}
}
