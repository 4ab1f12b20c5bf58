import {randomBytes} from 'node:crypto'
import {access, constants, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

/** Checks that the mounted EFS directory exists and that this process can write, read back and delete a file in it. */
export async function probeDirectory(path: string): Promise<{ok: true} | {ok: false; reason: string}> {
  try {
    const st = await stat(path)
    if (!st.isDirectory()) return {ok: false, reason: `${path} is not a directory`}
    await access(path, constants.R_OK | constants.W_OK | constants.X_OK)
    const probe = join(path, `.sftp-cutover-probe-${randomBytes(6).toString('hex')}`)
    const body = randomBytes(32)
    await writeFile(probe, body)
    try {
      if (!(await readFile(probe)).equals(body)) return {ok: false, reason: `a file written to ${path} read back different bytes`}
    } finally {
      await rm(probe, {force: true})
    }
    return {ok: true}
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    return {ok: false, reason: e.code === 'ENOENT' ? `${path} does not exist (is EFS mounted?)` : e.code === 'EACCES' ? `no permission to write in ${path}` : e.message}
  }
}
