/**
 * Carry-back decisions (rollback): what to do with an object that arrived in S3 through Transfer after the switch.
 * Pure logic; the service gathers the facts (box stat, manifest, earlier carry-backs) and applies the decision.
 */

export type CarryBackAction = 'new' | 'overwrite' | 'conflict' | 'dir'

/** How far S3's clock may be behind ours: objects this much older than the switch are still looked at. */
export const CLOCK_SKEW_MS = 5 * 60_000

/** The smoke test's canary (put and deleted through the new endpoint): never a client's file. */
export const CANARY_PREFIX = '.sftp-cutover-canary-'

/** What the box holds at the destination path now. */
export interface BoxStat {
  kind: 'file' | 'dir' | 'other'
  size: number
  /** seconds */
  mtime: number
}

/** What the box held at that path when we last knew it (the sync manifest, or our own last carry-back). */
export interface Baseline {
  size: number
  /** seconds */
  mtime: number
}

/**
 * A path changed on both sides since the switch is never overwritten: absent on the box -> write it; present and
 * still what sync (or an earlier carry-back) recorded -> only S3 changed, overwrite; anything else (changed, or
 * created on the box since, or not a file) -> write beside it.
 */
export function decideCarryBack(box: BoxStat | undefined, baseline: Baseline | undefined): CarryBackAction {
  if (!box) return 'new'
  if (box.kind === 'file' && baseline && baseline.size === box.size && baseline.mtime === box.mtime) return 'overwrite'
  return 'conflict'
}

/** "20261129T193056Z" for an instant: sortable, no characters a file name cannot hold. */
export function compactUtc(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '')
}

/** Where the S3 version of a conflicting file goes: `<name>.from-transfer-<S3 time>` beside it. */
export function besidePath(path: string, lastModified: Date): string {
  return `${path}.from-transfer-${compactUtc(lastModified)}`
}

/** The temporary name a file is written to before the rename: fixed, so an interrupted write is simply redone. */
export function tempPath(path: string): string {
  const slash = path.lastIndexOf('/')
  return `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.sftp-cutover-carry-back`
}

/** With nothing recorded for the directory: what a umask of 022 gives a new file. */
export const DEFAULT_FILE_MODE = 0o644

/**
 * The mode a carried-back file gets: the file's own recorded mode when it replaces one, else the mode sync recorded
 * most often for files in the same directory, else DEFAULT_FILE_MODE.
 */
export function chooseMode(own: number | undefined, siblings: number[]): number {
  if (own !== undefined) return own & 0o7777
  const counts = new Map<number, number>()
  for (const m of siblings) counts.set(m & 0o7777, (counts.get(m & 0o7777) ?? 0) + 1)
  let best: number | undefined
  for (const [m, n] of counts) if (best === undefined || n > counts.get(best)!) best = m
  return best ?? DEFAULT_FILE_MODE
}

/** True for the smoke test's canary, by its file name. */
export function isCanary(relPath: string): boolean {
  return relPath.slice(relPath.lastIndexOf('/') + 1).startsWith(CANARY_PREFIX)
}
