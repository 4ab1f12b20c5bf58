/**
 * Listing a tree with one GNU `find` over SSH exec instead of an SFTP readdir per directory: one stream, no round
 * trip per directory. Each entry is nine NUL-terminated fields (names are raw bytes, NUL cannot be in one):
 *
 *   type (find's %y, or E for a directory the login may not list), size, mtime (%T@), permission bits (%m, octal),
 *   uid, gid, hard links, path relative to the root (%P, empty for the root itself), symlink target (%l)
 *
 * The walk over SFTP reads the same attributes (lstat, the root followed), so both give the same inventory rows.
 */
import type {FileEntry, FileType} from './inventory-model.js'

/** Printed first: a login whose commands are replaced (ForceCommand internal-sftp) cannot print it. */
export const FIND_MAGIC = Buffer.from('sftp-cutover-find/1\0')
/** The script's exit code when the box's find is not GNU find (no -printf). */
export const NOT_GNU_FIND = 97

const FIELDS = 9
const ENTRY = '%s\\0%T@\\0%m\\0%U\\0%G\\0%n\\0%P\\0'
const TYPE_BITS: Record<string, number> = {f: 0o100000, d: 0o040000, l: 0o120000, p: 0o010000, s: 0o140000, c: 0o020000, b: 0o060000, E: 0o040000}

/** A shell word holding these bytes exactly (single quotes; a quote inside becomes '\''). */
function shellQuote(bytes: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from("'")]
  let start = 0
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x27) {
      parts.push(bytes.subarray(start, i), Buffer.from("'\\''"))
      start = i + 1
    }
  }
  parts.push(bytes.subarray(start), Buffer.from("'"))
  return Buffer.concat(parts)
}

/**
 * The script `sh -s` runs (the root travels in it as raw bytes, not in the command line). Directories the login may
 * not list (read and search) are printed as E and not entered, as the SFTP walk records them; -H follows the root
 * when it is a symlink, as the walk's stat does.
 */
export function findScript(root: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(
      [
        'LC_ALL=C; export LC_ALL',
        // GNU find answers -version as well as the long form
        `find -version 2>/dev/null | head -n 1 | grep 'GNU findutils' >/dev/null || { echo 'find is not GNU find' >&2; exit ${NOT_GNU_FIND}; }`,
        "printf 'sftp-cutover-find/1\\000'",
        'exec find -H ',
      ].join('\n'),
    ),
    shellQuote(root),
    Buffer.from(` \\( -type d ! \\( -readable -executable \\) -printf 'E\\0${ENTRY}\\0' -prune \\) -o -printf '%y\\0${ENTRY}%l\\0'\n`),
  ])
}

export interface FindRecord {
  /** st_mode as SFTP reports it: type bits and permissions */
  mode: number
  type: FileType
  size: number
  mtime: number
  uid: number
  gid: number
  links: number
  /** relative to the root; empty for the root */
  path: Buffer
  linkTarget?: Buffer
  /** a directory the login may not list */
  unreadable: boolean
}

const TYPES: Record<string, FileType> = {f: 'file', d: 'dir', l: 'symlink', p: 'fifo', s: 'socket', c: 'char', b: 'block', E: 'dir'}

const NUL = 0
const DOT = 0x2e
const MINUS = 0x2d

/**
 * Splits find's output into records as it arrives (a record may span chunks). Numbers are read from the bytes where
 * they are and names copied once: tens of thousands of entries a second go through here.
 */
export class FindOutputParser {
  private magic = false
  private head = Buffer.alloc(0)
  /** The current field's bytes from earlier chunks (a field cut by a chunk boundary) */
  private pending: Buffer[] = []
  private field = 0
  private rec = emptyRecord()

  /** False until the output starts as the script's does. */
  get started(): boolean {
    return this.magic
  }

  push(chunk: Buffer): FindRecord[] {
    if (!this.magic) {
      this.head = Buffer.concat([this.head, chunk])
      if (this.head.length < FIND_MAGIC.length) return []
      if (!this.head.subarray(0, FIND_MAGIC.length).equals(FIND_MAGIC)) throw new Error('another program answered: internal-sftp or a forced command')
      this.magic = true
      chunk = this.head.subarray(FIND_MAGIC.length)
      this.head = Buffer.alloc(0)
    }
    const out: FindRecord[] = []
    let start = 0
    for (let i = chunk.indexOf(NUL, start); i >= 0; i = chunk.indexOf(NUL, start)) {
      if (this.pending.length > 0) {
        this.pending.push(chunk.subarray(start, i))
        const whole = Buffer.concat(this.pending)
        this.pending = []
        this.endField(whole, 0, whole.length)
      } else {
        this.endField(chunk, start, i)
      }
      start = i + 1
      if (this.field === FIELDS) {
        out.push(this.finish())
        this.field = 0
      }
    }
    if (start < chunk.length) this.pending.push(Buffer.from(chunk.subarray(start)))
    return out
  }

