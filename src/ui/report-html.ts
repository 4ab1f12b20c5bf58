/**
 * The HTML reports: one self-contained page each (styles inline, charts as static SVG, no script, no request),
 * for the people who sign off a cutover. Every chart has a caption and its numbers in a <details> table.
 */
import type {TopLevelSpec} from 'vega-lite'

import {describeRecordSet} from '../core/dns-plan.js'
import type {InventoryCharts, InventoryReport, MigrationReport} from '../services/report.js'
import {categories, PALETTE, renderChart} from './charts.js'
import {formatBytes} from './format.js'

/** Rows a findings table shows; the rest are counted and left to the JSON and CSV reports (which hold them all). */
const MAX_FINDING_ROWS = 300
const FOLD_FINDINGS_OVER = 25

const esc = (v: unknown) =>
  String(v ?? '').replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'})[c]!)

interface Column<T> {
  head: string
  /** the cell's value: numbers are written exactly (data-value) and shown with thousands separators */
  value: (r: T) => string | number | undefined
  /** shown instead of the value (e.g. bytes as "1.5 MiB"); the exact value stays in data-value */
  show?: (r: T) => string
  /** keep the cell on one line (dates) */
  nowrap?: boolean
}

function table<T>(name: string, rows: T[], cols: Array<Column<T>>): string {
  const head = cols.map((c) => `<th scope="col">${esc(c.head)}</th>`).join('')
  const body = rows
    .map((r) => {
      const cells = cols.map((c) => {
        const v = c.value(r)
        if (typeof v === 'number') return `<td class="num" data-value="${v}">${esc(c.show ? c.show(r) : v.toLocaleString('en-US'))}</td>`
        return `<td${c.nowrap ? ' class="nowrap"' : ''}>${esc(c.show ? c.show(r) : v)}</td>`
      })
      return `<tr>${cells.join('')}</tr>`
    })
    .join('\n')
  return `<table data-table="${esc(name)}"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`
}

/** A chart with its caption and its data as a table. */
async function chart<T>(name: string, title: string, caption: string, spec: TopLevelSpec, rows: T[], cols: Array<Column<T>>): Promise<string> {
  const svg = rows.length > 0 ? await renderChart({...spec, description: `${title}. ${caption}`} as TopLevelSpec) : '<p class="empty">Nothing recorded.</p>'
  return `<figure data-chart="${esc(name)}">
<h3>${esc(title)}</h3>
<div class="chart" role="img" aria-label="${esc(title)}">${svg}</div>
<figcaption>${esc(caption)}</figcaption>
<details><summary>The numbers behind “${esc(title)}”</summary>${table(name, rows, cols)}</details>
</figure>`
}

/** Counts are whole numbers: no 0.5 ticks, no decimals on a zero axis. */
const COUNT_AXIS = {format: 'd', tickMinStep: 1}

const bytesCol = <T>(head: string, get: (r: T) => number): Column<T> => ({head, value: get, show: (r) => formatBytes(get(r))})
const sum = <T>(rows: T[], key: keyof T) => rows.reduce((n, r) => n + Number(r[key]), 0).toLocaleString('en-US')
const shortTime = (iso: string) => iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')

