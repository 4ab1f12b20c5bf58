/**
 * The cutover night against moto (Transfer, Route 53, EC2, S3, STS) and a private OpenSSH sshd (the legacy box):
 * inventory, users import, sync and verify, then cutover, rollback, a failed preflight, a killed run that resumes,
 * --dry-run and repeated runs.
 *
 * Two stand-ins, said plainly: moto has no SFTP data plane, so the smoke test logs in to the sshd peer as the "new
 * endpoint" (it presents the legacy host keys, as Transfer does after hostkeys import); and moto has no
 * ImportHostKey, so the host keys that `hostkeys import` would record are written to the project state here
 * (hostkeys import itself is tested against the exact AWS request shapes in hostkeys-import.test.ts).
 */
import {ChangeResourceRecordSetsCommand, ListResourceRecordSetsCommand, Route53Client, type ResourceRecordSet} from '@aws-sdk/client-route-53'
import {spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {SqliteStateStore} from '../../src/adapters/state.js'
import {TransferStore} from '../../src/adapters/transfer-store.js'
import {createMigrationTarget, type MigrationTarget} from '../fixtures/aws-target.js'
import {cutoverInitArgs} from './helpers/cutover-project.js'
import {motoClientConfig} from '../peers/env.js'
import {startSshd, type SshdPeer} from '../peers/index.js'
import {CLI, runCli} from './helpers/cli.js'

let peer: SshdPeer
let target: MigrationTarget
let dir: string
let env: NodeJS.ProcessEnv
const route53 = new Route53Client(motoClientConfig())

async function record(): Promise<ResourceRecordSet[]> {
  const r = await route53.send(new ListResourceRecordSetsCommand({HostedZoneId: target.hostedZoneId}))
  return (r.ResourceRecordSets ?? []).filter((s) => s.Name === `${target.recordName}.` && ['A', 'AAAA', 'CNAME'].includes(s.Type ?? ''))
}

const cli = (args: string[]) => runCli(args, {cwd: dir, env})

function recordHostKeysAsImported(): void {
  // what hostkeys import records after ImportHostKey (which moto lacks)
  const state = new SqliteStateStore(join(dir, '.sftp-cutover', 'state.db'))
  try {
    const store = new TransferStore(state)
    peer.hostKeys.forEach((k, i) => store.recordHostKey(target.serverId, {hostKeyId: `hostkey-${i}`, type: k.type, fingerprint: k.fingerprint}))
  } finally {
    state.close()
  }
}

beforeAll(async () => {
  peer = await startSshd({sampleTree: true})
  target = await createMigrationTarget()
  dir = mkdtempSync(join(tmpdir(), 'sct-cutover-'))
  env = {AWS_ACCESS_KEY_ID: target.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: target.credentials.secretAccessKey}
  const init = await cli([...cutoverInitArgs(peer, target)])
  expect(init.stderr).toBe('')
  const next: Record<string, string> = {inventory: 'users plan', users: 'hostkeys import', sync: 'verify', verify: 'cutover --dry-run'}
  for (const step of [['inventory', '--sshd-config', peer.configFile], ['users', 'import'], ['sync'], ['verify']]) {
    const r = await cli(step)
    expect({step: step[0], code: r.code, stderr: r.code === 0 || r.code === 3 ? '' : r.stderr}).toEqual({step: step[0], code: expect.any(Number), stderr: ''})
    // each step of the flow ends naming the next one
    expect(r.stdout).toContain(`\nNext: sftp-cutover ${next[step[0]]}`)
  }
})

afterAll(async () => {
  route53.destroy()
  await peer?.stop()
})

describe('cutover', () => {
  it('--dry-run runs the preflight for real and reports every gap at once, exit 3; the real run stops without suggesting rollback', async () => {
    // host keys not imported yet, and a configuration without the canary user: two gaps, in two steps
    const noCanary = join(dir, 'no-canary.yaml')
    writeFileSync(noCanary, readFileSync(join(dir, 'sftp-cutover.yaml'), 'utf8').replace(/^\s*canaryUser:.*\n/m, ''))
    const before = await record()
    const dry = await cli(['cutover', '--dry-run', '--json', '--config', noCanary])
    expect(dry.code).toBe(3)
    const steps = dry.json<{outcome: string; steps: Array<{id: string; status: string; summary: string}>}>().steps
    const failing = steps.filter((s) => s.status === 'would-fail')
    expect(failing.map((s) => s.id)).toEqual(['preflight', 'smoke-test'])
    expect(failing[0].summary).toMatch(/host keys imported: not imported: \S+ SHA256:/)
    expect(failing[1].summary).toMatch(/cutover\.canaryUser/)
    expect(steps.find((s) => s.id === 'dns-switch')!.status).toBe('would-run')
    const text = await cli(['cutover', '--dry-run', '--config', noCanary])
    expect(text.code).toBe(3)
    expect(text.stdout).toMatch(/WOULD FAIL preflight: .*host keys imported/)
    expect(text.stdout).toMatch(/The real run would stop at preflight: 2 step\(s\) would fail \(preflight, smoke-test\)/)
    expect(text.stdout).toMatch(/Next: sftp-cutover cutover --dry-run \(after the fixes above\)$/m)

    const real = await cli(['cutover', '--yes'])
    expect(real.code).toBe(3)
    expect(real.stderr).toMatch(/step preflight failed: .*host keys imported: not imported/)
    expect(real.stderr).toMatch(/Nothing was changed/)
    expect(real.stderr).not.toMatch(/rollback/)
    expect(await record()).toEqual(before)
    expect(existsSync(join(peer.dir, 'frozen'))).toBe(false)
    recordHostKeysAsImported()
  })

  it('--dry-run shows every step and the exact change batch, and changes nothing', async () => {
    const before = await record()
    const r = await cli(['cutover', '--dry-run', '--json'])
    expect(r.code).toBe(0)
    const result = r.json<{outcome: string; steps: Array<{id: string; details?: {changeBatch?: Array<{Action: string; ResourceRecordSet: ResourceRecordSet}>}}>}>()
    expect(result.outcome).toBe('dry-run')
    expect(result.steps.map((s) => s.id)).toEqual(['preflight', 'confirm', 'freeze', 'sync', 'verify', 'dns-switch', 'smoke-test', 'report'])
    const batch = result.steps.find((s) => s.id === 'dns-switch')!.details!.changeBatch!
    expect(batch.map((c) => c.Action)).toEqual(['UPSERT'])
    expect(batch[0].ResourceRecordSet).toMatchObject({Name: target.recordName, Type: 'A'})
    expect(batch[0].ResourceRecordSet.AliasTarget).toMatchObject({DNSName: target.vpcEndpoint.dnsName, HostedZoneId: target.vpcEndpoint.hostedZoneId})
    expect(await record()).toEqual(before)
    expect(existsSync(join(peer.dir, 'frozen'))).toBe(false)
  })

  it('stops at a failed preflight (a file not yet synced) before changing anything', async () => {
    const pending = join(peer.users.keyUser.home, 'late-arrival.txt')
    writeFileSync(pending, 'written after the last sync\n')
    const before = await record()
    const r = await cli(['cutover', '--yes'])
    expect(r.code).toBe(3)
    expect(r.stderr).toMatch(/step preflight failed: .*nothing left to sync: 1 file\(s\) not yet synced/)
    expect(await record()).toEqual(before)
    expect(existsSync(join(peer.dir, 'frozen'))).toBe(false)
    const sync = await cli(['sync'])
    expect(sync.code).toBe(0)
    expect((await cli(['verify'])).code).toBe(0)
  })

  it('switches the record, passes the smoke test, writes the report; a second run changes nothing', async () => {
    const before = await record()
    const r = await cli(['cutover', '--yes', '--json'])
    const result = r.json<{outcome: string; steps: Array<{id: string; status: string; summary: string}>}>()
    expect({code: r.code, outcome: result.outcome}).toEqual({code: 0, outcome: 'complete'})
    expect(result.steps.every((s) => s.status === 'done')).toBe(true)
    const now = await record()
    expect(now).toHaveLength(1)
    expect(now[0].AliasTarget?.DNSName).toBe(target.vpcEndpoint.dnsName)
    expect(result.steps.find((s) => s.id === 'smoke-test')!.summary).toMatch(/read back identical/)
    expect(existsSync(join(peer.dir, 'frozen'))).toBe(true)
    const report = result.steps.find((s) => s.id === 'report')!.summary.replace('report written: ', '')
    const md = readFileSync(report, 'utf8')
    expect(md).toContain('## Cutover timeline')
    expect(md).toContain(`| ${peer.users.keyUser.name} |`)
    expect(md).toContain('- A 127.0.0.1 (TTL 300)')

    const again = await cli(['cutover', '--yes', '--json'])
    expect(again.code).toBe(0)
    expect(again.json<{outcome: string}>().outcome).toBe('unchanged')
    expect(await record()).toEqual(now)

    // rollback restores exactly what was there, and undoes the freeze; twice is harmless
    const rb = await cli(['rollback', '--json'])
    expect({code: rb.code, out: rb.code ? rb.stdout : ''}).toEqual({code: 0, out: ''})
    expect(await record()).toEqual(before)
    expect(existsSync(join(peer.dir, 'frozen'))).toBe(false)
    const rb2 = await cli(['rollback', '--json'])
    expect(rb2.json<{outcome: string}>().outcome).toBe('unchanged')
    expect(await record()).toEqual(before)
  })

  it('refuses to roll back a record someone changed since, unless --force', async () => {
    // cut over once more (a new run of the built-in runbook after --from), then change the record by hand
    expect((await cli(['cutover', '--yes', '--from', 'dns-switch'])).code).toBe(0)
    const switched = await record()
    await route53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: target.hostedZoneId,
        ChangeBatch: {Changes: [{Action: 'DELETE', ResourceRecordSet: switched[0]}, {Action: 'CREATE', ResourceRecordSet: {Name: target.recordName, Type: 'A', TTL: 60, ResourceRecords: [{Value: '10.9.9.9'}]}}]},
      }),
    )
    const refused = await cli(['rollback'])
    expect(refused.code).toBe(3)
    expect(refused.stderr).toMatch(/not what cutover set \(now: A 10\.9\.9\.9 \(TTL 60\)\)/)
    const forced = await cli(['rollback', '--force'])
    expect({code: forced.code, stderr: forced.stderr}).toEqual({code: 0, stderr: ''})
    expect(await record()).toEqual([expect.objectContaining({Type: 'A', TTL: 300, ResourceRecords: [{Value: '127.0.0.1'}]})])
  })
})

