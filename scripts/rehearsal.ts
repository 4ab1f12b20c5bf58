/**
 * The rehearsal: the migration end to end against local stand-ins, then everything it created is removed.
 * A sample legacy box (OpenSSH sshd with key, password and chrooted users and sample files), moto standing in for
 * Transfer Family, S3, Route 53 and STS, and a local directory standing in for the EFS mount.
 *
 * At this stage it runs: init (non-interactive, from flags) and doctor. Later stages add inventory, users import,
 * sync, verify, cutover and report.
 */
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {createMigrationTarget} from '../test/fixtures/aws-target.js'
import {motoClientConfig} from '../test/peers/env.js'
import {describePeers, type Peers, startAllPeers, stopAllPeers} from '../test/peers/index.js'

const CLI = join(import.meta.dirname, '..', 'bin', 'run.js')

function step(title: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): number {
  process.stdout.write(`\n== ${title}\n$ sftp-cutover ${args.join(' ')}\n`)
  const r = spawnSync(process.execPath, [CLI, ...args], {cwd, env: {...process.env, ...env}, stdio: 'inherit'})
  return r.status ?? 1
}

async function main(): Promise<number> {
  const started = Date.now()
  let peers: Peers | undefined
  const project = mkdtempSync(join(tmpdir(), 'sftp-cutover-rehearsal-'))
  const efs = mkdtempSync(join(tmpdir(), 'sftp-cutover-rehearsal-efs-'))
  const cleanup = async () => {
    await stopAllPeers(peers)
    peers = undefined
    rmSync(project, {recursive: true, force: true})
    rmSync(efs, {recursive: true, force: true})
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void cleanup().finally(() => process.exit(130))
    })
  }
  try {
    console.log('== starting the stand-ins: sshd (legacy box), moto (AWS), versitygw (S3 data plane)')
    peers = await startAllPeers({sampleTree: true})
    const info = describePeers(peers)
    const aws = motoClientConfig(info)
    const target = await createMigrationTarget('127.0.0.1', aws)
    const {sshd} = info
    console.log(`legacy box: sshd on ${sshd.host}:${sshd.port}, users ${[sshd.users.keyUser, sshd.users.passwordUser, sshd.users.chrootUser].map((u) => u.name).join(', ')}`)
    console.log(`AWS (moto): Transfer server ${target.serverId}, bucket ${target.bucket}, private zone ${target.hostedZoneId}, record ${target.recordName}`)
    const env = {AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true'}
    const init = step(
      'init (no prompts: everything from flags)',
      [
        'init', '--no-prompt',
        '--source-host', sshd.host, '--source-port', String(sshd.port), '--source-username', sshd.users.keyUser.name,
        '--source-identity-file', sshd.users.keyUser.privateKeyPath!, '--source-known-hosts-file', sshd.knownHostsFile,
        '--target-region', target.region, '--target-endpoint', target.endpoint, '--target-bucket', target.bucket,
        '--target-transfer-server-id', target.serverId, '--target-user-role-arn', target.roleArn,
        '--dns-hosted-zone-id', target.hostedZoneId, '--dns-record-name', target.recordName, '--efs-path', efs,
      ],
      project,
      env,
    )
    if (init !== 0) return init
    const doctor = step('doctor', ['doctor'], project, env)
    console.log(`\n== rehearsal ${doctor === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s (doctor exit ${doctor})`)
    console.log('Not yet part of the rehearsal: inventory, users import, sync, verify, cutover and report (later issues).')
    return doctor
  } finally {
    await cleanup()
    console.log('removed the sample legacy box, its users, the stand-ins and the project directory')
  }
}

process.exitCode = await main().catch((err: unknown) => {
  console.error(`rehearsal failed: ${err instanceof Error ? err.message : String(err)}`)
  return 1
})