async function inventorySections(c: InventoryCharts): Promise<string[]> {
  const width = 560
  const users = await chart(
    'users',
    'Files and bytes per user',
    'Regular files and their total size under each user’s data root, as the last inventory listed them.',
    {
      data: {values: c.owners},
      hconcat: [
        {width: 260, mark: {type: 'bar', color: PALETTE.single}, encoding: {y: {field: 'owner', type: 'nominal', title: 'user'}, x: {field: 'files', type: 'quantitative', title: 'files', axis: COUNT_AXIS}}},
        {width: 260, mark: {type: 'bar', color: PALETTE.mid}, encoding: {y: {field: 'owner', type: 'nominal', title: null, axis: {labels: false}}, x: {field: 'bytes', type: 'quantitative', title: 'bytes', axis: {format: '.2~s'}}}},
      ],
    } as TopLevelSpec,
    c.owners,
    [{head: 'user', value: (o) => o.owner}, {head: 'files', value: (o) => o.files}, {head: 'directories', value: (o) => o.dirs}, bytesCol('bytes', (o) => o.bytes), {head: 'unreadable', value: (o) => o.errors}],
  )
  // Files per bin of a histogram (sizes, ages): bars in bin order, and the table with the bytes of each bin.
  const histogram = (name: string, title: string, caption: string, bins: Array<{bin: string; files: number; bytes: number}>, binTitle: string) =>
    chart(
      name,
      title,
      caption,
      {
        width,
        data: {values: bins},
        mark: {type: 'bar', color: PALETTE.single},
        encoding: {x: {field: 'bin', type: 'ordinal', sort: null, title: binTitle, axis: {labelAngle: -40}}, y: {field: 'files', type: 'quantitative', title: 'files', axis: COUNT_AXIS}},
      },
      bins,
      [{head: binTitle === 'file size' ? 'size' : binTitle, value: (b: {bin: string}) => b.bin}, {head: 'files', value: (b) => b.files}, bytesCol('bytes', (b) => b.bytes)],
    )
  const sizes = await histogram(
    'sizes',
    'File sizes',
    'How many files fall in each size range; each range is four times the one before (a log scale). Lower bound included, upper excluded.',
    c.sizes,
    'file size',
  )
  const ages = await histogram(
    'ages',
    'Time since last modified',
    'How long before the inventory each file was last modified: the right-hand bars are what has not changed in years.',
    c.ages,
    'last modified',
  )
  const findings = await chart(
    'findings',
    'Findings by rule and severity',
    'What the inventory found that needs a decision before the cutover, per rule; each finding and how it is resolved is listed below.',
    {
      width,
      data: {values: c.findings},
      mark: 'bar',
      encoding: {
        y: {field: 'rule', type: 'nominal', title: 'rule', sort: null},
        x: {field: 'count', type: 'quantitative', title: 'findings', axis: COUNT_AXIS},
        color: {field: 'severity', type: 'nominal', title: 'severity', scale: categories(['blocker', 'warning', 'info'])},
      },
    },
    c.findings,
    [{head: 'severity', value: (f) => f.severity}, {head: 'rule', value: (f) => f.rule}, {head: 'findings', value: (f) => f.count}],
  )
  const dirs = await chart(
    'directories',
    'Largest directories',
    'The directories holding the most bytes in files directly inside them (not counting their subdirectories).',
    {
      width,
      data: {values: c.largestDirectories.map((d) => ({...d, label: `${d.owner}: ${d.directory}`}))},
      mark: {type: 'bar', color: PALETTE.mid},
      encoding: {y: {field: 'label', type: 'nominal', title: null, sort: null}, x: {field: 'bytes', type: 'quantitative', title: 'bytes', axis: {format: '.2~s'}}},
    },
    c.largestDirectories,
    [{head: 'user', value: (d) => d.owner}, {head: 'directory', value: (d) => d.directory}, {head: 'files', value: (d) => d.files}, bytesCol('bytes', (d) => d.bytes)],
  )
  return [users, sizes, ages, findings, dirs]
}

function findingsList<T extends {severity: string; rule: string; subject: string}>(rows: T[], last: Column<T>[]): string {
  const shown = rows.slice(0, MAX_FINDING_ROWS)
  const more = rows.length - shown.length
  const list = `${table('findings-list', shown, [{head: 'severity', value: (f) => f.severity}, {head: 'rule', value: (f) => f.rule}, {head: 'subject', value: (f) => f.subject}, ...last])}
${more > 0 ? `<p class="note">… and ${more.toLocaleString('en-US')} more finding(s), all in the JSON report (and inventory report --format csv).</p>` : ''}`
  // A long list is folded on screen (the chart above sums it up); print unfolds it like every <details>.
  return rows.length > FOLD_FINDINGS_OVER ? `<details><summary>All ${rows.length.toLocaleString('en-US')} finding(s)</summary>${list}</details>` : list
}

