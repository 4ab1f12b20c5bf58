import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {SqliteStateStore} from '../../src/adapters/state.js'
import {FileStatsBuilder} from '../../src/core/report-bins.js'
import {buildInventoryReport, buildMigrationReport} from '../../src/services/report.js'
import {inventoryHtml, migrationHtml} from '../../src/ui/report-html.js'
import {INVENTORY_EPOCH, reportConfig, seedReportState, type SeedOptions} from '../fixtures/report-state.js'

const DAY = 86_400
const YEAR = 365 * DAY
const steps = (t0: number) => {
  const at = (s: number) => new Date(t0 + s * 1000).toISOString()
  return [
    {id: 'preflight', type: 'preflight', status: 'done', startedAt: at(0), finishedAt: at(5)},
    {id: 'freeze', type: 'freeze', status: 'done', startedAt: at(5), finishedAt: at(6)},
    {id: 'sync', type: 'sync', status: 'done', startedAt: at(6), finishedAt: at(30)},
    {id: 'dns-switch', type: 'dns-switch', status: 'done', startedAt: at(30), finishedAt: at(40)},
    {id: 'smoke-test', type: 'smoke-test', status: 'failed', startedAt: at(40), finishedAt: at(41)},
  ]
}

/** Five files whose bins, ages and directories are worked out by hand below. */
const KNOWN: SeedOptions = {
  files: [
    {owner: 'alice', path: 'a.txt', size: 0, mtime: INVENTORY_EPOCH - 100},
    {owner: 'alice', path: 'docs/b.txt', size: 3, mtime: INVENTORY_EPOCH - 2 * DAY},
    {owner: 'alice', path: 'docs/c.bin', size: 5000, mtime: INVENTORY_EPOCH - 3 * YEAR},
    {owner: 'bob', path: 'big/x.iso', size: 2_000_000, mtime: INVENTORY_EPOCH - 11 * YEAR},
    {owner: 'bob', path: 'big/y', size: 1024, mtime: INVENTORY_EPOCH + 3600},
  ],
  findings: [
    {rule: 'user.password-only', severity: 'blocker', subject: 'user:bob', reason: 'no key', fix: 'add a key'},
    {rule: 'key.options', severity: 'warning', subject: 'key:alice:SHA256:x', reason: 'from=', fix: 'drop it'},
    {rule: 'key.options', severity: 'warning', subject: 'key:bob:SHA256:y', reason: 'from=', fix: 'drop it'},
    {rule: 'file.empty', severity: 'info', subject: 'file:alice:a.txt', reason: 'empty', fix: 'none'},
  ],
  syncRuns: [
    {startedAt: '2026-11-21T01:00:00.000Z', copied: 5, bytes: 2_006_027, failed: 0, skipped: 0, seconds: 4},
    {startedAt: '2026-11-22T01:00:00.000Z', copied: 1, bytes: 1024, failed: 1, skipped: 1, seconds: 2},
  ],
  lastRunProblems: [{owner: 'bob', path: 'big/y'}],
  verify: {at: '2026-11-22T02:00:00.000Z', perOwner: {alice: {checked: 3, mismatched: 1}, bob: {checked: 1, mismatched: 0}}},
  steps: steps(Date.parse('2026-11-23T22:00:00.000Z')),
}

