/**
 * The rehearsal: the whole migration end to end against local stand-ins, then everything it created is removed
 * except the migration report (Markdown, JSON, HTML) and the inventory report (HTML, JSON), whose paths it prints.
 *
 *   legacy box   OpenSSH sshd with key, password and chrooted users and sample files (root login for inventory)
 *   AWS          moto: Transfer server with its VPC endpoint, S3 bucket, Route 53 private zone whose record points
 *                at the legacy box, STS
 *   EFS          a local directory, filled by the infra/ Lambda handler run on the synced objects' events
 *
 * Steps: init, doctor, inventory, users import, sync, the S3-to-EFS copy, verify, then the cutover runbook
 * (preflight, freeze, final delta, verify with EFS, DNS switch, smoke test, report); then a file arrives through the
 * "new endpoint" (put into the bucket under a user's home, as Transfer would) and rollback restores the record and
 * carries that file back to the legacy box, where the rehearsal checks it; the report shows it carried back.
 *
 * Then a second box, an FTPS server (pure-ftpd with a self-signed certificate, pinned by its SHA-256), is migrated
 * into the same bucket under its own prefix: init, doctor, inventory (accounts from a users CSV: FTP cannot list
 * them), sync and verify --source-hash (the server has no HASH command, so every file is read again).
 *
 * What the stand-ins cannot do, said plainly in the output: moto has no ImportHostKey (hostkeys import is skipped,
 * and the runbook's preflight skips that check) and no SFTP data plane (the smoke test logs in to the sshd peer as
 * the new endpoint: it presents the legacy host keys, as Transfer does after hostkeys import).
 */