  /** Throws when the output ended inside a record (the stream was cut). */
  end(): void {
    if (!this.magic) throw new Error('the listing script printed nothing (the login may not run commands)')
    if (this.field > 0 || this.pending.length > 0) throw new Error('the listing ended in the middle of an entry')
  }

  private endField(buf: Buffer, from: number, to: number): void {
    FIELD_READERS[this.field++](this.rec, buf, from, to)
  }

  private finish(): FindRecord {
    const r = this.rec
    this.rec = emptyRecord()
    const bits = TYPE_BITS[r.kind]
    if (bits === undefined) throw new Error(`unexpected file type "${r.kind}" in the listing`)
    return {
      mode: bits | r.perm,
      type: TYPES[r.kind],
      size: r.size,
      mtime: r.mtime,
      uid: r.uid,
      gid: r.gid,
      links: r.links,
      path: r.path,
      ...(r.link ? {linkTarget: r.link} : {}),
      unreadable: r.kind === 'E',
    }
  }
}

function emptyRecord() {
  return {kind: '', size: 0, mtime: 0, perm: 0, uid: 0, gid: 0, links: 0, path: Buffer.alloc(0), link: undefined as Buffer | undefined}
}

/** What each field of an entry sets, in the order ENTRY prints them (names are copied: the chunk is not kept). */
const FIELD_READERS: Array<(r: ReturnType<typeof emptyRecord>, buf: Buffer, from: number, to: number) => void> = [
  (r, buf, from, to) => (r.kind = buf.toString('latin1', from, to)),
  (r, buf, from, to) => (r.size = digits(buf, from, to)),
  (r, buf, from, to) => (r.mtime = wholeSeconds(buf, from, to)),
  (r, buf, from, to) => (r.perm = digits(buf, from, to, 8)),
  (r, buf, from, to) => (r.uid = digits(buf, from, to)),
  (r, buf, from, to) => (r.gid = digits(buf, from, to)),
  (r, buf, from, to) => (r.links = digits(buf, from, to)),
  (r, buf, from, to) => (r.path = Buffer.copyBytesFrom(buf, from, to - from)),
  (r, buf, from, to) => (r.link = r.kind === 'l' ? Buffer.copyBytesFrom(buf, from, to - from) : undefined),
]

function badNumber(buf: Buffer, from: number, to: number): Error {
  return new Error(`unexpected number "${buf.toString('latin1', from, to)}" in the listing`)
}

/** A number of digits only: decimal (sizes, ids, link counts) or octal (permission bits, %m). */
function digits(buf: Buffer, from: number, to: number, base = 10): number {
  if (from >= to) throw badNumber(buf, from, to)
  let n = 0
  for (let i = from; i < to; i++) {
    const d = buf[i] - 0x30
    if (d < 0 || d >= base) throw badNumber(buf, from, to)
    n = n * base + d
  }
  return n
}

/** %T@ (seconds with a fraction; negative before 1970) rounded down: SFTP v3 carries whole seconds. */
function wholeSeconds(buf: Buffer, from: number, to: number): number {
  const negative = buf[from] === MINUS
  const dot = buf.indexOf(DOT, from)
  const intEnd = dot >= 0 && dot < to ? dot : to
  const whole = digits(buf, negative ? from + 1 : from, intEnd)
  let fraction = false
  for (let i = intEnd + 1; i < to; i++) {
    const d = buf[i] - 0x30
    if (d < 0 || d > 9) throw badNumber(buf, from, to)
    if (d > 0) fraction = true
  }
  return negative ? -whole - (fraction ? 1 : 0) : whole
}

/** The inventory entry of a record, as the SFTP walk writes it (a directory it may not list: size 0 and the error). */
export function entryOf(owner: string, r: FindRecord): FileEntry {
  const e: FileEntry = {owner, path: r.path, type: r.type, size: r.unreadable ? 0 : r.size, mtime: r.mtime, mode: r.mode, uid: r.uid, gid: r.gid}
  if (!r.unreadable) e.links = r.links
  if (r.linkTarget) e.linkTarget = r.linkTarget
  if (r.unreadable) e.error = 'PERMISSION_DENIED: Permission denied'
  return e
}

/** The box cannot list with find (no exec, or not GNU find): the walk goes over SFTP instead. */
export class ListingUnavailable extends Error {
  constructor(readonly reason: string) {
    super(reason)
    this.name = 'ListingUnavailable'
  }
}

/**
 * Lists a tree in one stream, entry by entry, the root first (path empty), parents before children. Throws
 * ListingUnavailable before any entry when the box cannot; warnings say what went wrong after the listing began.
 */
export interface TreeLister {
  list(root: Buffer, onRecord: (r: FindRecord) => void): Promise<{warnings: string[]}>
}
