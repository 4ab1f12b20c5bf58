/** For tests: the description of the peers started by global-setup.ts (plain data, no handles). */
import {readFileSync} from 'node:fs'

import type {PeersInfo} from './types.js'

export type * from './types.js'

/** Environment variable naming the JSON file that global-setup.ts (or run.ts) wrote. */
export const PEERS_ENV = 'SFTP_CUTOVER_PEERS'

let cached: {file: string; info: PeersInfo} | undefined

/** Reads the peers' description named by $SFTP_CUTOVER_PEERS. */
export function loadPeers(): PeersInfo {
  const file = process.env[PEERS_ENV]
  if (!file) {
    throw new Error(
      `${PEERS_ENV} is not set: integration tests get their peers from the jest globalSetup (test/peers/global-setup.ts); ` +
        'run them with `jest --selectProjects integration`',
    )
  }
  if (cached?.file !== file) cached = {file, info: JSON.parse(readFileSync(file, 'utf8')) as PeersInfo}
  return cached.info
}

/** Settings for an AWS SDK v3 client against a peer (forcePathStyle matters to S3 only; others ignore it). */
export interface PeerClientConfig {
  endpoint: string
  region: 'us-east-1'
  forcePathStyle: boolean
  credentials: {accessKeyId: string; secretAccessKey: string}
}

/** Client settings for an AWS SDK v3 client against moto (any credentials, us-east-1, path-style S3). */
export function motoClientConfig(info: PeersInfo = loadPeers()): PeerClientConfig {
  return {endpoint: info.moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'}}
}

/** S3 client settings for versitygw (path-style). */
export function versitygwClientConfig(info: PeersInfo = loadPeers()): PeerClientConfig {
  const v = info.versitygw
  return {endpoint: v.endpoint, region: v.region, forcePathStyle: true, credentials: {accessKeyId: v.accessKey, secretAccessKey: v.secretKey}}
}
