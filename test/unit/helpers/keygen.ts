/** Real key material for unit tests: ssh-keygen makes the keys and says what their bits and fingerprints are. */
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

export interface TestKey {
  /** `<type> <base64> <comment>` as ssh-keygen wrote it */
  line: string
  type: string
  b64: string
  blob: Buffer
  comment: string
  /** what `ssh-keygen -lf` says */
  bits: number
  fingerprint: string
  pubPath: string
}

export class KeyDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'sftp-cutover-keys-'))
  private n = 0

  /** Generates a key pair: `args` like ['-t', 'rsa', '-b', '2048']. */
  generate(args: string[], comment: string): TestKey {
    const path = join(this.dir, `key${this.n++}`)
    execFileSync('ssh-keygen', ['-q', '-N', '', '-C', comment, ...args, '-f', path], {stdio: ['ignore', 'ignore', 'pipe']})
    return this.describe(`${path}.pub`)
  }

  /** Writes a public key line to a file and describes it with ssh-keygen -lf (works for keys we build by hand). */
  fromLine(line: string): TestKey {
    const pubPath = join(this.dir, `key${this.n++}.pub`)
    writeFileSync(pubPath, `${line}\n`)
    return this.describe(pubPath)
  }

  /** ssh-keygen -e: the RFC 4716 form of a public key file. */
  rfc4716(key: TestKey): string {
    return execFileSync('ssh-keygen', ['-e', '-f', key.pubPath], {encoding: 'utf8'})
  }

  /** ssh-keygen -i: the OpenSSH form of an RFC 4716 text. */
  importRfc4716(text: string): string {
    const path = join(this.dir, `import${this.n++}.txt`)
    writeFileSync(path, text)
    return execFileSync('ssh-keygen', ['-i', '-f', path], {encoding: 'utf8'}).trim()
  }

  private describe(pubPath: string): TestKey {
    const line = readFileSync(pubPath, 'utf8').trim()
    const [type, b64, ...comment] = line.split(/\s+/)
    const listed = execFileSync('ssh-keygen', ['-lf', pubPath], {encoding: 'utf8'}).trim()
    const m = /^(\d+) (SHA256:\S+) /.exec(listed)
    if (!m) throw new Error(`unexpected ssh-keygen -lf output: ${listed}`)
    return {line, type, b64, blob: Buffer.from(b64, 'base64'), comment: comment.join(' '), bits: Number(m[1]), fingerprint: m[2], pubPath}
  }

  remove(): void {
    rmSync(this.dir, {recursive: true, force: true})
  }
}

/** SSH wire-format string (uint32 length + bytes). */
export function sshString(data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data
  const len = Buffer.alloc(4)
  len.writeUInt32BE(body.length)
  return Buffer.concat([len, body])
}

/** Splits base64 into lines of 64 characters, as PuTTY writes Public-Lines. */
export function base64Lines(blob: Buffer): string[] {
  return blob.toString('base64').match(/.{1,64}/g) ?? []
}
