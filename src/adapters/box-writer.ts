import {createHash} from 'node:crypto'
import type {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {Transform} from 'node:stream'
import type {SFTPWrapper, Stats} from 'ssh2'

import {SshSession} from './ssh.js'

export interface BoxEntry {
  kind: 'file' | 'dir' | 'other'
  size: number
  /** seconds */
  mtime: number
  mode: number
  uid: number
  gid: number
}

export interface WriteAs {
  uid: number
  gid: number
  mode: number
  /** seconds */
  mtime: number
}

const NO_SUCH_FILE = 2

const toEntry = (s: Stats): BoxEntry => ({kind: s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other', size: s.size, mtime: s.mtime, mode: s.mode & 0o7777, uid: s.uid, gid: s.gid})

/**
 * Writes to the legacy box over SFTP (the only code that does; everything else reads it). Used by rollback to carry
 * back files that arrived through Transfer: each file goes to a temporary name, gets its owner, mode and time, and is
 * renamed into place (posix-rename, which replaces atomically), so a reader never sees half a file.
 */
export class BoxWriter {
  private constructor(private readonly sftp: SFTPWrapper) {}

  static async open(session: SshSession): Promise<BoxWriter> {
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) => session.client.sftp((err, s) => (err ? reject(err) : resolve(s))))
    return new BoxWriter(sftp)
  }

  private call<T = void>(fn: (cb: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))))
  }

  /** The login's directory (where a relative path starts). */
  async home(): Promise<Buffer> {
    return Buffer.from(await this.call<string>((cb) => this.sftp.realpath('.', cb)))
  }

  /** What is at the path (not following a symbolic link), or undefined when nothing is. */
  async lstat(path: string): Promise<BoxEntry | undefined> {
    try {
      return toEntry(await this.call<Stats>((cb) => this.sftp.lstat(path, cb)))
    } catch (err) {
      if ((err as {code?: number}).code === NO_SUCH_FILE) return undefined
      throw err
    }
  }

  /** Creates the missing directories of `dir` (below `root`, which must exist), owned by uid/gid. */
  async ensureDir(root: string, dir: string, owner: {uid: number; gid: number; mode: number}): Promise<void> {
    if (dir === root || !dir.startsWith(`${root}/`)) return
    const parts = dir.slice(root.length + 1).split('/')
    let at = root
    for (const part of parts) {
      at = `${at}/${part}`
      const seen = await this.lstat(at)
      if (seen?.kind === 'dir') continue
      if (seen) throw new Error(`${at} exists and is not a directory`)
      await this.call((cb) => this.sftp.mkdir(at, {mode: owner.mode}, cb))
      await this.call((cb) => this.sftp.chown(at, owner.uid, owner.gid, cb))
      await this.call((cb) => this.sftp.chmod(at, owner.mode, cb))
    }
  }

  /**
   * Streams `body` to `temp`, sets owner, mode and mtime, and renames it to `dest`. Returns the SHA-256 and length of
   * the bytes written (as they went out).
   */
  async writeFile(temp: string, dest: string, body: Readable, as: WriteAs): Promise<{sha256: string; size: number}> {
    const hash = createHash('sha256')
    let size = 0
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk)
        size += chunk.length
        done(null, chunk)
      },
    })
    await pipeline(body, tap, this.sftp.createWriteStream(temp, {flags: 'w', mode: 0o600}))
    // chown before chmod: changing the owner may clear set-id bits
    await this.call((cb) => this.sftp.chown(temp, as.uid, as.gid, cb))
    await this.call((cb) => this.sftp.chmod(temp, as.mode, cb))
    await this.call((cb) => this.sftp.utimes(temp, as.mtime, as.mtime, cb))
    await this.call((cb) => this.sftp.ext_openssh_rename(temp, dest, cb))
    return {sha256: hash.digest('hex'), size}
  }

  /** SHA-256 of a file read back over SFTP (when the login may not run sha256sum). */
  async readBackSha256(path: string): Promise<string> {
    const hash = createHash('sha256')
    for await (const chunk of this.sftp.createReadStream(path)) hash.update(chunk as Buffer)
    return hash.digest('hex')
  }

  async unlink(path: string): Promise<void> {
    await this.call((cb) => this.sftp.unlink(path, cb))
  }

  /** Removes a leftover temporary file; nothing there is fine. */
  async removeIfPresent(path: string): Promise<void> {
    if (await this.lstat(path)) await this.unlink(path)
  }

  close(): void {
    this.sftp.end()
  }
}
