/** versitygw (pinned v1.8.0, built by scripts/install-peers.sh) in posix mode over a temp dir: an S3 that verifies checksums. */
import {randomBytes} from 'node:crypto'
import {mkdir, mkdtemp, readFile, readdir, rm, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {freePort} from './free-port.js'
import {binaries, peerTmpBase, requireBinary} from './paths.js'
import {type ManagedProcess, isAlive, portWasTaken, startProcess, waitUntilReady} from './proc.js'

const DIR_PREFIX = 'sftp-cutover-versitygw-'
const OWNER_FILE = 'owner.json'

/** Plain, JSON-serialisable description of a running versitygw. */
export interface VersitygwInfo {
  /** e.g. http://127.0.0.1:40124; use path-style addressing (forcePathStyle: true) */
  endpoint: string
  port: number
  pid: number
  region: 'us-east-1'
  accessKey: string
  secretKey: string
  /** temp dir of this run */
  dir: string
  /** the posix backend root: each sub-directory is a bucket, objects are files below it */
  dataDir: string
}

export interface VersitygwPeer extends VersitygwInfo {
  /** Stops the gateway and removes its directory (and so every bucket). */
  stop(): Promise<void>
}

export async function startVersitygw(): Promise<VersitygwPeer> {
  const binary = requireBinary('versitygw', binaries.versitygw)
  await sweepStaleVersitygwDirs()
  const dir = await mkdtemp(join(peerTmpBase(), DIR_PREFIX))
  await writeFile(join(dir, OWNER_FILE), JSON.stringify({ownerPid: process.pid}))
  const dataDir = join(dir, 'data')
  await mkdir(dataDir)
  const accessKey = `AKIA${randomBytes(8).toString('hex').toUpperCase()}`
  const secretKey = randomBytes(30).toString('base64url')
  try {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort()
      const endpoint = `http://127.0.0.1:${port}`
      // Credentials go through the environment, not argv (ps shows argv).
      const proc: ManagedProcess = startProcess(
        'versitygw',
        binary,
        ['--port', `127.0.0.1:${port}`, '--region', 'us-east-1', '--quiet', 'posix', dataDir],
        {env: {...process.env, ROOT_ACCESS_KEY_ID: accessKey, ROOT_SECRET_ACCESS_KEY: secretKey}},
      )
      try {
        await waitUntilReady(
          proc,
          async () => {
            // Any HTTP answer (an anonymous ListBuckets gets 403) means it is serving.
            const response = await fetch(`${endpoint}/`, {signal: AbortSignal.timeout(2000)})
            await response.arrayBuffer()
            return response.status > 0
          },
          {timeoutMs: 20_000, what: `did not answer on ${endpoint}`},
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
        region: 'us-east-1',
        accessKey,
        secretKey,
        dir,
        dataDir,
        stop: () =>
          (stopped ??= (async () => {
            await proc.stop()
            await rm(dir, {recursive: true, force: true})
          })()),
      }
    }
  } catch (error) {
    await rm(dir, {recursive: true, force: true})
    throw error
  }
}

/** Removes temp dirs of earlier runs whose owning process is gone (a run killed with SIGKILL). */
export async function sweepStaleVersitygwDirs(): Promise<string[]> {
  const base = peerTmpBase()
  const swept: string[] = []
  for (const entry of await readdir(base).catch(() => [] as string[])) {
    if (!entry.startsWith(DIR_PREFIX)) continue
    const dir = join(base, entry)
    try {
      const {ownerPid} = JSON.parse(await readFile(join(dir, OWNER_FILE), 'utf8')) as {ownerPid: number}
      if (ownerPid === process.pid || isAlive(ownerPid)) continue
    } catch {
      continue // no owner record (yet): not ours to judge
    }
    await rm(dir, {recursive: true, force: true})
    swept.push(dir)
  }
  return swept
}
