/**
 * jest globalTeardown of the integration project: stops the peers started by global-setup.ts (SIGTERM
 * to test/peers/run.ts, which stops sshd, moto and versitygw and removes the throwaway users).
 * Imports nothing of ours, for the reason given in global-setup.ts.
 */
import type {ChildProcess} from 'node:child_process'
import {rmSync} from 'node:fs'

const GLOBAL_KEY = '__sftpCutoverPeers'
const STOP_TIMEOUT_MS = 60_000

export default async function globalTeardown(): Promise<void> {
  const holder = globalThis as Record<string, unknown>
  const state = holder[GLOBAL_KEY] as {child: ChildProcess; file: string; stderrTail: () => string} | undefined
  if (!state) return
  delete holder[GLOBAL_KEY]
  const {child} = state
  try {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`test peers had already exited (code ${child.exitCode}, signal ${child.signalCode})`)
    }
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    child.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const code = await Promise.race([exited, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS)))])
    clearTimeout(timer)
    if (code === 'timeout') {
      child.kill('SIGKILL')
      throw new Error(`test peers did not stop within ${STOP_TIMEOUT_MS / 1000} s (killed; \`tsx test/peers/run.ts sweep\` removes leftovers)`)
    }
    if (code !== 0) throw new Error(`test peers stopped with exit code ${code}`)
  } catch (error) {
    const tail = state.stderrTail()
    throw new Error(`${(error as Error).message}${tail ? `\n--- test/peers/run.ts output ---\n${tail}` : ''}`)
  } finally {
    rmSync(state.file, {force: true})
  }
}
