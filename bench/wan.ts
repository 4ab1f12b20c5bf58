/**
 * sync and inventory over a shaped link (issue 16): toxiproxy in front of the sshd peer adds --latency-ms per direction
 * and limits each direction to --rate-kbps KB/s (per connection: toxiproxy shapes each TCP connection on its own), with
 * the baselines in the same run through the same proxy:
 *
 *   big:   one 256 MiB file       sync | OpenSSH sftp get | rclone copy         (+ bytes read from the box)
 *   small: 2,000 x 4 KiB, 20 dirs sync | OpenSSH sftp get -r | rclone copy
 *   list:  20,000 files, 200 dirs inventory | ssh <box> find -printf | rclone lsf -R
 *                                  (+ ssh <box> sh -s < the collect script: the accounts part inventory also does)
 *
 *   npx tsx bench/wan.ts [--latency-ms 15] [--rate-kbps 25000] [--shape-s3] [--scale 1] [--cases big,small,list]
 *                        [--timeout-s 600] [--leave-open 0] [--ours-only] [--sync-args '--transfers 32']
 *
 * As root, after `npm run build` and `bash scripts/install-peers.sh`. --scale multiplies the sizes (0.1 for a quick
 * end-to-end check; the targets are judged at any scale but only mean something at 1). S3 (versitygw) is on loopback
 * unless --shape-s3 puts it behind the same toxics. Bytes read from the box are toxiproxy's own counters
 * (-proxy-metrics: bytes received from sshd), so they include SSH framing; OpenSSH sftp's ratio shows that floor.
 * --ours-only skips the baselines (no verdicts: for trying a change quickly); --sync-args adds flags to every sync.
 * Every tool gets a fresh connection; the number of connections sshd still holds before each row is printed, so a
 * row slowed by what an earlier tool left behind shows it.
 *
 * Why rclone once "stalled" after the other tools (issue 16: 500 files > 350 s, lsf -R > 115 s, 2 s alone): sshd counts
 * connections that have not logged in yet against MaxStartups (the peer's 100:30:200) until LoginGraceTime (120 s)
 * ends them. Past 100 of them sshd drops new connections at random, past 200 all of them; rclone opens one connection
 * per checker and transfer, sees "ssh: handshake failed: EOF" and its pacer retries with back-off. `--leave-open N`
 * reproduces it (N TCP connections to the proxy that never log in): lsf -R of 500 files took 2.5 s with none, 20 s
 * with 150, 48 s with 200. Hence the wait for sshd to hold no connection before each row, and the column.
 */
