import {GetObjectCommand, type S3Client} from '@aws-sdk/client-s3'
import {type ChildProcess, spawn} from 'node:child_process'
import {createWriteStream} from 'node:fs'
import {mkdir, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'

import {type ClamdAddress, ping} from './clamd.js'

// Written last by the definitions function: the database files of one complete freshclam run.
export const MANIFEST = 'manifest.json'

/**
 * clamd's configuration. The size limits are raised to clamd's maximum and AlertExceedsMax is on, so a file too
 * large to scan completely is reported (Heuristics.Limits.Exceeded, handled as infected) instead of "OK".
 */
export function clamdConfig(options: {databaseDir: string; socket: ClamdAddress}): string {
  const listen =
    'path' in options.socket ? [`LocalSocket ${options.socket.path}`] : [`TCPSocket ${options.socket.port}`, `TCPAddr ${options.socket.host}`]
  return [
    'Foreground yes',
    `DatabaseDirectory ${options.databaseDir}`,
    ...listen,
    'StreamMaxLength 4000M',
    'MaxFileSize 4000M',
    'MaxScanSize 4000M',
    'AlertExceedsMax yes',
    'LogTime yes',
    '',
  ].join('\n')
}

/** Waits until clamd answers PING, or throws after `timeoutMs`. */
export async function waitForClamd(address: ClamdAddress, timeoutMs: number, exited: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await ping(address)) return
    const why = exited()
    if (why) throw new Error(`clamd exited before answering: ${why}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  throw new Error(`clamd did not answer PING within ${timeoutMs} ms`)
}

/** Downloads the databases named by the manifest under `prefix`, starts clamd on a Unix socket, waits for it. */
export async function startClamd(options: {
  s3: Pick<S3Client, 'send'>
  bucket: string
  prefix: string
  workDir: string
  clamdPath?: string
}): Promise<{address: ClamdAddress; clamd: ChildProcess}> {
  const databaseDir = path.join(options.workDir, 'db')
  await mkdir(databaseDir, {recursive: true})
  const read = async (key: string): Promise<Readable> => {
    const object = await options.s3.send(new GetObjectCommand({Bucket: options.bucket, Key: key}))
    if (!(object.Body instanceof Readable)) throw new Error(`GetObject ${key} returned no readable body`)
    return object.Body
  }
  let files: string[]
  try {
    const text = Buffer.concat(await (await read(`${options.prefix}${MANIFEST}`)).toArray()).toString('utf8')
    files = (JSON.parse(text) as {files: string[]}).files
  } catch (error) {
    throw new Error(`no ClamAV databases at s3://${options.bucket}/${options.prefix}${MANIFEST} (has the definitions function run?): ${(error as Error).message}`)
  }
  for (const file of files) {
    if (file !== path.basename(file)) throw new Error(`manifest names an unexpected file ${JSON.stringify(file)}`)
    await pipeline(await read(`${options.prefix}${file}`), createWriteStream(path.join(databaseDir, file)))
  }
  const socket = {path: path.join(options.workDir, 'clamd.sock')}
  const config = path.join(options.workDir, 'clamd.conf')
  await writeFile(config, clamdConfig({databaseDir, socket}))
  const child = spawn(options.clamdPath ?? 'clamd', [`--config-file=${config}`], {stdio: ['ignore', 'inherit', 'inherit']})
  let exit: string | undefined
  child.on('exit', (code, signal) => {
    exit = `exit code ${code ?? signal}`
  })
  child.on('error', (error) => {
    exit = error.message
  })
  // Loading the full signature set takes tens of seconds.
  try {
    await waitForClamd(socket, 120_000, () => exit)
  } catch (error) {
    child.kill()
    throw error
  }
  return {address: socket, clamd: child}
}
