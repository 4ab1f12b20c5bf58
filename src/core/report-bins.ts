/** The numbers the reports' charts show, computed from the inventory's files and the recorded runs. Pure. */

import {displayPath} from './findings.js'
import type {Finding, Severity} from './inventory-model.js'

export interface SizeBin {
  /** "0 B", or a range like "1 KiB – 4 KiB" (lower bound included, upper excluded) */
  bin: string
  /** lower bound in bytes */
  from: number
  files: number
  bytes: number
}

export interface AgeBin {
  bin: string
  files: number
  bytes: number
}

export interface DirectoryTotal {
  owner: string
  /** the directory relative to the owner's data root ("/" for the root itself), shown as displayPath shows names */
  directory: string
  /** files directly in it (not in its subdirectories) */
  files: number
  bytes: number
}

export interface FileStats {
  sizes: SizeBin[]
  ages: AgeBin[]
  largestDirectories: DirectoryTotal[]
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB']
/** Exact for powers of two: 4096 -> "4 KiB" */
function exactBytes(n: number): string {
  let i = 0
  while (n >= 1024 && i < UNITS.length - 1) {
    n /= 1024
    i++
  }
  return `${n} ${UNITS[i]}`
}

/** Size bins are powers of 4 (equal widths on a log scale): 1 B – 4 B, 4 B – 16 B, …, 256 KiB – 1 MiB, … */
function sizeBinIndex(size: number): number {
  if (size <= 0) return -1
  return Math.floor(Math.log2(size) / 2)
}

const sizeBinLabel = (i: number) => (i < 0 ? '0 B' : `${exactBytes(4 ** i)} – ${exactBytes(4 ** (i + 1))}`)

const DAY = 86_400
/** Age bins by upper bound in seconds; the last is open. "in the future" holds mtimes after the reference date. */
const AGE_BINS: Array<[string, number]> = [
  ['under a day', DAY],
  ['1 day – 1 week', 7 * DAY],
  ['1 week – 1 month', 30 * DAY],
  ['1 – 6 months', 182 * DAY],
  ['6 – 12 months', 365 * DAY],
  ['1 – 2 years', 2 * 365 * DAY],
  ['2 – 5 years', 5 * 365 * DAY],
  ['5 – 10 years', 10 * 365 * DAY],
  ['10 years or more', Infinity],
]
const FUTURE = 'in the future'

/** Accumulates file sizes, ages and per-directory totals in one pass over the files (memory: one entry per directory). */
export class FileStatsBuilder {
  private readonly sizes = new Map<number, {files: number; bytes: number}>()
  private readonly ages = new Map<string, {files: number; bytes: number}>()
  private readonly dirs = new Map<string, {owner: string; dir: Buffer; files: number; bytes: number}>()

  /** @param asOf the reference date for ages, in seconds since the epoch (the inventory's date: the report says the same thing whenever it is written) */
  constructor(private readonly asOf: number) {}

  /** One regular file: its owner, path relative to the owner's root, size and mtime (seconds). */
  add(owner: string, rawPath: Uint8Array, size: number, mtime: number): void {
    // node:sqlite hands BLOBs over as Uint8Array, better-sqlite3 as Buffer: view either as a Buffer, without a copy
    const path = Buffer.isBuffer(rawPath) ? rawPath : Buffer.from(rawPath.buffer, rawPath.byteOffset, rawPath.byteLength)
    bump(this.sizes, sizeBinIndex(size), size)
    const age = this.asOf - mtime
    bump(this.ages, age < 0 ? FUTURE : AGE_BINS.find(([, upTo]) => age < upTo)![0], size)
    const slash = path.lastIndexOf(0x2f)
    const dir = slash < 0 ? Buffer.alloc(0) : path.subarray(0, slash)
    const key = `${owner}\0${dir.toString('latin1')}`
    const d = this.dirs.get(key) ?? {owner, dir: Buffer.from(dir), files: 0, bytes: 0}
    d.files++
    d.bytes += size
    this.dirs.set(key, d)
  }

  /** The bins (sizes: every bin from the smallest to the largest file, empty ones too; ages: every bin) and the top directories by bytes. */
  result(topDirectories = 10): FileStats {
    const present = [...this.sizes.keys()].filter((i) => i >= 0)
    const sizes: SizeBin[] = []
    if (this.sizes.has(-1)) sizes.push({bin: sizeBinLabel(-1), from: 0, ...this.sizes.get(-1)!})
    if (present.length > 0) {
      for (let i = Math.min(...present); i <= Math.max(...present); i++) sizes.push({bin: sizeBinLabel(i), from: 4 ** i, ...(this.sizes.get(i) ?? {files: 0, bytes: 0})})
    }
    const ages: AgeBin[] = [...(this.ages.has(FUTURE) ? [FUTURE] : []), ...AGE_BINS.map(([label]) => label)].map((bin) => ({bin, ...(this.ages.get(bin) ?? {files: 0, bytes: 0})}))
    const largestDirectories = [...this.dirs.values()]
      .sort((a, b) => b.bytes - a.bytes || b.files - a.files || a.owner.localeCompare(b.owner) || Buffer.compare(a.dir, b.dir))
      .slice(0, topDirectories)
      .map((d) => ({owner: d.owner, directory: `/${displayPath(d.dir)}`, files: d.files, bytes: d.bytes}))
    return {sizes, ages, largestDirectories}
  }
}

function bump<K>(m: Map<K, {files: number; bytes: number}>, key: K, size: number): void {
  const v = m.get(key) ?? {files: 0, bytes: 0}
  v.files++
  v.bytes += size
  m.set(key, v)
}

export interface FindingCount {
  severity: Severity
  rule: string
  count: number
}

const SEVERITY_ORDER: Record<Severity, number> = {blocker: 0, warning: 1, info: 2}

/** Findings counted by severity and rule, most serious first, then by rule. */
export function countFindings(findings: Finding[]): FindingCount[] {
  const m = new Map<string, FindingCount>()
  for (const f of findings) {
    const key = `${f.severity}\0${f.rule}`
    const c = m.get(key) ?? {severity: f.severity, rule: f.rule, count: 0}
    c.count++
    m.set(key, c)
  }
  return [...m.values()].sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || a.rule.localeCompare(b.rule))
}