import {chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {cpus, loadavg, tmpdir} from 'node:os'
import {connect, type Socket} from 'node:net'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {collectScript} from '../src/core/collect-script.js'
import type {SyncResult} from '../src/services/sync.js'
import {formatBytes, table} from '../src/ui/format.js'
import {binaries, startSshd, startToxiproxy, startVersitygw, type SshdPeer, type ToxiproxyPeer, type VersitygwPeer} from '../test/peers/index.js'
import {CLI} from '../test/integration/helpers/cli.js'
import {makeProject, newBucket, removeScratch, type S3Peer} from '../test/integration/sync-helpers.js'
import {type BoxLogin, cliOption, log, type Measure, measure, opensshOptions, rcloneEnv, sftpGet, writeRandomFile, writeTree} from './lib.js'

const MiB = 1024 * 1024
const args = process.argv.slice(2)
const opt = (name: string, fallback: string) => cliOption(args, name, fallback)
const LATENCY_MS = Number(opt('latency-ms', '15'))
const RATE_KBPS = Number(opt('rate-kbps', '25000'))
const SHAPE_S3 = args.includes('--shape-s3')
const SCALE = Number(opt('scale', '1'))
const CASES = new Set(opt('cases', 'big,small,list').split(','))
const TIMEOUT_MS = Number(opt('timeout-s', '600')) * 1000
const LEAVE_OPEN = Number(opt('leave-open', '0'))
const OURS_ONLY = args.includes('--ours-only')
const SYNC_ARGS = opt('sync-args', '').split(' ').filter(Boolean)
const BIG_BYTES = Math.max(1, Math.round(256 * MiB * SCALE))
const SMALL_FILES = Math.max(20, Math.round(2000 * SCALE))
const LIST_FILES = Math.max(200, Math.round(20_000 * SCALE))

/** Established TCP connections whose local port is `port` (sshd's side of every open session), from /proc/net/tcp. */
function establishedTo(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0')
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .filter((line) => {
      const fields = line.trim().split(/\s+/)
      return fields[1]?.endsWith(`:${hex}`) && fields[3] === '01'
    }).length
}

interface Row {
  label: string
  tool: string
  m: Measure
  /** the baseline row's seconds this row is compared with */
  baseline?: number
  fromBox?: number
  connsBefore: number
  detail?: string
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run the benchmark as root (the peer sshd needs it)')
  process.env.VGW_KEEP_ALIVE ??= 'true' // as bench/sync.ts: S3 keeps connections open, so does this versitygw
  delete process.env.AWS_CA_BUNDLE
  const work = mkdtempSync(join(tmpdir(), 'sct-wan-'))
  let sshd: SshdPeer | undefined
  let vgw: VersitygwPeer | undefined
  let toxiproxy: ToxiproxyPeer | undefined
  const rows: Row[] = []
  const verdicts: string[] = []
  const leftOpen: Socket[] = []
  try {
    log(`starting sshd, versitygw and toxiproxy (${cpus().length} CPUs)`)
    ;[sshd, vgw, toxiproxy] = await Promise.all([startSshd(), startVersitygw(), startToxiproxy()])
    const link = await toxiproxy.proxy('box', `127.0.0.1:${sshd.port}`)
    const shape = async (p: typeof link) => {
      for (const direction of ['upstream', 'downstream'] as const) {
        await p.latency(direction, LATENCY_MS)
        await p.bandwidth(direction, RATE_KBPS)
      }
    }
    await shape(link)
    let s3Endpoint = vgw.endpoint
    if (SHAPE_S3) {
      const s3Link = await toxiproxy.proxy('s3', `127.0.0.1:${vgw.port}`)
      await shape(s3Link)
      s3Endpoint = `http://127.0.0.1:${s3Link.port}`
    }
    const s3: S3Peer = {
      name: 'versitygw',
      config: {endpoint: s3Endpoint, region: vgw.region, forcePathStyle: true, credentials: {accessKeyId: vgw.accessKey, secretAccessKey: vgw.secretKey}},
      dataDir: vgw.dataDir,
    }
    // The box's own known_hosts, for the proxy's address (OpenSSH and rclone look keys up by host and port).
    const knownHostsFile = join(work, 'known_hosts')
    writeFileSync(knownHostsFile, readFileSync(sshd.knownHostsFile, 'utf8').replaceAll(`[127.0.0.1]:${sshd.port} `, `[127.0.0.1]:${link.port} `))
    const user = sshd.users.keyUser
    const box: BoxLogin = {host: link.host, port: link.port, user: user.name, keyFile: user.privateKeyPath!, knownHostsFile}
    const rclone = rcloneEnv(join(work, 'rclone.conf'), box, s3.config)
    const syncEnv = {...process.env, AWS_ACCESS_KEY_ID: vgw.accessKey, AWS_SECRET_ACCESS_KEY: vgw.secretKey}

    log('writing the source data')
    const dir = (name: string) => {
      const d = join(user.home, name)
      mkdirSync(d)
      chownSync(d, user.uid, user.gid)
      return d
    }
    const bigDir = dir('wan-big')
    const smallDir = dir('wan-small')
    const listDir = dir('wan-list')
    if (CASES.has('big')) writeRandomFile(join(bigDir, 'big.bin'), BIG_BYTES, user)
    if (CASES.has('small')) writeTree(smallDir, SMALL_FILES, 20, 4096, user)
    if (CASES.has('list')) writeTree(listDir, LIST_FILES, 200, 16, user)

    // toxiproxy adds a connection's bytes to its counters when the connection ends, which is a little after the
    // client exits (the close travels through the toxics): wait for sshd to have no connection left, up to 10 s.
    const settle = async () => {
      for (let waited = 0; waited < 10_000 && establishedTo(sshd!.port) > LEAVE_OPEN; waited += 100) await sleep(100)
      await sleep(200)
    }
    // --leave-open: connections that never log in, as a misbehaving earlier tool would leave them (see above).
    for (let i = 0; i < LEAVE_OPEN; i++) leftOpen.push(connect(link.port, link.host).on('error', () => undefined))
    /** Runs one tool through the link: its time, the bytes it read from the box, and what sshd held before it. */
    const timed = async (label: string, tool: string, run: () => Promise<Measure>, extra: Partial<Row> = {}): Promise<Row> => {
      await settle()
      const connsBefore = establishedTo(sshd!.port)
      const before = await link.counters()
      const m = await run()
      await settle()
      const after = await link.counters()
      const row: Row = {label, tool, m, connsBefore, fromBox: after.fromUpstream - before.fromUpstream, ...extra}
      rows.push(row)
      log(`${label} ${tool}: ${m.seconds.toFixed(2)} s${m.ok ? '' : ` FAILED ${m.note ?? ''}`}`)
      return row
    }
    const cli = (command: string, root: string, bucket: string, extra: string[] = []) => {
      const project = makeProject({sshd: sshd!, port: link.port, s3, bucket, roots: [root]})
      return async () => {
        const m = await measure(CLI, [command, '--json', ...extra], {cwd: project.dir, env: syncEnv, timeoutMs: TIMEOUT_MS})
        // Trying a change: where the time went, from the log (each record's time since the first one, and the phases'
        // own ms).
        if (OURS_ONLY) {
          const records = readFileSync(project.logFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as {msg?: string; ms?: number; time: number})
          for (const r of records) log(`  +${r.time - records[0].time} ms ${r.msg}${r.ms === undefined ? '' : ` (${r.ms} ms)`}`)
        }
        return m
      }
    }
    const rcloneRun = (verb: string, argv: string[]) => () => measure(binaries.rclone, [verb, ...argv], {env: rclone, timeoutMs: TIMEOUT_MS})
    const synced = (m: Measure) => {
      try {
        const r = JSON.parse(m.stdout) as SyncResult
        return `${r.counts.copied} copied${r.problems.length ? `, ${r.problems.length} problems` : ''}`
      } catch {
        return ''
      }
    }
    /** Gives the case's rows their baseline's time (none when the baseline failed: a ratio to a failure means nothing). */
    const compare = (label: string, base: Row) => {
      for (const r of rows.filter((x) => x.label === label)) r.baseline = base.m.ok ? base.m.seconds : undefined
    }
    const judge = (name: string, ok: boolean, text: string) => verdicts.push(`${ok ? 'met   ' : 'MISSED'} ${name}: ${text}`)

    if (CASES.has('big')) {
      const label = `1 file, ${formatBytes(BIG_BYTES)}`
      const ours = await timed(label, 'sftp-cutover sync', cli('sync', bigDir, await newBucket(s3, 'wan-big'), SYNC_ARGS))
      ours.detail = synced(ours.m)
      if (OURS_ONLY) log(`bytes read from the box / file size: ${(ours.fromBox! / BIG_BYTES).toFixed(3)}`)
    }
    if (CASES.has('big') && !OURS_ONLY) {
      const label = `1 file, ${formatBytes(BIG_BYTES)}`
      const ours = rows.find((r) => r.label === label)!
      const base = await timed(label, 'OpenSSH sftp get (baseline)', () => sftpGet(box, work, join(bigDir, 'big.bin')))
      await timed(label, 'rclone copy', rcloneRun('copy', [`src:${bigDir}`, `dst:${await newBucket(s3, 'wan-big-rc')}`]))
      compare(label, base)
      const ratio = ours.m.seconds / base.m.seconds
      judge(`${formatBytes(BIG_BYTES)} file vs sftp get`, ours.m.ok && base.m.ok && ratio <= 1.15, `${ratio.toFixed(2)}x (target <= 1.15x)`)
      const bytes = ours.fromBox! / BIG_BYTES
      judge('bytes read from the box / file size', ours.m.ok && bytes <= 1.01, `${bytes.toFixed(3)}x (target <= 1.01x; OpenSSH sftp get: ${(base.fromBox! / BIG_BYTES).toFixed(3)}x)`)
    }
    if (CASES.has('small')) {
      const label = `${SMALL_FILES} x 4 KiB`
      const ours = await timed(label, 'sftp-cutover sync', cli('sync', smallDir, await newBucket(s3, 'wan-small'), SYNC_ARGS))
      ours.detail = synced(ours.m)
    }
    if (CASES.has('small') && !OURS_ONLY) {
      const label = `${SMALL_FILES} x 4 KiB`
      const ours = rows.find((r) => r.label === label)!
      const base = await timed(label, 'OpenSSH sftp get -r (baseline)', () => sftpGet(box, work, smallDir))
      await timed(label, 'rclone copy', rcloneRun('copy', [`src:${smallDir}`, `dst:${await newBucket(s3, 'wan-small-rc')}`]))
      compare(label, base)
      const faster = base.m.seconds / ours.m.seconds
      judge(`${SMALL_FILES} x 4 KiB vs sftp get -r`, ours.m.ok && base.m.ok && faster >= 30, `${faster.toFixed(1)}x faster (target >= 30x)`)
    }
    if (CASES.has('list')) {
      const label = `list ${LIST_FILES} files`
      const ours = await timed(label, 'sftp-cutover inventory', cli('inventory', listDir, 'wan-unused', ['--fail-on', 'blocker', '--sshd-config', sshd.configFile]))
      try {
        const result = JSON.parse(ours.m.stdout) as {summary: {owners: Array<{files: number}>}}
        ours.detail = `${result.summary.owners.reduce((n, o) => n + o.files, 0)} files`
      } catch {
        ours.detail = 'no JSON result'
      }
    }
    if (CASES.has('list') && !OURS_ONLY) {
      const label = `list ${LIST_FILES} files`
      const ours = rows.find((r) => r.label === label)!
      const find = await timed(label, "ssh find -printf (baseline)", async () => {
        const m = await measure(binaries.ssh, [...opensshOptions(box), '-p', String(box.port), `${box.user}@${box.host}`, 'find', listDir, '-printf', "'%s %T@ %p\\n'"], {timeoutMs: TIMEOUT_MS})
        return {...m, note: m.note ?? `${m.stdout.split('\n').filter(Boolean).length} lines (files and directories)`, stdout: ''}
      })
      find.detail = find.m.note
      // What inventory does besides listing, on the same connection: the accounts' collect script (as the admin login it
      // runs as). Not a baseline of the target; it shows the floor that the listing alone does not have.
      const admin = sshd.users.adminUser
      const script = join(work, 'collect.sh')
      const bundle = join(work, 'bundle.json')
      writeFileSync(script, collectScript({sshdConfig: sshd.configFile, port: link.port}))
      const collect = await timed(label, 'ssh sh -s < collect script (accounts only)', async () => {
        const m = await measure('/bin/sh', ['-c', `exec "$0" "$@" < ${script} > ${bundle}`, binaries.ssh, ...opensshOptions({...box, user: admin.name, keyFile: admin.privateKeyPath!}), '-p', String(box.port), `${admin.name}@${box.host}`, 'sh', '-s'], {timeoutMs: TIMEOUT_MS})
        return {...m, stdout: ''}
      })
      collect.detail = 'not compared: what inventory runs beside the listing'
      // The listing without the accounts: the same inventory with the collect script's output given as a bundle.
      const listingOnly = await timed(label, 'sftp-cutover inventory --from-bundle (listing only)', cli('inventory', listDir, 'wan-unused', ['--fail-on', 'blocker', '--from-bundle', bundle]))
      listingOnly.detail = 'the accounts from the bundle the row above wrote'
      const lsf = await timed(label, 'rclone lsf -R', rcloneRun('lsf', ['-R', '--files-only', `src:${listDir}`]))
      lsf.detail = `${lsf.m.stdout.split('\n').filter(Boolean).length} files`
      compare(label, find)
      const ratio = ours.m.seconds / find.m.seconds
      judge(`inventory of ${LIST_FILES} files vs ssh find`, ours.m.ok && find.m.ok && ratio <= 1.5, `${ratio.toFixed(2)}x (target <= 1.5x); the accounts' collect script alone: ${(collect.m.seconds / find.m.seconds).toFixed(2)}x, the inventory without it (--from-bundle): ${(listingOnly.m.seconds / find.m.seconds).toFixed(2)}x`)
    }
  } finally {
    for (const socket of leftOpen) socket.destroy()
    await Promise.allSettled([sshd?.stop(), vgw?.stop(), toxiproxy?.stop()])
    rmSync(work, {recursive: true, force: true})
    removeScratch()
  }
  const shaped = `${LATENCY_MS} ms + ${RATE_KBPS} KB/s per direction and connection, S3 ${SHAPE_S3 ? 'shaped the same' : 'on loopback'}`
  process.stdout.write(`\nsftp-cutover over a shaped link (${shaped}), scale ${SCALE}, ${cpus().length} CPUs, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}, ${new Date().toISOString()}\n\n`)
  process.stdout.write(
    table(
      ['case', 'tool', 'seconds', 'x baseline', 'from box', 'load', 'sshd conns before', 'notes'],
      rows.map((r) => [
        r.label,
        r.tool,
        Number(r.m.seconds.toFixed(2)),
        r.baseline ? (r.m.seconds / r.baseline).toFixed(2) : '',
        r.fromBox === undefined ? '' : formatBytes(r.fromBox),
        (r.m.load ?? 0).toFixed(1),
        r.connsBefore,
        r.m.ok ? (r.detail ?? '') : `FAILED ${r.m.note ?? ''}`,
      ]),
    ) + '\n\n',
  )
  process.stdout.write(verdicts.join('\n') + '\n')
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exit(1)
})
