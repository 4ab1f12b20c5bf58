import type {Mismatch, SourceHashMethod, VerifyResult} from '../services/verify.js'
import type {ReplicaResult} from '../services/verify-replica.js'
import {formatDuration} from './progress.js'

const SOURCE_HASH_METHODS: Record<SourceHashMethod, string> = {
  exec: 'sha256sum over SSH',
  sftp: 'read over SFTP',
  'ftp-hash': "the FTP server's HASH command",
  'ftp-read': 'read again over FTP: the server has no HASH command',
}

const WHERE: Record<Mismatch['where'], string> = {s3: 'S3', source: 'SOURCE', efs: 'EFS'}

/** Mismatches with their reasons, then one summary line per place checked. */
export function renderVerifyResult(r: VerifyResult): string {
  const lines: string[] = []
  if (r.basis === 'inventory') lines.push('Nothing synced yet: checked the last inventory\'s files for existence and size only.', '')
  else if (r.listing) lines.push(`Accounting for the source files listed by sync run ${r.listing.runId} (${r.listing.listedAt}).`, '')
  for (const m of r.mismatches) lines.push(`  ${WHERE[m.where]} ${m.problem.toUpperCase()} ${m.owner}/${m.path}${m.key ? ` (${m.key})` : ''}: ${m.detail}`)
  if (r.truncated) lines.push('  ... more mismatches than shown (--json lists the first 1000)')
  if (r.mismatches.length > 0) lines.push('')
  const c = r.counts
  lines.push(...renderS3(r))
  if (c.deep) lines.push(`Deep checks (mode and owner tag read; files downloaded and re-hashed): ${c.deep.checked}, ${c.deep.mismatched} mismatched`)
  if (c.source) lines.push(`Source re-hashed (${SOURCE_HASH_METHODS[c.source.method]}): ${c.source.checked}, ${c.source.mismatched} mismatched`)
  if (c.efs) lines.push(`EFS: ${c.efs.checked} checked, ${c.efs.missing} missing, ${c.efs.changed} changed, ${c.efs.extra} extra`)
  if (r.files.notCopied > 0) lines.push(`Not copied: ${r.files.notCopied} source file(s) (the reasons above; fix them, then run sftp-cutover sync)`)
  lines.push(`${r.files.verified} of ${r.files.total} source files verified in ${formatDuration(r.durationMs)}.`)
  if (r.replica) lines.push('', ...renderReplica(r.replica))
  return lines.join('\n')
}

/** How S3 was checked: by listing (what differed and a sample HEADed) or a HEAD per object, and the encryption. */
function renderS3(r: VerifyResult): string[] {
  const s = r.counts.s3
  const extra = `${s.extra} extra${s.sinceSwitch ? ` (and ${s.sinceSwitch} object(s) written since the switch to Transfer, not counted)` : ''}`
  if (s.method === 'listing') {
    const enc = 'expected' in r.encryption ? `Encryption (${r.encryption.expected}): checked on the ${s.headed} HEADed object(s); a listing does not show it (--deep checks every object)` : `Encryption not checked: ${r.encryption.unchecked}`
    return [
      `S3 (s3://${r.bucket}): ${s.checked} checked against the listing (${s.listed} objects listed: size, ETag, checksum type), ${s.mismatched} mismatched, ${extra}`,
      `  HEADed (size, full-object CRC32, sha256 metadata or tag, encryption): ${s.differed} that differed from the listing, ${s.sampled} sampled at random of those that matched (--sample N); the rest was checked by listing only`,
      enc,
    ]
  }
  return [
    `S3 (s3://${r.bucket}): ${s.checked} checked, ${s.mismatched} mismatched (a HEAD each: size, full-object CRC32, sha256 metadata or tag)${s.listed || s.extra ? `, ${extra}` : ''}${s.reason ? `; ${s.reason}` : ''}`,
    'expected' in r.encryption ? `Encryption: every object ${r.encryption.expected}` : `Encryption not checked: ${r.encryption.unchecked}`,
  ]
}

/** verify --replica: each sampled file not verified, then the counts. */
function renderReplica(p: ReplicaResult): string[] {
  const lines = p.findings.map((f) => `  REPLICA ${(f.status === 'pending' ? 'pending' : f.problem!).toUpperCase()} ${f.owner}/${f.path} (${f.key}): ${f.detail}`)
  const scope = p.prefix ? `under ${p.prefix}` : 'in the bucket'
  lines.push(
    `Replica (s3://${p.bucket} in ${p.region}, from ${p.bucketFrom}): ${p.sampled} sampled of ${p.eligible} synced files ${scope}: ` +
      `${p.verified} verified, ${p.pending} pending, ${p.missing} missing, ${p.mismatched} mismatched${p.unreadable ? `, ${p.unreadable} unreadable` : ''}`,
  )
  return lines
}
