import {createRequire} from 'node:module'
import type {S3Client} from '@aws-sdk/client-s3'

import type {AwsTarget} from './aws.js'

// Loaded on first use, like the other services' clients (see aws.ts).
const require = createRequire(import.meta.url)

/**
 * The settings every AWS client shares (region, credentials, endpoint override, adaptive retries), and the S3 client
 * on its own: sync and verify need only S3, and loading every service's client (EC2's alone takes half a second)
 * is a cost paid on each run, the final delta included. createAwsClients builds its clients from the same settings.
 */
export function awsClientConfig(target: AwsTarget) {
  return {
    region: target.region,
    ...(target.profile ? {credentials: (require('@aws-sdk/credential-providers') as typeof import('@aws-sdk/credential-providers')).fromNodeProviderChain({profile: target.profile})} : {}),
    ...(target.endpoint ? {endpoint: target.endpoint} : {}),
    maxAttempts: 6,
    retryMode: 'adaptive' as const,
  }
}

/**
 * Marks every error a client's requests end with by the service (`$service`), so that an error the SDK could not
 * parse (an HTML page from a proxy) still says which service failed.
 */
export function tagServiceErrors<C extends {middlewareStack: {add: (...args: never[]) => void}}>(client: C, service: string): C {
  ;(client.middlewareStack as unknown as {add: (mw: unknown, opts: unknown) => void}).add(
    (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
      try {
        return await next(args)
      } catch (err) {
        if (typeof err === 'object' && err !== null && !('$service' in err)) Object.assign(err, {$service: service})
        throw err
      }
    },
    {step: 'initialize', name: 'sftpCutoverServiceTag'},
  )
  return client
}

/** S3 uses path-style addressing whenever its endpoint is overridden, as S3-compatible stores need. */
export function createS3Client(target: AwsTarget, env: NodeJS.ProcessEnv = process.env): S3Client {
  const s3Endpoint = target.s3Endpoint ?? target.endpoint
  const forcePathStyle = Boolean(s3Endpoint || env.AWS_ENDPOINT_URL || env.AWS_ENDPOINT_URL_S3)
  return tagServiceErrors(new (require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3')).S3Client({...awsClientConfig(target), ...(s3Endpoint ? {endpoint: s3Endpoint} : {}), forcePathStyle}), 'S3')
}
