import {Flags} from '@oclif/core'

import type {FlatValues} from './core/config.js'

/** --region, --profile and --endpoint: override target.region, target.profile and target.endpoint for one run. */
export const awsFlags = {
  region: Flags.string({summary: 'AWS region (overrides target.region).', helpGroup: 'AWS'}),
  profile: Flags.string({summary: 'AWS profile (overrides target.profile).', helpGroup: 'AWS'}),
  endpoint: Flags.string({summary: 'AWS endpoint URL (overrides target.endpoint), for stand-ins and S3-compatible stores.', helpGroup: 'AWS'}),
}

export function awsOverrides(flags: {region?: string; profile?: string; endpoint?: string}): FlatValues {
  return {'target.region': flags.region, 'target.profile': flags.profile, 'target.endpoint': flags.endpoint}
}
