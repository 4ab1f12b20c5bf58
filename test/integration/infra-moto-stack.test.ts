/**
 * sftp-transfer.yaml deployed to moto's CloudFormation, as far as moto can: each combination is rendered, then
 * reduced to the resource types moto 5.2.5 can create (and whatever does not depend on the others); the test
 * asserts the stack completes, which resources it holds, and what they look like through the services' own APIs.
 *
 * moto 5.2.5 cannot create (ignored with a warning, or failing the stack): AWS::Transfer::Server,
 * AWS::GuardDuty::MalwareProtectionPlan, AWS::CloudWatch::Alarm, AWS::S3::BucketPolicy, AWS::SNS::Subscription,
 * AWS::SNS::TopicPolicy, AWS::IAM::RolePolicy, AWS::EC2::SecurityGroupEgress, and the custom resource (it would run
 * the lookup Lambda, which needs Docker). It creates EFS file systems and access points but cannot resolve their
 * attributes (Fn::GetAtt), it has no Fn::Cidr and its Fn::GetAZs returns no list (the reduction writes those two
 * values out). Everything referring to what is dropped goes with it: the Transfer log group, the user role, the
 * endpoint lookup, and the copy function with its role (which name the file system's ARN) and triggers. moto applies
 * only BucketEncryption and Tags of a bucket's properties (not versioning, replication or notifications): those are
 * checked on the rendered template in infra-cfn-lint.test.ts.
 */
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStacksCommand,
  ListStackResourcesCommand,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation'
import {DescribeRuleCommand, EventBridgeClient} from '@aws-sdk/client-eventbridge'
import {CreateBucketCommand, GetBucketEncryptionCommand, PutObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {randomBytes} from 'node:crypto'

import {motoClientConfig} from '../peers/env.js'
import {COMBINATIONS, reduceForMoto, renderTemplate, REQUIRED_PARAMETERS} from './infra-render.js'

let cfn: CloudFormationClient
let s3: S3Client
let events: EventBridgeClient
const codeBucket = `code-${randomBytes(4).toString('hex')}`

beforeAll(async () => {
  // One attempt: a retried CreateStack would only report that the stack exists.
  cfn = new CloudFormationClient({...motoClientConfig(), maxAttempts: 1})
  s3 = new S3Client(motoClientConfig())
  events = new EventBridgeClient(motoClientConfig())
  // moto's Lambda reads the code from S3 when the function is created.
  await s3.send(new CreateBucketCommand({Bucket: codeBucket}))
  await s3.send(new PutObjectCommand({Bucket: codeBucket, Key: REQUIRED_PARAMETERS.LambdaCodeKey, Body: Buffer.from('PK\x05\x06'.padEnd(22, '\0'))}))
})

afterAll(() => {
  cfn?.destroy()
  s3?.destroy()
  events?.destroy()
})

async function deploy(name: keyof typeof COMBINATIONS): Promise<{resources: Map<string, StackResourceSummary>; dropped: string[]}> {
  const rendered = renderTemplate({...REQUIRED_PARAMETERS, LambdaCodeBucket: codeBucket, ...COMBINATIONS[name]})
  const {template, dropped} = reduceForMoto(rendered)
  const stackName = `sftp-${name}-${randomBytes(3).toString('hex')}`
  await cfn.send(new CreateStackCommand({StackName: stackName, TemplateBody: JSON.stringify(template), Capabilities: ['CAPABILITY_IAM']}))
  const {Stacks} = await cfn.send(new DescribeStacksCommand({StackName: stackName}))
  expect(Stacks?.[0]?.StackStatus).toBe('CREATE_COMPLETE')
  const {StackResourceSummaries = []} = await cfn.send(new ListStackResourcesCommand({StackName: stackName}))
  const resources = new Map(StackResourceSummaries.map((summary) => [summary.LogicalResourceId as string, summary]))
  expect([...resources.keys()].sort()).toEqual(Object.keys(template.Resources).sort())
  for (const summary of resources.values()) expect(summary.ResourceStatus).toBe('CREATE_COMPLETE')
  return {resources, dropped}
}

const physical = (resources: Map<string, StackResourceSummary>, id: string): string => resources.get(id)?.PhysicalResourceId as string

describe('sftp-transfer.yaml in moto CloudFormation', () => {
  test("defaults: the bucket (SSE-KMS with the stack's key), VPC, EFS and queues", async () => {
    const {resources, dropped} = await deploy('defaults')
    expect(dropped).toEqual([
      'BucketPolicy', 'CopyFunction', 'CopyFunctionInvokePermission', 'CopyFunctionRole', 'CopyFunctionToFileSystem', 'CopySubscription',
      'EndpointLookupFunction', 'EndpointLookupRole', 'NotificationTopicPolicy', 'ServerEndpoint', 'TransferLogGroup',
      'TransferLoggingPolicy', 'TransferServer', 'UserRole',
    ])
    for (const id of ['Bucket', 'Key', 'Vpc', 'FileSystem', 'MountTargetA', 'AccessPoint', 'CopyDeadLetterQueue', 'NotificationTopic']) {
      expect(resources.has(id)).toBe(true)
    }
    const bucket = physical(resources, 'Bucket')
    const encryption = await s3.send(new GetBucketEncryptionCommand({Bucket: bucket}))
    expect(encryption.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm).toBe('aws:kms')
    expect(encryption.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.KMSMasterKeyID).toContain(
      physical(resources, 'Key'),
    )
  })

  test('every option (GuardDuty scanning): replication role, alert topic, verdict function and the rule that feeds it', async () => {
    const {resources} = await deploy('all-guardduty')
    const bucket = physical(resources, 'Bucket')
    const rule = await events.send(new DescribeRuleCommand({Name: physical(resources, 'VerdictRule')}))
    expect(JSON.parse(rule.EventPattern as string)).toEqual({
      source: ['aws.guardduty'],
      'detail-type': ['GuardDuty Malware Protection Object Scan Result'],
      detail: {s3ObjectDetails: {bucketName: [bucket]}, scanResultDetails: {scanResultStatus: [{'anything-but': 'NO_THREATS_FOUND'}]}},
    })
    for (const id of ['ReplicationRole', 'VerdictFunction', 'VerdictRule', 'AlertTopic', 'GuardDutyScanRole', 'ScanDeadLetterQueue']) {
      expect(resources.has(id)).toBe(true)
    }
  })
})
