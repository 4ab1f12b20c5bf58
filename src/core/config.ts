import {z} from 'zod'

import {USER_NAME_PATTERN} from './transfer-rules.js'

/**
 * The configuration: one schema for sftp-cutover.yaml, SFTP_CUTOVER_* environment variables and flags.
 * Precedence: flags > environment > file > defaults. Pure: reading and writing the file is the adapter's job.
 */

const fingerprint = z
  .string()
  .regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'must be an OpenSSH SHA-256 fingerprint: SHA256: followed by 43 base64 characters, as printed by ssh-keygen -lf')
/** SHA-256 of a TLS certificate as openssl and Node print it (AB:CD:...), colons optional, any case. */
const certFingerprint = z
  .string()
  .transform((v) => v.trim().replace(/^SHA256[:=]\s*/i, ''))
  .refine((v) => /^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/.test(v) || /^[0-9A-Fa-f]{64}$/.test(v), 'must be the SHA-256 fingerprint of the certificate: 64 hex digits, colons optional, as printed by openssl x509 -noout -fingerprint -sha256')
  .transform((v) => v.replace(/:/g, '').toUpperCase().replace(/(..)(?!$)/g, '$1:'))
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the NAME of an environment variable (letters, digits, _), not a secret value')
const absolutePath = z.string().regex(/^\//, 'must be an absolute path starting with /')
const url = z.string().regex(/^https?:\/\/[^\s/]+(\/.*)?$/, 'must be an http(s) URL such as http://127.0.0.1:5000')

// S3 general purpose bucket naming rules (3-63 chars, lower case, no IP form, no "xn--" prefix, no "..").
const bucketName = z
  .string()
  .regex(
    /^(?!xn--|sthree-|amzn-s3-demo-)(?!.*\.\.)(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
    'must be a valid S3 bucket name: 3-63 characters, lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit',
  )
  .refine((v) => !v.endsWith('-s3alias') && !v.endsWith('--ol-s3'), 'must not end with "-s3alias" or "--ol-s3"')

const prefix = z
  .string()
  .regex(/^(?!\/)(?!.*\/\/)[^\\]*$/, 'must be a relative S3 key prefix such as "migrated" or "sftp/prod" (no leading slash, no "//")')
  .transform((v) => v.replace(/\/+$/, ''))

/** How the legacy box is read: SFTP, or FTP in clear, with explicit TLS (AUTH TLS) or with implicit TLS. */
export const SOURCE_PROTOCOLS = ['sftp', 'ftp', 'ftps', 'ftps-implicit'] as const
export type SourceProtocol = (typeof SOURCE_PROTOCOLS)[number]
export const DEFAULT_PORTS: Record<SourceProtocol, number> = {sftp: 22, ftp: 21, ftps: 21, 'ftps-implicit': 990}
export const isFtp = (p: SourceProtocol): boolean => p !== 'sftp'

/**
 * Where inventory reads the accounts of an FTP source over SSH (FTP cannot list accounts): source.sshHost and
 * source.sshPort, by default the same host on port 22. The login and the host key rules are source.*'s.
 */
export function accountsSshTarget<T extends Config['source']>(source: T): T {
  return {...source, host: source.sshHost ?? source.host, port: source.sshPort ?? 22}
}

/** The port of the sshd the accounts are read from (the collect script): source.port, or source.sshPort for an FTP box. */
export const accountsSshPort = (source: Config['source']): number => (isFtp(source.protocol) ? accountsSshTarget(source).port : source.port)

/**
 * The SSH login that runs commands on the box (cutover.freezeCommand, cutover.unfreezeCommand): source.* for an SFTP
 * box; for an FTP box, the SSH server at source.sshHost/sshPort, or none when it is not set.
 */
export function commandSshTarget<T extends Config['source']>(source: T): T | undefined {
  if (!isFtp(source.protocol)) return source
  return source.sshHost === undefined ? undefined : accountsSshTarget(source)
}

export const configSchema = z
  .object({
    source: z
      .object({
        protocol: z.enum(SOURCE_PROTOCOLS, {message: `must be one of ${SOURCE_PROTOCOLS.join(', ')}`}).default('sftp'),
        host: z.string().min(1, 'must not be empty'),
        port: z.number().int('must be a whole number').min(1, 'must be from 1 to 65535').max(65535, 'must be from 1 to 65535').optional(),
        username: z.string().min(1, 'must not be empty'),
        identityFile: z.string().min(1).optional(),
        identityPassphraseEnv: envName.optional(),
        useAgent: z.boolean().default(false),
        passwordEnv: envName.optional(),
        hostKeyFingerprint: fingerprint.optional(),
        knownHostsFile: z.string().min(1).optional(),
        tlsCaFile: z.string().min(1).optional(),
        tlsFingerprint: certFingerprint.optional(),
        roots: z.array(absolutePath).default([]),
        sshHost: z.string().min(1, 'must not be empty').optional(),
        sshPort: z.number().int('must be a whole number').min(1, 'must be from 1 to 65535').max(65535, 'must be from 1 to 65535').optional(),
      })
      .strict()
      .refine((s) => s.protocol !== 'sftp' || s.hostKeyFingerprint !== undefined || s.knownHostsFile !== undefined, {
        message: 'needs source.hostKeyFingerprint or source.knownHostsFile: the host key is always verified',
        path: ['hostKeyFingerprint'],
      })
      .refine((s) => !s.protocol.startsWith('ftps') || s.tlsFingerprint !== undefined || s.tlsCaFile !== undefined, {
        message: 'needs source.tlsFingerprint or source.tlsCaFile: the server\'s certificate is always verified',
        path: ['tlsFingerprint'],
      })
      .refine((s) => s.protocol.startsWith('ftps') || (s.tlsFingerprint === undefined && s.tlsCaFile === undefined), {
        message: 'applies only to source.protocol ftps or ftps-implicit (TLS)',
        path: ['tlsFingerprint'],
      })
      .transform((s) => ({...s, port: s.port ?? DEFAULT_PORTS[s.protocol]})),
    target: z
      .object({
        region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be an AWS region code such as eu-west-1'),
        profile: z.string().min(1).optional(),
        endpoint: url.optional(),
        s3Endpoint: url.optional(),
        transferServerId: z.string().regex(/^s-[0-9a-f]{17}$/, 'must be a Transfer Family server id: s- followed by 17 hex digits').optional(),
        bucket: bucketName,
        prefix: prefix.default(''),
        userRoleArn: z
          .string()
          .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, 'must be an IAM role ARN: arn:aws:iam::<12-digit account>:role/<name>')
          .optional(),
        kmsKeyId: z.string().min(1).optional(),
        replicaBucket: bucketName.optional(),
        replicaRegion: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be an AWS region code such as eu-central-1').optional(),
      })
      .strict(),
    efs: z.object({path: absolutePath.optional()}).strict().default({}),
    dns: z
      .object({
        hostedZoneId: z
          .string()
          .regex(/^(\/hostedzone\/)?[A-Z0-9]{1,32}$/, 'must be a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ (upper-case letters and digits)')
          .transform((v) => v.replace(/^\/hostedzone\//, ''))
          .optional(),
        recordName: z
          .string()
          .regex(/^(?=.{1,253}\.?$)([a-zA-Z0-9_]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}\.?$/, 'must be a DNS name such as sftp.example.internal')
          .optional(),
      })
      .strict()
      .default({}),
    cutover: z
      .object({
        canaryUser: z.string().regex(USER_NAME_PATTERN, 'must be a Transfer Family user name (3-100 characters: letters, digits, _ @ . -)').optional(),
        canaryIdentityFile: z.string().min(1).optional(),
        endpointHost: z.string().min(1).optional(),
        endpointPort: z.number().int('must be a whole number').min(1, 'must be from 1 to 65535').max(65535, 'must be from 1 to 65535').default(22),
        vpcEndpointId: z.string().regex(/^vpce-[0-9a-f]{8,17}$/, 'must be a VPC endpoint id: vpce- followed by hex digits').optional(),
        freezeCommand: z.string().min(1).optional(),
        unfreezeCommand: z.string().min(1).optional(),
        efsWaitSeconds: z.number().int('must be a whole number').min(0, 'must be 0 or more').max(3600, 'must be at most 3600').default(0),
        sshdLog: absolutePath.optional(),
      })
      .strict()
      .default({endpointPort: 22, efsWaitSeconds: 0}),
  })
  .strict()

export type Config = z.output<typeof configSchema>

type Kind = 'string' | 'int' | 'bool' | 'list'

/** Every key, with its kind (to read it from a string) and a one-line description (flags, prompts, docs). */
export const CONFIG_KEYS = {
  'source.host': {kind: 'string', required: true, description: 'legacy SFTP server host name or address'},
  'source.port': {kind: 'int', description: 'legacy server port (default 22 for sftp, 21 for ftp and ftps, 990 for ftps-implicit)'},
  'source.protocol': {kind: 'string', description: 'how the legacy box is read: sftp (default), ftp (password in clear), ftps (explicit TLS) or ftps-implicit'},
  'source.username': {kind: 'string', required: true, description: 'login used to read the legacy box'},
  'source.identityFile': {kind: 'string', path: true, description: 'private key file for the login'},
  'source.identityPassphraseEnv': {kind: 'string', description: 'name of the environment variable holding the key passphrase'},
  'source.useAgent': {kind: 'bool', description: 'authenticate with ssh-agent (SSH_AUTH_SOCK)'},
  'source.passwordEnv': {kind: 'string', description: 'name of the environment variable holding the login password'},
  'source.hostKeyFingerprint': {kind: 'string', description: 'pinned host key fingerprint (SHA256:...)'},
  'source.knownHostsFile': {kind: 'string', path: true, description: 'known_hosts file used to verify the host key'},
  'source.tlsCaFile': {kind: 'string', path: true, description: 'FTPS: CA certificate file (PEM) that signed the server\'s certificate'},
  'source.tlsFingerprint': {kind: 'string', description: 'FTPS: pinned SHA-256 fingerprint of the server\'s certificate (AB:CD:...)'},
  'source.roots': {kind: 'list', description: 'paths to migrate, comma-separated (default: the users\' homes)'},
  'source.sshHost': {kind: 'string', description: 'FTP sources: the SSH server inventory reads the accounts from (default source.host)'},
  'source.sshPort': {kind: 'int', description: 'FTP sources: port of that SSH server (default 22)'},
  'target.region': {kind: 'string', required: true, description: 'AWS region'},
  'target.profile': {kind: 'string', description: 'AWS profile (default credential chain when absent)'},
  'target.endpoint': {kind: 'string', description: 'AWS endpoint override, for stand-ins and S3-compatible stores'},
  'target.s3Endpoint': {kind: 'string', description: 'S3 endpoint override when S3 is served apart from the other services'},
  'target.transferServerId': {kind: 'string', description: 'AWS Transfer Family server id (s-...)'},
  'target.bucket': {kind: 'string', required: true, description: 'S3 bucket behind the Transfer server'},
  'target.prefix': {kind: 'string', description: 'key prefix in the bucket under which home/<user>/ lives'},
  'target.userRoleArn': {kind: 'string', description: 'IAM role the Transfer users assume'},
  'target.kmsKeyId': {kind: 'string', description: 'KMS key for SSE-KMS (SSE-S3 when absent)'},
  'target.replicaBucket': {kind: 'string', description: 'cross-region replica bucket verify --replica checks (default: the destination of the bucket\'s replication rule)'},
  'target.replicaRegion': {kind: 'string', description: 'region of the replica bucket (default: where S3 says it is)'},
  'efs.path': {kind: 'string', path: true, description: 'mounted EFS directory the Lambda copies into'},
  'dns.hostedZoneId': {kind: 'string', description: 'Route 53 private hosted zone id'},
  'dns.recordName': {kind: 'string', description: 'record clients connect to, e.g. sftp.example.internal'},
  'cutover.canaryUser': {kind: 'string', description: 'Transfer user the smoke test logs in as'},
  'cutover.canaryIdentityFile': {kind: 'string', path: true, description: 'private key of the canary user'},
  'cutover.endpointHost': {kind: 'string', description: 'host the smoke test connects to (default: dns.recordName)'},
  'cutover.endpointPort': {kind: 'int', description: 'port of the new endpoint (default 22)'},
  'cutover.vpcEndpointId': {kind: 'string', description: 'VPC endpoint of the Transfer server (found through DescribeServer when absent)'},
  'cutover.freezeCommand': {kind: 'string', description: 'command run on the legacy box (over SSH) to freeze writes at cutover'},
  'cutover.unfreezeCommand': {kind: 'string', description: 'command run on the legacy box to undo the freeze at rollback'},
  'cutover.efsWaitSeconds': {kind: 'int', description: 'how long the smoke test waits for the canary on efs.path (0: do not wait)'},
  'cutover.sshdLog': {kind: 'string', description: 'the legacy sshd\'s log file, read by cutover stragglers (default: the journal, /var/log/auth.log or /var/log/secure)'},
} as const satisfies Record<string, {kind: Kind; required?: boolean; path?: boolean; description: string}>

export type ConfigKey = keyof typeof CONFIG_KEYS
export const configKeys = Object.keys(CONFIG_KEYS) as ConfigKey[]

/** source.identityFile -> SFTP_CUTOVER_SOURCE_IDENTITY_FILE */
export function envVarFor(key: ConfigKey): string {
  return 'SFTP_CUTOVER_' + key.replace(/\./g, '_').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()
}

/** The command that changes one setting in the project's sftp-cutover.yaml, for fixes to name. */
export function configSetHint(key: ConfigKey, value: string): string {
  return `sftp-cutover config set ${key} ${/^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`}`
}

/** source.identityFile -> source-identity-file (the init flag) */
export function flagFor(key: ConfigKey): string {
  return key.replace(/\./g, '-').replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase()
}

export type Origin = 'flag' | 'env' | 'file' | 'default'
export type FlatValues = Partial<Record<ConfigKey, unknown>>

/** Reads a string (from the environment or a flag) as the key's kind; leaves it as is when it does not parse so the schema reports it. */
export function parseValue(key: ConfigKey, raw: string): unknown {
  const kind: Kind = CONFIG_KEYS[key].kind
  switch (kind) {
    case 'int':
      return /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw
    case 'bool': {
      const v = raw.trim().toLowerCase()
      if (['1', 'true', 'yes', 'on'].includes(v)) return true
      if (['0', 'false', 'no', 'off'].includes(v)) return false
      return raw
    }
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter(Boolean)
    default:
      return raw
  }
}

export function valuesFromEnv(env: NodeJS.ProcessEnv): FlatValues {
  const out: FlatValues = {}
  for (const key of configKeys) {
    const raw = env[envVarFor(key)]
    if (raw !== undefined && raw !== '') out[key] = parseValue(key, raw)
  }
  return out
}

/** Flattens a nested object read from YAML; keys not in the schema are kept so that the schema names them. */
export function flatten(doc: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (doc === null || typeof doc !== 'object') return out
  for (const [section, body] of Object.entries(doc as Record<string, unknown>)) {
    if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
      for (const [k, v] of Object.entries(body as Record<string, unknown>)) out[`${section}.${k}`] = v
    } else {
      out[section] = body
    }
  }
  return out
}

export function unflatten(values: Record<string, unknown>): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {}
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue
    const [section, ...rest] = key.split('.')
    if (rest.length === 0) {
      ;(out as Record<string, unknown>)[section] = value
      continue
    }
    out[section] ??= {}
    out[section][rest.join('.')] = value
  }
  return out
}

export interface Layers {
  file?: Record<string, unknown>
  env?: FlatValues
  flags?: FlatValues
  fileName?: string
  /** Expands ~ and ${VAR} in local path settings, as OpenSSH does for IdentityFile (absent: taken as written). */
  expand?: {home: string; env: NodeJS.ProcessEnv}
}

/** Local path settings: ~ and ${VAR} are expanded in them. */
export const pathKeys = configKeys.filter((k) => (CONFIG_KEYS[k] as {path?: boolean}).path)

/** "~/x" -> home/x, "${VAR}" -> its value, as OpenSSH expands IdentityFile; an unset variable is an error. */
export function expandPath(value: string, expand: NonNullable<Layers['expand']>): {value: string} | {error: string} {
  let out = value.replace(/^~(?=\/|$)/, expand.home)
  const unset: string[] = []
  out = out.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
    const v = expand.env[name]
    if (v === undefined) unset.push(name)
    return v ?? ''
  })
  if (/^~[^/]/.test(value)) return {error: 'only ~ and ~/ are expanded (the home of this user), not ~user'}
  return unset.length ? {error: `names the environment variable ${unset.join(', ')}, which is not set`} : {value: out}
}

export interface ConfigProblem {
  key: string
  value: unknown
  origin: Origin
  message: string
}

export type ConfigResult = {ok: true; config: Config; origins: Record<string, Origin>} | {ok: false; problems: ConfigProblem[]}

/** Merges the layers (flags > env > file) and validates once; problems name the key, the value, where it came from and what is allowed. */
export function resolveConfig(layers: Layers): ConfigResult {
  const merged: Record<string, unknown> = {}
  const origins: Record<string, Origin> = {}
  const apply = (values: Record<string, unknown> | undefined, origin: Origin) => {
    for (const [k, v] of Object.entries(values ?? {})) {
      if (v === undefined) continue
      merged[k] = v
      origins[k] = origin
    }
  }
  apply(layers.file, 'file')
  apply(layers.env, 'env')
  apply(layers.flags, 'flag')
  const expanded: ConfigProblem[] = []
  for (const key of Object.keys(merged)) {
    const value = merged[key]
    if (typeof value !== 'string' || !(key in CONFIG_KEYS)) continue
    // YAML reads port: "42757" as text: a quoted whole number is the number, with the same range check
    if (CONFIG_KEYS[key as ConfigKey].kind === 'int') merged[key] = parseValue(key as ConfigKey, value)
    if (layers.expand && pathKeys.includes(key as ConfigKey)) {
      const r = expandPath(value, layers.expand)
      if ('error' in r) expanded.push({key, value, origin: origins[key], message: r.error})
      else merged[key] = r.value
    }
  }
  if (expanded.length > 0) return {ok: false, problems: expanded}
  const parsed = configSchema.safeParse(unflatten(merged))
  if (parsed.success) return {ok: true, config: parsed.data, origins}
  const problems = parsed.error.issues.map((issue) => {
    // Keys are two levels deep (section.key); an issue inside a list names the key that holds it.
    let key = issue.path.slice(0, 2).map(String).join('.')
    let message = issue.message
    if (issue.code === 'unrecognized_keys') {
      const parent = key
      key = issue.keys.map((k) => (parent ? `${parent}.${k}` : k)).join(', ')
      const allowed = parent ? configKeys.filter((k) => k.startsWith(parent + '.')) : ['source', 'target', 'efs', 'dns', 'cutover']
      message = `unknown key; allowed keys${parent ? ` in ${parent}` : ''}: ${allowed.join(', ')}`
    } else if (issue.code === 'invalid_type' && merged[key] === undefined) {
      message = 'is required'
    }
    return {key, value: merged[key], origin: origins[key] ?? 'default', message}
  })
  return {ok: false, problems}
}

export function describeProblem(p: ConfigProblem, fileName = 'sftp-cutover.yaml'): string {
  const where =
    p.origin === 'flag' ? `--${flagFor(p.key as ConfigKey)}` : p.origin === 'env' ? envVarFor(p.key as ConfigKey) : p.origin === 'file' ? fileName : 'not set'
  const shown = p.value === undefined ? '' : ` = ${JSON.stringify(p.value)}`
  return `${p.key}${shown} (${where}): ${p.message}`
}
