/**
 * Start-up benchmark (issue #12): the median of N runs (default 20) of
 *   - `sftp-cutover --version`,
 *   - `sftp-cutover sync --help`,
 *   - `sftp-cutover doctor` from launch to the first byte it sends to the SSH server (a listener on 127.0.0.1 that
 *     records when the client's identification string arrives, then closes the connection),
 * each beside `node -e 0` measured in the same run, interleaved so that load on the machine falls on all rows alike.
 * The CLI runs as installed: bin/run.js through its shebang (so its node flags apply) with the Node on PATH.
 * Targets: --version <= 150 ms and <= 3x `node -e 0`; launch to first SSH byte <= 300 ms.
 *
 *   npx tsx bench/startup.ts [--runs 20]
 *
 * (dist/ built: `npm run build`). Scripts run it on the project's Node: `source scripts/node-env.sh` first.
 */
import {execFileSync, spawn} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

const ROOT = join(import.meta.dirname, '..')
const CLI = join(ROOT, 'bin', 'run.js')
const argv = process.argv.slice(2)
const runsAt = argv.indexOf('--runs')
const RUNS = runsAt >= 0 ? Math.max(1, Number(argv[runsAt + 1])) : 20
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]

/** Wall time of one process from spawn to exit, in ms; fails on a non-zero exit. */
function timeProcess(cmd: string, args: string[], cwd?: string): Promise<number> {
  const started = process.hrtime.bigint()
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {cwd, stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.trim()}`))
      else resolve(Number(process.hrtime.bigint() - started) / 1e6)
    })
  })
}

/** A project whose source is a listener that notes when the first byte arrives. */
async function doctorProject(): Promise<{dir: string; firstByte: () => Promise<bigint>; close: () => void}> {
  const dir = mkdtempSync(join(tmpdir(), 'sct-bench-startup-'))
  const key = join(dir, 'id_ed25519')
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key])
  let waiting: ((at: bigint) => void) | undefined
  const server = createServer((socket) => {
    socket.once('data', () => {
      waiting?.(process.hrtime.bigint())
      waiting = undefined
      socket.destroy()
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as {port: number}).port
  writeFileSync(
    join(dir, 'sftp-cutover.yaml'),
    [
      'source:',
      '  host: 127.0.0.1',
      `  port: ${port}`,
      '  username: bench',
      `  identityFile: ${key}`,
      '  hostKeyFingerprint: SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU',
      'target:',
      '  region: us-east-1',
      '  bucket: bench-bucket',
      '  endpoint: http://127.0.0.1:9',
      '',
    ].join('\n'),
  )
  return {
    dir,
    firstByte: () => new Promise((resolve) => (waiting = resolve)),
    close: () => {
      server.close()
      rmSync(dir, {recursive: true, force: true})
    },
  }
}

/** From spawn to the first byte the listener receives; the doctor itself is then stopped. */
async function timeFirstSshByte(project: Awaited<ReturnType<typeof doctorProject>>): Promise<number> {
  const arrived = project.firstByte()
  const started = process.hrtime.bigint()
  const child = spawn(CLI, ['doctor', '--no-prompt'], {cwd: project.dir, stdio: 'ignore', env: {...process.env, AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench'}})
  const exited = new Promise((resolve) => child.on('close', resolve))
  const timeout = setTimeout(() => child.kill('SIGKILL'), 20_000)
  const at = await Promise.race([arrived, exited.then(() => undefined)])
  child.kill('SIGKILL')
  await exited
  clearTimeout(timeout)
  if (at === undefined) throw new Error('doctor exited without sending a byte to the SSH listener')
  return Number(at - started) / 1e6
}

const nodeVersion = execFileSync(process.execPath, ['--version'], {encoding: 'utf8'}).trim()
const cliNode = execFileSync('node', ['--version'], {encoding: 'utf8'}).trim()
const project = await doctorProject()
const rows = {node: [] as number[], version: [] as number[], help: [] as number[], doctor: [] as number[]}
// Warm-up (file cache, the module compile cache), not counted.
await timeProcess(CLI, ['--version'])
await timeProcess(CLI, ['sync', '--help'])
await timeFirstSshByte(project)
for (let i = 0; i < RUNS; i++) {
  rows.node.push(await timeProcess('node', ['-e', '0']))
  rows.version.push(await timeProcess(CLI, ['--version']))
  rows.help.push(await timeProcess(CLI, ['sync', '--help']))
  rows.doctor.push(await timeFirstSshByte(project))
}
project.close()

const base = median(rows.node)
const ms = (x: number): string => `${x.toFixed(0)} ms`
const table = [
  ['`node -e 0` (baseline)', median(rows.node), ''],
  ['`sftp-cutover --version`', median(rows.version), `<= 150 ms and <= 3x baseline: ${median(rows.version) <= 150 && median(rows.version) <= 3 * base ? 'met' : 'MISSED'}`],
  ['`sftp-cutover sync --help`', median(rows.help), ''],
  ['`doctor`: launch to first SSH byte', median(rows.doctor), `<= 300 ms: ${median(rows.doctor) <= 300 ? 'met' : 'MISSED'}`],
] as const
console.log(`\nstart-up, median of ${RUNS} runs each (CLI on node ${cliNode}, bench on ${nodeVersion}; load average ${(await import('node:os')).loadavg()[0].toFixed(1)})\n`)
console.log('| what | median | x baseline | target |')
console.log('| --- | ---: | ---: | --- |')
for (const [what, value, target] of table) console.log(`| ${what} | ${ms(value)} | ${(value / base).toFixed(1)}x | ${target} |`)
