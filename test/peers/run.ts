/**
 * Runs the peers outside jest, for the rehearsal and the benchmarks (as root):
 *
 *   tsx test/peers/run.ts up [--sample-tree] [--json-file PATH]
 *       starts sshd, moto and versitygw, prints their JSON description on stdout as one line (and
 *       writes it to PATH if given), then runs until SIGINT/SIGTERM/SIGHUP and stops everything
 *       (throwaway users removed). Logs go to stderr.
 *   tsx test/peers/run.ts sweep
 *       removes what crashed runs left behind (sshd run dirs whose owner is gone, their users and
 *       groups; versitygw temp dirs). Each start also does this.
 */
import {rmSync, writeFileSync} from 'node:fs'

import {type Peers, describePeers, startAllPeers, stopAllPeers, sweepStaleSshdRuns, sweepStaleVersitygwDirs} from './index.js'

const USAGE = 'usage: tsx test/peers/run.ts up [--sample-tree] [--json-file PATH] | sweep'

// Whoever started us may be gone (a killed jest): writes to a closed stdout/stderr must not become
// uncaught errors that starve the clean-up.
process.stdout.on('error', () => undefined)
process.stderr.on('error', () => undefined)

function log(message: string): void {
  try {
    process.stderr.write(`peers: ${message}\n`)
  } catch {
    // nobody is listening
  }
}

async function up(args: string[]): Promise<number> {
  let sampleTree = false
  let jsonFile: string | undefined
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    if (arg === '--sample-tree') sampleTree = true
    else if (arg === '--json-file' && args[i + 1]) jsonFile = args[++i]
    else if (arg.startsWith('--json-file=')) jsonFile = arg.slice('--json-file='.length)
    else throw new Error(`unknown argument ${arg}\n${USAGE}`)
  }

  const state: {peers?: Peers} = {}
  let stopping: Promise<void> | undefined
  let stopRequested: string | undefined
  let exitCode = 0
  const stop = (reason: string, code: number): Promise<void> => {
    exitCode ||= code
    if (!state.peers) {
      // Still starting: stop as soon as start-up is over (startAllPeers cleans up if it fails).
      stopRequested ??= reason
      return new Promise<void>(() => undefined)
    }
    stopping ??= (async () => {
      log(`${reason}: stopping`)
      try {
        await stopAllPeers(state.peers)
        log('stopped')
      } catch (error) {
        exitCode ||= 1
        log(String(error))
      } finally {
        if (jsonFile) rmSync(jsonFile, {force: true})
      }
    })()
    return stopping
  }
  const stopped = new Promise<void>((resolve) => {
    for (const [signal, code] of [
      ['SIGINT', 0],
      ['SIGTERM', 0],
      ['SIGHUP', 0],
    ] as const) {
      process.on(signal, () => void stop(signal, code).then(resolve))
    }
    let reported = 0
    process.on('uncaughtException', (error) => {
      if (reported++ < 3) log(`uncaught: ${error.stack ?? String(error)}`)
      void stop('error', 1).then(resolve)
    })
    process.on('unhandledRejection', (error) => {
      if (reported++ < 3) log(`unhandled rejection: ${String(error)}`)
      void stop('error', 1).then(resolve)
    })
  })

  const t0 = Date.now()
  const peers = await startAllPeers({sampleTree})
  state.peers = peers
  const line = JSON.stringify(describePeers(peers))
  if (jsonFile) writeFileSync(jsonFile, line + '\n', {mode: 0o600})
  log(`up in ${Date.now() - t0} ms (sshd 127.0.0.1:${peers.sshd.port}, moto ${peers.moto.endpoint}, versitygw ${peers.versitygw.endpoint})`)
  process.stdout.write(line + '\n')
  if (stopRequested) {
    await stop(stopRequested, exitCode)
    return exitCode
  }
  // Stay alive until a signal: the handlers above resolve `stopped`.
  const keepAlive = setInterval(() => undefined, 1 << 30)
  await stopped
  clearInterval(keepAlive)
  return exitCode
}

async function main(): Promise<number> {
  const [command, ...args] = process.argv.slice(2)
  if (command === 'up') return up(args)
  if (command === 'sweep') {
    const swept = [...(await sweepStaleSshdRuns()), ...(await sweepStaleVersitygwDirs())]
    log(swept.length ? `removed ${swept.join(', ')}` : 'nothing to sweep')
    return 0
  }
  process.stderr.write(`${USAGE}\n`)
  return 2
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(error instanceof Error ? error.message : String(error))
    process.exit(1)
  },
)
