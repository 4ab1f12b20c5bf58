/**
 * Where a legacy file goes in S3: s3://<bucket>/<prefix>/home/<owner>/<relative path>. The one mapping shared by
 * inventory (key length findings), sync (object keys), verify and users import (logical home directory targets),
 * so that each user's home on Transfer shows exactly their files.
 */

import {type NameRule, pathProblems} from './transfer-rules.js'

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

export type KeyResult = {ok: true; key: string} | {ok: false; reason: string; rule: NameRule}

/**
 * The object key of a file or directory (directories end in "/", as Transfer Family expects). Names the inventory
 * blocks (transfer-rules.ts) get no key, with the reason; control characters only with `allowControlChars` (the
 * operator's opt-in: S3 can hold them, clients can hardly use them).
 */
export function objectKeyFor(prefix: string, owner: string, relPath: Buffer, isDir = false, opts: {allowControlChars?: boolean} = {}): KeyResult {
  const keyBytes = objectKeyBytes(prefix, owner, relPath) + (isDir ? 1 : 0)
  const problem = pathProblems(relPath, keyBytes).find((p) => !(opts.allowControlChars && p.rule === 'file.name-control-chars'))
  if (problem) return {ok: false, reason: problem.reason, rule: problem.rule}
  return {ok: true, key: `${homeKeyPrefix(prefix, owner)}/${relPath.toString('utf8')}${isDir ? '/' : ''}`}
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
