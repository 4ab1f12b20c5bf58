import {displayPath} from '../core/findings.js'
import type {FileEntry} from '../core/inventory-model.js'
import type {InventoryReportData} from '../services/inventory.js'
import {formatBytes} from './format.js'

function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v)
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function csvLine(values: unknown[]): string {
  return values.map(csvCell).join(',') + '\r\n'
}

const mdCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ')

/** The sign-off report in Markdown. */
export function inventoryMarkdown(d: InventoryReportData): string {
  const out: string[] = []
  const s = d.summary
  out.push(`# Inventory of ${d.run.host}`, '', `Run ${d.run.id}, ${d.run.startedAt} to ${d.run.finishedAt ?? '?'}; accounts from: ${d.run.accountsSource ?? 'none'}.`, '')
  out.push(`**Findings:** ${s.findings.blocker} blocker(s), ${s.findings.warning} warning(s), ${s.findings.info} info.`, '')
  out.push('## Files per user', '', '| user | files | directories | other | bytes | unreadable |', '| --- | ---: | ---: | ---: | ---: | ---: |')
  for (const o of s.owners) out.push(`| ${mdCell(o.owner)} | ${o.files} | ${o.dirs} | ${o.other} | ${formatBytes(o.bytes)} | ${o.errors} |`)
  out.push('', '## Accounts', '', '| user | uid | home | chroot | SFTP root | password login | keys |', '| --- | ---: | --- | --- | --- | --- | --- |')
  for (const a of d.accounts) {
    const keys = a.keys.map((k) => `${k.type}${k.bits ? ` ${k.bits}` : ''} ${k.fingerprint ?? '(unparseable)'}${k.options.length ? ` [${k.options.join(',')}]` : ''}`).join('<br>')
    out.push(`| ${mdCell(a.name)} | ${a.uid} | ${mdCell(a.home)} | ${mdCell(a.chroot ?? '')} | ${mdCell(a.sftpRoot)} | ${a.login.password} | ${mdCell(keys) || 'none'} |`)
  }
  out.push('', '## Host keys', '', '| type | bits | fingerprint |', '| --- | ---: | --- |')
  for (const k of d.hostKeys) out.push(`| ${k.type} | ${k.bits ?? ''} | ${k.fingerprint} |`)
  out.push('', '## Findings', '')
  for (const sev of ['blocker', 'warning', 'info'] as const) {
    const list = d.findings.filter((f) => f.severity === sev)
    if (list.length === 0) continue
    out.push(`### ${sev} (${list.length})`, '', '| rule | subject | reason | fix |', '| --- | --- | --- | --- |')
    for (const f of list) out.push(`| ${f.rule} | ${mdCell(f.subject)} | ${mdCell(f.reason)} | ${mdCell(f.fix)} |`)
    out.push('')
  }
  if (d.changes) {
    const c = d.changes
    out.push('## Changes since the previous inventory', '', `Previous inventory: ${c.since}.`, '')
    if (c.accountsNotCompared) out.push(`- users and keys removed: not known: ${c.accountsNotCompared}`)
    out.push(`- users added: ${c.users.added.join(', ') || 'none'}; removed: ${c.users.removed.join(', ') || 'none'}`)
    out.push(`- keys added: ${c.keys.added.join('; ') || 'none'}; removed: ${c.keys.removed.join('; ') || 'none'}`)
    out.push(`- files added: ${c.files.added}, removed: ${c.files.removed}, changed: ${c.files.changed}`)
    for (const e of c.files.examples) out.push(`  - ${e.change}: ${mdCell(`${e.owner}/${e.path}`)}`)
    out.push('')
  }
  return out.join('\n')
}

export const FINDINGS_CSV_HEADER = ['severity', 'rule', 'subject', 'reason', 'fix']
export const FILES_CSV_HEADER = ['owner', 'path', 'type', 'size', 'mtime', 'mode', 'uid', 'gid', 'link_target', 'error']

/** A file row; paths that are not UTF-8 are written with \xNN escapes (displayPath), never lossy. */
export function fileCsvLine(e: FileEntry): string {
  return csvLine([e.owner, displayPath(e.path), e.type, e.size, new Date(e.mtime * 1000).toISOString(), (e.mode & 0o7777).toString(8).padStart(4, '0'), e.uid, e.gid, e.linkTarget ? displayPath(e.linkTarget) : '', e.error ?? ''])
}
