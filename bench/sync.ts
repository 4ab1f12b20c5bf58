/**
 * sync against rclone and the OpenSSH sftp client, from the same sshd to the same versitygw, in one run:
 *
 *   (a) one 1 GiB file; (b) 20,000 files of 4 KiB in 200 directories; (c) a re-sync of 100,000 unchanged files;
 *   (v) verify of those 100,000 objects, by listing (the default) and with --deep.
 *   (f) (a) and (b) again from an FTPS box (pure-ftpd, explicit TLS) against rclone's ftp backend from the same
 *   server; and sync's peak RSS.
 *
 * Run as root (the peers need it), after `npm run build` and `bash scripts/install-peers.sh`:
 *
 *   npx tsx bench/sync.ts [--cases a,b,c,v,f] [--big-mib 1024] [--small 20000] [--resync 100000] [--repeat 3]
 *                         [--ours-only] [--sync-args '--transfers 32']
 *
 * --ours-only leaves out rclone and OpenSSH in (a) and (b) (the S3 floor stays): for trying a change quickly.
 * --sync-args adds flags to every sync of (a), (b) and (c).
 *
 * Every tool reads from the same sshd with the same key; rclone and sync write to the same versitygw (keep-alive on,
 * see below), OpenSSH sftp writes to local disk. Wall-clock times include each tool's start-up. sync and sftp run
 * --repeat times (the median is compared, the spread shown); rclone, minutes per run, once. The load average beside
 * each row tells how busy the machine was.
 */
