/**
 * sync against rclone and the OpenSSH sftp client, from the same sshd to the same versitygw, in one run:
 *
 *   (a) one 1 GiB file; (b) 20,000 files of 4 KiB in 200 directories; (c) a re-sync of 100,000 unchanged files;
 *   and sync's peak RSS.
 *
 * Run as root (the peers need it), after `npm run build` and `bash scripts/install-peers.sh`:
 *
 *   npx tsx bench/sync.ts [--cases a,b,c] [--big-mib 1024] [--small 20000] [--resync 100000] [--repeat 3]
 *
 * Every tool reads from the same sshd with the same key; rclone and sync write to the same versitygw (keep-alive on,
 * see below), OpenSSH sftp writes to local disk. Wall-clock times include each tool's start-up. sync and sftp run
 * --repeat times (the median is compared, the spread shown); rclone, minutes per run, once. The load average beside
 * each row tells how busy the machine was.
 */
import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {cpus, loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'

import type {SyncResult} from '../src/services/sync.js'
import {formatBytes, table} from '../src/ui/format.js'
import {versitygwClientConfig} from '../test/peers/env.js'
import {binaries, describePeers, type Peers, startAllPeers, stopAllPeers} from '../test/peers/index.js'
import {CLI} from '../test/integration/helpers/cli.js'
import {makeProject, newBucket, removeScratch, type S3Peer} from '../test/integration/sync-helpers.js'

const MiB = 1024 * 1024
const args = process.argv.slice(2)
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback
}
const cases = new Set(opt('cases', 'a,b,c').split(','))
const BIG_MIB = Number(opt('big-mib', '1024'))
const SMALL = Number(opt('small', '20000'))
const RESYNC = Number(opt('resync', '100000'))
const REPEAT = Math.max(1, Number(opt('repeat', '3')))