const STYLE = `
:root { color-scheme: light; }
body { font-family: DejaVu Sans, Helvetica, Arial, sans-serif; color: #111; background: #fff; margin: 0 auto; max-width: 60rem; padding: 1.5rem; line-height: 1.45; font-size: 15px; }
header { border-bottom: 2px solid #111; margin-bottom: 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 .5rem; }
h2 { font-size: 1.3rem; border-bottom: 1px solid #999; padding-bottom: .2rem; margin-top: 2rem; }
h3 { font-size: 1.05rem; margin: 1rem 0 .4rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0 0 1rem; }
dl.facts dt { font-weight: bold; }
dl.facts dd { margin: 0; font-family: DejaVu Sans Mono, monospace; font-size: .9em; overflow-wrap: anywhere; }
figure { margin: 0 0 1.5rem; }
.chart, figcaption { break-inside: avoid; }
figure h3 { break-after: avoid; }
.chart svg { max-width: 100%; height: auto; }
figcaption { font-size: .9rem; color: #333; margin: .3rem 0; }
details summary { cursor: pointer; font-size: .9rem; }
table { border-collapse: collapse; font-size: .85rem; margin: .4rem 0; }
th, td { border: 1px solid #aaa; padding: .15rem .45rem; text-align: left; vertical-align: top; overflow-wrap: break-word; }
td { max-width: 28rem; }
th { background: #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.nowrap { white-space: nowrap; }
code, pre { font-family: DejaVu Sans Mono, monospace; font-size: .9em; }
pre { background: #f4f4f4; border: 1px solid #ccc; padding: .5rem; white-space: pre-wrap; }
.note, .empty { color: #333; font-style: italic; }
.status-failed { font-weight: bold; }
@media print {
  @page { size: A4; margin: 14mm 12mm; }
  body { max-width: none; padding: 0; font-size: 11pt; }
  section + section { break-before: page; }
  h2, h3 { break-after: avoid; }
  tr { break-inside: avoid; }
  details > summary { list-style: none; font-weight: bold; }
  details::details-content { content-visibility: visible; display: block; }
}
`

function page(title: string, header: string, sections: string[]): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>${header}</header>
<main>
${sections.join('\n')}
</main>
</body>
</html>
`
}

const facts = (rows: Array<[string, string | undefined]>) => `<dl class="facts">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v ?? '(not set)')}</dd>`).join('')}</dl>`

/** The inventory report as a page. */
export async function inventoryHtml(r: InventoryReport): Promise<string> {
  const s = r.summary
  const header = `<h1>Inventory of ${esc(r.run.host)}</h1>
${facts([
  ['source box', r.run.host],
  ['inventory', `run ${r.run.id}, ${shortTime(r.run.startedAt)} to ${r.run.finishedAt ? shortTime(r.run.finishedAt) : '?'}`],
  ['accounts from', r.run.accountsSource ?? 'none'],
  ['findings', `${s.findings.blocker} blocker(s), ${s.findings.warning} warning(s), ${s.findings.info} info`],
  ['report written', shortTime(r.generatedAt)],
  ['tool', `sftp-cutover ${r.toolVersion}`],
])}`
  const charts = await inventorySections(r.charts)
  const findings = `<h3>Each finding and its fix</h3>
${findingsList(r.findings, [{head: 'reason', value: (f) => f.reason}, {head: 'fix', value: (f) => f.fix}])}`
  const accounts = table('accounts', r.accounts, [
    {head: 'user', value: (a) => a.name},
    {head: 'uid', value: (a) => String(a.uid)},
    {head: 'SFTP root', value: (a) => a.sftpRoot},
    {head: 'password login', value: (a) => String(a.login.password)},
    {head: 'keys', value: (a) => a.keys.length},
  ])
  const hostKeys = table('host-keys', r.hostKeys, [{head: 'type', value: (k) => k.type}, {head: 'bits', value: (k) => k.bits}, {head: 'fingerprint', value: (k) => k.fingerprint}])
  return page(`Inventory of ${r.run.host}`, header, [
    `<section id="files"><h2>Files</h2>${charts[0]}${charts[1]}${charts[2]}${charts[4]}</section>`,
    `<section id="findings"><h2>Findings</h2>${charts[3]}${findings}</section>`,
    `<section id="accounts"><h2>Accounts and host keys</h2>${accounts}<h3>Host keys</h3>${hostKeys}</section>`,
  ])
}

/** The runbook's own report step is writing this report: the run is still running, and says so. */
const writtenByRun = (c: NonNullable<MigrationReport['cutover']>) => c.status === 'running' && c.steps.some((s) => s.type === 'report' && s.status === 'running')

