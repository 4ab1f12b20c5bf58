import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {lstat, readdir} from 'node:fs/promises'
import {join} from 'node:path'

/** The mounted EFS directory, as verify reads it: stat and hash files, list what is below a directory. */

export async function statFile(path: string): Promise<{size: number; type: 'file' | 'other'} | undefined> {
  try {
    const st = await lstat(path)
    return {size: st.size, type: st.isFile() ? 'file' : 'other'}
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined
    throw err
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, {highWaterMark: 1024 * 1024})) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** Regular files below `dir` (recursively), as '/'-joined raw byte paths relative to `dir`. */
export async function* listFiles(dir: string): AsyncIterable<Buffer> {
  const stack: Buffer[] = [Buffer.alloc(0)]
  const root = Buffer.from(dir)
  while (stack.length > 0) {
    const rel = stack.pop()!
    const abs = rel.length === 0 ? root : Buffer.concat([root, Buffer.from('/'), rel])
    let entries
    try {
      entries = await readdir(abs, {withFileTypes: true, encoding: 'buffer'})
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw err
    }
    for (const e of entries) {
      const child = rel.length === 0 ? e.name : Buffer.concat([rel, Buffer.from('/'), e.name])
      if (e.isDirectory()) stack.push(child)
      else yield child
    }
  }
}

export const efsPathOf = (efsRoot: string, key: string): string => join(efsRoot, ...key.split('/'))
