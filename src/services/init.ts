import {existsSync, readFileSync} from 'node:fs'
import {mkdir, writeFile} from 'node:fs/promises'
import {homedir} from 'node:os'
import {join} from 'node:path'

import {createAwsClients} from '../adapters/aws.js'
import {stackOutputs} from '../adapters/cloudformation.js'
import {readConfigFile, writeConfigFile} from '../adapters/config-file.js'
import {probeCertificate} from '../adapters/ftp-client.js'
import {probeHostKey} from '../adapters/ssh.js'
import {SqliteStateStore} from '../adapters/state.js'
import {CONFIG_KEYS, type Config, type ConfigKey, DEFAULT_PORTS, type FlatValues, configKeys, isFtp, type SourceProtocol, describeProblem, envVarFor, expandPath, flagFor, flatten, parseValue, pathKeys, resolveConfig, unflatten} from '../core/config.js'
import {CliError, ExitCode, errorMessage, usageError} from '../core/errors.js'
import {knownHostsName, parseKnownHosts, preferredHostKeyTypes} from '../core/host-keys.js'
import type {Prompter} from '../ui/prompter.js'

export interface InitInput {
  configFile: string
  stateDir: string
  /** Values from flags and the environment, flags winning. */
  values: FlatValues
  fromStack?: string
  force: boolean
  prompter?: Prompter
}

export interface InitResult {
  configFile: string
  outcome: 'created' | 'updated' | 'unchanged'
  config: Config
  stateDb: string
}

/** Stack outputs of the infra/ template, and the configuration keys they fill. */
export const STACK_OUTPUTS: Record<string, ConfigKey> = {
  Region: 'target.region',
  TransferServerId: 'target.transferServerId',
  BucketName: 'target.bucket',
  Prefix: 'target.prefix',
  UserRoleArn: 'target.userRoleArn',
  HostedZoneId: 'dns.hostedZoneId',
  RecordName: 'dns.recordName',
}

const HEADER = `# sftp-cutover configuration. Safe to commit: it holds no secrets, only the names of environment variables
# that do. Precedence: flags > SFTP_CUTOVER_* environment variables > this file > defaults.
`

function missingRequired(values: FlatValues): string[] {
  const missing: string[] = configKeys.filter((k) => 'required' in CONFIG_KEYS[k] && CONFIG_KEYS[k].required && values[k] === undefined)
  const protocol = protocolOf(values)
  if (protocol.startsWith('ftps') && values['source.tlsFingerprint'] === undefined && values['source.tlsCaFile'] === undefined) missing.push('source.tlsFingerprint|source.tlsCaFile')
  // FTP logs in with a password only: from source.passwordEnv, or asked for when a command runs.
  if (isFtp(protocol)) return missing
  if (values['source.hostKeyFingerprint'] === undefined && values['source.knownHostsFile'] === undefined) missing.push('source.hostKeyFingerprint|source.knownHostsFile')
  if (values['source.identityFile'] === undefined && values['source.useAgent'] !== true && values['source.passwordEnv'] === undefined) {
    missing.push('source.identityFile|source.useAgent|source.passwordEnv')
  }
  return missing
}

const protocolOf = (values: FlatValues): SourceProtocol => (values['source.protocol'] as SourceProtocol | undefined) ?? 'sftp'
const defaultPort = (values: FlatValues): number => DEFAULT_PORTS[protocolOf(values)] ?? 22

/**
 * FTPS: the certificate the server presents, shown as an SSH host key is, pinned only when the operator confirms it
 * (the self-signed certificate of a legacy box has no CA to check it against); else a fingerprint or a CA file.
 */
async function askCertificate(prompter: Prompter, values: FlatValues): Promise<void> {
  const host = String(values['source.host'])
  const port = Number(values['source.port'] ?? defaultPort(values))
  const seen = await probeCertificate({host, port, protocol: protocolOf(values)}).then(
    (c) => c,
    (err: unknown) => new Error(errorMessage(err)),
  )
  if (!(seen instanceof Error)) {
    const pin = await prompter.confirm({
      message: `${host}:${port} presents a TLS certificate for ${seen.subject} (issued by ${seen.selfSigned ? 'itself: self-signed' : seen.issuer}, valid to ${seen.validTo}), SHA-256 ${seen.fingerprint}. Pin this certificate? Say yes only if the box's administrator confirms this fingerprint`,
      default: false,
    })
    if (pin) {
      values['source.tlsFingerprint'] = seen.fingerprint
      return
    }
  }
  const how = await prompter.select({
    message: `${seen instanceof Error ? `Could not read the certificate of ${host}:${port} (${seen.message}). ` : ''}How should the server's certificate be verified?`,
    choices: [
      {name: 'its SHA-256 fingerprint, from the box\'s administrator', value: 'fingerprint'},
      {name: 'the CA certificate (PEM file) that signed it', value: 'ca'},
    ],
  })
  if (how === 'fingerprint') await ask('source.tlsFingerprint', prompter, values)
  else await ask('source.tlsCaFile', prompter, values)
}