interface Measure {
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
async function repeated(times: number, one: () => Promise<Measure>): Promise<Measure> {
  const all: Measure[] = []
  for (let i = 0; i < times; i++) all.push(await one())
  const sorted = [...all].sort((x, y) => x.seconds - y.seconds)
  const median = sorted[Math.floor((sorted.length - 1) / 2)]
  return {...median, ok: all.every((m) => m.ok), rssKb: Math.max(...all.map((m) => m.rssKb ?? 0)), runs: all.map((m) => m.seconds)}
}

/** Runs a command under GNU time: wall seconds and peak RSS of the process. */
function measure(command: string, argv: string[], opts: {cwd?: string; env?: NodeJS.ProcessEnv} = {}): Promise<Measure> {
  const timeFile = join(tmpdir(), `bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`)
  return new Promise((resolve) => {
    const started = process.hrtime.bigint()
    const child = spawn('/usr/bin/time', ['-o', timeFile, '-f', '%e %M', command, ...argv], {cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
    const load = loadavg()[0]
    child.on('exit', (code) => {
      const wall = Number(process.hrtime.bigint() - started) / 1e9
      let rssKb: number | undefined
      try {
        rssKb = Number(readFileSync(timeFile, 'utf8').trim().split(/\s+/).pop())
        rmSync(timeFile)
      } catch {
        // time did not write: the command could not start
      }
      resolve({seconds: wall, rssKb, load, ok: code === 0 || code === 3, note: code === 0 ? undefined : `exit ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`, stdout})
    })
  })
}

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message} (load ${loadavg()[0].toFixed(2)})\n`)
}

/** Source data in the key user's home (readable by every tool that logs in as that user). */
function makeData(home: string, owner: {uid: number; gid: number}): {a: string; b: string; c: string} {
  const own = (p: string) => chownSync(p, owner.uid, owner.gid)
  const a = join(home, 'bench-a')
  const b = join(home, 'bench-b')
  const c = join(home, 'bench-c')
  for (const d of [a, b, c]) {
    mkdirSync(d)
    own(d)
  }
  if (cases.has('a')) {
    const file = join(a, 'big.bin')
    writeFileSync(file, Buffer.alloc(0))
    for (let left = BIG_MIB * MiB; left > 0; left -= 64 * MiB) writeFileSync(file, randomBytes(Math.min(64 * MiB, left)), {flag: 'a'})
    own(file)
  }
  const tree = (root: string, files: number, dirs: number, size: number) => {
    const perDir = Math.ceil(files / dirs)
    for (let i = 0; i < files; i++) {
      const dir = join(root, `d${String(Math.floor(i / perDir)).padStart(4, '0')}`)
      if (i % perDir === 0) {
        mkdirSync(dir)
        own(dir)
      }
      const f = join(dir, `f${i}.dat`)
      writeFileSync(f, randomBytes(size))
      own(f)
    }
  }
  if (cases.has('b')) tree(b, SMALL, 200, 4096)
  if (cases.has('c')) tree(c, RESYNC, 500, 256)
  return {a, b, c}
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run the benchmark as root (the peer sshd needs it)')
  // versitygw closes the connection after every response unless started with --keep-alive; AWS S3 keeps
  // connections open. Both rclone and sync talk to this one gateway, so both get the same keep-alive.
  process.env.VGW_KEEP_ALIVE ??= 'true'
  // A CA bundle meant for a proxy elsewhere makes rclone's S3 client refuse to start against plain http.
  delete process.env.AWS_CA_BUNDLE
  log(`starting peers (${cpus().length} CPUs)`)
  let peers: Peers | undefined
  const rows: Array<Array<string | number>> = []
  const verdicts: string[] = []
  const work = mkdtempSync(join(tmpdir(), 'sct-bench-'))
  try {
    peers = await startAllPeers()
    const info = describePeers(peers)
    const user = peers.sshd.users.keyUser
    const s3: S3Peer = {name: 'versitygw', config: versitygwClientConfig(info), dataDir: peers.versitygw.dataDir}
    log('writing the source data')
    const data = makeData(user.home, user)

    const ours = async (label: string, root: string, bucket?: string) => {
      const b = bucket ?? (await newBucket(s3, label))
      const project = makeProject({sshd: peers!.sshd, s3, bucket: b, roots: [root]})
      const env = {...process.env, AWS_ACCESS_KEY_ID: s3.config.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.config.credentials.secretAccessKey}
      return {bucket: b, project, run: (command = 'sync') => measure(CLI, [command, '--json'], {cwd: project.dir, env})}
    }
    const rcloneEnv = {
      ...process.env,
      RCLONE_CONFIG: join(work, 'rclone.conf'),
      RCLONE_CONFIG_SRC_TYPE: 'sftp',
      RCLONE_CONFIG_SRC_HOST: peers.sshd.host,
      RCLONE_CONFIG_SRC_PORT: String(peers.sshd.port),
      RCLONE_CONFIG_SRC_USER: user.name,
      RCLONE_CONFIG_SRC_KEY_FILE: user.privateKeyPath!,
      RCLONE_CONFIG_SRC_KNOWN_HOSTS_FILE: peers.sshd.knownHostsFile,
      RCLONE_CONFIG_DST_TYPE: 's3',
      RCLONE_CONFIG_DST_PROVIDER: 'Other',
      RCLONE_CONFIG_DST_ACCESS_KEY_ID: s3.config.credentials.accessKeyId,
      RCLONE_CONFIG_DST_SECRET_ACCESS_KEY: s3.config.credentials.secretAccessKey,
      RCLONE_CONFIG_DST_ENDPOINT: s3.config.endpoint,
      RCLONE_CONFIG_DST_REGION: s3.config.region,
      RCLONE_CONFIG_DST_FORCE_PATH_STYLE: 'true',
    }
    writeFileSync(rcloneEnv.RCLONE_CONFIG, '')
    const rclone = async (verb: 'copy' | 'sync', root: string, label: string, extra: string[] = [], bucket?: string) => {
      const b = bucket ?? (await newBucket(s3, label))
      return {bucket: b, result: await measure(binaries.rclone, [verb, ...extra, `src:${root}`, `dst:${b}`], {env: rcloneEnv})}
    }
    const sftp = async (remote: string, cipher?: string) => {
      const dest = mkdtempSync(join(work, 'sftp-'))
      const batch = join(work, 'batch')
      writeFileSync(batch, `get -r ${remote} ${dest}/\n`)
      const r = await measure(binaries.sftp, [
        '-q',
        '-b',
        batch,
        '-i',
        user.privateKeyPath!,
        '-o',
        `UserKnownHostsFile=${peers!.sshd.knownHostsFile}`,
        '-o',
        'BatchMode=yes',
        ...(cipher ? ['-c', cipher] : []),
        '-P',
        String(peers!.sshd.port),
        `${user.name}@${peers!.sshd.host}`,
      ])
      rmSync(dest, {recursive: true, force: true})
      return r
    }
    const copied = (m: Measure) => {
      try {
        const r = JSON.parse(m.stdout) as SyncResult
        return `${r.counts.copied} copied, ${r.counts.unchanged} unchanged${r.problems.length ? `, ${r.problems.length} problems` : ''}`
      } catch {
        return m.note ?? ''
      }
    }
    const row = (c: string, tool: string, m: Measure, detail = '') => {
      const spread = m.runs && m.runs.length > 1 ? `median of ${m.runs.map((r) => r.toFixed(2)).join(', ')}` : ''
      const notes = [m.ok ? detail : `FAILED ${m.note ?? ''}`, spread].filter(Boolean).join('; ')
      rows.push([c, tool, Number(m.seconds.toFixed(2)), m.rssKb ? formatBytes(m.rssKb * 1024) : '', (m.load ?? 0).toFixed(1), notes])
      log(`${c} ${tool}: ${m.seconds.toFixed(2)} s`)
    }
    const judge = (name: string, ours: number, base: number, limit: number, kind: 'at most' | 'at least') => {
      const ratio = kind === 'at most' ? ours / base : base / ours
      const met = kind === 'at most' ? ratio <= limit : ratio >= limit
      verdicts.push(`${met ? 'MET ' : 'MISS'} ${name}: ${kind === 'at most' ? `${ratio.toFixed(2)}x the baseline's time (target <= ${limit}x)` : `${ratio.toFixed(1)}x faster (target >= ${limit}x)`}`)
    }
    // The S3 side alone (bench/s3-floor.ts): what sync does against this S3, from local disk, with no SFTP.
    const s3Floor = (mode: 'large' | 'small', source: string, bucket: string, key?: string) =>
      measure(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 's3-floor.ts'), mode, source, bucket, ...(key ? [key] : [])], {
        env: {...process.env, AWS_ENDPOINT_URL: s3.config.endpoint, AWS_REGION: s3.config.region, AWS_ACCESS_KEY_ID: s3.config.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.config.credentials.secretAccessKey},
      })
    let peakRss = 0
    const track = (m: Measure) => {
      peakRss = Math.max(peakRss, m.rssKb ?? 0)
      return m
    }

    if (cases.has('a')) {
      const label = `(a) 1 file, ${formatBytes(BIG_MIB * MiB)}`
      const us = track(await repeated(REPEAT, async () => (await ours('a', data.a)).run()))
      row(label, 'sftp-cutover sync', us, copied(us))
      const rcDefault = (await rclone('copy', data.a, 'a-rc')).result
      row(label, 'rclone copy', rcDefault)
      const rcIgnore = (await rclone('copy', data.a, 'a-rci', ['--ignore-checksum'])).result
      row(label, 'rclone copy --ignore-checksum', rcIgnore)
      const floor = await repeated(REPEAT, async () => s3Floor('large', join(data.a, 'big.bin'), await newBucket(s3, 'a-floor'), 'big.bin'))
      row(label, 'floor: the same upload from local disk, no SFTP', floor, 'S3 side only: what sync cannot go under here')
      const sftpDefault = await repeated(REPEAT, () => sftp(join(data.a, 'big.bin')))
      row(label, 'OpenSSH sftp get (default cipher)', sftpDefault, 'to local disk')
      const sftpGcm = await repeated(REPEAT, () => sftp(join(data.a, 'big.bin'), 'aes128-gcm@openssh.com'))
      row(label, 'OpenSSH sftp get -c aes128-gcm', sftpGcm, 'to local disk')
      judge('(a) vs rclone copy', us.seconds, rcDefault.seconds, 0.5, 'at most')
      judge('(a) vs OpenSSH sftp (default cipher)', us.seconds, sftpDefault.seconds, 1.2, 'at most')
      judge('(a) vs OpenSSH sftp (aes128-gcm)', us.seconds, sftpGcm.seconds, 1.2, 'at most')
    }
    if (cases.has('b')) {
      const label = `(b) ${SMALL} files of 4 KiB`
      const us = track(await repeated(REPEAT, async () => (await ours('b', data.b)).run()))
      row(label, 'sftp-cutover sync', us, copied(us))
      const rcIgnore = (await rclone('copy', data.b, 'b-rci', ['--ignore-checksum'])).result
      row(label, 'rclone copy --ignore-checksum', rcIgnore)
      const floor = await repeated(REPEAT, async () => s3Floor('small', data.b, await newBucket(s3, 'b-floor')))
      row(label, 'floor: the same PutObjects from local disk, no SFTP', floor, 'S3 side only: what sync cannot go under here')
      const sftpB = await repeated(REPEAT, () => sftp(data.b))
      row(label, 'OpenSSH sftp get -r', sftpB, 'to local disk')
      log('rclone copy with its default checksums runs md5sum over SSH for every file: this takes a while')
      const rcDefault = (await rclone('copy', data.b, 'b-rc')).result
      row(label, 'rclone copy', rcDefault)
      judge('(b) vs rclone copy', us.seconds, rcDefault.seconds, 50, 'at least')
      judge('(b) vs rclone copy --ignore-checksum', us.seconds, rcIgnore.seconds, 1.5, 'at least')
    }
    if (cases.has('c')) {
      const label = `(c) re-sync, ${RESYNC} unchanged`
      const mine = await ours('c', data.c)
      const first = track(await mine.run())
      row(`(c) first copy, ${RESYNC} files`, 'sftp-cutover sync', first, copied(first))
      const again = track(await repeated(REPEAT, () => mine.run()))
      row(label, 'sftp-cutover sync', again, copied(again))
      // Not a target of the issue, but the cutover runbook verifies after the final delta, inside the freeze window.
      const verified = track(await repeated(REPEAT, () => mine.run('verify')))
      row(`(c) verify, ${RESYNC} objects`, 'sftp-cutover verify', verified, 'HeadObject per object: size, CRC-32, sha256')
      const seeded = await rclone('copy', data.c, 'c-rc', ['--ignore-checksum'])
      row(`(c) first copy, ${RESYNC} files`, 'rclone copy --ignore-checksum', seeded.result)
      const rcSync = (await rclone('sync', data.c, 'c-rc', [], seeded.bucket)).result
      row(label, 'rclone sync', rcSync)
      judge('(c) vs rclone sync', again.seconds, rcSync.seconds, 0.1, 'at most')
    }
    verdicts.push(`${peakRss > 0 && peakRss * 1024 < 300 * 1e6 ? 'MET ' : 'MISS'} peak RSS of sftp-cutover sync: ${formatBytes(peakRss * 1024)} (target < 300 MB)`)
  } finally {
    await stopAllPeers(peers).catch((err: unknown) => log(`stopping peers: ${String(err)}`))
    rmSync(work, {recursive: true, force: true})
    removeScratch()
  }
  process.stdout.write(`\nsftp-cutover sync benchmark, ${cpus().length} CPUs, ${new Date().toISOString()}\n\n`)
  process.stdout.write(table(['case', 'tool', 'seconds', 'peak RSS', 'load', 'notes'], rows) + '\n\n')
  process.stdout.write(verdicts.join('\n') + '\n')
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exit(1)
})
