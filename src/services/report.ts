import {mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {CarryBackStore} from '../adapters/carry-back-store.js'
import {CutoverStore, type DnsRecordState} from '../adapters/cutover-store.js'
import {InventoryStore, type OwnerSummary} from '../adapters/inventory-store.js'
import {ReportStore, type SyncTotals} from '../adapters/report-store.js'
import type {SqliteStateStore} from '../adapters/state.js'
import {toolVersion} from '../adapters/tool-version.js'
import {type RecordedUser, TransferStore} from '../adapters/transfer-store.js'
import type {Config} from '../core/config.js'
import {describeRecordSet} from '../core/dns-plan.js'
import {displayPath} from '../core/findings.js'
import type {Finding} from '../core/inventory-model.js'
import type {KeyAcceptance} from '../core/transfer-rules.js'
import {countFindings, type FileStats, FileStatsBuilder, type FindingCount} from '../core/report-bins.js'
// Known debt: this service renders its Markdown and HTML itself; the rendering belongs in src/ui (the report command).
// eslint-disable-next-line @typescript-eslint/no-restricted-imports
import {formatBytes} from '../ui/format.js'
// eslint-disable-next-line @typescript-eslint/no-restricted-imports
import {migrationHtml} from '../ui/report-html.js'
import {type InventoryReportData, inventoryReportData} from './inventory.js'
import {lastVerifyResult, type LastVerify} from './verify-record.js'

export interface ResolvedFinding extends Finding {
  resolution: string
}

/** What the inventory charts show: per user files and bytes, file sizes and ages, findings per rule, largest directories. */
export interface InventoryCharts extends FileStats {
  owners: OwnerSummary[]
  findings: FindingCount[]
}

/** The inventory report (inventory report --format json|html): what the inventory recorded, and its charts' data. */
export interface InventoryReport extends InventoryReportData {
  generatedAt: string
  toolVersion: string
  charts: InventoryCharts
}

/** One sync run as the report charts it: files and bytes copied, throughput, what was not copied. */
export interface SyncRunPoint {
  id: number
  startedAt: string
  finishedAt?: string
  status: string
  seconds?: number
  filesCopied: number
  bytesCopied: number
  /** bytes copied per second of the run's duration */
  bytesPerSecond?: number
  /** files that failed to copy or changed while read */
  failed: number
  /** files skipped by design (symbolic links, special files) */
  skipped: number
}

/** The last verify, per user: entries (files, empty-directory markers) verified and mismatched, and files the last sync reported and did not copy. */
export interface VerifyPerUser {
  owner: string
  verified: number
  mismatched: number
  notCopied: number
}

export interface MigrationReport {
  generatedAt: string
  toolVersion: string
  source: string
  target: {bucket: string; prefix: string; transferServerId?: string; recordName?: string}
  inventory?: {runId: number; at: string; accounts: number; files: number; bytes: number; findings: Record<string, number>; charts: InventoryCharts}
  findings: ResolvedFinding[]
  users: Array<RecordedUser & {renamed: boolean; keys: number}>
  /** what the operator accepted per legacy user (users import --import-dead-keys, --accept-key-options) */
  acceptedRisks: Array<{legacyName: string; risk: string; at: string}>
  hostKeys: Array<{type: string; fingerprint: string}>
  sync: {totals: SyncTotals[]; files: number; bytes: number; lastRun?: {startedAt: string; finishedAt?: string; status: string}; runs: SyncRunPoint[]; problems: Array<{owner: string; path: string; kind: string; reason: string}>
    /** after the switch: paths changed both on the box and through Transfer (S3's object kept, the box's beside it), from every run */
    conflicts: Array<{owner: string; path: string; reason: string; at: string}>}
  verify?: LastVerify & {perUser?: VerifyPerUser[]}
  cutover?: {
    runbook: string
    status: string
    steps: Array<{id: string; type: string; status: string; startedAt?: string; finishedAt?: string; seconds?: number; summary?: string}>
    /** From the freeze step's start to the end of the DNS switch (or of the run, when the switch did not finish): clients could write to neither box */
    freezeWindow?: {from: string; to: string}
  }
  dns?: DnsRecordState
  /** What rollback carried back from S3 to the legacy box (and the deletions it saw) */
  carriedBack: Array<{owner: string; path: string; dest: string; size: number; arrivedAt: string; action: string; status: string; reason?: string}>
}

/** The charts' data for an inventory: one pass over its files (ages counted from the inventory's start, so a report says the same whenever it is written). */
export function inventoryCharts(state: SqliteStateStore, inv: InventoryReportData): InventoryCharts {
  const stats = new FileStatsBuilder(Math.floor(Date.parse(inv.run.startedAt) / 1000))
  for (const f of new InventoryStore(state).regularFiles(inv.run.id)) stats.add(f.owner, f.path, f.size, f.mtime)
  return {owners: inv.summary.owners, findings: countFindings(inv.findings), ...stats.result()}
}

/** The last complete inventory with its charts' data. */
export function buildInventoryReport(state: SqliteStateStore): InventoryReport {
  const inv = inventoryReportData(state)
  return {generatedAt: new Date().toISOString(), toolVersion: toolVersion(), ...inv, charts: inventoryCharts(state, inv)}
}

function syncRunPoints(reports: ReportStore): SyncRunPoint[] {
  return reports.syncRuns().map((r) => {
    const s = r.summary as {counts?: Record<string, number>; bytes?: {copied?: number}; durationMs?: number} | undefined
    const c = s?.counts ?? {}
    const seconds = s?.durationMs !== undefined ? s.durationMs / 1000 : r.finishedAt ? (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000 : undefined
    const bytesCopied = s?.bytes?.copied ?? 0
    return {
      id: r.id,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
      status: r.status,
      seconds,
      filesCopied: c.copied ?? 0,
      bytesCopied,
      bytesPerSecond: seconds ? Math.round(bytesCopied / seconds) : undefined,
      failed: (c.failed ?? 0) + (c.changedDuringRead ?? 0),
      skipped: c.skipped ?? 0,
    }
  })
}

function verifyPerUser(last: LastVerify | undefined, notCopied: Map<string, number>): VerifyPerUser[] | undefined {
  if (!last?.perOwner) return undefined
  const owners = [...new Set([...Object.keys(last.perOwner), ...notCopied.keys()])].sort()
  return owners.map((owner) => {
    const v = last.perOwner![owner] ?? {checked: 0, mismatched: 0}
    return {owner, verified: v.checked - v.mismatched, mismatched: v.mismatched, notCopied: notCopied.get(owner) ?? 0}
  })
}

type Steps = NonNullable<MigrationReport['cutover']>['steps']
function freezeWindow(steps: Steps, runFinishedAt: string | undefined): {from: string; to: string} | undefined {
  const freeze = steps.find((s) => s.type === 'freeze' && s.startedAt)
  if (!freeze?.startedAt) return undefined
  const to = steps.find((s) => s.type === 'dns-switch' && s.status === 'done')?.finishedAt ?? runFinishedAt ?? steps.map((s) => s.finishedAt ?? s.startedAt ?? '').sort().at(-1)
  return to ? {from: freeze.startedAt, to} : undefined
}

/** How a finding was dealt with, from what users import and sync recorded. */
function resolve(f: Finding, users: Map<string, RecordedUser>, renames: Record<string, string>, syncProblems: Map<string, string>, accepted: Record<string, KeyAcceptance>): string {
  const [kind, owner, ...rest] = f.subject.split(':')
  if (kind === 'user' || kind === 'key') {
    const transferName = renames[owner] ?? owner
    const u = users.get(transferName)
    if (f.rule === 'user.name-invalid') return renames[owner] ? `renamed to ${renames[owner]}` : 'not imported (rename it in users import --interactive)'
    if (!u) return 'user not imported'
    if (kind === 'key') {
      if (f.rule === 'key.options') return accepted[owner]?.keyOptions ? 'accepted risk: imported without its options' : 'key not imported'
      if (f.rule === 'key.dead') return accepted[owner]?.deadKeys ? 'accepted risk: imported although sshd ignores it' : 'not imported (no access today, none after)'
      return f.severity === 'blocker' ? 'key not imported' : f.rule === 'key.format' ? 'converted to OpenSSH form and imported' : 'noted'
    }
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
  const acceptances = transfer.acceptances()
  const reports = new ReportStore(state)
  const problems = reports.syncProblems().map((p) => ({owner: p.owner, path: displayPath(p.path), kind: p.kind, reason: p.reason}))
  const syncProblems = new Map(problems.map((p) => [`${p.owner}:${p.path}`, `${p.kind}: ${p.reason}`]))
  const userMap = new Map(recorded.map((u) => [u.userName, u]))
  const totals = reports.syncTotals()
  const cutover = new CutoverStore(state)
  const run = cutover.lastRun()
  const {hostedZoneId, recordName} = config.dns
  const verify = lastVerifyResult(state)
  const steps: Steps =
    run?.steps.map((s) => ({
      id: s.stepId,
      type: s.type,
      status: s.status,
      startedAt: s.startedAt,
      finishedAt: s.finishedAt,
      seconds: s.startedAt && s.finishedAt ? (Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000 : undefined,
      summary: (s.output as {summary?: string; error?: string} | undefined)?.summary ?? (s.output as {error?: string} | undefined)?.error,
    })) ?? []
  return {
    generatedAt: new Date().toISOString(),
    toolVersion: toolVersion(),
    source: `${config.source.host}:${config.source.port}`,
    target: {bucket: config.target.bucket, prefix: config.target.prefix, transferServerId: serverId, recordName},
    inventory: inv && {
      runId: inv.run.id,
      at: inv.run.startedAt,
      accounts: inv.accounts.length,
      files: inv.summary.owners.reduce((n, o) => n + o.files, 0),
      bytes: inv.summary.owners.reduce((n, o) => n + o.bytes, 0),
      findings: inv.summary.findings,
      charts: inventoryCharts(state, inv),
    },
    findings: (inv?.findings ?? []).filter((f) => f.severity !== 'info').map((f) => ({...f, resolution: resolve(f, userMap, renames, syncProblems, acceptances)})),
    users: recorded.map((u) => ({...u, renamed: u.userName !== u.legacyName, keys: serverId ? transfer.importedKeys(serverId, u.userName).length : 0})),
    acceptedRisks: Object.entries(acceptances).flatMap(([legacyName, a]) => [
      ...(a.deadKeys ? [{legacyName, risk: 'keys sshd ignores today are imported (users import --import-dead-keys)', at: a.at}] : []),
      ...(a.keyOptions ? [{legacyName, risk: 'keys are imported without the authorized_keys options that restricted them (users import --accept-key-options)', at: a.at}] : []),
    ]),
    hostKeys: serverId ? transfer.hostKeys(serverId).map((k) => ({type: k.type, fingerprint: k.fingerprint})) : [],
    sync: {totals, files: totals.reduce((n, t) => n + t.files, 0), bytes: totals.reduce((n, t) => n + t.bytes, 0), lastRun: reports.lastSyncRun(), runs: syncRunPoints(reports), problems, conflicts: reports.syncConflicts().map((c) => ({...c, path: displayPath(c.path)}))},
    verify: verify && {...verify, perUser: verifyPerUser(verify, reports.syncProblemsPerOwner())},
    cutover: run && {runbook: run.runbook, status: run.status, steps, freezeWindow: freezeWindow(steps, run.finishedAt)},
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
  if (r.acceptedRisks.length > 0) {
    out.push('', '## Accepted risks', '', '| legacy user | accepted | since |', '| --- | --- | --- |')
    for (const a of r.acceptedRisks) out.push(`| ${cell(a.legacyName)} | ${cell(a.risk)} | ${a.at} |`)
  }
  out.push('', `Host keys imported: ${r.hostKeys.map((k) => `${k.type} ${k.fingerprint}`).join(', ') || 'none'}.`, '')
  out.push('## Files synced and verified', '', '| user | files | directories | bytes |', '| --- | ---: | ---: | ---: |')
  for (const t of r.sync.totals) out.push(`| ${cell(t.owner)} | ${t.files} | ${t.dirs} | ${formatBytes(t.bytes)} |`)
  out.push('', `Total: ${r.sync.files} file(s), ${formatBytes(r.sync.bytes)}. Last sync: ${r.sync.lastRun ? `${r.sync.lastRun.status}, ${r.sync.lastRun.startedAt}` : 'none'}. Not copied: ${r.sync.problems.length}.`)
  if (r.sync.conflicts.length > 0) {
    out.push('', '### Conflicts after the switch', '', 'Changed both on the legacy box and through Transfer: S3 kept its object, the box\'s version is beside it as `<name>.from-legacy-<time>`.', '', '| user | path | found | what happened |', '| --- | --- | --- | --- |')
    for (const c of r.sync.conflicts) out.push(`| ${cell(c.owner)} | ${cell(c.path)} | ${c.at} | ${cell(c.reason)} |`)
    out.push('')
  }
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

export const REPORT_FORMATS = ['md', 'json', 'html'] as const
export type ReportFormat = (typeof REPORT_FORMATS)[number]
export type ReportFiles = Partial<Record<ReportFormat, string>>

/** Writes the report in the given formats (all three by default) into the reports directory; returns their paths. */
export async function writeMigrationReport(
  state: SqliteStateStore,
  config: Config,
  reportsDir: string,
  formats: readonly ReportFormat[] = REPORT_FORMATS,
): Promise<{files: ReportFiles; report: MigrationReport}> {
  const report = buildMigrationReport(state, config)
  await mkdir(reportsDir, {recursive: true})
  const stamp = report.generatedAt.replace(/[:.]/g, '-')
  const files: ReportFiles = {}
  for (const format of formats) {
    const file = join(reportsDir, `migration-${stamp}.${format}`)
    const text = format === 'md' ? migrationMarkdown(report) : format === 'json' ? JSON.stringify(report, null, 2) + '\n' : await migrationHtml(report)
    await writeFile(file, text)
    files[format] = file
  }
  return {files, report}
}
