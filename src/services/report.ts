import {mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {CarryBackStore} from '../adapters/carry-back-store.js'
import {CutoverStore, type DnsRecordState} from '../adapters/cutover-store.js'
import {ReportStore, type SyncTotals} from '../adapters/report-store.js'
import type {SqliteStateStore} from '../adapters/state.js'
import {type RecordedUser, TransferStore} from '../adapters/transfer-store.js'
import type {Config} from '../core/config.js'
import {describeRecordSet} from '../core/dns-plan.js'
import {displayPath} from '../core/findings.js'
import type {Finding} from '../core/inventory-model.js'
import {formatBytes} from '../ui/format.js'
import {type InventoryReportData, inventoryReportData} from './inventory.js'
import {lastVerifyResult, type LastVerify} from './verify-record.js'

export interface ResolvedFinding extends Finding {
  resolution: string
}

export interface MigrationReport {
  generatedAt: string
  source: string
  target: {bucket: string; prefix: string; transferServerId?: string; recordName?: string}
  inventory?: {runId: number; at: string; accounts: number; files: number; bytes: number; findings: Record<string, number>}
  findings: ResolvedFinding[]
  users: Array<RecordedUser & {renamed: boolean; keys: number}>
  hostKeys: Array<{type: string; fingerprint: string}>
  sync: {totals: SyncTotals[]; files: number; bytes: number; lastRun?: {startedAt: string; finishedAt?: string; status: string}; problems: Array<{owner: string; path: string; kind: string; reason: string}>}
  verify?: LastVerify
  cutover?: {runbook: string; status: string; steps: Array<{id: string; status: string; startedAt?: string; finishedAt?: string; seconds?: number; summary?: string}>}
  dns?: DnsRecordState
  /** What rollback carried back from S3 to the legacy box (and the deletions it saw) */
  carriedBack: Array<{owner: string; path: string; dest: string; size: number; arrivedAt: string; action: string; status: string; reason?: string}>
}

/** How a finding was dealt with, from what users import and sync recorded. */
function resolve(f: Finding, users: Map<string, RecordedUser>, renames: Record<string, string>, syncProblems: Map<string, string>): string {
  const [kind, owner, ...rest] = f.subject.split(':')
  if (kind === 'user' || kind === 'key') {
    const transferName = renames[owner] ?? owner
    const u = users.get(transferName)
    if (f.rule === 'user.name-invalid') return renames[owner] ? `renamed to ${renames[owner]}` : 'not imported (rename it in users import --interactive)'
    if (!u) return 'user not imported'
    if (kind === 'key') return f.severity === 'blocker' ? 'key not imported' : f.rule === 'key.options' ? 'imported without its options' : f.rule === 'key.format' ? 'converted to OpenSSH form and imported' : 'noted'
    return u.status === 'applied' ? `user imported as ${u.userName}` : `users import: ${u.status}${u.error ? ` (${u.error})` : ''}`
  }
  if (kind === 'file') {
    const problem = syncProblems.get(`${owner}:${rest.join(':')}`)
    if (problem) return `reported by sync, not copied: ${problem}`
    return f.severity === 'blocker' ? 'not copied' : 'noted'
  }
  return 'noted'
}

/** Gathers everything the project recorded into one report for sign-off. */
export function buildMigrationReport(state: SqliteStateStore, config: Config): MigrationReport {
  let inv: InventoryReportData | undefined
  try {
    inv = inventoryReportData(state)
  } catch {
    inv = undefined
  }
  const serverId = config.target.transferServerId
  const transfer = new TransferStore(state)
  const recorded = serverId ? transfer.users(serverId) : []
  const renames = transfer.renames()
  const reports = new ReportStore(state)
  const problems = reports.syncProblems().map((p) => ({owner: p.owner, path: displayPath(p.path), kind: p.kind, reason: p.reason}))
  const syncProblems = new Map(problems.map((p) => [`${p.owner}:${p.path}`, `${p.kind}: ${p.reason}`]))
  const userMap = new Map(recorded.map((u) => [u.userName, u]))
  const totals = reports.syncTotals()
  const cutover = new CutoverStore(state)
  const run = cutover.lastRun()
  const {hostedZoneId, recordName} = config.dns
  return {
    generatedAt: new Date().toISOString(),
    source: `${config.source.host}:${config.source.port}`,
    target: {bucket: config.target.bucket, prefix: config.target.prefix, transferServerId: serverId, recordName},
    inventory: inv && {
      runId: inv.run.id,
      at: inv.run.startedAt,
      accounts: inv.accounts.length,
      files: inv.summary.owners.reduce((n, o) => n + o.files, 0),
      bytes: inv.summary.owners.reduce((n, o) => n + o.bytes, 0),
      findings: inv.summary.findings,
    },
    findings: (inv?.findings ?? []).filter((f) => f.severity !== 'info').map((f) => ({...f, resolution: resolve(f, userMap, renames, syncProblems)})),
    users: recorded.map((u) => ({...u, renamed: u.userName !== u.legacyName, keys: serverId ? transfer.importedKeys(serverId, u.userName).length : 0})),
    hostKeys: serverId ? transfer.hostKeys(serverId).map((k) => ({type: k.type, fingerprint: k.fingerprint})) : [],
    sync: {totals, files: totals.reduce((n, t) => n + t.files, 0), bytes: totals.reduce((n, t) => n + t.bytes, 0), lastRun: reports.lastSyncRun(), problems},
    verify: lastVerifyResult(state),
    cutover: run && {
      runbook: run.runbook,
      status: run.status,
      steps: run.steps.map((s) => ({
        id: s.stepId,
        status: s.status,
        startedAt: s.startedAt,
        finishedAt: s.finishedAt,
        seconds: s.startedAt && s.finishedAt ? (Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000 : undefined,
        summary: (s.output as {summary?: string; error?: string} | undefined)?.summary ?? (s.output as {error?: string} | undefined)?.error,
      })),
    },
    dns: hostedZoneId && recordName ? cutover.dnsRecord(hostedZoneId, recordName) : undefined,
    carriedBack: new CarryBackStore(state).items().map((i) => ({
      owner: i.owner,
      path: displayPath(i.relPath),
      dest: displayPath(i.dest),
      size: i.size,
      arrivedAt: i.lastModified,
      action: i.action,
      status: i.status,
      ...(i.reason ? {reason: i.reason} : {}),
    })),
  }
}

const cell = (s: unknown) => String(s ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ')

export function migrationMarkdown(r: MigrationReport): string {
  const out: string[] = [`# Migration report: ${r.source} to AWS Transfer Family`, '', `Generated ${r.generatedAt}. Bucket \`${r.target.bucket}\`${r.target.prefix ? `, prefix \`${r.target.prefix}\`` : ''}, server ${r.target.transferServerId ?? '(not set)'}, record ${r.target.recordName ?? '(not set)'}.`, '']
  out.push('## Inventory', '')
  out.push(r.inventory ? `Run ${r.inventory.runId} (${r.inventory.at}): ${r.inventory.accounts} account(s), ${r.inventory.files} file(s), ${formatBytes(r.inventory.bytes)}; findings: ${r.inventory.findings.blocker} blocker(s), ${r.inventory.findings.warning} warning(s), ${r.inventory.findings.info} info.` : 'No inventory.', '')
  out.push('## Findings and how each was resolved', '', '| severity | rule | subject | resolution |', '| --- | --- | --- | --- |')
  for (const f of r.findings) out.push(`| ${f.severity} | ${f.rule} | ${cell(f.subject)} | ${cell(f.resolution)} |`)
  out.push('', '## Users and keys imported', '', '| Transfer user | legacy user | status | keys |', '| --- | --- | --- | ---: |')
  for (const u of r.users) out.push(`| ${cell(u.userName)} | ${cell(u.legacyName)}${u.renamed ? ' (renamed)' : ''} | ${u.status}${u.error ? `: ${cell(u.error)}` : ''} | ${u.keys} |`)
  out.push('', `Host keys imported: ${r.hostKeys.map((k) => `${k.type} ${k.fingerprint}`).join(', ') || 'none'}.`, '')
  out.push('## Files synced and verified', '', '| user | files | directories | bytes |', '| --- | ---: | ---: | ---: |')
  for (const t of r.sync.totals) out.push(`| ${cell(t.owner)} | ${t.files} | ${t.dirs} | ${formatBytes(t.bytes)} |`)
  out.push('', `Total: ${r.sync.files} file(s), ${formatBytes(r.sync.bytes)}. Last sync: ${r.sync.lastRun ? `${r.sync.lastRun.status}, ${r.sync.lastRun.startedAt}` : 'none'}. Not copied: ${r.sync.problems.length}.`)
  out.push(`Last verify: ${r.verify ? `${r.verify.at}, ${r.verify.checked} checked, ${r.verify.mismatches} mismatch(es)${r.verify.efs ? ', EFS included' : ''}` : 'none'}.`, '')
  out.push('## Cutover timeline', '')
  if (r.cutover) {
    out.push(`Runbook ${r.cutover.runbook}: ${r.cutover.status}.`, '', '| step | status | started | seconds | outcome |', '| --- | --- | --- | ---: | --- |')
    for (const s of r.cutover.steps) out.push(`| ${s.id} | ${s.status} | ${s.startedAt ?? ''} | ${s.seconds?.toFixed(1) ?? ''} | ${cell(s.summary)} |`)
  } else {
    out.push('No cutover has run.')
  }
  out.push('', '## DNS record saved for rollback', '')
  if (r.dns?.saved) {
    out.push(`${r.dns.recordName} in ${r.dns.hostedZoneId}, switched ${r.dns.switchedAt ?? '(not yet)'}${r.dns.rolledBackAt ? `, rolled back ${r.dns.rolledBackAt}` : ''}. Before the switch:`, '')
    for (const s of r.dns.saved) out.push(`- ${describeRecordSet(s)}`)
    out.push('', 'sftp-cutover rollback restores exactly these record sets.')
  } else {
    out.push('Nothing saved: the record has not been switched.')
  }
  out.push('', '## Carried back', '')
  if (r.carriedBack.length > 0) {
    const files = r.carriedBack.filter((f) => f.action !== 'deleted')
    const conflicts = files.filter((f) => f.action === 'conflict')
    out.push(
      `Files that arrived through Transfer after the switch and were written back to the legacy box by rollback: ${files.filter((f) => f.status === 'verified').length} of ${files.length} verified on the box; ${conflicts.length} conflict(s) (changed on both sides: the S3 version was written beside the box's file).`,
      '',
      '| user | path | bytes | arrived in S3 | action | status | written to |',
      '| --- | --- | ---: | --- | --- | --- | --- |',
    )
    for (const f of files) out.push(`| ${cell(f.owner)} | ${cell(f.path)} | ${f.size} | ${f.arrivedAt} | ${f.action} | ${f.status}${f.reason ? `: ${cell(f.reason)}` : ''} | ${cell(f.dest)} |`)
    const deleted = r.carriedBack.filter((f) => f.action === 'deleted')
    if (deleted.length > 0) {
      out.push('', 'Deleted through Transfer after the switch:', '')
      for (const d of deleted) out.push(`- ${d.owner}: ${d.path}: ${d.status === 'reported' ? 'reported, still on the box' : d.status === 'replayed' ? 'deleted on the box too' : `kept on the box (${d.reason ?? 'changed there'})`}`)
    }
  } else {
    out.push('Nothing: no rollback has carried files back.')
  }
  return out.join('\n') + '\n'
}

/** Writes the report as Markdown and JSON into the reports directory; returns both paths. */
export async function writeMigrationReport(state: SqliteStateStore, config: Config, reportsDir: string): Promise<{markdown: string; json: string; report: MigrationReport}> {
  const report = buildMigrationReport(state, config)
  await mkdir(reportsDir, {recursive: true})
  const stamp = report.generatedAt.replace(/[:.]/g, '-')
  const markdown = join(reportsDir, `migration-${stamp}.md`)
  const json = join(reportsDir, `migration-${stamp}.json`)
  await writeFile(markdown, migrationMarkdown(report))
  await writeFile(json, JSON.stringify(report, null, 2) + '\n')
  return {markdown, json, report}
}
