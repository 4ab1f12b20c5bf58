/**
 * The source port: what the walk, sync and verify need from the legacy box, whatever protocol reaches it. The SFTP
 * adapter (adapters/sftp-client.ts, adapters/sftp-pool.ts) implements it; names and paths are raw bytes throughout.
 */
import {CliError, type ExitCodeValue} from './errors.js'

export interface SourceAttrs {
  size: number
  uid: number
  gid: number
  /** st_mode: file type bits and permissions */
  mode: number
  atime: number
  /** seconds since the epoch */
  mtime: number
}

export interface SourceDirEntry {
  name: Buffer
  attrs: SourceAttrs
  /** Hard link count, when the server tells it (OpenSSH's long listing) */
  links?: number
}

/** One session on the box (an SFTP channel). Handles are opaque to callers. */
export interface SourceFs {
  /** The largest read the server answers in one request: reads of up to this times `inFlight` bytes go out at once. */
  readonly limits: {maxReadLen: number}
  realpath(path: Buffer | string): Promise<Buffer>
  lstat(path: Buffer | string): Promise<SourceAttrs>
  stat(path: Buffer | string): Promise<SourceAttrs>
  readlink(path: Buffer | string): Promise<Buffer>
  readdir(path: Buffer | string): Promise<SourceDirEntry[]>
  openRead(path: Buffer | string): Promise<Buffer>
  fstat(handle: Buffer): Promise<SourceAttrs>
  close(handle: Buffer): Promise<void>
  /**
   * Reads `length` bytes from `offset` (fewer at end of file), handing chunks to onChunk in file order; resolves with
   * the bytes read. `inFlight` bounds the requests outstanding at once.
   */
  readRange(handle: Buffer, offset: number, length: number, inFlight: number, onChunk: (chunk: Buffer) => void | Promise<void>): Promise<number>
  /** The server's own SHA-256 command, when it has one (FTP: HASH or XSHA256 in FEAT). */
  readonly serverHash?: string
  /** The server's SHA-256 of a file (hex), computed by the box: only when serverHash is set. */
  serverSha256?(path: Buffer): Promise<string | undefined>
}

/** Sessions on the box, reconnected when they drop. */
export interface SourcePool {
  withSource<T>(fn: (fs: SourceFs) => Promise<T>): Promise<T>
  /** Opens every connection now, in parallel. */
  warm(): Promise<void>
  close(): Promise<void>
  /** Live connections */
  readonly size: number
}

/** The server refused one operation on one path (the session is fine). */
export class SourceStatusError extends Error {
  constructor(
    message: string,
    /** the protocol's name for the status, e.g. NO_SUCH_FILE or 550 */
    readonly statusName: string,
    readonly kind: 'not-found' | 'permission-denied' | 'other',
    readonly path?: Buffer,
  ) {
    super(message)
    this.name = 'SourceStatusError'
  }

  get notFound(): boolean {
    return this.kind === 'not-found'
  }

  get permissionDenied(): boolean {
    return this.kind === 'permission-denied'
  }
}

/** The connection to the box failed; `transient` failures (a dropped link) are worth a new connection. */
export class SourceLinkError extends CliError {
  readonly transient: boolean
  constructor(message: string, opts: {code: string; exitCode?: ExitCodeValue; transient?: boolean; suggestions?: string[]; cause?: unknown}) {
    super(message, {code: opts.code, exitCode: opts.exitCode, suggestions: opts.suggestions, cause: opts.cause})
    this.transient = opts.transient ?? false
  }
}

export const isTransientSourceError = (err: unknown): err is SourceLinkError => err instanceof SourceLinkError && err.transient

/** File type from st_mode. */
export function fileTypeOf(mode: number): 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'char' | 'block' | 'unknown' {
  switch (mode & 0o170000) {
    case 0o100000:
      return 'file'
    case 0o040000:
      return 'dir'
    case 0o120000:
      return 'symlink'
    case 0o010000:
      return 'fifo'
    case 0o140000:
      return 'socket'
    case 0o020000:
      return 'char'
    case 0o060000:
      return 'block'
    default:
      return 'unknown'
  }
}
