/**
 * Report benchmark: a project whose state holds a 100,000-file migration (inventory, manifest, six sync runs, a
 * verify, a runbook run, the DNS record), then `sftp-cutover report --format html` and `inventory report --format
 * html` run as installed, timed end to end (Node and oclif start-up included). Targets (issue #19): each HTML file
 * under 2 MB, written in under 3 s.
 *
 *   npx tsx bench/report.ts [--files 100000] [--repeat 3]
 *
 * (dist/ built). No peer is needed: the state is written by test/fixtures/report-state.ts.
 */
import {spawn} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {availableParallelism, loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'

import {writeConfigFile} from '../src/adapters/config-file.js'
import {SqliteStateStore} from '../src/adapters/state.js'
import {largeState, reportConfig, seedReportState} from '../test/fixtures/report-state.js'

const ROOT = join(import.meta.dirname, '..')
const CLI = join(ROOT, 'bin', 'run.js')
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const FILES = arg('--files', 100_000)
const REPEAT = Math.max(1, arg('--repeat', 3))
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]

/** Runs the CLI as installed; returns its wall time and CPU time (ms), the latter from bench/cpu-hook.mjs. */
function run(args: string[], cwd: string): Promise<{ms: number; cpuMs: number}> {
  const started = process.hrtime.bigint()
  const cpuFile = join(cwd, 'cpu')
  const env = {...process.env, BENCH_CPU_FILE: cpuFile, NODE_OPTIONS: `--import ${join(ROOT, 'bench', 'cpu-hook.mjs')}`}
  return new Promise((resolve, reject) => {
    const child = spawn(CLI, args, {cwd, env, stdio: ['ignore', 'ignore', 'inherit']})
    child.on('error', reject)
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`sftp-cutover ${args.join(' ')} exited ${code}`))
      resolve({ms: Number(process.hrtime.bigint() - started) / 1e6, cpuMs: Number(readFileSync(cpuFile, 'utf8'))})
    })
  })
}

async function main(): Promise<void> {
  const project = mkdtempSync(join(tmpdir(), 'sct-bench-report-'))
  try {
    const c = reportConfig()
    await writeConfigFile(join(project, 'sftp-cutover.yaml'), {source: c.source, target: c.target, dns: c.dns}, '# report benchmark\n')
    const state = new SqliteStateStore(join(project, '.sftp-cutover', 'state.db'))
    console.error(`writing a ${FILES.toLocaleString('en-US')}-file state…`)
    seedReportState(state, largeState(FILES))
    state.close()
    const reports = join(project, '.sftp-cutover', 'reports')
    const migration: Array<{ms: number; cpuMs: number}> = []
    const inventory: Array<{ms: number; cpuMs: number}> = []
    for (let i = 0; i < REPEAT; i++) {
      migration.push(await run(['report', '--format', 'html'], project))
      inventory.push(await run(['inventory', 'report', '--format', 'html', '--output', join(project, 'inventory.html')], project))
    }
    const html = readdirSync(reports).filter((f) => f.endsWith('.html'))
    const migrationBytes = statSync(join(reports, html[0])).size
    const inventoryBytes = statSync(join(project, 'inventory.html')).size
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`
    const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`
    console.log(`| ${FILES.toLocaleString('en-US')} files (medians of ${REPEAT}) | wall time | CPU time | size | target | met |`)
    console.log('| --- | ---: | ---: | ---: | --- | --- |')
    for (const [name, runs, bytes] of [['report --format html', migration, migrationBytes], ['inventory report --format html', inventory, inventoryBytes]] as const) {
      const t = median(runs.map((r) => r.ms))
      console.log(`| ${name} | ${s(t)} | ${s(median(runs.map((r) => r.cpuMs)))} | ${mb(bytes)} | < 3 s, < 2 MB | ${t < 3000 && bytes < 2e6 ? 'yes' : 'NO'} |`)
    }
    console.log(`\nload average (1 min) at the end: ${loadavg()[0].toFixed(1)} on ${availableParallelism()} CPU(s): wall time includes waiting for a busy CPU, CPU time does not.`)
  } finally {
    rmSync(project, {recursive: true, force: true})
  }
}

await main()
