/**
 * Every CloudFormation template in infra/ passes cfn-lint (pinned 1.58.0 in .peers/venv by scripts/install-peers.sh),
 * as written and as rendered for each combination of sftp-transfer.yaml's options (defaults, each option alone, all
 * together), and the defaults render exactly the resources of the design before the options existed.
 */
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {binaries, repoRoot} from '../peers/paths.js'
import {COMBINATIONS, renderTemplate, REQUIRED_PARAMETERS, resourceIds} from './infra-render.js'

const CFN_LINT_VERSION = '1.58.0'
const infraDir = path.join(repoRoot, 'infra')
const templates = readdirSync(infraDir)
  .filter((name) => name.endsWith('.yaml'))
  .sort()

function cfnLint(args: string[]): {status: number | null; output: string} {
  // A missing linter is a failure, never a skip.
  if (!existsSync(binaries.cfnLint)) {
    throw new Error(`cfn-lint not found at ${binaries.cfnLint}: run \`bash scripts/install-peers.sh\` first`)
  }
  const run = spawnSync(binaries.cfnLint, args, {cwd: repoRoot, encoding: 'utf8', timeout: 300_000})
  if (run.error) throw run.error
  return {status: run.status, output: `${run.stdout}${run.stderr}`}
}

// The resources of the template before the options (plus the custom resource's dead-letter queue, which the
// cfn-guard rule "every Lambda has a dead-letter target" asked for).
const DEFAULT_RESOURCES = [
  'AccessPoint', 'Bucket', 'BucketPolicy', 'CopyDeadLetterQueue', 'CopyFunction', 'CopyFunctionInvokePermission',
  'CopyFunctionRole', 'CopyFunctionSecurityGroup', 'CopyFunctionToFileSystem', 'CopyLogGroup', 'CopySubscription',
  'EndpointLookupDeadLetterQueue', 'EndpointLookupFunction', 'EndpointLookupLogGroup', 'EndpointLookupRole', 'FileSystem',
  'FileSystemFromCopyFunction', 'FileSystemSecurityGroup', 'HostedZone', 'Key', 'MountTargetA', 'MountTargetB',
  'NotificationTopic', 'NotificationTopicPolicy', 'PrivateRouteTable', 'S3GatewayEndpoint', 'ServerEndpoint', 'SubnetA',
  'SubnetARouteTable', 'SubnetB', 'SubnetBRouteTable', 'TransferLogGroup', 'TransferLoggingPolicy', 'TransferLoggingRole',
  'TransferSecurityGroup', 'TransferServer', 'UserRole', 'Vpc',
]

describe('CloudFormation templates', () => {
  test('infra/ holds templates, linted by the pinned cfn-lint', () => {
    expect(templates.length).toBeGreaterThan(0)
    expect(cfnLint(['--version']).output.trim()).toBe(`cfn-lint ${CFN_LINT_VERSION}`)
  })

  test.each(templates)('cfn-lint passes on infra/%s', (template) => {
    const {status, output} = cfnLint(['--', path.join('infra', template)])
    if (status !== 0) throw new Error(`cfn-lint exited with ${status} on infra/${template}:\n${output}`)
  }, 300_000)

  test('cfn-lint passes on sftp-transfer.yaml rendered for every option combination', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sftp-cutover-rendered-'))
    try {
      const files = Object.entries(COMBINATIONS).map(([name, parameters]) => {
        const file = path.join(dir, `${name}.json`)
        writeFileSync(file, JSON.stringify(renderTemplate({...REQUIRED_PARAMETERS, ...parameters}), null, 1))
        return file
      })
      // W2001/W7001 (parameter or mapping unused) are artefacts of rendering: the conditions that used them are gone.
      const {status, output} = cfnLint(['--ignore-checks', 'W2001', 'W7001', '--', ...files])
      if (status !== 0) throw new Error(`cfn-lint exited with ${status}:\n${output}`)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  }, 300_000)
})

