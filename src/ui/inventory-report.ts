import type {InventoryResult} from '../services/inventory.js'
import type {Finding, Severity} from '../core/inventory-model.js'
import {formatBytes, table} from './format.js'

/** The owner a finding is about: subjects look like "user:alice", "key:alice:SHA256:…" or "file:alice:<path>". */
export function findingOwner(f: Finding): string | undefined {
  const [kind, owner] = f.subject.split(':')
  return ['user', 'key', 'file'].includes(kind) ? owner : undefined
}

function perOwnerSeverity(findings: Finding[]): Map<string, Record<Severity, number>> {
  const out = new Map<string, Record<Severity, number>>()
  for (const f of findings) {
    const owner = findingOwner(f)
    if (!owner) continue
    const c = out.get(owner) ?? {blocker: 0, warning: 0, info: 0}
    c[f.severity]++
    out.set(owner, c)
  }
  return out
}

/** The terminal summary: per user files, bytes and findings; the most serious findings; what changed. */
export function renderInventorySummary(r: InventoryResult, maxFindings = 25): string {
  const sev = perOwnerSeverity(r.findings)
  const owners = new Set([...r.summary.owners.map((o) => o.owner), ...r.accounts.map((a) => a.name)])
  const rows = [...owners].sort().map((owner) => {
    const o = r.summary.owners.find((x) => x.owner === owner)
    const s = sev.get(owner) ?? {blocker: 0, warning: 0, info: 0}
    return [owner, o?.files ?? 0, o?.dirs ?? 0, formatBytes(o?.bytes ?? 0), s.blocker, s.warning, s.info]
  })
  const lines = [
    `Inventory of ${r.host} (accounts: ${r.accountsSource}, ${r.accounts.length} account(s), ${r.hostKeys.length} host key(s): ${r.hostKeys.map((k) => k.type).join(', ')})`,
    r.listing.method === 'find'
      ? 'Files listed with GNU find over SSH exec (one stream per root).'
      : r.listing.method === 'ftp'
        ? 'Files listed over FTP, a directory at a time.'
        : `Files listed over SFTP, a directory at a time (not with find: ${r.listing.reason ?? 'not asked for'}).`,
    ...(r.listing.warnings ?? []).map((w) => `  WARNING the listing may be incomplete: ${w}`),
    '',
    table(['user', 'files', 'dirs', 'bytes', 'blockers', 'warnings', 'info'], rows),
    '',
    `Findings: ${r.summary.findings.blocker} blocker(s), ${r.summary.findings.warning} warning(s), ${r.summary.findings.info} info`,
  ]
  for (const f of r.findings.slice(0, maxFindings)) lines.push(`  ${f.severity.toUpperCase().padEnd(7)} ${f.rule.padEnd(24)} ${f.subject}: ${f.reason}`)
  if (r.findings.length > maxFindings) lines.push(`  … and ${r.findings.length - maxFindings} more: sftp-cutover inventory report --format md`)
  if (r.changes) {
    const c = r.changes
    lines.push(
      '',
      `Since the inventory of ${c.since}: users +${c.users.added.length} -${c.users.removed.length}, keys +${c.keys.added.length} -${c.keys.removed.length}, files +${c.files.added} -${c.files.removed} ~${c.files.changed}`,
    )
    if (c.accountsNotCompared) lines.push(`  users and keys removed: not known: ${c.accountsNotCompared}`)
    for (const u of c.users.added) lines.push(`  user added: ${u}`)
    for (const u of c.users.removed) lines.push(`  user removed: ${u}`)
    for (const k of c.keys.added) lines.push(`  key added: ${k}`)
    for (const k of c.keys.removed) lines.push(`  key removed: ${k}`)
    for (const e of c.files.examples) lines.push(`  file ${e.change}: ${e.owner}/${e.path}`)
    const unshown = c.files.added + c.files.removed + c.files.changed - c.files.examples.length
    if (unshown > 0) lines.push(`  ... and ${unshown} more (every file: sftp-cutover inventory report --format csv --files)`)
  }
  return lines.join('\n')
}