describe('runbook run', () => {
  it('resumes after a process killed between steps, without repeating the steps done', async () => {
    const counter = join(dir, 'counter.txt')
    const runbook = join(dir, 'resume.yaml')
    writeFileSync(
      runbook,
      [
        'name: resume-test',
        'steps:',
        `  - exec: {command: "echo first >> ${counter}"}`,
        '  - wait: {seconds: 3}',
        `  - exec: {command: "echo second >> ${counter}"}`,
        '',
      ].join('\n'),
    )
    const child = spawn(process.execPath, [CLI, 'runbook', 'run', runbook, '--yes'], {cwd: dir, env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']})
    let seen = ''
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        seen += d.toString()
        if (seen.includes('>> wait')) resolve()
      })
    })
    child.kill('SIGKILL')
    await new Promise((resolve) => child.on('close', resolve))
    expect(readFileSync(counter, 'utf8')).toBe('first\n')

    // the wait step was running when the process died: the re-run starts there, and does not repeat the first step
    const resumed = await cli(['runbook', 'run', runbook, '--json'])
    expect(resumed.code).toBe(0)
    expect(resumed.json<{resumedAt: string}>().resumedAt).toBe('wait')
    expect(readFileSync(counter, 'utf8')).toBe('first\nsecond\n')
  }, 120_000)

  it('rejects an invalid runbook naming the step and what is allowed, exit 2', async () => {
    const bad = join(dir, 'bad.yaml')
    writeFileSync(bad, 'steps:\n  - preflight\n  - teleport\n  - wait: {seconds: -1}\n')
    const r = await cli(['runbook', 'run', bad])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/steps\.1: unknown step type "teleport"; allowed: preflight, confirm/)
    expect(r.stderr).toMatch(/steps\.2 \(wait\)\.seconds: must be 0 or more/)
  })
})

describe('dns prepare', () => {
  it('lowers the TTL once and remembers the original', async () => {
    const r = await cli(['dns', 'prepare', '--ttl', '60', '--json'])
    expect(r.json<{outcome: string}>().outcome).toBe('changed')
    expect((await record())[0].TTL).toBe(60)
    const again = await cli(['dns', 'prepare', '--ttl', '60', '--json'])
    expect(again.json<{outcome: string}>().outcome).toBe('unchanged')
  })
})
