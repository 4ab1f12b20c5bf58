import type {SyncItem, SyncResult} from '../services/sync.js'
import type {UntilQuietResult} from '../services/sync-until-quiet.js'
import {formatBytes} from './format.js'
import {formatDuration} from './progress.js'

const LABEL: Record<SyncItem['kind'], string> = {
  failed: 'FAILED',
  'changed-during-read': 'CHANGED',
  vanished: 'VANISHED',
  'bad-name': 'BAD NAME',
  'too-large': 'TOO LARGE',
  'unreadable-dir': 'UNREADABLE',
  symlink: 'SYMLINK',
  special: 'SPECIAL',
  'delete-refused': 'NOT DELETED',
  'source-hash-mismatch': 'SOURCE HASH DIFFERS',
  'ssh-dir': 'NOT COPIED (.ssh)',
  conflict: 'CONFLICT',
}

const item = (i: SyncItem) => `  ${LABEL[i.kind]} ${i.owner ? `${i.owner}/${i.path}` : ''}${i.owner ? ': ' : ''}${i.reason}`

/** The end-of-run summary: what was copied, what was not and why, what to do next. */
export function renderSyncResult(r: SyncResult): string {
  const c = r.counts
  const lines: string[] = []
  if (r.dryRun) {
    lines.push(
      `Dry run: would copy ${c.toCopy} file(s) and directory marker(s), ${formatBytes(r.bytes.toCopy)}${c.checked ? `, and re-hash ${c.checked} file(s)` : ''}${c.toUpdateMetadata ? `, and update the mode/owner metadata of ${c.toUpdateMetadata} (not read again)` : ''}; ${c.unchanged} unchanged; ${c.skipped} skipped.`,
    )
    if (c.deletedAtSource > 0) lines.push(`Deleted at the source: ${c.deletedAtSource} (with --delete they would be removed from S3), e.g. ${r.deletions.examples.slice(0, 3).join(', ')}.`)
    lines.push('Nothing was changed.')
  } else {
    lines.push(
      `${r.interrupted ? 'Interrupted after copying' : 'Copied'} ${c.copied} file(s) (${formatBytes(r.bytes.copied)}) and ${c.dirMarkers} empty director${c.dirMarkers === 1 ? 'y' : 'ies'} to s3://${r.bucket} in ${formatDuration(r.durationMs)}; ${c.unchanged} unchanged, ${c.skipped} skipped.`,
    )
    if (c.sourceHashed > 0) lines.push(`Hashed ${c.sourceHashed} copied file(s) again on the source with sha256sum (--source-hash): ${c.sourceHashMismatched} differed from what was read.`)
    if (c.checked > 0) lines.push(`Re-hashed ${c.checked} file(s) whose size, mtime and owner looked unchanged (--checksum); those whose SHA-256 differed are among the copied.`)
    if (r.checksumSince) lines.push(`Continued the --checksum pass begun ${r.checksumSince}: ${c.checkedEarlier} file(s) hashed since then were not hashed again.`)
    if (c.metadataUpdated > 0) lines.push(`Updated the mode/owner metadata of ${c.metadataUpdated} object(s) in place (chmod/chown at the source; the files were not read again).`)
    if (c.resumedUploads > 0) lines.push(`Resumed ${c.resumedUploads} multipart upload(s) from the parts S3 already held.`)
    if (c.deleted > 0) lines.push(`Deleted ${c.deleted} object(s) whose file is gone from the source.`)
    else if (c.deletedAtSource > 0 && !r.deletions.refused) lines.push(`Deleted at the source: ${c.deletedAtSource} file(s), kept in S3 (pass --delete to remove them), e.g. ${r.deletions.examples.slice(0, 3).join(', ')}.`)
  }
  if (c.conflicts > 0) lines.push(`After the switch (${r.switchedAt}): ${c.conflicts} path(s) changed both on the legacy box and in S3 (through Transfer): S3's object kept, the box's version written beside it as <name>.from-legacy-<time> (listed below as CONFLICT).`)
  if (r.problems.length > 0) {
    lines.push('', `Not copied (${c.failed} failed, ${c.changedDuringRead} changed while read, ${r.problems.length - c.failed - c.changedDuringRead} other):`)
    lines.push(...r.problems.map(item))
  }
  if (r.notes.length > 0) {
    lines.push('', 'Skipped:')
    lines.push(...r.notes.slice(0, 50).map(item))
    if (r.notes.length > 50) lines.push(`  ... and ${r.notes.length - 50} more (--json lists them)`)
  }
  if (r.truncated) lines.push('', 'More problems than shown: the state database (.sftp-cutover/state.db, table sync_problems) has every one.')
  if (r.interrupted) lines.push('', 'Run sftp-cutover sync again to continue where this run stopped.')
  else if (!r.dryRun && r.problems.length > 0) lines.push('', 'Fix what is listed above, then run sftp-cutover sync again: it copies only what is missing.')
  return lines.join('\n')
}

export function quietSummary(q: UntilQuietResult): string {
  return `Until quiet: ${q.passes} pass(es), ${q.copied} file(s) copied in all${q.conflicts ? `, ${q.conflicts} conflict(s) (S3's object kept, the box's version beside it)` : ''}; ${q.last.interrupted ? 'interrupted' : `no change for ${formatDuration(q.quietForMs)}`}${q.lastChange ? `; last change ${q.lastChange.at}` : ''}.`
}
