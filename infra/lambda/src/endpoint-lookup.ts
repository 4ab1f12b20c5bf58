import {DescribeVpcEndpointsCommand, EC2Client} from '@aws-sdk/client-ec2'
import {DescribeServerCommand, TransferClient} from '@aws-sdk/client-transfer'
import type {CloudFormationCustomResourceEvent} from 'aws-lambda'

// CloudFormation has no attribute for the VPC endpoint that a Transfer server with EndpointType VPC creates
// (cloudformation-coverage-roadmap#1314): this custom resource reads it from DescribeServer and returns the
// endpoint id, its regional DNS name and that name's hosted zone (what a Route 53 alias record needs).

export interface EndpointInfo {
  VpcEndpointId: string
  DnsName: string
  DnsHostedZoneId: string
}

export interface LookupDeps {
  transfer: Pick<TransferClient, 'send'>
  ec2: Pick<EC2Client, 'send'>
  // The endpoint can still be provisioning right after the server is created.
  attempts?: number
  delayMs?: number
}

export async function lookupEndpoint(serverId: string, deps: LookupDeps): Promise<EndpointInfo> {
  const attempts = deps.attempts ?? 30
  for (let attempt = 1; ; attempt++) {
    const {Server} = await deps.transfer.send(new DescribeServerCommand({ServerId: serverId}))
    const endpointId = Server?.EndpointDetails?.VpcEndpointId
    if (endpointId) {
      const {VpcEndpoints} = await deps.ec2.send(new DescribeVpcEndpointsCommand({VpcEndpointIds: [endpointId]}))
      // The first entry is the regional name; the others are per-AZ names.
      const regional = VpcEndpoints?.[0]?.DnsEntries?.[0]
      if (regional?.DnsName && regional.HostedZoneId) {
        return {VpcEndpointId: endpointId, DnsName: regional.DnsName, DnsHostedZoneId: regional.HostedZoneId}
      }
    }
    if (attempt >= attempts) throw new Error(`server ${serverId} has no VPC endpoint with DNS entries yet`)
    await new Promise((resolve) => setTimeout(resolve, deps.delayMs ?? 10_000))
  }
}

// Answers CloudFormation through the pre-signed ResponseURL (what the cfn-response module does).
export async function handleCustomResource(event: CloudFormationCustomResourceEvent, deps: LookupDeps): Promise<void> {
  const previousId = event.RequestType === 'Create' ? event.LogicalResourceId : event.PhysicalResourceId
  let response: {Status: 'SUCCESS' | 'FAILED'; PhysicalResourceId: string; Reason?: string; Data?: EndpointInfo}
  if (event.RequestType === 'Delete') {
    response = {Status: 'SUCCESS', PhysicalResourceId: previousId}
  } else {
    try {
      const data = await lookupEndpoint(String(event.ResourceProperties.ServerId), deps)
      response = {Status: 'SUCCESS', PhysicalResourceId: data.VpcEndpointId, Data: data}
    } catch (error) {
      response = {Status: 'FAILED', PhysicalResourceId: previousId, Reason: (error as Error).message}
    }
  }
  const body = JSON.stringify({
    ...response,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  })
  // The pre-signed URL does not sign a content type: send none.
  const reply = await fetch(event.ResponseURL, {method: 'PUT', body, headers: {'content-type': ''}})
  if (!reply.ok) throw new Error(`CloudFormation response was refused: HTTP ${reply.status}`)
}

let clients: LookupDeps | undefined

export async function handler(event: CloudFormationCustomResourceEvent): Promise<void> {
  clients ??= {transfer: new TransferClient({}), ec2: new EC2Client({})}
  await handleCustomResource(event, clients)
}
