/**
 * jest globalSetup of the integration project: starts sshd, moto and versitygw once for the whole run.
 *
 * jest loads this file (and global-teardown.ts) as CommonJS outside its module mapper, where the
 * `.js`-suffixed relative imports of test/peers/ do not resolve, so this file imports nothing of ours:
 * it runs `node --import tsx test/peers/run.ts up --sample-tree --json-file .peers/run/peers-<pid>.json`
 * as a child process (with a parent-death signal, so the peers are stopped and the throwaway users
 * removed even if jest is killed), waits for its one-line JSON description, and points
 * $SFTP_CUTOVER_PEERS at the file (workers inherit the environment; tests read it with env.ts
 * loadPeers()). The child process handle stays in globalThis for global-teardown.ts.
 *
 * The peers must be installed first: `bash scripts/install-peers.sh` (the test script does that).
 * SFTP_CUTOVER_PEERS_SAMPLE_TREE=0 skips the sample trees; SFTP_CUTOVER_PEERS_VERBOSE=1 shows the peers' log.
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {existsSync, mkdirSync} from 'node:fs'
import {join} from 'node:path'

const GLOBAL_KEY = '__sftpCutoverPeers'
const START_TIMEOUT_MS = 120_000

export interface PeersGlobal {
  child: ChildProcess
  file: string
  stderrTail: () => string
}

export default async function globalSetup(_globalConfig: unknown, projectConfig?: {rootDir?: string}): Promise<void> {
  const started = Date.now()
  const root = projectConfig?.rootDir ?? process.cwd()
  const runTs = join(root, 'test', 'peers', 'run.ts')
  const missing = [
    '/usr/sbin/sshd',
    '/usr/bin/ssh-keygen',
    join(root, '.peers', 'venv', 'bin', 'moto_server'),
    process.env.SFTP_CUTOVER_VERSITYGW ?? join(root, '.peers', 'bin', 'versitygw'),
  ].filter((path) => !existsSync(path))
  if (missing.length > 0) {
    throw new Error(`test peers are not installed (missing ${missing.join(', ')}): run \`bash scripts/install-peers.sh\` (as root) first`)
  }
  const runDir = join(root, '.peers', 'run')
  mkdirSync(runDir, {recursive: true})
  const file = join(runDir, `peers-${process.pid}.json`)
  const args = ['--import', 'tsx', runTs, 'up', '--json-file', file]
  if (process.env.SFTP_CUTOVER_PEERS_SAMPLE_TREE !== '0') args.push('--sample-tree')
  const [command, argv] = existsSync('/usr/bin/setpriv')
    ? ['/usr/bin/setpriv', ['--pdeathsig', 'TERM', '--', process.execPath, ...args]]
    : [process.execPath, args]
  const child = spawn(command, argv, {cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, NODE_OPTIONS: ''}})
  let stderr = ''
  const verbose = Boolean(process.env.SFTP_CUTOVER_PEERS_VERBOSE)
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-8192)
    if (verbose) process.stderr.write(chunk)
  })
  const stderrTail = (): string => stderr.trim()
  try {
    await new Promise<void>((resolve, reject) => {
      let stdout = ''
      const timer = setTimeout(() => reject(new Error(`test peers did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS)
      const onData = (chunk: Buffer): void => {
        stdout += chunk.toString('utf8')
        const newline = stdout.indexOf('\n')
        if (newline < 0) return
        clearTimeout(timer)
        child.stdout?.off('data', onData)
        child.stdout?.resume() // keep draining
        try {
          JSON.parse(stdout.slice(0, newline))
          resolve()
        } catch (error) {
          reject(new Error(`test peers printed something that is not JSON: ${stdout.slice(0, 200)} (${String(error)})`))
        }
      }
      child.stdout?.on('data', onData)
      child.once('error', (error) => {
        clearTimeout(timer)
        reject(error)
      })
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`test peers exited during start-up (code ${code}, signal ${signal})`))
      })
    })
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await new Promise((resolve) => child.once('exit', resolve))
    }
    const tail = stderrTail()
    throw new Error(`${(error as Error).message}${tail ? `\n--- test/peers/run.ts output ---\n${tail}` : ''}`)
  }
  child.removeAllListeners('exit')
  process.env.SFTP_CUTOVER_PEERS = file
  const state: PeersGlobal = {child, file, stderrTail}
  ;(globalThis as Record<string, unknown>)[GLOBAL_KEY] = state
  if (verbose) process.stderr.write(`sftp-cutover peers up in ${Date.now() - started} ms: ${file}\n`)
}