/** The migration report as a page. */
export async function migrationHtml(r: MigrationReport): Promise<string> {
  const header = `<h1>Migration report: ${esc(r.source)} to AWS Transfer Family</h1>
${facts([
  ['source box', r.source],
  ['Transfer server', r.target.transferServerId],
  ['bucket', `${r.target.bucket}${r.target.prefix ? `, prefix ${r.target.prefix}` : ''}`],
  ['record', r.target.recordName],
  ['inventory', r.inventory ? `run ${r.inventory.runId}, ${shortTime(r.inventory.at)}` : 'none'],
  ['last sync', r.sync.lastRun ? `${r.sync.lastRun.status}, ${shortTime(r.sync.lastRun.startedAt)}` : 'none'],
  ['last verify', r.verify ? `${shortTime(r.verify.at)}: ${r.verify.checked} checked, ${r.verify.mismatches} mismatch(es)` : 'none'],
  ['cutover', r.cutover ? `runbook ${r.cutover.runbook}: ${r.cutover.status}${writtenByRun(r.cutover) ? ' (this report was written by its report step)' : ''}` : 'not run'],
  ['report written', shortTime(r.generatedAt)],
  ['tool', `sftp-cutover ${r.toolVersion}`],
])}`
  const sections: string[] = []

  if (r.inventory) {
    const charts = await inventorySections(r.inventory.charts)
    const i = r.inventory
    sections.push(`<section id="inventory"><h2>Inventory</h2>
<p>Run ${i.runId} (${esc(shortTime(i.at))}): ${i.accounts} account(s), ${i.files.toLocaleString('en-US')} file(s), ${esc(formatBytes(i.bytes))}.</p>
${charts[0]}${charts[1]}${charts[2]}${charts[4]}</section>`)
    sections.push(`<section id="findings"><h2>Findings and how each was resolved</h2>${charts[3]}
<h3>Blockers and warnings, each with its resolution</h3>
${findingsList(r.findings, [{head: 'resolution', value: (f) => f.resolution}])}</section>`)
  } else {
    sections.push('<section id="inventory"><h2>Inventory</h2><p class="empty">No complete inventory in this project.</p></section>')
  }

  const users = table('transfer-users', r.users, [
    {head: 'Transfer user', value: (u) => u.userName},
    {head: 'legacy user', value: (u) => `${u.legacyName}${u.renamed ? ' (renamed)' : ''}`},
    {head: 'status', value: (u) => `${u.status}${u.error ? `: ${u.error}` : ''}`},
    {head: 'keys', value: (u) => u.keys},
  ])
  const risks = r.acceptedRisks.length
    ? `<h3>Accepted risks</h3>${table('accepted-risks', r.acceptedRisks, [
        {head: 'legacy user', value: (a) => a.legacyName},
        {head: 'accepted', value: (a) => a.risk},
        {head: 'since', value: (a) => a.at, nowrap: true},
      ])}`
    : ''
  sections.push(`<section id="users"><h2>Users and keys imported</h2>${users}${risks}
<p>Host keys imported: ${esc(r.hostKeys.map((k) => `${k.type} ${k.fingerprint}`).join(', ') || 'none')}.</p></section>`)

  const runs = r.sync.runs.map((x) => ({...x, run: `#${x.id} ${shortTime(x.startedAt).slice(0, 16)}`}))
  const runAxis = {field: 'run', type: 'ordinal' as const, sort: null, title: 'sync run (start, UTC)', axis: {labelAngle: -30}}
  const syncChart = await chart(
    'sync-runs',
    'Sync runs',
    'Each sync run in order: files and bytes copied, throughput (bytes copied per second of the run), and the files it did not copy: failed (or changed while read) and skipped by design (links, special files).',
    {
      data: {values: runs},
      vconcat: [
        {width: 520, height: 110, mark: {type: 'bar', color: PALETTE.single}, encoding: {x: {...runAxis, axis: {labels: false}, title: null}, y: {field: 'filesCopied', type: 'quantitative', title: 'files copied', axis: COUNT_AXIS}}},
        {width: 520, height: 110, mark: {type: 'bar', color: PALETTE.mid}, encoding: {x: {...runAxis, axis: {labels: false}, title: null}, y: {field: 'bytesCopied', type: 'quantitative', title: 'bytes copied', axis: {format: '.2~s'}}}},
        {width: 520, height: 110, mark: {type: 'line', point: {color: PALETTE.dark}, color: PALETTE.dark}, encoding: {x: {...runAxis, axis: {labels: false}, title: null}, y: {field: 'bytesPerSecond', type: 'quantitative', title: 'bytes/s', axis: {format: '.2~s'}}}},
        {
          width: 520,
          height: 110,
          transform: [{fold: ['failed', 'skipped'], as: ['outcome', 'files']}],
          mark: 'bar',
          encoding: {x: runAxis, xOffset: {field: 'outcome'}, y: {field: 'files', type: 'quantitative', title: 'not copied', axis: COUNT_AXIS}, color: {field: 'outcome', type: 'nominal', title: 'not copied', scale: categories(['failed', 'skipped'])}},
        },
      ],
    } as TopLevelSpec,
    runs,
    [
      {head: 'run', value: (x) => x.id},
      {head: 'started (UTC)', value: (x) => shortTime(x.startedAt), nowrap: true},
      {head: 'status', value: (x) => x.status},
      {head: 'seconds', value: (x) => (x.seconds === undefined ? undefined : Math.round(x.seconds * 10) / 10)},
      {head: 'files copied', value: (x) => x.filesCopied},
      bytesCol('bytes copied', (x) => x.bytesCopied),
      {head: 'bytes/s', value: (x) => x.bytesPerSecond, show: (x) => (x.bytesPerSecond === undefined ? '' : `${formatBytes(x.bytesPerSecond)}/s`)},
      {head: 'failed', value: (x) => x.failed},
      {head: 'skipped', value: (x) => x.skipped},
    ],
  )
  const perUser = r.verify?.perUser ?? []
  const verifyRows = perUser.flatMap((u) => [
    {owner: u.owner, result: 'verified', entries: u.verified},
    {owner: u.owner, result: 'mismatched', entries: u.mismatched},
    {owner: u.owner, result: 'not copied', entries: u.notCopied},
  ])
  const verifyChart = r.verify?.perUser
    ? await chart(
        'verify',
        'Verify result per user',
        `The last verify (${shortTime(r.verify.at)}${r.verify.efs ? ', S3 and the EFS copy' : ', S3'}): entries (files and empty-directory markers) whose bytes matched the source’s hashes, entries that did not, and files the last sync reported and did not copy. In all: ${sum(perUser, 'verified')} verified, ${sum(perUser, 'mismatched')} mismatched, ${sum(perUser, 'notCopied')} not copied.`,
        {
          width: 520,
          data: {values: verifyRows},
          mark: 'bar',
          encoding: {
            y: {field: 'owner', type: 'nominal', title: 'user'},
            x: {field: 'entries', type: 'quantitative', title: 'entries', axis: COUNT_AXIS},
            color: {field: 'result', type: 'nominal', title: 'result', scale: categories(['mismatched', 'verified', 'not copied']), sort: ['mismatched', 'verified', 'not copied']},
          },
        } as TopLevelSpec,
        perUser,
        [{head: 'user', value: (u) => u.owner}, {head: 'verified', value: (u) => u.verified}, {head: 'mismatched', value: (u) => u.mismatched}, {head: 'not copied', value: (u) => u.notCopied}],
      )
    : `<p class="empty">${r.verify ? 'The last verify was recorded before per-user results were kept: run sftp-cutover verify again.' : 'No verify has run.'}</p>`
  const totals = table('sync-totals', r.sync.totals, [{head: 'user', value: (t) => t.owner}, {head: 'files', value: (t) => t.files}, {head: 'directories', value: (t) => t.dirs}, bytesCol('bytes', (t) => t.bytes)])
  sections.push(`<section id="sync"><h2>Files synced and verified</h2>
<p>In S3 now: ${r.sync.files.toLocaleString('en-US')} file(s), ${esc(formatBytes(r.sync.bytes))}. Not copied by the last sync: ${r.sync.problems.length}.</p>
${r.sync.conflicts.length ? `<h3>Conflicts after the switch</h3><p>Changed both on the legacy box and through Transfer: S3 kept its object, the box's version is beside it as &lt;name&gt;.from-legacy-&lt;time&gt;.</p><ul>${r.sync.conflicts.map((c) => `<li>${esc(c.owner)}/${esc(c.path)} (${esc(c.at)}): ${esc(c.reason)}</li>`).join('')}</ul>` : ''}
${syncChart}${verifyChart}<h3>What S3 holds, per user</h3>${totals}</section>`)

  sections.push(await cutoverSection(r))
  return page(`Migration report: ${r.source}`, header, sections)
}

async function cutoverSection(r: MigrationReport): Promise<string> {
  const parts: string[] = ['<section id="cutover"><h2>Cutover</h2>']
  if (r.cutover) {
    const c = r.cutover
    const timed = c.steps.filter((s) => s.startedAt).map((s) => ({...s, end: s.finishedAt ?? s.startedAt}))
    const layers: unknown[] = []
    if (c.freezeWindow) {
      layers.push(
        {data: {values: [c.freezeWindow]}, mark: {type: 'rect', color: PALETTE.window, opacity: 0.35}, encoding: {x: {field: 'from', type: 'temporal'}, x2: {field: 'to'}}},
        {data: {values: [{...c.freezeWindow, label: 'freeze window'}]}, mark: {type: 'text', align: 'left', baseline: 'top', dx: 3, dy: -14, fontSize: 11}, encoding: {x: {field: 'from', type: 'temporal'}, y: {value: 0}, text: {field: 'label'}}},
      )
    }
    layers.push({
      data: {values: timed},
      mark: {type: 'bar', minBandSize: 3},
      encoding: {
        y: {field: 'id', type: 'nominal', title: 'step', sort: null},
        x: {field: 'startedAt', type: 'temporal', title: 'time (UTC)', axis: {format: '%H:%M:%S', tickCount: 6}, scale: {type: 'utc'}},
        x2: {field: 'end'},
        color: {field: 'status', type: 'nominal', title: 'outcome', scale: categories(['failed', 'done', 'running', 'pending'], [PALETTE.dark, PALETTE.mid, PALETTE.light, '#ffffff'])},
      },
    })
    parts.push(
      await chart(
        'timeline',
        'Runbook timeline',
        `Each step of the runbook “${c.runbook}” (${c.status}) from its start to its end, coloured by outcome${c.freezeWindow ? `; the grey band is the freeze window, ${shortTime(c.freezeWindow.from)} to ${shortTime(c.freezeWindow.to)}: from the freeze to the DNS switch, when clients could write to neither box` : ''}.`,
        {width: 520, layer: layers, resolve: {scale: {color: 'independent'}}} as TopLevelSpec,
        c.steps,
        [
          {head: 'step', value: (s) => s.id},
          {head: 'status', value: (s) => s.status},
          {head: 'started (UTC)', value: (s) => (s.startedAt ? shortTime(s.startedAt) : ''), nowrap: true},
          {head: 'seconds', value: (s) => (s.seconds === undefined ? undefined : Math.round(s.seconds * 10) / 10)},
          {head: 'outcome', value: (s) => s.summary ?? ''},
        ],
      ),
    )
  } else {
    parts.push('<p class="empty">No cutover has run.</p>')
  }
  parts.push('<h3>The DNS record, before and after</h3>')
  const d = r.dns
  if (d?.saved) {
    const after = d.rolledBackAt ? 'rolled back: the record sets before the switch, restored' : d.target ? `A alias ${d.target.dnsName} (zone ${d.target.hostedZoneId})` : '(no switch target recorded)'
    parts.push(
      table('dns', [{when: 'before the switch', value: d.saved.map(describeRecordSet).join('; ')}, {when: d.switchedAt ? `after the switch (${shortTime(d.switchedAt)})` : 'after', value: after}], [
        {head: d.recordName, value: (x) => x.when},
        {head: `zone ${d.hostedZoneId}`, value: (x) => x.value},
      ]),
    )
    if (d.rolledBackAt) parts.push(`<p>Rolled back ${esc(shortTime(d.rolledBackAt))}.</p>`)
  } else {
    parts.push('<p class="empty">Nothing saved: the record has not been switched.</p>')
  }
  parts.push(`<h3>How to roll back</h3>
<p>From the project directory (the one holding <code>sftp-cutover.yaml</code>), with the same AWS credentials:</p>
<pre>sftp-cutover rollback --dry-run   # shows the change: the record sets exactly as they were before the switch
sftp-cutover rollback             # restores them, waits for Route 53, then runs cutover.unfreezeCommand on the legacy box</pre>
<p>It refuses when someone changed the record since the cutover (exit 3); check the change, then <code>--force</code> restores the saved record anyway. <code>--no-unfreeze</code> leaves the legacy box frozen.</p>
</section>`)
  return parts.join('\n')
}