function asFlags(key: string): string {
  return key
    .split('|')
    .map((k) => `--${flagFor(k as ConfigKey)}`)
    .join(' or ')
}

/** What is wrong with a local path as entered (after ~ and ${VAR}), checked at the prompt rather than at first use. */
function pathProblem(key: ConfigKey, value: string, values: FlatValues): string | undefined {
  const expanded = expandPath(value, {home: homedir(), env: process.env})
  if ('error' in expanded) return expanded.error
  if (!existsSync(expanded.value)) return `${expanded.value} does not exist`
  if (key !== 'source.knownHostsFile') return undefined
  const host = String(values['source.host'])
  const port = Number(values['source.port'] ?? 22)
  try {
    if (preferredHostKeyTypes(parseKnownHosts(readFileSync(expanded.value, 'utf8')), host, port).length === 0) return `${expanded.value} has no key for ${knownHostsName(host, port)}`
  } catch (err) {
    return `cannot read ${expanded.value}: ${errorMessage(err)}`
  }
  return undefined
}

async function ask(key: ConfigKey, prompter: Prompter, values: FlatValues, opts: {default?: string} = {}): Promise<void> {
  const raw = await prompter.input({
    message: `${key}: ${CONFIG_KEYS[key].description}`,
    default: opts.default,
    validate: (v) => {
      const probe = resolveConfig({flags: {...values, [key]: parseValue(key, v)}})
      const problem = probe.ok ? undefined : probe.problems.find((p) => p.key === key)
      if (problem) return problem.message
      return (pathKeys.includes(key) && pathProblem(key, v, values)) || true
    },
  })
  values[key] = parseValue(key, raw)
}

/**
 * How the host key is verified: pin the key the server presents on the port given (after the administrator confirms
 * it), a known_hosts file that holds the host, or a fingerprint typed in.
 */
async function askHostKey(prompter: Prompter, values: FlatValues): Promise<void> {
  const host = String(values['source.host'])
  const port = Number(values['source.port'] ?? 22)
  const seen = await probeHostKey(host, port).then(
    (k) => k,
    (err: unknown) => new Error(errorMessage(err)),
  )
  if (!(seen instanceof Error)) {
    const pin = await prompter.confirm({
      message: `${host}:${port} presents ${seen.type} ${seen.fingerprint}. Pin this key? Say yes only if the box's administrator confirms this fingerprint`,
      default: false,
    })
    if (pin) {
      values['source.hostKeyFingerprint'] = seen.fingerprint
      return
    }
  }
  const how = await prompter.select({
    message: `${seen instanceof Error ? `Could not read the host key of ${host}:${port} (${seen.message}). ` : ''}How should the host key be verified?`,
    choices: [
      {name: `a known_hosts file that holds ${knownHostsName(host, port)}`, value: 'known-hosts'},
      {name: 'a fingerprint (SHA256:...) from the box\'s administrator', value: 'fingerprint'},
    ],
  })
  if (how === 'known-hosts') await ask('source.knownHostsFile', prompter, values, {default: '~/.ssh/known_hosts'})
  else await ask('source.hostKeyFingerprint', prompter, values)
}

