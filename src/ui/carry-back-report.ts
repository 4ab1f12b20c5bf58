import type {CarryBackResult} from '../services/carry-back.js'
import {formatBytes, table} from './format.js'

/** The carry-back as text: every file with its size and what happened to it, the conflicts and the deletions. */
export function renderCarryBack(r: CarryBackResult): string {
  const out: string[] = []
  const verb = r.dryRun ? 'Would carry back' : 'Carried back'
  out.push(`${verb} ${r.counts.files} file(s), ${formatBytes(r.counts.bytes)}, that arrived in s3://${r.bucket} since ${r.since}${r.versioned ? ' (versioned bucket: the latest version of each)' : ''}.`)
  if (r.files.length > 0) {
    out.push(table(['status', 'action', 'size', 'path on the box', 'note'], r.files.map((f) => [f.status, f.action, f.size, f.dest, f.reason ?? (f.s3Check ? `S3 checksum: ${f.s3Check}` : '')])))
  }
  if (r.conflicts.length > 0) {
    out.push(`${r.conflicts.length} conflict(s): changed on the box and in S3 since the switch; the S3 version is beside the box's file, which was not touched:`)
    for (const c of r.conflicts) out.push(`  ${c.owner}: ${c.path} -> ${c.dest}`)
  }
  if (r.deletions.length > 0) {
    out.push(`${r.deletions.length} file(s) deleted through Transfer since the switch:`)
    for (const d of r.deletions) out.push(`  ${d.status}: ${d.dest}${d.reason ? ` (${d.reason})` : ''}`)
    if (r.deletions.some((d) => d.status === 'reported' || d.status === 'would-report')) out.push('  Not deleted on the box; pass --replay-deletions to delete those unchanged there since the last sync.')
  }
  if (!r.dryRun) {
    out.push(
      r.complete
        ? `Every file verified on the box (${r.hashedWith ?? 'nothing to hash'}): bytes, owner, mode and time.`
        : `${r.counts.failed} file(s) not carried back and verified: see the note of each; run rollback again once fixed.`,
    )
  }
  return out.join('\n')
}
