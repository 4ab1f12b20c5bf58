/**
 * The HTML reports in a real browser: Debian's chromium (installed by scripts/install-peers.sh) driven by
 * playwright-core, which never downloads a browser. Pages: the reports the rehearsal keeps (its real state), and
 * reports of a 100,000-file state. Each page must load with no console error and no network request, show an SVG
 * with marks for every chart, hold tables whose numbers are the JSON report's, and print; the screenshots and PDFs
 * are kept under test-output/report-browser/.
 */
import {spawn} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {type Browser, chromium, type Page} from 'playwright-core'

import {SqliteStateStore} from '../../src/adapters/state.js'
import {buildInventoryReport, type InventoryReport, type MigrationReport, writeMigrationReport} from '../../src/services/report.js'
import {inventoryHtml} from '../../src/ui/report-html.js'
import {largeState, reportConfig, seedReportState} from '../fixtures/report-state.js'

const ROOT = join(import.meta.dirname, '..', '..')
const OUT = join(ROOT, 'test-output', 'report-browser')

/** Runs the rehearsal (README's first command, without its install step) and returns the report paths it prints. */
function rehearsal(): Promise<{migrationHtml: string; inventoryHtml: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'rehearsal.ts')], {cwd: ROOT, env: {...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true'}})
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => {
      const migration = /^Migration report \(HTML\): (.+)$/m.exec(out)?.[1]
      const inventory = /^Inventory report \(HTML\): (.+)$/m.exec(out)?.[1]
      if (code !== 0 || !migration || !inventory) reject(new Error(`rehearsal exited ${code}:\n${out.slice(-4000)}`))
      else resolve({migrationHtml: migration, inventoryHtml: inventory})
    })
  })
}

interface Loaded {
  page: Page
  consoleErrors: string[]
  requests: string[]
}

async function open(browser: Browser, file: string): Promise<Loaded> {
  const page = await browser.newPage({viewport: {width: 1100, height: 900}})
  const consoleErrors: string[] = []
  const requests: string[] = []
  const url = pathToFileURL(file).href
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text())
  })
  page.on('pageerror', (e) => consoleErrors.push(e.message))
  page.on('request', (r) => {
    if (r.url() !== url) requests.push(r.url())
  })
  await page.goto(url, {waitUntil: 'load'})
  return {page, consoleErrors, requests}
}

/** Every chart: its name and how many SVG marks (bars, lines, points) it drew. */
function chartMarks(page: Page): Promise<Array<{chart: string; svg: boolean; marks: number}>> {
  return page.$$eval('figure[data-chart]', (figs) =>
    figs.map((f) => ({
      chart: f.getAttribute('data-chart') ?? '',
      svg: f.querySelector('svg') !== null,
      marks: f.querySelectorAll('svg g.mark-rect path, svg g.mark-line path, svg g.mark-symbol path').length,
    })),
  )
}

/** A data table's cells: the exact number (data-value) for numeric cells, the text otherwise. */
function tableCells(page: Page, name: string): Promise<Array<Array<string | number>>> {
  return page.$$eval(`table[data-table="${name}"] tbody tr`, (rows) =>
    rows.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.hasAttribute('data-value') ? Number(td.getAttribute('data-value')) : (td.textContent ?? '')))),
  )
}

async function keep(page: Page, name: string): Promise<void> {
  await page.screenshot({path: join(OUT, `${name}.png`), fullPage: true})
  await page.pdf({path: join(OUT, `${name}.pdf`), format: 'A4', printBackground: true})
}

function checkInventoryTables(json: InventoryReport['charts']) {
  return async (page: Page) => {
    expect(await tableCells(page, 'users')).toEqual(json.owners.map((o) => [o.owner, o.files, o.dirs, o.bytes, o.errors]))
    expect(await tableCells(page, 'sizes')).toEqual(json.sizes.map((b) => [b.bin, b.files, b.bytes]))
    expect(await tableCells(page, 'ages')).toEqual(json.ages.map((b) => [b.bin, b.files, b.bytes]))
    expect(await tableCells(page, 'findings')).toEqual(json.findings.map((f) => [f.severity, f.rule, f.count]))
    expect(await tableCells(page, 'directories')).toEqual(json.largestDirectories.map((d) => [d.owner, d.directory, d.files, d.bytes]))
  }
}

