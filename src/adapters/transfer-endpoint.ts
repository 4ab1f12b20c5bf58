import {DescribeVpcEndpointsCommand} from '@aws-sdk/client-ec2'
import {DescribeServerCommand} from '@aws-sdk/client-transfer'

import type {AwsClients} from './aws.js'
import {CliError, ExitCode} from '../core/errors.js'

/** What a Route 53 alias record to the Transfer server's interface VPC endpoint needs. */
export interface ServerEndpoint {
  vpcEndpointId: string
  dnsName: string
  hostedZoneId: string
}

/**
 * The Transfer server's VPC endpoint and its regional DNS name: DescribeServer (or the configured endpoint id), then
 * EC2 DescribeVpcEndpoints, whose first DNS entry is the regional name (the others are per availability zone).
 */
export async function findServerEndpoint(aws: AwsClients, serverId: string | undefined, vpcEndpointId?: string): Promise<ServerEndpoint> {
  let id = vpcEndpointId
  if (!id) {
    if (!serverId) throw new CliError('target.transferServerId is not set', {exitCode: ExitCode.usage, code: 'NO_SERVER', suggestions: ['Set target.transferServerId or cutover.vpcEndpointId.']})
    const {Server} = await aws.transfer().send(new DescribeServerCommand({ServerId: serverId}))
    id = Server?.EndpointDetails?.VpcEndpointId
    if (!id) {
      throw new CliError(`server ${serverId} has no VPC endpoint (endpoint type ${Server?.EndpointType ?? 'unknown'})`, {
        code: 'NO_ENDPOINT',
        suggestions: ['Use a server with EndpointType VPC (the infra/ template), or set cutover.vpcEndpointId.'],
      })
    }
  }
  const {VpcEndpoints} = await aws.ec2().send(new DescribeVpcEndpointsCommand({VpcEndpointIds: [id]}))
  const regional = VpcEndpoints?.[0]?.DnsEntries?.[0]
  if (!regional?.DnsName || !regional.HostedZoneId) {
    throw new CliError(`VPC endpoint ${id} has no DNS entry yet`, {code: 'NO_ENDPOINT_DNS', suggestions: ['Wait until the endpoint is available, then run again.']})
  }
  return {vpcEndpointId: id, dnsName: regional.DnsName, hostedZoneId: regional.HostedZoneId}
}
