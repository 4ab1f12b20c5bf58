/**
 * `report --format` and `inventory report --format html` through the built CLI, on a project whose state is written
 * by test/fixtures/report-state.ts (no peer is needed: the reports only read the state database).
 */
import {mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {writeConfigFile} from '../../src/adapters/config-file.js'
import {SqliteStateStore} from '../../src/adapters/state.js'
import {largeState, reportConfig, seedReportState} from '../fixtures/report-state.js'
import {runCli} from './helpers/cli.js'

describe('report formats', () => {
  let dir: string
  const reports = () => readdirSync(join(dir, '.sftp-cutover', 'reports')).sort()
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sct-report-cli-'))
    const c = reportConfig()
    await writeConfigFile(join(dir, 'sftp-cutover.yaml'), {source: c.source, target: c.target, dns: c.dns}, '')
    const state = new SqliteStateStore(join(dir, '.sftp-cutover', 'state.db'))
    seedReportState(state, largeState(500))
    state.close()
  })
  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  it('writes only the formats asked for, and all three without --format', async () => {
    const html = await runCli(['report', '--format', 'html', '--json'], {cwd: dir})
    expect(html.code).toBe(0)
    const files = html.json<{files: Record<string, string>}>().files
    expect(Object.keys(files)).toEqual(['html'])
    expect(reports()).toEqual([expect.stringMatching(/^migration-.*\.html$/)])
    expect(readFileSync(files.html, 'utf8')).toMatch(/^<!doctype html>\n<html lang="en">/)

    rmSync(join(dir, '.sftp-cutover', 'reports'), {recursive: true})
    const all = await runCli(['report'], {cwd: dir})
    expect(all.code).toBe(0)
    expect(reports().map((f) => f.replace(/^migration-.*\./, ''))).toEqual(['html', 'json', 'md'])
    expect(all.stdout).toContain('.html')
  })

  it('refuses an unknown format with a usage error', async () => {
    const r = await runCli(['report', '--format', 'pdf'], {cwd: dir})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/Expected --format=pdf to be one of: md, json, html/)
  })

  it('inventory report --format html prints the page; --format json holds the charts’ numbers', async () => {
    const html = await runCli(['inventory', 'report', '--format', 'html'], {cwd: dir})
    expect(html.code).toBe(0)
    expect(html.stdout).toMatch(/^<!doctype html>/)
    expect(html.stdout.match(/<figure data-chart=/g)).toHaveLength(5)
    const json = await runCli(['inventory', 'report', '--format', 'json'], {cwd: dir})
    const charts = json.json<{charts: {owners: unknown[]; sizes: Array<{files: number}>}}>().charts
    expect(charts.owners).toHaveLength(20)
    expect(charts.sizes.reduce((n, b) => n + b.files, 0)).toBe(500)
  })
})