import {createSHA256} from 'hash-wasm'
import {createHash, randomBytes} from 'node:crypto'
import {chownSync, mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {cpus, loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'

import type {SyncResult} from '../src/services/sync.js'
import type {VerifyResult} from '../src/services/verify.js'
import {formatBytes, table} from '../src/ui/format.js'
import {versitygwClientConfig} from '../test/peers/env.js'
import {type FtpPeer, startPureFtpd} from '../test/peers/ftp.js'
import {binaries, describePeers, type Peers, startAllPeers, stopAllPeers} from '../test/peers/index.js'
import {run} from '../test/peers/proc.js'
import {CLI} from '../test/integration/helpers/cli.js'
import {makeProject, newBucket, removeScratch, type S3Peer} from '../test/integration/sync-helpers.js'
import {writeFileSync} from 'node:fs'
import {type BoxLogin, cliOption, log, type Measure, measure, rcloneEnv as rcloneEnvFor, repeated, sftpGet, writeRandomFile, writeTree} from './lib.js'

const MiB = 1024 * 1024
const args = process.argv.slice(2)
const opt = (name: string, fallback: string) => cliOption(args, name, fallback)
const cases = new Set(opt('cases', 'a,b,c,v,f').split(','))
const BIG_MIB = Number(opt('big-mib', '1024'))
const SMALL = Number(opt('small', '20000'))
const RESYNC = Number(opt('resync', '100000'))
const REPEAT = Math.max(1, Number(opt('repeat', '3')))
const OURS_ONLY = args.includes('--ours-only')
const SYNC_ARGS = opt('sync-args', '').split(' ').filter(Boolean)

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
  if (cases.has('a')) writeRandomFile(join(a, 'big.bin'), BIG_MIB * MiB, owner)
  if (cases.has('b')) writeTree(b, SMALL, 200, 4096, owner)
  if (cases.has('c') || cases.has('v')) writeTree(c, RESYNC, 500, 256, owner)
  return {a, b, c}
}

/** Seconds to SHA-256 `bytes` in 8 MiB parts (sync's part size for 1 GiB), saving the state after each part as sync does. */
async function hashFloor(bytes: number, kind: 'resumable' | 'node'): Promise<Measure> {
  const part = randomBytes(8 * MiB)
  const started = performance.now()
  if (kind === 'resumable') {
    const h = await createSHA256()
    h.init()
    for (let done = 0; done < bytes; done += part.length) {
      h.update(part)
      h.save()
    }
    h.digest('hex')
  } else {
    const h = createHash('sha256')
    for (let done = 0; done < bytes; done += part.length) h.update(part)
    h.digest('hex')
  }
  return {seconds: (performance.now() - started) / 1000, ok: true, stdout: '', load: loadavg()[0]}
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
  let ftp: FtpPeer | undefined
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
      return {bucket: b, project, run: (command = 'sync', extra: string[] = command === 'sync' ? SYNC_ARGS : []) => measure(CLI, [command, ...extra, '--json'], {cwd: project.dir, env})}
    }
    const box: BoxLogin = {host: peers.sshd.host, port: peers.sshd.port, user: user.name, keyFile: user.privateKeyPath!, knownHostsFile: peers.sshd.knownHostsFile}
    const rcloneEnv = rcloneEnvFor(join(work, 'rclone.conf'), box, s3.config)
    const rclone = async (verb: 'copy' | 'sync', root: string, label: string, extra: string[] = [], bucket?: string) => {
      const b = bucket ?? (await newBucket(s3, label))
      return {bucket: b, result: await measure(binaries.rclone, [verb, ...extra, `src:${root}`, `dst:${b}`], {env: rcloneEnv})}
    }
    const sftp = (remote: string, cipher?: string) => sftpGet(box, work, remote, cipher)
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
      const floor = await repeated(REPEAT, async () => s3Floor('large', join(data.a, 'big.bin'), await newBucket(s3, 'a-floor'), 'big.bin'))
      row(label, 'floor: the same upload from local disk, no SFTP', floor, 'S3 side only: what sync cannot go under here')
      judge('(a) vs the S3 floor', us.seconds, floor.seconds, 1.3, 'at most')
      // The other floor of a large file: the SHA-256 whose state a resumed upload continues from (hash-wasm, no SHA-NI)
      // is CPU that neither the S3 floor nor an SFTP client spends; node:crypto's, whose state cannot be saved, beside it.
      const resumable = await repeated(REPEAT, () => hashFloor(BIG_MIB * MiB, 'resumable'))
      row(label, 'floor: resumable SHA-256 of the bytes (hash-wasm, in memory)', resumable, 'CPU only, on the worker thread sync hashes in')
      const native = await repeated(REPEAT, () => hashFloor(BIG_MIB * MiB, 'node'))
      row(label, 'node:crypto SHA-256 of the bytes (state cannot be saved)', native, 'for comparison')
      if (!OURS_ONLY) {
        const rcDefault = (await rclone('copy', data.a, 'a-rc')).result
        row(label, 'rclone copy', rcDefault)
        const rcIgnore = (await rclone('copy', data.a, 'a-rci', ['--ignore-checksum'])).result
        row(label, 'rclone copy --ignore-checksum', rcIgnore)
        const sftpDefault = await repeated(REPEAT, () => sftp(join(data.a, 'big.bin')))
        row(label, 'OpenSSH sftp get (default cipher)', sftpDefault, 'to local disk')
        const sftpGcm = await repeated(REPEAT, () => sftp(join(data.a, 'big.bin'), 'aes128-gcm@openssh.com'))
        row(label, 'OpenSSH sftp get -c aes128-gcm', sftpGcm, 'to local disk')
        judge('(a) vs rclone copy', us.seconds, rcDefault.seconds, 0.5, 'at most')
        judge('(a) vs OpenSSH sftp (default cipher)', us.seconds, sftpDefault.seconds, 1.2, 'at most')
        judge('(a) vs OpenSSH sftp (aes128-gcm)', us.seconds, sftpGcm.seconds, 1.2, 'at most')
      }
    }
    if (cases.has('b')) {
      const label = `(b) ${SMALL} files of 4 KiB`
      const us = track(await repeated(REPEAT, async () => (await ours('b', data.b)).run()))
      row(label, 'sftp-cutover sync', us, copied(us))
      const floor = await repeated(REPEAT, async () => s3Floor('small', data.b, await newBucket(s3, 'b-floor')))
      row(label, 'floor: the same PutObjects from local disk, no SFTP', floor, 'S3 side only: what sync cannot go under here')
      judge('(b) vs the S3 floor', us.seconds, floor.seconds, 1.2, 'at most')
      if (!OURS_ONLY) {
        const rcIgnore = (await rclone('copy', data.b, 'b-rci', ['--ignore-checksum'])).result
        row(label, 'rclone copy --ignore-checksum', rcIgnore)
        const sftpB = await repeated(REPEAT, () => sftp(data.b))
        row(label, 'OpenSSH sftp get -r', sftpB, 'to local disk')
        log('rclone copy with its default checksums runs md5sum over SSH for every file: this takes a while')
        const rcDefault = (await rclone('copy', data.b, 'b-rc')).result
        row(label, 'rclone copy', rcDefault)
        judge('(b) vs rclone copy', us.seconds, rcDefault.seconds, 50, 'at least')
        judge('(b) vs rclone copy --ignore-checksum', us.seconds, rcIgnore.seconds, 1.5, 'at least')
      }
    }
    let copiedC: Awaited<ReturnType<typeof ours>> | undefined
    const firstCopyC = async () => {
      copiedC = await ours('c', data.c)
      const first = track(await copiedC.run())
      row(`(c) first copy, ${RESYNC} files`, 'sftp-cutover sync', first, copied(first))
      return copiedC
    }
    if (cases.has('c')) {
      const label = `(c) re-sync, ${RESYNC} unchanged`
      const mine = await firstCopyC()
      const again = track(await repeated(REPEAT, () => mine.run()))
      row(label, 'sftp-cutover sync', again, copied(again))
      const seeded = await rclone('copy', data.c, 'c-rc', ['--ignore-checksum'])
      row(`(c) first copy, ${RESYNC} files`, 'rclone copy --ignore-checksum', seeded.result)
      const rcSync = (await rclone('sync', data.c, 'c-rc', [], seeded.bucket)).result
      row(label, 'rclone sync', rcSync)
      judge('(c) vs rclone sync', again.seconds, rcSync.seconds, 0.1, 'at most')
    }
    if (cases.has('v')) {
      // The cutover runbook verifies after the final delta, inside the freeze window.
      const mine = copiedC ?? (await firstCopyC())
      const label = `(v) verify, ${RESYNC} objects`
      const checked = (m: Measure) => {
        try {
          const c = (JSON.parse(m.stdout) as VerifyResult).counts.s3
          return `${c.checked} checked, ${c.listed} listed, ${c.headed} HEADs (${c.differed} differed, ${c.sampled} sampled), ${c.mismatched} mismatched`
        } catch {
          return m.note ?? ''
        }
      }
      const listed = await repeated(REPEAT, () => mine.run('verify'))
      row(label, 'sftp-cutover verify', listed, `listing 1,000 keys a request; ${checked(listed)}`)
      const deep = await repeated(REPEAT, () => mine.run('verify', ['--deep']))
      row(label, 'sftp-cutover verify --deep', deep, `HEAD and GET per object; ${checked(deep)}`)
      verdicts.push(`${listed.ok && listed.seconds <= 5 ? 'MET ' : 'MISS'} (v) verify of ${RESYNC} objects: ${listed.seconds.toFixed(2)} s (target <= 5 s; --deep ${deep.seconds.toFixed(2)} s)`)
    }
    if (cases.has('f')) {
      // The FTPS box: pure-ftpd serving its own tree, into which the same kinds of data are written.
      ftp = await startPureFtpd()
      const owner = {uid: 65534, gid: 65534}
      const fBig = join(ftp.root, 'bench-f-a')
      const fSmall = join(ftp.root, 'bench-f-b')
      for (const d of [fBig, fSmall]) {
        mkdirSync(d)
        chownSync(d, owner.uid, owner.gid)
      }
      writeRandomFile(join(fBig, 'big.bin'), BIG_MIB * MiB, owner)
      writeTree(fSmall, SMALL, 200, 4096, owner)
      const env = {...process.env, AWS_ACCESS_KEY_ID: s3.config.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.config.credentials.secretAccessKey, BENCH_FTP_PASSWORD: ftp.password}
      const oursFtp = async (label: string, dir: string, extra: string[] = []) => {
        const bucket = await newBucket(s3, label)
        const projectDir = mkdtempSync(join(work, 'ftp-project-'))
        writeFileSync(
          join(projectDir, 'sftp-cutover.yaml'),
          ['source:', '  protocol: ftps', `  host: ${ftp!.host}`, `  port: ${ftp!.port}`, `  username: ${ftp!.user}`, '  passwordEnv: BENCH_FTP_PASSWORD', `  tlsFingerprint: "${ftp!.tls!.fingerprint}"`, `  roots: ["${ftp!.ftpPath}/${dir}"]`,
            'target:', `  region: ${s3.config.region}`, `  bucket: ${bucket}`, `  s3Endpoint: ${s3.config.endpoint}`].join('\n') + '\n',
        )
        return measure(CLI, ['sync', '--json', ...extra], {cwd: projectDir, env})
      }
      const obscured = (await run(binaries.rclone, ['obscure', ftp.password])).stdout.trim()
      // rclone 1.60 cannot pin a certificate: it must skip the check on the self-signed one (sync verifies it).
      const rcloneFtpEnv = {
        ...rcloneEnv,
        RCLONE_CONFIG_SRC_TYPE: 'ftp',
        RCLONE_CONFIG_SRC_HOST: ftp.host,
        RCLONE_CONFIG_SRC_PORT: String(ftp.port),
        RCLONE_CONFIG_SRC_USER: ftp.user,
        RCLONE_CONFIG_SRC_PASS: obscured,
        RCLONE_CONFIG_SRC_EXPLICIT_TLS: 'true',
        RCLONE_CONFIG_SRC_NO_CHECK_CERTIFICATE: 'true',
      }
      const rcloneFtp = async (dir: string, label: string) => measure(binaries.rclone, ['copy', `src:${ftp!.ftpPath}/${dir}`, `dst:${await newBucket(s3, label)}`], {env: rcloneFtpEnv})
      const bigLabel = `(f) FTPS: 1 file, ${formatBytes(BIG_MIB * MiB)}`
      const usBig = track(await repeated(REPEAT, () => oursFtp('f-a', 'bench-f-a')))
      row(bigLabel, 'sftp-cutover sync (ftps)', usBig, `${copied(usBig)}; SHA-256 and CRC-32 of every byte`)
      const rcBig = await rcloneFtp('bench-f-a', 'f-a-rc')
      row(bigLabel, 'rclone copy (ftp backend, explicit TLS)', rcBig, 'no checksum: FTP has none for rclone')
      const smallLabel = `(f) FTPS: ${SMALL} files of 4 KiB`
      const usSmall = track(await repeated(REPEAT, () => oursFtp('f-b', 'bench-f-b')))
      row(smallLabel, 'sftp-cutover sync (ftps)', usSmall, copied(usSmall))
      const usSmall16 = track(await repeated(REPEAT, () => oursFtp('f-b16', 'bench-f-b', ['--connections', '16'])))
      row(smallLabel, 'sftp-cutover sync (ftps) --connections 16', usSmall16, copied(usSmall16))
      const rcSmall = await rcloneFtp('bench-f-b', 'f-b-rc')
      row(smallLabel, 'rclone copy (ftp backend, explicit TLS)', rcSmall, 'no checksum')
      // A run that failed measured nothing: no verdict from it.
      for (const [name, us, base] of [['(f) FTPS 1 file vs rclone copy', usBig, rcBig], ['(f) FTPS small files vs rclone copy', usSmall, rcSmall]] as const) {
        if (us.ok && base.ok) judge(name, us.seconds, base.seconds, 1, 'at most')
        else verdicts.push(`NOT MEASURED ${name}: ${us.ok ? 'rclone' : 'sftp-cutover sync'} failed`)
      }
    }
    verdicts.push(`${peakRss > 0 && peakRss * 1024 < 300 * 1e6 ? 'MET ' : 'MISS'} peak RSS of sftp-cutover sync: ${formatBytes(peakRss * 1024)} (target < 300 MB)`)
  } finally {
    await stopAllPeers(peers).catch((err: unknown) => log(`stopping peers: ${String(err)}`))
    await ftp?.stop().catch((err: unknown) => log(`stopping pure-ftpd: ${String(err)}`))
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
