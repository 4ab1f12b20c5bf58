import {createRequire} from 'node:module'
import type {CloudFormationClient} from '@aws-sdk/client-cloudformation'
import type {EC2Client} from '@aws-sdk/client-ec2'
import type {EFSClient} from '@aws-sdk/client-efs'
import type {Route53Client} from '@aws-sdk/client-route-53'
import type {S3Client} from '@aws-sdk/client-s3'
import type {STSClient} from '@aws-sdk/client-sts'
import type {TransferClient} from '@aws-sdk/client-transfer'

import {awsClientConfig, createS3Client, tagServiceErrors} from './aws-s3.js'

// Each service's SDK package is loaded when its client is first made, not when a command starts: together they take
// most of a second to load, and a command uses two or three of them. (Node loads the SDK's CommonJS build for
// `import` as well, so require() gives the same modules the adapters import.)
const require = createRequire(import.meta.url)

/** Where and as whom to reach AWS (the target.* configuration). */
export interface AwsTarget {
  region: string
  profile?: string
  /** Overrides every service's endpoint (stand-ins, S3-compatible stores). AWS_ENDPOINT_URL works too: the SDK reads it. */
  endpoint?: string
  /** Overrides the S3 endpoint alone, when S3 is served apart from the control plane. */
  s3Endpoint?: string
}

export interface AwsClients {
  s3(): S3Client
  transfer(): TransferClient
  route53(): Route53Client
  ec2(): EC2Client
  efs(): EFSClient
  sts(): STSClient
  cloudformation(): CloudFormationClient
  destroy(): void
}

/**
 * One factory for every AWS client: the SDK's default credential chain (or the named profile), the region and the
 * endpoint overrides. S3 uses path-style addressing whenever its endpoint is overridden, as S3-compatible stores need.
 */
export function createAwsClients(target: AwsTarget, env: NodeJS.ProcessEnv = process.env): AwsClients {
  const common = awsClientConfig(target)
  const made = new Map<string, {destroy(): void}>()
  const once = <T extends {destroy(): void}>(name: string, make: () => T): (() => T) => () => {
    let client = made.get(name) as T | undefined
    if (!client) {
      client = make()
      made.set(name, client)
    }
    return client
  }
  return {
    s3: once('s3', () => createS3Client(target, env)),
    transfer: once('transfer', () => tagServiceErrors(new (require('@aws-sdk/client-transfer') as typeof import('@aws-sdk/client-transfer')).TransferClient(common), 'Transfer')),
    route53: once('route53', () => tagServiceErrors(new (require('@aws-sdk/client-route-53') as typeof import('@aws-sdk/client-route-53')).Route53Client(common), 'Route 53')),
    ec2: once('ec2', () => tagServiceErrors(new (require('@aws-sdk/client-ec2') as typeof import('@aws-sdk/client-ec2')).EC2Client(common), 'EC2')),
    efs: once('efs', () => tagServiceErrors(new (require('@aws-sdk/client-efs') as typeof import('@aws-sdk/client-efs')).EFSClient(common), 'EFS')),
    sts: once('sts', () => tagServiceErrors(new (require('@aws-sdk/client-sts') as typeof import('@aws-sdk/client-sts')).STSClient(common), 'STS')),
    cloudformation: once('cloudformation', () => tagServiceErrors(new (require('@aws-sdk/client-cloudformation') as typeof import('@aws-sdk/client-cloudformation')).CloudFormationClient(common), 'CloudFormation')),
    destroy: () => {
      for (const c of made.values()) c.destroy()
      made.clear()
    },
  }
}