describe('report data from a known state database', () => {
  let dir: string
  let state: SqliteStateStore
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sct-report-'))
    state = new SqliteStateStore(join(dir, 'state.db'))
    seedReportState(state, KNOWN)
  })
  afterAll(() => {
    state.close()
    rmSync(dir, {recursive: true, force: true})
  })

  it('bins file sizes by powers of 4, every bin from the smallest to the largest file', () => {
    const {charts} = buildInventoryReport(state)
    expect(charts.sizes.map((b) => [b.bin, b.files, b.bytes])).toEqual([
      ['0 B', 1, 0],
      ['1 B – 4 B', 1, 3],
      ['4 B – 16 B', 0, 0],
      ['16 B – 64 B', 0, 0],
      ['64 B – 256 B', 0, 0],
      ['256 B – 1 KiB', 0, 0],
      ['1 KiB – 4 KiB', 1, 1024],
      ['4 KiB – 16 KiB', 1, 5000],
      ['16 KiB – 64 KiB', 0, 0],
      ['64 KiB – 256 KiB', 0, 0],
      ['256 KiB – 1 MiB', 0, 0],
      ['1 MiB – 4 MiB', 1, 2_000_000],
    ])
  })

  it('counts ages from the inventory date, with a bin for mtimes after it', () => {
    const {charts} = buildInventoryReport(state)
    expect(charts.ages.filter((b) => b.files > 0).map((b) => [b.bin, b.files])).toEqual([
      ['in the future', 1],
      ['under a day', 1],
      ['1 day – 1 week', 1],
      ['2 – 5 years', 1],
      ['10 years or more', 1],
    ])
    expect(charts.ages).toHaveLength(10)
  })

  it('ranks directories by the bytes of the files directly in them', () => {
    const {charts} = buildInventoryReport(state)
    expect(charts.largestDirectories).toEqual([
      {owner: 'bob', directory: '/big', files: 2, bytes: 2_001_024},
      {owner: 'alice', directory: '/docs', files: 2, bytes: 5003},
      {owner: 'alice', directory: '/', files: 1, bytes: 0},
    ])
  })

  it('counts findings by severity and rule, most serious first; per-user files and bytes come from the inventory', () => {
    const {charts} = buildInventoryReport(state)
    expect(charts.findings).toEqual([
      {severity: 'blocker', rule: 'user.password-only', count: 1},
      {severity: 'warning', rule: 'key.options', count: 2},
      {severity: 'info', rule: 'file.empty', count: 1},
    ])
    expect(charts.owners.map((o) => [o.owner, o.files, o.bytes])).toEqual([
      ['alice', 3, 5003],
      ['bob', 2, 2_001_024],
    ])
  })

  it('charts each sync run, the verify result per user, and the freeze window from the freeze to the DNS switch', () => {
    const r = buildMigrationReport(state, reportConfig())
    expect(r.sync.runs.map((x) => [x.filesCopied, x.bytesCopied, x.seconds, x.bytesPerSecond, x.failed, x.skipped])).toEqual([
      [5, 2_006_027, 4, 501_507, 0, 0],
      [1, 1024, 2, 512, 1, 1],
    ])
    expect(r.verify?.perUser).toEqual([
      {owner: 'alice', verified: 2, mismatched: 1, notCopied: 0},
      {owner: 'bob', verified: 1, mismatched: 0, notCopied: 1},
    ])
    expect(r.cutover?.freezeWindow).toEqual({from: '2026-11-23T22:00:05.000Z', to: '2026-11-23T22:00:40.000Z'})
    expect(r.inventory?.charts.sizes).toEqual(buildInventoryReport(state).charts.sizes)
  })

  it('bins one file per call without keeping the files (the builder keeps one entry per directory)', () => {
    const b = new FileStatsBuilder(1000)
    b.add('u', Buffer.from([0x61, 0xff, 0x2f, 0x62]), 4, 1000)
    expect(b.result().largestDirectories).toEqual([{owner: 'u', directory: '/a\\xff', files: 1, bytes: 4}])
    expect(b.result().sizes).toEqual([{bin: '4 B – 16 B', from: 4, files: 1, bytes: 4}])
  })

  it('writes self-contained pages: language set, one SVG with marks per chart, no script, no URL to fetch', async () => {
    const pages = [await inventoryHtml(buildInventoryReport(state)), await migrationHtml(buildMigrationReport(state, reportConfig()))]
    for (const html of pages) {
      expect(html).toMatch(/^<!doctype html>\n<html lang="en">/)
      expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(/i)
      // the only URLs are SVG namespace declarations
      expect([...html.matchAll(/https?:\/\/[^"' )]+/g)].map((m) => m[0]).filter((u) => !u.startsWith('http://www.w3.org/'))).toEqual([])
      const figures = [...html.matchAll(/<figure data-chart="([^"]+)">([\s\S]*?)<\/figure>/g)]
      expect(figures.length).toBeGreaterThanOrEqual(5)
      for (const [, , body] of figures) expect(body).toMatch(/<svg[\s\S]*class="mark-(rect|line|symbol)/)
    }
    expect([...pages[1].matchAll(/<figure data-chart="([^"]+)"/g)].map((m) => m[1])).toEqual(['users', 'sizes', 'ages', 'directories', 'findings', 'sync-runs', 'verify', 'timeline'])
    expect(pages[1]).toContain('sftp-cutover rollback --dry-run')
    expect(pages[1]).toContain('A 10.0.0.5 (TTL 60)')
  })

  it('lists the accepted risks in the HTML page as in the Markdown report', async () => {
    const report = {...buildMigrationReport(state, reportConfig()), acceptedRisks: [{legacyName: 'alice', risk: 'key options dropped: from="10.1.2.0/24"', at: '2026-11-29T20:00:00.000Z'}]}
    const html = await migrationHtml(report)
    const table = /<table data-table="accepted-risks">([\s\S]*?)<\/table>/.exec(html)?.[1]
    expect(table).toContain('<td>alice</td>')
    expect(table).toContain('key options dropped: from=&quot;10.1.2.0/24&quot;')
  })
})
