/**
 * Where init's values come from besides flags: a CloudFormation stack's outputs (moto), an interactive session
 * (the prompts are scripted: the Prompter is the seam between the command and @inquirer/prompts), and the AWS
 * profile chosen with --profile (real shared config files read by the SDK's default chain).
 */
import {CloudFormationClient, CreateStackCommand} from '@aws-sdk/client-cloudformation'
import {mkdtempSync, readFileSync, writeFileSync, existsSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {randomBytes} from 'node:crypto'

import {initProject} from '../../src/services/init.js'
import type {Prompter} from '../../src/ui/prompter.js'
import {createMigrationTarget} from '../fixtures/aws-target.js'
import {loadPeers, motoClientConfig} from '../peers/env.js'
import {runCli} from './helpers/cli.js'

const {sshd} = loadPeers()

/** Answers each question from a script, recording what was asked; a missing answer fails the test. */
function scriptedPrompter(answers: Array<string | boolean | Error>): Prompter & {asked: string[]} {
  const asked: string[] = []
  const next = (message: string) => {
    asked.push(message)
    if (answers.length === 0) throw new Error(`unexpected question: ${message}`)
    const a = answers.shift()!
    if (a instanceof Error) throw a
    return a
  }
  return {
    asked,
    input: async ({message, validate}) => {
      const value = String(next(message))
      const verdict = validate?.(value)
      if (verdict !== undefined && verdict !== true) throw new Error(`the prompt would refuse ${value}: ${verdict}`)
      return value
    },
    secret: async ({message}) => String(next(message)),
    confirm: async ({message}) => Boolean(next(message)),
    select: async ({message}) => next(message) as never,
  }
}

describe('init', () => {
  it('fills target and dns settings from a stack\'s outputs', async () => {
    const target = await createMigrationTarget()
    const stackName = `sct-${randomBytes(3).toString('hex')}`
    const cf = new CloudFormationClient(motoClientConfig())
    const output = (v: string) => ({Value: v})
    await cf.send(
      new CreateStackCommand({
        StackName: stackName,
        TemplateBody: JSON.stringify({
          Resources: {Topic: {Type: 'AWS::SNS::Topic'}},
          Outputs: {
            TransferServerId: output(target.serverId),
            BucketName: output(target.bucket),
            Prefix: output('migrated'),
            UserRoleArn: output(target.roleArn),
            HostedZoneId: output(target.hostedZoneId),
            RecordName: output(target.recordName),
          },
        }),
      }),
    )
    cf.destroy()
    const dir = mkdtempSync(join(tmpdir(), 'sct-stack-'))
    const env = {AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing'}
    const args = ['init', '--no-prompt', '--json', '--from-stack', stackName, '--target-region', target.region, '--target-endpoint', target.endpoint,
      '--source-host', sshd.host, '--source-port', String(sshd.port), '--source-username', sshd.users.keyUser.name,
      '--source-identity-file', sshd.users.keyUser.privateKeyPath!, '--source-known-hosts-file', sshd.knownHostsFile]
    const r = await runCli(args, {cwd: dir, env})
    expect(r.code).toBe(0)
    expect(r.json<{config: {target: Record<string, string>; dns: Record<string, string>}}>().config).toMatchObject({
      target: {transferServerId: target.serverId, bucket: target.bucket, prefix: 'migrated', userRoleArn: target.roleArn},
      dns: {hostedZoneId: target.hostedZoneId, recordName: target.recordName},
    })
    const doctor = await runCli(['doctor', '--json'], {cwd: dir, env})
    expect(doctor.code).toBe(0)

    const missing = await runCli([...args.filter((a) => a !== stackName && a !== '--from-stack'), '--from-stack', 'no-such-stack'], {cwd: mkdtempSync(join(tmpdir(), 'sct-stack-')), env})
    expect(missing.code).toBe(2)
    expect(missing.json<{error: {message: string}}>().error.message).toBe('stack no-such-stack does not exist')
  })

  it('asks for what is missing on a terminal, shows the presented host key and writes what was answered', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sct-interactive-'))
    const prompter = scriptedPrompter([
      sshd.users.keyUser.name, // username
      true, // pin the presented host key
      'key', // log in with a key file
      sshd.users.keyUser.privateKeyPath!,
      'eu-west-1',
      'acme-sftp-migrated',
    ])
    const result = await initProject({
      configFile: join(dir, 'sftp-cutover.yaml'),
      stateDir: join(dir, '.sftp-cutover'),
      values: {'source.host': sshd.host, 'source.port': sshd.port},
      force: false,
      prompter,
    })
    expect(result.outcome).toBe('created')
    const presented = sshd.hostKeys.find((k) => prompter.asked[1].includes(k.fingerprint))
    expect(presented).toBeDefined()
    expect(prompter.asked[1]).toContain(`${sshd.host}:${sshd.port} presents ${presented!.type}`)
    expect(result.config.source).toMatchObject({username: sshd.users.keyUser.name, hostKeyFingerprint: presented!.fingerprint, identityFile: sshd.users.keyUser.privateKeyPath})
    expect(result.config.target).toMatchObject({region: 'eu-west-1', bucket: 'acme-sftp-migrated'})
    expect(readFileSync(join(dir, 'sftp-cutover.yaml'), 'utf8')).toContain(`hostKeyFingerprint: ${presented!.fingerprint}`)
  })

  it('asks for a fingerprint when the presented key is not pinned, and validates answers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sct-interactive-'))
    const prompter = scriptedPrompter([false, 'fingerprint', 'not-a-fingerprint'])
    await expect(
      initProject({
        configFile: join(dir, 'sftp-cutover.yaml'),
        stateDir: join(dir, '.sftp-cutover'),
        values: {'source.host': sshd.host, 'source.port': sshd.port, 'source.username': 'x', 'target.region': 'eu-west-1', 'target.bucket': 'b-b-b', 'source.useAgent': true},
        force: false,
        prompter,
      }),
    ).rejects.toThrow(/would refuse not-a-fingerprint: must be an OpenSSH SHA-256 fingerprint/)
    expect(existsSync(join(dir, 'sftp-cutover.yaml'))).toBe(false)
  })

  it('asks for the port and probes the port given; offers a known_hosts file, checked for the host as entered', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sct-interactive-'))
    const base = {'source.host': sshd.host, 'source.username': 'x', 'target.region': 'eu-west-1', 'target.bucket': 'b-b-b', 'source.useAgent': true}
    const prompter = scriptedPrompter([String(sshd.port), false, 'known-hosts', sshd.knownHostsFile])
    const result = await initProject({configFile: join(dir, 'sftp-cutover.yaml'), stateDir: join(dir, '.sftp-cutover'), values: {...base}, force: false, prompter})
    expect(prompter.asked[0]).toMatch(/^source\.port: /)
    expect(prompter.asked[1]).toContain(`${sshd.host}:${sshd.port} presents`)
    expect(prompter.asked[2]).toBe('How should the host key be verified?')
    expect(result.config.source).toMatchObject({port: sshd.port, knownHostsFile: sshd.knownHostsFile})

    const other = join(dir, 'other_known_hosts')
    writeFileSync(other, readFileSync(sshd.knownHostsFile, 'utf8').replaceAll(`[127.0.0.1]:${sshd.port}`, 'elsewhere.example.com'))
    const dir2 = mkdtempSync(join(tmpdir(), 'sct-interactive-'))
    const refused = scriptedPrompter([String(sshd.port), false, 'known-hosts', other])
    await expect(initProject({configFile: join(dir2, 'sftp-cutover.yaml'), stateDir: join(dir2, '.sftp-cutover'), values: {...base}, force: false, prompter: refused})).rejects.toThrow(
      `has no key for [127.0.0.1]:${sshd.port}`,
    )
    expect(existsSync(join(dir2, 'sftp-cutover.yaml'))).toBe(false)
  })

  it('refuses a key file that does not exist as it is entered', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sct-interactive-'))
    const prompter = scriptedPrompter(['key', '~/no-such-dir/id_ed25519'])
    await expect(
      initProject({
        configFile: join(dir, 'sftp-cutover.yaml'),
        stateDir: join(dir, '.sftp-cutover'),
        values: {'source.host': sshd.host, 'source.port': sshd.port, 'source.username': 'x', 'source.knownHostsFile': sshd.knownHostsFile, 'target.region': 'eu-west-1', 'target.bucket': 'b-b-b'},
        force: false,
        prompter,
      }),
    ).rejects.toThrow(/would refuse ~\/no-such-dir\/id_ed25519: \/.*\/no-such-dir\/id_ed25519 does not exist/)
  })

  it('writes nothing when the engineer cancels at a prompt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sct-interactive-'))
    const cancel = Object.assign(new Error('User force closed the prompt with SIGINT'), {name: 'ExitPromptError'})
    const prompter = scriptedPrompter([sshd.users.keyUser.name, cancel])
    await expect(
      initProject({configFile: join(dir, 'sftp-cutover.yaml'), stateDir: join(dir, '.sftp-cutover'), values: {'source.host': sshd.host, 'source.port': sshd.port}, force: false, prompter}),
    ).rejects.toMatchObject({name: 'ExitPromptError'})
    expect(existsSync(join(dir, 'sftp-cutover.yaml'))).toBe(false)
    expect(existsSync(join(dir, '.sftp-cutover'))).toBe(false)
  })
})