describe('sftp-transfer.yaml options', () => {
  const render = (name: keyof typeof COMBINATIONS) => renderTemplate({...REQUIRED_PARAMETERS, ...COMBINATIONS[name]})
  const added = (name: keyof typeof COMBINATIONS) => resourceIds(render(name)).filter((id) => !DEFAULT_RESOURCES.includes(id))
  const removed = (name: keyof typeof COMBINATIONS) => DEFAULT_RESOURCES.filter((id) => !resourceIds(render(name)).includes(id))

  test('the defaults deploy the design without options: same resources, no versioning, replication or EventBridge', () => {
    const template = render('defaults')
    expect(resourceIds(template)).toEqual(DEFAULT_RESOURCES)
    const bucket = template.Resources.Bucket.Properties as Record<string, unknown>
    expect(bucket.VersioningConfiguration).toBeUndefined()
    expect(bucket.ReplicationConfiguration).toBeUndefined()
    expect(bucket.NotificationConfiguration).toEqual({
      TopicConfigurations: [
        {Event: 's3:ObjectCreated:*', Topic: {Ref: 'NotificationTopic'}, Filter: {S3Key: {Rules: [{Name: 'prefix', Value: 'sftp/home/'}]}}},
      ],
    })
    const copy = template.Resources.CopyFunction.Properties as {Environment: {Variables: Record<string, unknown>}}
    expect(copy.Environment.Variables).toEqual({EFS_MOUNT_PATH: '/mnt/sftp'})
  })

  test('each option adds only its own resources', () => {
    expect(added('replication')).toEqual(['ReplicationRole'])
    expect(added('email')).toEqual(['AlertEmail', 'AlertTopic', 'AlertTopicPolicy', 'CopyDeadLettersAlarm'])
    expect(added('eventbridge')).toEqual(['CopyOnObjectCreatedPermission', 'CopyOnObjectCreatedRule'])
    expect(removed('eventbridge')).toEqual(['CopyFunctionInvokePermission', 'CopySubscription'])
    expect(added('guardduty')).toEqual([
      'AlertTopic', 'AlertTopicPolicy', 'CopyDeadLettersAlarm', 'CopyOnCleanScanPermission', 'CopyOnCleanScanRule', 'GuardDutyScanRole',
      'MalwareProtectionPlan', 'ScanDeadLetterQueue', 'ScanDeadLettersAlarm', 'ScanLogGroup', 'VerdictFunction', 'VerdictPermission',
      'VerdictRole', 'VerdictRule',
    ])
    expect(added('clamav')).toEqual([
      'AlertTopic', 'AlertTopicPolicy', 'CopyDeadLettersAlarm', 'CopyOnCleanScanPermission', 'CopyOnCleanScanRule', 'DefinitionsFunction',
      'DefinitionsRole', 'DefinitionsSchedule', 'DefinitionsSchedulePermission', 'ScanDeadLetterQueue', 'ScanDeadLettersAlarm',
      'ScanLogGroup', 'ScannerFunction', 'ScannerSnsPermission', 'ScannerSubscription', 'VerdictRole',
    ])
    // With scanning, ObjectCreated no longer reaches the copy function: only a clean scan result does.
    for (const name of ['guardduty', 'clamav'] as const) expect(removed(name)).toEqual(['CopyFunctionInvokePermission', 'CopySubscription'])
  })

  test('with scanning, users and the copy function read only objects tagged clean, and uploads cannot tag', () => {
    for (const [name, tagKey] of [['guardduty', 'GuardDutyMalwareScanStatus'], ['clamav', 'MalwareScanStatus']] as const) {
      const template = render(name)
      type Statement = {Sid?: string; Action: string | string[]; Condition?: unknown}
      const statements = (role: string) =>
        (template.Resources[role].Properties as {Policies: Array<{PolicyDocument: {Statement: Statement[]}}>}).Policies[0].PolicyDocument.Statement
      const onlyClean = {StringEquals: {[`s3:ExistingObjectTag/${tagKey}`]: 'NO_THREATS_FOUND'}}
      expect(statements('UserRole').find((s) => s.Sid === 'ReadHomeDirectories')?.Condition).toEqual(onlyClean)
      expect(statements('CopyFunctionRole').find((s) => s.Sid === 'ReadUsersObjects')?.Condition).toEqual(onlyClean)
      expect(JSON.stringify(statements('UserRole'))).not.toContain('PutObjectTagging')
      const copy = template.Resources.CopyFunction.Properties as {Environment: {Variables: Record<string, unknown>}}
      expect(copy.Environment.Variables.SCAN_TAG_KEY).toBe(tagKey)
      const rule = template.Resources.CopyOnCleanScanRule.Properties as {EventPattern: {detail: {scanResultDetails: unknown}}}
      expect(rule.EventPattern.detail.scanResultDetails).toEqual({scanResultStatus: ['NO_THREATS_FOUND']})
    }
  })

  test('replication: versioning on, SSE-KMS objects selected, the replica key set, delete markers by parameter', () => {
    for (const [name, deletes] of [['replication', 'Disabled'], ['replication-with-deletes', 'Enabled']] as const) {
      const bucket = render(name).Resources.Bucket.Properties as Record<string, {Rules?: unknown[]; Status?: string}>
      expect(bucket.VersioningConfiguration).toEqual({Status: 'Enabled'})
      expect(bucket.ReplicationConfiguration.Rules).toEqual([
        expect.objectContaining({
          DeleteMarkerReplication: {Status: deletes},
          SourceSelectionCriteria: {SseKmsEncryptedObjects: {Status: 'Enabled'}},
          Destination: {Bucket: {Ref: 'ReplicaBucketArn'}, EncryptionConfiguration: {ReplicaKmsKeyID: {Ref: 'ReplicaKmsKeyArn'}}},
        }),
      ])
    }
  })
})
