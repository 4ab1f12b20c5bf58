/**
 * cutover stragglers against the real peers: a private OpenSSH sshd whose log (LogLevel VERBOSE) goes to a file, read
 * by the CLI over exec; and moto's CloudWatch Logs holding the Transfer server's log group. moto's Transfer writes no
 * logs, so the events are put as Transfer Family writes its JSON structured log (activity-type, user, source-ip).
 */
import {CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand} from '@aws-sdk/client-cloudwatch-logs'
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {SshSession} from '../../src/adapters/ssh.js'
import {createMigrationTarget, type MigrationTarget} from '../fixtures/aws-target.js'
import {motoClientConfig} from '../peers/env.js'
import {startSshd, type PeerUser, type SshdPeer} from '../peers/index.js'
import {runCli} from './helpers/cli.js'

let peer: SshdPeer
let target: MigrationTarget
let dir: string
let logFile: string
let env: NodeJS.ProcessEnv
const logs = new CloudWatchLogsClient(motoClientConfig())
const cli = (args: string[]) => runCli(args, {cwd: dir, env})

async function logIn(user: PeerUser): Promise<void> {
  const session = await SshSession.connect(
    {host: peer.host, port: peer.port, username: user.name, useAgent: false, knownHostsFile: peer.knownHostsFile},
    {privateKey: readFileSync(user.privateKeyPath!)},
  )
  session.close()
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sct-stragglers-'))
  logFile = join(dir, 'sshd.log')
  peer = await startSshd({logFile})
  target = await createMigrationTarget()
  env = {AWS_ACCESS_KEY_ID: target.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: target.credentials.secretAccessKey}
  const admin = peer.users.adminUser
  const init = await cli([
    'init', '--no-prompt',
    '--source-host', peer.host, '--source-port', String(peer.port), '--source-username', admin.name, '--source-identity-file', admin.privateKeyPath!,
    '--source-known-hosts-file', peer.knownHostsFile,
    '--target-region', target.region, '--target-endpoint', target.endpoint, '--target-bucket', target.bucket, '--target-transfer-server-id', target.serverId,
  ])
  expect(init.stderr).toBe('')
})

afterAll(async () => {
  logs.destroy()
  await peer?.stop()
})

describe('cutover stragglers', () => {
  it('names exactly the user who logged in to the legacy box after the switch, with the address, and who arrived at Transfer', async () => {
    const before = Date.now()
    await logIn(peer.users.chrootUser) // before the "switch": not a straggler
    await sleep(1100)
    const since = new Date()
    await sleep(1100)
    await logIn(peer.users.keyUser)
    await sleep(500) // sshd writes the line as the session closes

    const group = `/aws/transfer/${target.serverId}`
    await logs.send(new CreateLogGroupCommand({logGroupName: group}))
    await logs.send(new CreateLogStreamCommand({logGroupName: group, logStreamName: `${peer.users.keyUser.name}.0a1b2c3d`}))
    const event = (at: number, type: string, user: string, ip: string) => ({
      timestamp: at,
      message: JSON.stringify({'activity-type': type, 'session-id': '0a1b2c3d', 'resource-arn': `arn:aws:transfer:us-east-1:123456789012:user/${target.serverId}/${user}`, user, 'source-ip': ip, client: 'SSH-2.0-OpenSSH_9.2'}),
    })
    await logs.send(
      new PutLogEventsCommand({
        logGroupName: group,
        logStreamName: `${peer.users.keyUser.name}.0a1b2c3d`,
        logEvents: [event(before, 'CONNECTED', peer.users.chrootUser.name, '10.0.0.7'), event(since.getTime() + 500, 'CONNECTED', peer.users.keyUser.name, '10.1.2.3'), event(since.getTime() + 600, 'AUTH_FAILURE', 'mallory', '10.9.9.9')],
      }),
    )

    // the log holds both logins; only the one after --since counts
    expect(readFileSync(logFile, 'utf8')).toContain(`Accepted publickey for ${peer.users.chrootUser.name} from 127.0.0.1`)
    const r = await cli(['cutover', 'stragglers', '--since', since.toISOString(), '--sshd-log', logFile, '--json'])
    expect({code: r.code, stderr: r.stderr}).toEqual({code: 0, stderr: ''})
    const result = r.json<{legacy: {source: string; rows: Array<Record<string, unknown>>; ownLogins: number}; transfer: {rows: Array<Record<string, unknown>>}}>()
    expect(result.legacy.source).toBe(logFile)
    expect(result.legacy.rows).toEqual([expect.objectContaining({user: peer.users.keyUser.name, address: '127.0.0.1', logins: 1, failures: 0})])
    // the CLI's own login (root) to read the log is not a straggler
    expect(result.legacy.ownLogins).toBeGreaterThanOrEqual(1)
    expect(result.transfer.rows).toEqual([
      expect.objectContaining({user: 'mallory', address: '10.9.9.9', logins: 0, failures: 1}),
      expect.objectContaining({user: peer.users.keyUser.name, address: '10.1.2.3', logins: 1, failures: 0}),
    ])

    const text = await cli(['cutover', 'stragglers', '--since', since.toISOString(), '--sshd-log', logFile])
    expect(text.stdout).toMatch(new RegExp(`Still connecting to the legacy box \\(from ${logFile}\\):\\n.*\\n${peer.users.keyUser.name}\\s+127\\.0\\.0\\.1\\s+1\\s+0`))
  })

  it('says what it could not read', async () => {
    const r = await cli(['cutover', 'stragglers', '--since', new Date().toISOString(), '--sshd-log', '/nonexistent/sshd.log', '--log-group', '/aws/transfer/no-such-group'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('Could not read the legacy sshd log:\n  /nonexistent/sshd.log: cat: /nonexistent/sshd.log: No such file or directory')
    expect(r.stdout).toMatch(/Could not read the Transfer server's log: \/aws\/transfer\/no-such-group: /)
  })
})