describe('AWS credentials', () => {
  it('uses the profile named by --profile from the shared files, and says which profile is missing', async () => {
    const target = await createMigrationTarget()
    const awsDir = mkdtempSync(join(tmpdir(), 'sct-aws-'))
    writeFileSync(join(awsDir, 'credentials'), '[migration]\naws_access_key_id = AKIAPROFILETEST\naws_secret_access_key = profile-secret\n')
    writeFileSync(join(awsDir, 'config'), '[profile migration]\nregion = us-east-1\n')
    const env = {AWS_SHARED_CREDENTIALS_FILE: join(awsDir, 'credentials'), AWS_CONFIG_FILE: join(awsDir, 'config'), AWS_EC2_METADATA_DISABLED: 'true'}
    const dir = mkdtempSync(join(tmpdir(), 'sct-profile-'))
    const init = await runCli(
      ['init', '--no-prompt', '--source-host', sshd.host, '--source-port', String(sshd.port), '--source-username', sshd.users.keyUser.name,
        '--source-identity-file', sshd.users.keyUser.privateKeyPath!, '--source-known-hosts-file', sshd.knownHostsFile,
        '--target-region', target.region, '--target-endpoint', target.endpoint, '--target-bucket', target.bucket],
      {cwd: dir, env},
    )
    expect(init.code).toBe(0)
    const ok = await runCli(['doctor', '--json', '--profile', 'migration'], {cwd: dir, env})
    const identity = ok.json<{checks: Array<{id: string; status: string; detail: string}>}>().checks.find((c) => c.id === 'aws.identity')
    expect(identity).toMatchObject({status: 'pass'})
    const missing = await runCli(['doctor', '--json', '--profile', 'nope'], {cwd: dir, env})
    expect(missing.code).toBe(3)
    const failed = missing.json<{checks: Array<{id: string; status: string; detail: string}>}>().checks.find((c) => c.id === 'aws.identity')
    expect(failed?.status).toBe('fail')
    expect(failed?.detail).toMatch(/nope/)
    expect(missing.stdout).not.toContain('profile-secret')
  })
})