async function checkMigrationTables(page: Page, json: MigrationReport): Promise<void> {
  await checkInventoryTables(json.inventory!.charts)(page)
  expect(await tableCells(page, 'sync-runs')).toEqual(
    json.sync.runs.map((r) => [r.id, expect.any(String), r.status, Math.round(r.seconds! * 10) / 10, r.filesCopied, r.bytesCopied, r.bytesPerSecond, r.failed, r.skipped]),
  )
  expect(await tableCells(page, 'verify')).toEqual(json.verify!.perUser!.map((u) => [u.owner, u.verified, u.mismatched, u.notCopied]))
  expect((await tableCells(page, 'timeline')).map((r) => [r[0], r[1]])).toEqual(json.cutover!.steps.map((s) => [s.id, s.status]))
}

async function expectCleanPage(l: Loaded, charts: string[]): Promise<void> {
  expect(await l.page.getAttribute('html', 'lang')).toBe('en')
  const marks = await chartMarks(l.page)
  expect(marks.map((m) => m.chart)).toEqual(charts)
  for (const m of marks) expect(m).toEqual({chart: m.chart, svg: true, marks: expect.any(Number)})
  for (const m of marks) expect(m.marks).toBeGreaterThan(0)
  expect(l.consoleErrors).toEqual([])
  expect(l.requests).toEqual([])
}

const INVENTORY_CHARTS = ['users', 'sizes', 'ages', 'directories', 'findings']
const MIGRATION_CHARTS = [...INVENTORY_CHARTS, 'sync-runs', 'verify', 'timeline']

describe('the HTML reports in Chromium', () => {
  let browser: Browser
  beforeAll(async () => {
    rmSync(OUT, {recursive: true, force: true})
    mkdirSync(OUT, {recursive: true})
    browser = await chromium.launch({executablePath: '/usr/bin/chromium', args: ['--no-sandbox']})
  })
  afterAll(async () => {
    await browser?.close()
  })

  it('the rehearsal writes both reports; they render, make no request, and their tables are the JSON reports’ numbers', async () => {
    const paths = await rehearsal()
    const inventoryJson = JSON.parse(readFileSync(paths.inventoryHtml.replace(/\.html$/, '.json'), 'utf8')) as InventoryReport
    const migrationJson = JSON.parse(readFileSync(paths.migrationHtml.replace(/\.html$/, '.json'), 'utf8')) as MigrationReport

    const inv = await open(browser, paths.inventoryHtml)
    await expectCleanPage(inv, INVENTORY_CHARTS)
    await checkInventoryTables(inventoryJson.charts)(inv.page)
    await keep(inv.page, 'rehearsal-inventory')

    const mig = await open(browser, paths.migrationHtml)
    await expectCleanPage(mig, MIGRATION_CHARTS)
    await checkMigrationTables(mig.page, migrationJson)
    expect(migrationJson.cutover?.freezeWindow).toBeDefined()
    // verify recorded its per-user counts: they add up to what it checked
    const perUser = migrationJson.verify!.perUser!
    expect(perUser.reduce((n, u) => n + u.verified + u.mismatched, 0)).toBe(migrationJson.verify!.checked)
    expect(perUser.reduce((n, u) => n + u.verified, 0)).toBeGreaterThan(0)
    await keep(mig.page, 'rehearsal-migration')
    rmSync(join(paths.migrationHtml, '..'), {recursive: true, force: true})
  }, 420_000)

  it('renders the reports of a 100,000-file state', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sct-report-100k-'))
    try {
      const state = new SqliteStateStore(join(dir, 'state.db'))
      seedReportState(state, largeState(100_000))
      const inventory = buildInventoryReport(state)
      const inventoryFile = join(dir, 'inventory.html')
      writeFileSync(inventoryFile, await inventoryHtml(inventory))
      const started = Date.now()
      const {files, report} = await writeMigrationReport(state, reportConfig(), dir, ['json', 'html'])
      const ms = Date.now() - started
      state.close()
      const bytes = statSync(files.html!).size
      process.stderr.write(`100,000-file migration report: JSON and HTML written in ${ms} ms, HTML ${bytes} bytes\n`)
      expect(bytes).toBeLessThan(2_000_000)
      expect(JSON.parse(readFileSync(files.json!, 'utf8'))).toEqual(JSON.parse(JSON.stringify(report)))
      expect(report.inventory?.files).toBe(100_000)

      const inv = await open(browser, inventoryFile)
      await expectCleanPage(inv, INVENTORY_CHARTS)
      await checkInventoryTables(inventory.charts)(inv.page)
      await keep(inv.page, 'large-inventory')

      const mig = await open(browser, files.html!)
      await expectCleanPage(mig, MIGRATION_CHARTS)
      await checkMigrationTables(mig.page, JSON.parse(readFileSync(files.json!, 'utf8')) as MigrationReport)
      await keep(mig.page, 'large-migration')
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  }, 180_000)
})
