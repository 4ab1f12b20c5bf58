/**
 * Start-up (issue #12): what a command loads is what it uses. `--version`, `--help` and a command's `--help` load none
 * of the heavy dependencies, and bin/run.js refuses a Node.js older than package.json's engines with a clear message.
 * The timings themselves are measured by bench/startup.ts, not here.
 */
import {execFile} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {CLI, cleanEnv} from './helpers/cli.js'

const TRACE = join(import.meta.dirname, '..', 'fixtures', 'module-trace.mjs')
const HEAVY = ['@aws-sdk/', 'ssh2', 'better-sqlite3', 'listr2', '@inquirer/', 'pino', 'zod', 'yaml']
const pjson = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as {version: string}

function loadedBy(args: string[], project?: {dir: string; env: NodeJS.ProcessEnv}): Promise<{code: number; stdout: string; modules: string[]}> {
  const dir = project?.dir ?? mkdtempSync(join(tmpdir(), 'sct-startup-'))
  const file = join(dir, 'modules.txt')
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', TRACE, CLI, ...args], {cwd: dir, env: {...cleanEnv(), ...project?.env, MODULE_TRACE_FILE: file}}, (err, stdout) => {
      const modules = readFileSync(file, 'utf8').split('\n')
      if (!project) rmSync(dir, {recursive: true, force: true})
      resolve({code: err ? Number((err as {code?: number}).code ?? 1) : 0, stdout, modules})
    })
  })
}

describe('start-up', () => {
  it.each([[['--version']], [['--help']], [['init', '--help']], [['sync', '--help']]])('`%s` loads none of the heavy dependencies', async (args) => {
    const r = await loadedBy(args)
    expect(r.code).toBe(0)
    expect(r.stdout.length).toBeGreaterThan(0)
    const heavy = r.modules.filter((url) => HEAVY.some((name) => url.includes(`/node_modules/${name}`)))
    expect(heavy).toEqual([])
  })

  it('`--version` prints what oclif would, without loading oclif', async () => {
    const r = await loadedBy(['--version'])
    expect(r.stdout).toBe(`sftp-cutover/${pjson.version} ${process.platform}-${process.arch} node-${process.version}\n`)
    expect(r.modules.filter((url) => url.includes('/node_modules/'))).toEqual([])
  })

  it('doctor sends its SSH identification before it loads the AWS SDK', async () => {
    // The source is a listener that reads the client's first bytes and hangs up: the SSH check fails, the AWS checks
    // (against a closed port) fail too; what is asserted is the order of the two.
    const server = createServer((socket) => {
      socket.once('data', () => socket.destroy())
      socket.on('error', () => {})
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const dir = mkdtempSync(join(tmpdir(), 'sct-startup-doctor-'))
    try {
      const port = (server.address() as {port: number}).port
      const fingerprint = 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU'
      writeFileSync(
        join(dir, 'sftp-cutover.yaml'),
        `source:\n  host: 127.0.0.1\n  port: ${port}\n  username: nobody\n  passwordEnv: SCT_PW\n  hostKeyFingerprint: ${fingerprint}\ntarget:\n  region: us-east-1\n  bucket: startup-bucket\n  endpoint: http://127.0.0.1:1\n`,
      )
      const r = await loadedBy(['doctor', '--no-prompt'], {dir, env: {SCT_PW: 'x', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', AWS_MAX_ATTEMPTS: '1'}})
      expect(r.code).toBe(3)
      const sent = r.modules.indexOf('# ssh identification sent')
      const sdk = r.modules.findIndex((url) => url.includes('/node_modules/@aws-sdk/'))
      expect(sent).toBeGreaterThan(0)
      expect(sdk).toBeGreaterThan(sent)
    } finally {
      server.close()
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