import {ListObjectsV2Command, PutObjectCommand, S3Client} from '@aws-sdk/client-s3'
import type {S3EventRecord} from 'aws-lambda'
import {spawnSync} from 'node:child_process'
import {copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {processRecords} from '../infra/lambda/src/handler.js'
import {createMigrationTarget} from '../test/fixtures/aws-target.js'
import {motoClientConfig} from '../test/peers/env.js'
import {type FtpPeer, startPureFtpd} from '../test/peers/ftp.js'
import {describePeers, type Peers, startAllPeers, stopAllPeers} from '../test/peers/index.js'

const CLI = join(import.meta.dirname, '..', 'bin', 'run.js')

/** Runs one CLI step with its output shown; exit 3 ("finished, found problems") is expected for some steps. */
function step(title: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, ok: number[] = [0]): void {
  process.stdout.write(`\n== ${title}\n$ sftp-cutover ${args.join(' ')}\n`)
  const r = spawnSync(process.execPath, [CLI, ...args], {cwd, env: {...process.env, ...env}, stdio: 'inherit'})
  if (!ok.includes(r.status ?? 1)) throw new Error(`${title}: sftp-cutover ${args[0]} exited ${r.status}`)
}

/** What the S3 event notification would deliver to the Lambda for each object in the bucket. */
async function copyToEfs(s3: S3Client, bucket: string, efs: string): Promise<number> {
  const records: S3EventRecord[] = []
  let token: string | undefined
  do {
    const page = await s3.send(new ListObjectsV2Command({Bucket: bucket, ContinuationToken: token}))
    for (const o of page.Contents ?? []) {
      records.push({eventName: 'ObjectCreated:Put', s3: {bucket: {name: bucket}, object: {key: encodeURIComponent(o.Key!).replace(/%2F/g, '/').replace(/%20/g, '+'), size: o.Size ?? 0}}} as S3EventRecord)
    }
    token = page.NextContinuationToken
  } while (token)
  const entries = await processRecords(records, {s3, mountPath: efs, log: () => {}})
  return entries.filter((e) => e.outcome === 'copied').length
}

async function main(): Promise<number> {
  const started = Date.now()
  let peers: Peers | undefined
  let ftps: FtpPeer | undefined
  const project = mkdtempSync(join(tmpdir(), 'sftp-cutover-rehearsal-'))
  const efs = mkdtempSync(join(tmpdir(), 'sftp-cutover-rehearsal-efs-'))
  const keep = mkdtempSync(join(tmpdir(), 'sftp-cutover-rehearsal-report-'))
  const cleanup = async () => {
    await stopAllPeers(peers)
    peers = undefined
    await ftps?.stop()
    ftps = undefined
    rmSync(project, {recursive: true, force: true})
    rmSync(efs, {recursive: true, force: true})
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void cleanup().finally(() => process.exit(130))
    })
  }
  try {
    console.log('== starting the stand-ins: sshd (legacy box), moto (AWS), versitygw')
    peers = await startAllPeers({sampleTree: true})
    const info = describePeers(peers)
    const aws = motoClientConfig(info)
    const target = await createMigrationTarget('127.0.0.1', aws)
    const {sshd} = info
    const {adminUser, keyUser} = sshd.users
    console.log(`legacy box: sshd on ${sshd.host}:${sshd.port}, users ${[keyUser, sshd.users.passwordUser, sshd.users.chrootUser].map((u) => u.name).join(', ')}`)
    console.log(`AWS (moto): Transfer server ${target.serverId} behind ${target.vpcEndpoint.id}, bucket ${target.bucket}, private zone ${target.hostedZoneId}, record ${target.recordName} -> 127.0.0.1`)
    const env = {AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true'}

    step(
      'init (no prompts: everything from flags)',
      [
        'init', '--no-prompt',
        '--source-host', sshd.host, '--source-port', String(sshd.port), '--source-username', adminUser.name,
        '--source-identity-file', adminUser.privateKeyPath!, '--source-known-hosts-file', sshd.knownHostsFile,
        '--target-region', target.region, '--target-endpoint', target.endpoint, '--target-bucket', target.bucket,
        '--target-transfer-server-id', target.serverId, '--target-user-role-arn', target.roleArn,
        '--dns-hosted-zone-id', target.hostedZoneId, '--dns-record-name', target.recordName, '--efs-path', efs,
        '--cutover-canary-user', keyUser.name, '--cutover-canary-identity-file', keyUser.privateKeyPath!,
        '--cutover-endpoint-host', sshd.host, '--cutover-endpoint-port', String(sshd.port),
        '--cutover-freeze-command', `touch ${join(sshd.dir, 'frozen')}`, '--cutover-unfreeze-command', `rm -f ${join(sshd.dir, 'frozen')}`,
      ],
      project,
      env,
    )
    step('doctor', ['doctor'], project, env)
    step('inventory (exit 3: it finds blockers, e.g. a password-only user)', ['inventory', '--sshd-config', sshd.configFile], project, env, [0, 3])
    step('inventory report (HTML)', ['inventory', 'report', '--format', 'html', '--output', join(keep, 'inventory.html')], project, env)
    step('inventory report (JSON)', ['inventory', 'report', '--format', 'json', '--output', join(keep, 'inventory.json')], project, env)
    step('users import (exit 3: users with blockers are skipped)', ['users', 'import'], project, env, [0, 3])
    console.log('\n== hostkeys import: skipped here, moto has no ImportHostKey (tested against the AWS request shapes instead)')
    step('sync', ['sync'], project, env)
    const s3 = new S3Client(aws)
    const copied = await copyToEfs(s3, target.bucket, efs)
    s3.destroy()
    console.log(`\n== S3-to-EFS Lambda (infra/lambda) run on ${copied} object event(s) into ${efs}`)
    step('verify (S3 and the EFS copy)', ['verify'], project, env)
    const runbook = join(project, 'rehearsal-runbook.yaml')
    writeFileSync(
      runbook,
      [
        'name: rehearsal',
        'steps:',
        '  - preflight: {skip: [hostkeys]}   # moto has no ImportHostKey',
        '  - confirm',
        '  - freeze',
        '  - sync',
        '  - verify: {efs: true}',
        '  - dns-switch: {timeoutSeconds: 60}',
        '  - smoke-test',
        '  - report',
        '',
      ].join('\n'),
    )
    step('cutover runbook (the smoke test logs in to the sshd stand-in: moto has no SFTP endpoint)', ['runbook', 'run', runbook, '--yes'], project, env)

    // After the switch a partner uploads through the new endpoint; then the night goes wrong and we roll back.
    const arrived = Buffer.from(`order 4711, delivered through Transfer after the switch, ${new Date().toISOString()}\n`)
    const arrivedKey = `home/${keyUser.name}/incoming/order-4711.csv`
    const s3Put = new S3Client(aws)
    await s3Put.send(new PutObjectCommand({Bucket: target.bucket, Key: arrivedKey, Body: arrived}))
    s3Put.destroy()
    console.log(`\n== a partner uploads through the new endpoint: s3://${target.bucket}/${arrivedKey} (put as Transfer would; moto has no SFTP endpoint)`)
    step('rollback --dry-run (lists what it would carry back; changes nothing)', ['rollback', '--dry-run'], project, env)
    step('rollback (record restored, the upload carried back to the legacy box and verified there, then unfrozen)', ['rollback'], project, env)
    const onBox = join(keyUser.home, 'incoming', 'order-4711.csv')
    const st = statSync(onBox)
    const same = readFileSync(onBox).equals(arrived)
    console.log(`on the legacy box: ${onBox}, ${st.size} bytes, owner ${st.uid}:${st.gid} (${keyUser.name} is ${keyUser.uid}:${keyUser.gid}), mode ${(st.mode & 0o7777).toString(8)}, bytes ${same ? 'identical to the upload' : 'DIFFERENT from the upload'}`)
    if (!same || st.uid !== keyUser.uid) throw new Error('the file that arrived through Transfer was not carried back intact')
    step('report (with the carried-back section)', ['report'], project, env)

    // The FTPS box: same bucket, its own prefix; the password from a variable, the certificate pinned.
    console.log('\n== a second legacy box: an FTPS server (pure-ftpd, explicit TLS, self-signed certificate)')
    ftps = await startPureFtpd()
    const ftpsProject = join(project, 'ftps-box')
    mkdirSync(ftpsProject)
    writeFileSync(join(ftpsProject, 'users.csv'), `name,uid,gid,home\npartner1,65534,65534,${ftps.ftpPath}\n`)
    const ftpsEnv = {...env, LEGACY_FTP_PASSWORD: ftps.password}
    console.log(`FTPS box: pure-ftpd on ${ftps.host}:${ftps.port}, certificate SHA-256 ${ftps.tls!.fingerprint} (init would show it and ask to pin it on a terminal)`)
    step(
      'init (FTPS, the certificate pinned by its SHA-256)',
      [
        'init', '--no-prompt', '--source-protocol', 'ftps', '--source-host', ftps.host, '--source-port', String(ftps.port), '--source-username', ftps.user,
        '--source-password-env', 'LEGACY_FTP_PASSWORD', '--source-tls-fingerprint', ftps.tls!.fingerprint,
        '--target-region', target.region, '--target-endpoint', target.endpoint, '--target-bucket', target.bucket, '--target-prefix', 'ftps-box',
      ],
      ftpsProject,
      ftpsEnv,
    )
    step('doctor (FTPS)', ['doctor'], ftpsProject, ftpsEnv, [0, 3])
    step('inventory (FTPS; exit 3: a name that is not UTF-8 is a blocker for S3)', ['inventory', '--users-csv', 'users.csv'], ftpsProject, ftpsEnv, [0, 3])
    step('sync (FTPS; exit 3: that name cannot be an S3 key, everything else is copied)', ['sync'], ftpsProject, ftpsEnv, [0, 3])
    step('verify --source-hash (FTPS: every file read again, compared with S3; exit 3: the file sync could not copy is listed)', ['verify', '--source-hash'], ftpsProject, ftpsEnv, [0, 3])

    const reports = join(project, '.sftp-cutover', 'reports')
    for (const f of readdirSync(reports)) copyFileSync(join(reports, f), join(keep, f))
    // The latest report: the one written after the rollback, with its carried-back section.
    const kept = (ext: string) => join(keep, readdirSync(keep).filter((f) => f.startsWith('migration-') && f.endsWith(ext)).sort().at(-1) ?? '')
    console.log(`\n== rehearsal passed in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    console.log(`Migration report: ${kept('.md')} (and the .json beside it)`)
    console.log(`Migration report (HTML): ${kept('.html')}`)
    console.log(`Inventory report (HTML): ${join(keep, 'inventory.html')}`)
    return 0
  } finally {
    await cleanup()
    mkdirSync(keep, {recursive: true})
    console.log('removed the sample legacy box, its users, the stand-ins, the EFS directory and the project directory (the report is kept)')
  }
}

process.exitCode = await main().catch((err: unknown) => {
  console.error(`rehearsal failed: ${err instanceof Error ? err.message : String(err)}`)
  return 1
})
