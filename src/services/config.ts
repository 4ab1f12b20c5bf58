import {homedir} from 'node:os'

import {readConfigFile} from '../adapters/config-file.js'
import {type Config, type FlatValues, describeProblem, flatten, resolveConfig, valuesFromEnv} from '../core/config.js'
import {usageError} from '../core/errors.js'

/** Loads the project configuration: flags > SFTP_CUTOVER_* environment > sftp-cutover.yaml > defaults. */
export async function loadConfig(configFile: string, flags: FlatValues = {}, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const file = await readConfigFile(configFile)
  const given = Object.values({...valuesFromEnv(env), ...flags}).filter((v) => v !== undefined)
  if (file === undefined && given.length === 0) {
    throw usageError(`no configuration: ${configFile} does not exist`, ['Run sftp-cutover init in the project directory, or pass --config PATH.'], 'NO_CONFIG')
  }
  const result = resolveConfig({file: file ? flatten(file) : {}, env: valuesFromEnv(env), flags, expand: {home: homedir(), env}})
  if (!result.ok) {
    throw usageError(
      `invalid configuration:\n${result.problems.map((p) => '  ' + describeProblem(p, configFile)).join('\n')}`,
      ['Correct the values named above.'],
      'CONFIG_INVALID',
    )
  }
  return result.config
}