/** Fills what is missing by asking, or fails naming the flags to pass when asking is not possible. */
async function complete(values: FlatValues, prompter?: Prompter): Promise<void> {
  const missing = missingRequired(values)
  if (missing.length === 0 && !(prompter && protocolOf(values) === 'ftp')) return
  if (!prompter) {
    throw usageError(
      `missing required settings: ${missing.map((m) => m.replace(/\|/g, ' or ')).join(', ')}`,
      [`Pass ${missing.map(asFlags).join(', ')} (or set ${missing.map((m) => envVarFor(m.split('|')[0] as ConfigKey)).join(', ')}).`],
      'INIT_MISSING',
    )
  }
  if (values['source.host'] === undefined) await ask('source.host', prompter, values)
  if (values['source.port'] === undefined) await ask('source.port', prompter, values, {default: String(defaultPort(values))})
  if (values['source.username'] === undefined) await ask('source.username', prompter, values)
  if (isFtp(protocolOf(values))) {
    if (protocolOf(values) === 'ftp') {
      const clear = await prompter.confirm({message: 'source.protocol is ftp: the password and every file cross the network in clear. Read the box over plain FTP anyway?', default: false})
      if (!clear) throw usageError('stopped: plain FTP was not confirmed', ['Run sftp-cutover init --source-protocol ftps if the server offers AUTH TLS.'], 'INIT_CLEARTEXT')
    } else if (values['source.tlsFingerprint'] === undefined && values['source.tlsCaFile'] === undefined) {
      await askCertificate(prompter, values)
    }
    if (values['source.passwordEnv'] === undefined) await ask('source.passwordEnv', prompter, values)
  }
  if (!isFtp(protocolOf(values)) && values['source.hostKeyFingerprint'] === undefined && values['source.knownHostsFile'] === undefined) await askHostKey(prompter, values)
  if (missingRequired(values).includes('source.identityFile|source.useAgent|source.passwordEnv')) {
    const how = await prompter.select({
      message: 'How does sftp-cutover log in to the legacy box?',
      choices: [
        {name: 'a private key file', value: 'key'},
        {name: 'ssh-agent', value: 'agent'},
        {name: 'a password read from an environment variable', value: 'password'},
      ],
    })
    if (how === 'key') await ask('source.identityFile', prompter, values)
    else if (how === 'agent') values['source.useAgent'] = true
    else await ask('source.passwordEnv', prompter, values)
  }
  for (const key of ['target.region', 'target.bucket'] as ConfigKey[]) if (values[key] === undefined) await ask(key, prompter, values)
}

/**
 * Writes sftp-cutover.yaml and creates the state directory. Idempotent: the same input leaves the file as it is.
 * An existing file with other values is replaced only with --force.
 */
export async function initProject(input: InitInput): Promise<InitResult> {
  const values: FlatValues = {...input.values}
  if (input.fromStack) {
    const region = values['target.region']
    if (!region) throw usageError('--from-stack needs the stack\'s region', ['Pass --target-region (or set SFTP_CUTOVER_TARGET_REGION).'], 'INIT_MISSING')
    const aws = createAwsClients({region: String(region), profile: values['target.profile'] as string | undefined, endpoint: values['target.endpoint'] as string | undefined})
    try {
      const outputs = await stackOutputs(aws.cloudformation(), input.fromStack)
      for (const [output, key] of Object.entries(STACK_OUTPUTS)) if (values[key] === undefined && outputs[output] !== undefined) values[key] = parseValue(key, outputs[output])
    } finally {
      aws.destroy()
    }
  }
  await complete(values, input.prompter)
  const resolved = resolveConfig({flags: values})
  if (!resolved.ok) {
    throw usageError(`invalid settings:\n${resolved.problems.map((p) => '  ' + describeProblem(p)).join('\n')}`, ['Correct the values named above.'], 'CONFIG_INVALID')
  }
  const doc = unflatten(Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0))))
  const existing = await readConfigFile(input.configFile).catch(() => undefined)
  let outcome: InitResult['outcome'] = 'created'
  if (existing !== undefined) {
    if (sameValues(existing, doc)) {
      outcome = 'unchanged'
    } else if (!input.force) {
      throw new CliError(`${input.configFile} already exists with other values`, {
        exitCode: ExitCode.usage,
        code: 'CONFIG_EXISTS',
        suggestions: ['Pass --force to replace it, or edit it by hand.'],
      })
    } else {
      outcome = 'updated'
    }
  }
  if (outcome !== 'unchanged') await writeConfigFile(input.configFile, doc, HEADER)
  await mkdir(input.stateDir, {recursive: true})
  // State is per machine and run; keep it out of version control.
  const ignore = join(input.stateDir, '.gitignore')
  if (!existsSync(ignore)) await writeFile(ignore, '*\n')
  const store = new SqliteStateStore(join(input.stateDir, 'state.db'))
  try {
    if (outcome !== 'unchanged') store.audit({action: 'config.write', target: input.configFile, after: doc, outcome: 'ok'})
  } finally {
    store.close()
  }
  return {configFile: input.configFile, outcome, config: resolved.config, stateDb: join(input.stateDir, 'state.db')}
}

function sameValues(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const fa = flatten(a)
  const fb = flatten(b)
  const keys = new Set([...Object.keys(fa), ...Object.keys(fb)])
  return [...keys].every((k) => JSON.stringify(fa[k]) === JSON.stringify(fb[k]))
}
