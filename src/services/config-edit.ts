import {homedir} from 'node:os'

import {readConfigFile, updateConfigFile} from '../adapters/config-file.js'
import {CONFIG_KEYS, type ConfigKey, configKeys, describeProblem, flatten, parseValue, resolveConfig, valuesFromEnv, envVarFor} from '../core/config.js'
import {usageError} from '../core/errors.js'

export interface ConfigValue {
  key: ConfigKey
  /** what sftp-cutover.yaml holds (undefined: not set there) */
  file?: unknown
  /** what the commands use: the file, overridden by the SFTP_CUTOVER_* variable, or the default */
  effective?: unknown
  origin: 'file' | 'env' | 'default' | 'not set'
}

function checkKey(key: string): ConfigKey {
  if (!(key in CONFIG_KEYS)) throw usageError(`unknown setting "${key}"`, [`Use one of: ${configKeys.join(', ')}.`], 'UNKNOWN_KEY')
  return key as ConfigKey
}

async function readFlat(configFile: string): Promise<Record<string, unknown>> {
  const file = await readConfigFile(configFile)
  if (file === undefined) throw usageError(`no configuration: ${configFile} does not exist`, ['Run sftp-cutover init in the project directory, or pass --config PATH.'], 'NO_CONFIG')
  return flatten(file)
}

/** One setting: as written in the file and as the commands see it. */
export async function getSetting(configFile: string, rawKey: string, env: NodeJS.ProcessEnv): Promise<ConfigValue> {
  const key = checkKey(rawKey)
  const file = await readFlat(configFile)
  const envValues = valuesFromEnv(env)
  const resolved = resolveConfig({file, env: envValues, expand: {home: homedir(), env}})
  const [section, name] = key.split('.')
  const effective = resolved.ok ? (resolved.config as unknown as Record<string, Record<string, unknown>>)[section]?.[name] : (envValues[key] ?? file[key])
  const origin = envValues[key] !== undefined ? 'env' : file[key] !== undefined ? 'file' : effective !== undefined ? 'default' : 'not set'
  return {key, file: file[key], effective, origin}
}

/**
 * Changes one setting in sftp-cutover.yaml (undefined removes it), validated with the same schema as the whole
 * file: an invalid value or a removed required key is refused and nothing is written.
 */
export async function changeSetting(configFile: string, rawKey: string, raw: string | undefined, env: NodeJS.ProcessEnv): Promise<ConfigValue & {changed: boolean}> {
  const key = checkKey(rawKey)
  const file = await readFlat(configFile)
  const value = raw === undefined ? undefined : parseValue(key, raw)
  const next = {...file, [key]: value}
  const result = resolveConfig({file: next, fileName: configFile, expand: {home: homedir(), env}})
  if (!result.ok) {
    throw usageError(
      `${raw === undefined ? `cannot remove ${key}` : `cannot set ${key}`}:\n${result.problems.map((p) => '  ' + describeProblem(p, configFile)).join('\n')}`,
      [raw === undefined ? `${key} is needed; set another value instead: sftp-cutover config set ${key} VALUE.` : `Give ${key} a value as described above.`],
      'CONFIG_INVALID',
    )
  }
  const changed = JSON.stringify(file[key]) !== JSON.stringify(value)
  if (changed) await updateConfigFile(configFile, key.split('.') as [string, string], value)
  const after = await getSetting(configFile, key, env)
  if (after.origin === 'env') after.effective = `${JSON.stringify(after.effective)} (${envVarFor(key)} overrides the file)`
  return {...after, changed}
}
