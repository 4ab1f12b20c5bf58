import {createHash} from 'node:crypto'

import {errorMessage} from '../core/errors.js'
import {parseSha256sumOutput, SHA256SUM_COMMAND, sha256sumInput} from '../core/source-hash.js'
import {type SshCredentials, SshSession, type SshTarget} from './ssh.js'

/** Files per sha256sum command: enough to amortise the exec, few enough that an interrupted run loses little. */
const BATCH = 200

/**
 * sha256sum run on the legacy box over SSH exec, many files per command: the bytes never cross the wire, and they are
 * hashed by other code than ours, which makes it an independent check of what was read over SFTP.
 */
export class SourceHasher {
  private constructor(private readonly session: SshSession) {}

  /** Opens a session and checks that it may run sha256sum; otherwise says why not (a ForceCommand, no coreutils). */
  static async open(target: SshTarget, creds: SshCredentials): Promise<SourceHasher | {unavailable: string}> {
    const session = await SshSession.connect(target, creds)
    // With nothing on stdin, sha256sum hashes its (empty) stdin as "-": a login whose exec runs something else
    // (a ForceCommand such as internal-sftp) does not print that.
    const probe = await session
      .exec(SHA256SUM_COMMAND, {stdin: Buffer.alloc(0), timeoutMs: 30_000})
      .catch((err: unknown) => ({code: -1, stdout: Buffer.alloc(0), stderr: Buffer.from(errorMessage(err))}))
    if (probe.code === 0 && parseSha256sumOutput(probe.stdout).get('-') === createHash('sha256').digest('hex')) return new SourceHasher(session)
    session.close()
    return {unavailable: probe.stderr.toString('utf8').trim() || `exit ${probe.code}`}
  }

  /**
   * Hashes the files at these absolute paths, BATCH per command, handing each batch's digests to onBatch (absent for
   * a file that could not be read: deleted, or not readable by the login). Stops between batches once `stop` says so.
   */
  async hash<T>(items: Iterable<T>, pathOf: (item: T) => Buffer, onBatch: (digests: Array<[T, string | undefined]>) => void | Promise<void>, stop?: () => boolean): Promise<void> {
    const it = items[Symbol.iterator]()
    for (;;) {
      const batch: T[] = []
      for (let next = it.next(); !next.done; next = it.next()) {
        batch.push(next.value)
        if (batch.length >= BATCH) break
      }
      if (batch.length === 0) return
      const out = await this.session.exec(SHA256SUM_COMMAND, {stdin: sha256sumInput(batch.map(pathOf)), timeoutMs: 3_600_000})
      const sums = parseSha256sumOutput(out.stdout)
      await onBatch(batch.map((item) => [item, sums.get(pathOf(item).toString('latin1'))]))
      if (stop?.()) return
    }
  }

  close(): void {
    this.session.close()
  }
}
