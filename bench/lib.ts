/** What the benchmarks share (bench/sync.ts, bench/wan.ts): timing a tool, source data, the baseline tools' settings. */
import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'

import type {PeerClientConfig} from '../test/peers/env.js'
import {binaries} from '../test/peers/index.js'

const MiB = 1024 * 1024

export const cliOption = (args: string[], name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback
}

export interface Measure {
  seconds: number
  rssKb?: number
  ok: boolean
  note?: string
  stdout: string
  /** all runs' seconds when repeated */
  runs?: number[]
  load?: number
}

/** Runs a measurement `times` times: the median run, with every run's time. */
export async function repeated(times: number, one: () => Promise<Measure>): Promise<Measure> {
  const all: Measure[] = []
  for (let i = 0; i < times; i++) all.push(await one())
  const sorted = [...all].sort((x, y) => x.seconds - y.seconds)
  const median = sorted[Math.floor((sorted.length - 1) / 2)]
  return {...median, ok: all.every((m) => m.ok), rssKb: Math.max(...all.map((m) => m.rssKb ?? 0)), runs: all.map((m) => m.seconds)}
}

/** Runs a command under GNU time: wall seconds and peak RSS of the process; killed (and not ok) after `timeoutMs`. */
export function measure(command: string, argv: string[], opts: {cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number} = {}): Promise<Measure> {
  const timeFile = join(tmpdir(), `bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`)
  return new Promise((resolve) => {
    const started = process.hrtime.bigint()
    const child = spawn('/usr/bin/time', ['-o', timeFile, '-f', '%e %M', command, ...argv], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: opts.timeoutMs !== undefined, // its own process group, so a timeout kills the tool too
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
    const load = loadavg()[0]
    let timedOut = false
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true
          if (child.pid) process.kill(-child.pid, 'SIGKILL') // GNU time and the tool
        }, opts.timeoutMs)
      : undefined
    child.on('exit', (code) => {
      clearTimeout(timer)
      const wall = Number(process.hrtime.bigint() - started) / 1e9
      let rssKb: number | undefined
      try {
        rssKb = Number(readFileSync(timeFile, 'utf8').trim().split(/\s+/).pop())
        rmSync(timeFile)
      } catch {
        // time did not write: the command could not start
      }
      const note = timedOut ? `killed after ${(opts.timeoutMs! / 1000).toFixed(0)} s` : code === 0 ? undefined : `exit ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`
      resolve({seconds: wall, rssKb, load, ok: !timedOut && (code === 0 || code === 3), note, stdout})
    })
  })
}

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message} (load ${loadavg()[0].toFixed(2)})\n`)
}

export interface Owner {
  uid: number
  gid: number
}

/** A file of `bytes` random bytes, written 64 MiB at a time. */
export function writeRandomFile(file: string, bytes: number, owner: Owner): void {
  writeFileSync(file, Buffer.alloc(0))
  for (let left = bytes; left > 0; left -= 64 * MiB) writeFileSync(file, randomBytes(Math.min(64 * MiB, left)), {flag: 'a'})
  chownSync(file, owner.uid, owner.gid)
}

/** `files` random files of `size` bytes spread over `dirs` directories d0000, d0001, … under an existing `root`. */
export function writeTree(root: string, files: number, dirs: number, size: number, owner: Owner): void {
  const perDir = Math.ceil(files / dirs)
  for (let i = 0; i < files; i++) {
    const dir = join(root, `d${String(Math.floor(i / perDir)).padStart(4, '0')}`)
    if (i % perDir === 0) {
      mkdirSync(dir)
      chownSync(dir, owner.uid, owner.gid)
    }
    const f = join(dir, `f${i}.dat`)
    writeFileSync(f, randomBytes(size))
    chownSync(f, owner.uid, owner.gid)
  }
}

/** How a tool logs in to the box: address, key user, the known_hosts that pins the box's keys for that address. */
export interface BoxLogin {
  host: string
  port: number
  user: string
  keyFile: string
  knownHostsFile: string
}

/** rclone's config by environment: remote `src` the box over SFTP, remote `dst` the S3 peer. */
export function rcloneEnv(configFile: string, box: BoxLogin, s3: PeerClientConfig): NodeJS.ProcessEnv {
  writeFileSync(configFile, '')
  return {
    ...process.env,
    RCLONE_CONFIG: configFile,
    RCLONE_CONFIG_SRC_TYPE: 'sftp',
    RCLONE_CONFIG_SRC_HOST: box.host,
    RCLONE_CONFIG_SRC_PORT: String(box.port),
    RCLONE_CONFIG_SRC_USER: box.user,
    RCLONE_CONFIG_SRC_KEY_FILE: box.keyFile,
    RCLONE_CONFIG_SRC_KNOWN_HOSTS_FILE: box.knownHostsFile,
    RCLONE_CONFIG_DST_TYPE: 's3',
    RCLONE_CONFIG_DST_PROVIDER: 'Other',
    RCLONE_CONFIG_DST_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    RCLONE_CONFIG_DST_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    RCLONE_CONFIG_DST_ENDPOINT: s3.endpoint,
    RCLONE_CONFIG_DST_REGION: s3.region,
    RCLONE_CONFIG_DST_FORCE_PATH_STYLE: 'true',
  }
}

/** OpenSSH's options for a batch login to the box (ssh and sftp spell the port differently). */
export const opensshOptions = (box: BoxLogin): string[] => ['-i', box.keyFile, '-o', `UserKnownHostsFile=${box.knownHostsFile}`, '-o', 'BatchMode=yes']

/** OpenSSH `sftp` in batch mode: `get -r remote` into a fresh directory under `work`, removed afterwards. */
export async function sftpGet(box: BoxLogin, work: string, remote: string, cipher?: string): Promise<Measure> {
  const dest = mkdtempSync(join(work, 'sftp-'))
  const batch = join(work, 'batch')
  writeFileSync(batch, `get -r ${remote} ${dest}/\n`)
  const r = await measure(binaries.sftp, ['-q', '-b', batch, ...opensshOptions(box), ...(cipher ? ['-c', cipher] : []), '-P', String(box.port), `${box.user}@${box.host}`])
  rmSync(dest, {recursive: true, force: true})
  return r
}
