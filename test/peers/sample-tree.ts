import {createHash, randomBytes} from 'node:crypto'
import {chmod, chown, lutimes, mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

/** One entry of a sample tree; `path` is relative to the tree root, '/'-separated, no leading slash. */
export interface SampleEntry {
  path: string
  type: 'file' | 'dir'
  /** bytes (0 for directories, whatever their st_size) */
  size: number
  /** hex SHA-256 of the content (files only) */
  sha256?: string
  /** permission bits, e.g. 0o644 */
  mode: number
  /** modification time set on the entry (whole seconds) */
  mtimeMs: number
}

/** A sample tree written into a user's area, as the "legacy box" content for sync tests and rehearsals. */
export interface SampleTree {
  /** real path of the tree root on this machine */
  root: string
  /** the same directory as the user sees it over SFTP */
  sftpPath: string
  entries: SampleEntry[]
}

/** Size of the largest sample file: 5 MiB plus an odd tail so chunked readers hit a partial last chunk. */
export const BIG_FILE_SIZE = 5 * 1024 * 1024 + 12_345

/** Random content for the big file, shared by all users of one run (generate once per run). */
export function bigSampleContent(): Buffer {
  return randomBytes(BIG_FILE_SIZE)
}

const BASE_MTIME_MS = Date.UTC(2024, 2, 15, 10, 20, 30)

function csv(rows: number, label: string): string {
  const lines = ['id,user,amount,note']
  for (let i = 0; i < rows; i++) lines.push(`${i},${label},${(i * 37) % 1000}.${i % 100},row ${i} of ${rows}`)
  return lines.join('\n') + '\n'
}

/**
 * Writes the sample tree under `root` (which must exist), owned by uid:gid, with fixed mtimes in the
 * past (so mtime preservation is testable) and a few different modes. Returns the manifest sorted by
 * path (a directory comes before its contents).
 */
export async function writeSampleTree(
  root: string,
  owner: {uid: number; gid: number},
  label: string,
  big: Buffer,
): Promise<SampleEntry[]> {
  const dirs: Array<{path: string; mode: number}> = [
    {path: 'docs', mode: 0o755},
    {path: 'docs/reports', mode: 0o755},
    {path: 'docs/reports/2024', mode: 0o755},
    {path: 'data', mode: 0o750},
    {path: 'empty-dir', mode: 0o755},
    {path: 'with space', mode: 0o755},
    {path: 'unicodé', mode: 0o755},
    {path: 'deep', mode: 0o755},
    {path: 'deep/a', mode: 0o755},
    {path: 'deep/a/b', mode: 0o755},
    {path: 'deep/a/b/c', mode: 0o755},
    {path: 'deep/a/b/c/d', mode: 0o755},
  ]
  const files: Array<{path: string; mode: number; content: Buffer}> = [
    {path: 'readme.txt', mode: 0o644, content: Buffer.from(`Sample tree of ${label} on the legacy SFTP box.\n`)},
    {path: '.hidden.txt', mode: 0o644, content: Buffer.from(`dotfile of ${label}\n`)},
    {path: 'docs/guide.md', mode: 0o644, content: Buffer.from(`# Guide\n\n${'Some text. '.repeat(200)}\n`)},
    {path: 'docs/reports/2024/q1.csv', mode: 0o644, content: Buffer.from(csv(1000, label))},
    {path: 'docs/reports/2024/q2.csv', mode: 0o600, content: Buffer.from(csv(3000, label))},
    {path: 'data/big.bin', mode: 0o640, content: big},
    {path: 'data/chunk-32k.bin', mode: 0o644, content: big.subarray(0, 32 * 1024)},
    {path: 'data/empty.dat', mode: 0o644, content: Buffer.alloc(0)},
    {path: 'with space/file with space.txt', mode: 0o644, content: Buffer.from(`spaces in ${label}\n`)},
    {path: 'unicodé/naïve-文件.txt', mode: 0o644, content: Buffer.from(`unicode name, ${label}\n`)},
    {path: 'deep/a/b/c/d/leaf.txt', mode: 0o644, content: Buffer.from(`leaf of ${label}\n`)},
  ]
  const entries: SampleEntry[] = []
  let minute = 0
  const nextMtime = (): number => BASE_MTIME_MS + 60_000 * minute++
  for (const dir of dirs) {
    const path = join(root, dir.path)
    await mkdir(path)
    await chown(path, owner.uid, owner.gid)
    await chmod(path, dir.mode)
  }
  for (const file of files) {
    const path = join(root, file.path)
    await writeFile(path, file.content)
    await chown(path, owner.uid, owner.gid)
    await chmod(path, file.mode)
  }
  // Times last (writing a file changes its directory's mtime); deepest dirs after their files.
  for (const file of files) {
    const mtimeMs = nextMtime()
    await lutimes(join(root, file.path), mtimeMs / 1000, mtimeMs / 1000)
    entries.push({
      path: file.path,
      type: 'file',
      size: file.content.length,
      sha256: createHash('sha256').update(file.content).digest('hex'),
      mode: file.mode,
      mtimeMs,
    })
  }
  for (const dir of [...dirs].reverse()) {
    const mtimeMs = nextMtime()
    await lutimes(join(root, dir.path), mtimeMs / 1000, mtimeMs / 1000)
    entries.push({path: dir.path, type: 'dir', size: 0, mode: dir.mode, mtimeMs})
  }
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}
