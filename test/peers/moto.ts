/** moto_server (moto[server], pinned by scripts/install-peers.sh) on 127.0.0.1: S3, Transfer, Route 53, EC2, EFS, IAM, SNS. */
import {freePort} from './free-port.js'
import {binaries, requireBinary} from './paths.js'
import {type ManagedProcess, portWasTaken, startProcess, waitUntilReady} from './proc.js'

/** Plain, JSON-serialisable description of a running moto server. */
export interface MotoInfo {
  /** e.g. http://127.0.0.1:40123 (one endpoint for every service) */
  endpoint: string
  port: number
  pid: number
}

export interface MotoPeer extends MotoInfo {
  /** POST /moto-api/reset: forgets every resource of every service. */
  reset(): Promise<void>
  stop(): Promise<void>
}

/** POST /moto-api/reset against a moto endpoint (usable from tests that only have the JSON description). */
export async function resetMoto(endpoint: string): Promise<void> {
  const response = await fetch(`${endpoint}/moto-api/reset`, {method: 'POST', signal: AbortSignal.timeout(10_000)})
  if (!response.ok) throw new Error(`moto reset at ${endpoint} answered ${response.status} ${await response.text()}`)
}

export async function startMoto(): Promise<MotoPeer> {
  const motoServer = requireBinary('moto_server', binaries.motoServer)
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const endpoint = `http://127.0.0.1:${port}`
    const proc: ManagedProcess = startProcess('moto_server', motoServer, ['-H', '127.0.0.1', '-p', String(port)], {
      env: {...process.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1'},
    })
    try {
      await waitUntilReady(
        proc,
        async () => {
          const response = await fetch(`${endpoint}/moto-api/`, {signal: AbortSignal.timeout(2000)})
          await response.arrayBuffer()
          return response.ok
        },
        {timeoutMs: 30_000, what: `did not answer on ${endpoint}/moto-api/`},
      )
    } catch (error) {
      await proc.stop()
      if (attempt < 3 && portWasTaken(proc)) continue
      throw error
    }
    let stopped: Promise<void> | undefined
    return {
      endpoint,
      port,
      pid: proc.pid,
      reset: () => resetMoto(endpoint),
      stop: () => (stopped ??= proc.stop()),
    }
  }
}
