/**
 * The custom resource that gives the template the Transfer server's VPC endpoint (infra/lambda/src/endpoint-lookup.ts),
 * against its own moto (other suites reset the shared one) and a local HTTP server standing in for the pre-signed
 * CloudFormation ResponseURL.
 * moto cannot create a server with EndpointType VPC the way AWS does (AWS creates the endpoint itself), so the test
 * creates an interface endpoint and hands it to the server; the lookup path (DescribeServer, then
 * DescribeVpcEndpoints) is the same.
 */
import {CreateSubnetCommand, CreateVpcCommand, CreateVpcEndpointCommand, EC2Client} from '@aws-sdk/client-ec2'
import {CreateServerCommand, TransferClient} from '@aws-sdk/client-transfer'
import type {CloudFormationCustomResourceEvent} from 'aws-lambda'
import {createServer, type IncomingHttpHeaders, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'

import {handleCustomResource} from '../../infra/lambda/src/endpoint-lookup.js'
import {type MotoPeer, startMoto} from '../peers/moto.js'

interface Reply {
  headers: IncomingHttpHeaders
  body: Record<string, unknown>
}

let moto: MotoPeer
let transfer: TransferClient
let ec2: EC2Client
let responder: Server
let responseUrl: string
const replies: Reply[] = []

beforeAll(async () => {
  moto = await startMoto()
  const config = {endpoint: moto.endpoint, region: 'us-east-1', credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'}}
  transfer = new TransferClient(config)
  ec2 = new EC2Client(config)
  responder = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk))
    request.on('end', () => {
      replies.push({headers: request.headers, body: JSON.parse(body) as Record<string, unknown>})
      response.end()
    })
  })
  await new Promise<void>((resolve) => responder.listen(0, '127.0.0.1', resolve))
  responseUrl = `http://127.0.0.1:${(responder.address() as AddressInfo).port}/cfn-response?X-Amz-Signature=example`
}, 60_000)

afterAll(async () => {
  transfer?.destroy()
  ec2?.destroy()
  responder?.closeAllConnections()
  await new Promise((resolve) => responder?.close(resolve))
  await moto?.stop()
})

beforeEach(() => {
  replies.length = 0
})

function event(requestType: 'Create' | 'Update' | 'Delete', serverId: string): CloudFormationCustomResourceEvent {
  const common = {
    ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:endpoint-lookup',
    ResponseURL: responseUrl,
    StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/sftp/5b6c7a40-0000-4000-8000-000000000000',
    RequestId: `request-${requestType}`,
    LogicalResourceId: 'ServerEndpoint',
    ResourceType: 'Custom::TransferServerEndpoint',
    ResourceProperties: {ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:endpoint-lookup', ServerId: serverId},
  }
  if (requestType === 'Create') return {...common, RequestType: 'Create'}
  if (requestType === 'Update') {
    return {...common, RequestType: 'Update', PhysicalResourceId: 'vpce-old', OldResourceProperties: common.ResourceProperties}
  }
  return {...common, RequestType: 'Delete', PhysicalResourceId: 'vpce-old'}
}

describe('Transfer server endpoint lookup (custom resource)', () => {
  test('answers Create and Update with the endpoint id, its regional DNS name and hosted zone', async () => {
    const {Vpc} = await ec2.send(new CreateVpcCommand({CidrBlock: '10.30.0.0/16'}))
    const {Subnet} = await ec2.send(new CreateSubnetCommand({VpcId: Vpc!.VpcId!, CidrBlock: '10.30.1.0/24'}))
    const {VpcEndpoint} = await ec2.send(
      new CreateVpcEndpointCommand({
        VpcId: Vpc!.VpcId!,
        VpcEndpointType: 'Interface',
        ServiceName: 'com.amazonaws.us-east-1.transfer.server',
        SubnetIds: [Subnet!.SubnetId!],
      }),
    )
    const {ServerId} = await transfer.send(
      new CreateServerCommand({
        EndpointType: 'VPC_ENDPOINT',
        EndpointDetails: {VpcEndpointId: VpcEndpoint!.VpcEndpointId},
        IdentityProviderType: 'SERVICE_MANAGED',
        Protocols: ['SFTP'],
      }),
    )
    const regional = VpcEndpoint!.DnsEntries![0]

    await handleCustomResource(event('Create', ServerId!), {transfer, ec2})
    await handleCustomResource(event('Update', ServerId!), {transfer, ec2})

    const data = {VpcEndpointId: VpcEndpoint!.VpcEndpointId, DnsName: regional.DnsName, DnsHostedZoneId: regional.HostedZoneId}
    expect(replies.map((reply) => reply.body)).toEqual(
      ['Create', 'Update'].map((type) => ({
        Status: 'SUCCESS',
        PhysicalResourceId: VpcEndpoint!.VpcEndpointId,
        Data: data,
        StackId: expect.stringContaining(':stack/sftp/'),
        RequestId: `request-${type}`,
        LogicalResourceId: 'ServerEndpoint',
      })),
    )
    // The pre-signed URL signs no content type, so none is sent.
    expect(replies[0].headers['content-type'] ?? '').toBe('')
  })

  test('answers FAILED with the reason when the server has no VPC endpoint', async () => {
    const {ServerId} = await transfer.send(new CreateServerCommand({EndpointType: 'PUBLIC', IdentityProviderType: 'SERVICE_MANAGED'}))

    await handleCustomResource(event('Create', ServerId!), {transfer, ec2, attempts: 2, delayMs: 10})

    expect(replies.map((reply) => reply.body)).toEqual([
      expect.objectContaining({
        Status: 'FAILED',
        PhysicalResourceId: 'ServerEndpoint',
        Reason: `server ${ServerId} has no VPC endpoint with DNS entries yet`,
      }),
    ])
  })

  test('answers Delete with SUCCESS without calling AWS (nothing to clean up)', async () => {
    const refuse = {
      send: async (): Promise<never> => {
        throw new Error('no AWS call expected on Delete')
      },
    }

    await handleCustomResource(event('Delete', 's-0123456789abcdef0'), {transfer: refuse, ec2: refuse})

    expect(replies.map((reply) => reply.body)).toEqual([expect.objectContaining({Status: 'SUCCESS', PhysicalResourceId: 'vpce-old'})])
  })
})
