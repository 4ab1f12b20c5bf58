import type {AwsClients} from '../adapters/aws.js'
import {probeDirectory} from '../adapters/efs-path.js'
import {FtpError, FtpSession, resolveFtpCredentials} from '../adapters/ftp-client.js'
import {SftpClient} from '../adapters/sftp-client.js'
import {type AskSecret, resolveCredentials, SshError, SshSession} from '../adapters/ssh.js'
import {probeTcp} from '../adapters/tcp.js'
import {describeRecordSet} from '../core/dns-plan.js'
import {awsErrorLine, httpStatusOf, isAwsServiceError, oneLine} from '../core/aws-errors.js'
import {type Config, isFtp} from '../core/config.js'
import {errorMessage} from '../core/errors.js'

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip'

export interface Check {
  id: string
  title: string
  status: CheckStatus
  detail: string
  fix?: string
}

export interface DoctorResult {
  ok: boolean
  summary: Record<CheckStatus, number>
  checks: Check[]
}

export interface DoctorDeps {
  aws: AwsClients
  env: NodeJS.ProcessEnv
  askSecret?: AskSecret
}

const EXEC_PROBE = 'sftp-cutover-exec-probe'

function awsReason(err: unknown, profile?: string): string {
  const e = err as {name?: string; message?: string}
  if (e.name === 'CredentialsProviderError') {
    return profile
      ? `no AWS credentials for profile ${profile} (is it in ~/.aws/config or ~/.aws/credentials?): ${e.message}`
      : `no AWS credentials found (environment, ~/.aws profiles, SSO or instance role): ${e.message}`
  }
  return isAwsServiceError(err) ? awsErrorLine(err) : `${e.name ?? 'Error'}: ${oneLine(e.message ?? String(err))}`
}

/** Source checks: reachability, host key, login, SFTP, exec, server software and limits. */
async function sourceChecks(config: Config, deps: DoctorDeps, onConnected: () => void): Promise<Check[]> {
  const s = config.source
  const where = `${s.host}:${s.port}`
  const checks: Check[] = []
  const later: string[][] = [
    ['source.hostKey', 'Source host key'],
    ['source.auth', 'Source login'],
    ['source.sftp', 'SFTP subsystem'],
    ['source.exec', 'Shell commands (exec)'],
    ['source.server', 'Server software and limits'],
  ]
  const tcp = await probeTcp(s.host, s.port)
  if (!tcp.ok) {
    checks.push({id: 'source.reachable', title: 'Source reachable', status: 'fail', detail: `cannot open TCP ${where}: ${tcp.reason}`, fix: 'Check source.host and source.port (sftp-cutover config set source.port PORT), and the firewall or VPN between this machine and the box.'})
    return fixSkips(checks, later, 'the source is not reachable')
  }
  checks.push({id: 'source.reachable', title: 'Source reachable', status: 'pass', detail: `TCP ${where} answered in ${tcp.ms} ms`})
  if (isFtp(s.protocol)) return ftpChecks(config, deps, checks, onConnected)

  let session: SshSession
  try {
    const creds = await resolveCredentials(s, deps.env, deps.askSecret)
    session = await SshSession.connect(s, creds, {readyTimeoutMs: 15_000, onConnected})
  } catch (err) {
    const e = err instanceof SshError ? err : undefined
    if (e?.code === 'HOST_KEY_REJECTED') {
      checks.push({id: 'source.hostKey', title: 'Source host key', status: 'fail', detail: e.message, fix: e.suggestions.join(' ')})
      return fixSkips(checks, later.slice(1), 'the host key was refused: nothing was sent to the server')
    }
    if (e?.code === 'AUTH_FAILED') {
      checks.push({id: 'source.hostKey', title: 'Source host key', status: 'pass', detail: 'verified before authentication'})
      checks.push({id: 'source.auth', title: 'Source login', status: 'fail', detail: e.message, fix: e.suggestions.join(' ')})
      return fixSkips(checks, later.slice(2), 'login failed')
    }
    const cli = err as {message: string; suggestions?: string[]}
    checks.push({id: 'source.auth', title: 'Source login', status: 'fail', detail: cli.message, fix: cli.suggestions?.join(' ')})
    return fixSkips(checks, later.filter(([id]) => id !== 'source.auth'), 'could not log in')
  }
  try {
    const how = s.hostKeyFingerprint ? 'matches source.hostKeyFingerprint' : `found in ${s.knownHostsFile}`
    checks.push({id: 'source.hostKey', title: 'Source host key', status: 'pass', detail: `${session.info.hostKey.type} ${session.info.hostKey.fingerprint} ${how}`})
    checks.push({id: 'source.auth', title: 'Source login', status: 'pass', detail: `logged in as ${s.username}`})
    let limitsText = 'not read'
    try {
      const sftp = await SftpClient.open(session)
      const l = sftp.limits
      limitsText = `max read ${l.maxReadLen} B, max write ${l.maxWriteLen} B${l.maxOpenHandles ? `, max open handles ${l.maxOpenHandles}` : ''}`
      const home = (await sftp.realpath('.')).toString('utf8')
      checks.push({id: 'source.sftp', title: 'SFTP subsystem', status: 'pass', detail: `SFTP v3, login directory ${home}, extensions: ${[...sftp.extensions.keys()].join(', ') || 'none'}`})
      sftp.end()
    } catch (err) {
      checks.push({id: 'source.sftp', title: 'SFTP subsystem', status: 'fail', detail: errorMessage(err), fix: 'Enable the sftp subsystem (Subsystem sftp internal-sftp) for this login.'})
    }
    try {
      const r = await session.exec(`echo ${EXEC_PROBE}`, {timeoutMs: 10_000, maxOutputBytes: 64 * 1024})
      if (r.code === 0 && r.stdout.toString().trim() === EXEC_PROBE) {
        checks.push({id: 'source.exec', title: 'Shell commands (exec)', status: 'pass', detail: 'the login may run commands: accounts and keys are read online, hashes are checked at the source'})
      } else {
        checks.push({
          id: 'source.exec',
          title: 'Shell commands (exec)',
          status: 'warn',
          detail: 'the login cannot run commands (e.g. ForceCommand internal-sftp)',
          fix: 'Use a login that may run commands, or collect accounts offline: sftp-cutover inventory collect-script, then inventory --from-bundle.',
        })
      }
    } catch (err) {
      checks.push({id: 'source.exec', title: 'Shell commands (exec)', status: 'warn', detail: `exec refused: ${errorMessage(err)}`, fix: 'Collect accounts offline with inventory collect-script and --from-bundle.'})
    }
    checks.push({id: 'source.server', title: 'Server software and limits', status: 'pass', detail: `${session.info.software}; ${limitsText}`})
  } finally {
    session.close()
  }
  return checks
}

/** An FTP source: certificate (FTPS), login, what the server offers for reading; plain FTP is a warning (the password in clear). */
async function ftpChecks(config: Config, deps: DoctorDeps, checks: Check[], onConnected: () => void): Promise<Check[]> {
  const s = config.source
  const later = [
    ['source.tls', 'Source TLS certificate'],
    ['source.auth', 'Source login'],
    ['source.ftp', 'FTP features'],
  ]
  if (s.protocol === 'ftp') {
    checks.push({
      id: 'source.tls',
      title: 'Source TLS certificate',
      status: 'warn',
      detail: 'source.protocol is ftp: the password and every file cross the network in clear',
      fix: 'If the server offers AUTH TLS: sftp-cutover config set source.protocol ftps (init shows the certificate to pin); otherwise read the box from inside its network.',
    })
  }
  let session: FtpSession
  try {
    session = await FtpSession.connect(s, await resolveFtpCredentials(s, deps.env, deps.askSecret), {timeoutMs: 15_000})
    onConnected()
  } catch (err) {
    const e = err as {message: string; suggestions?: string[]; code?: string}
    if (e.code === 'CERTIFICATE_REJECTED') {
      checks.push({id: 'source.tls', title: 'Source TLS certificate', status: 'fail', detail: e.message, fix: e.suggestions?.join(' ')})
      return fixSkips(checks, later, 'the certificate was refused: the password was not sent')
    }
    if (s.protocol !== 'ftp' && err instanceof FtpError && e.code === 'AUTH_FAILED') checks.push({id: 'source.tls', title: 'Source TLS certificate', status: 'pass', detail: 'verified before the login'})
    checks.push({id: 'source.auth', title: 'Source login', status: 'fail', detail: e.message, fix: e.suggestions?.join(' ')})
    return fixSkips(checks, later, 'could not log in')
  }
  try {
    if (s.protocol !== 'ftp') checks.push({id: 'source.tls', title: 'Source TLS certificate', status: 'pass', detail: s.tlsFingerprint ? `SHA-256 ${s.tlsFingerprint} matches source.tlsFingerprint` : `verified against ${s.tlsCaFile}`})
    checks.push({id: 'source.auth', title: 'Source login', status: 'pass', detail: `logged in as ${s.username}`})
    const f = session.features
    const listing = f.has('MLST') ? 'MLSD (exact sizes, times and modes)' : 'LIST only (times to the minute or day; MDTM asked per file)'
    const missing = ['SIZE', 'MDTM', 'REST'].filter((k) => !f.has(k) && !(k === 'MDTM' && f.has('MLST')))
    checks.push({
      id: 'source.ftp',
      title: 'FTP features',
      status: session.asciiOnly || missing.length > 0 ? 'warn' : 'pass',
      detail: `${listing}; ${session.asciiOnly ? 'binary mode REFUSED (ASCII only: no file can be read as it is)' : 'binary mode'}; ${session.serverHash ? `server-side SHA-256 (${session.serverHash})` : 'no server-side hash (verify --source-hash re-reads the files)'}${missing.length ? `; missing ${missing.join(', ')}` : ''}`,
      fix: session.asciiOnly ? 'Enable binary (TYPE I) transfers on the server.' : missing.length ? 'Without SIZE/MDTM a file that changes while it is read cannot be told apart; without REST an interrupted read starts over.' : undefined,
    })
  } finally {
    session.end()
  }
  return checks
}

/** Marks the checks that could not run after an earlier one failed. */
function fixSkips(checks: Check[], remaining: string[][], why: string): Check[] {
  const done = new Set(checks.map((c) => c.id))
  for (const [id, title] of remaining) if (!done.has(id)) checks.push({id, title, status: 'skip', detail: why})
  return checks
}

/** The configuration key (or variable) that sets where a service's requests go: named in every fix. */
function endpointKey(config: Config, service: 's3' | 'other', env: NodeJS.ProcessEnv): string {
  const t = config.target
  if (service === 's3' && t.s3Endpoint) return 'target.s3Endpoint'
  if (t.endpoint) return 'target.endpoint'
  if (service === 's3' && env.AWS_ENDPOINT_URL_S3) return 'AWS_ENDPOINT_URL_S3'
  return env.AWS_ENDPOINT_URL ? 'AWS_ENDPOINT_URL' : 'target.endpoint (unset: AWS itself)'
}

/** The endpoint does not implement the request (an S3-compatible store without that API). */
function notImplemented(err: unknown): boolean {
  const e = err as {name?: string; Code?: string}
  return e.name === 'NotImplemented' || e.Code === 'NotImplemented' || httpStatusOf(err) === 501
}

async function awsChecks(config: Config, deps: DoctorDeps): Promise<Check[]> {
  const [{GetCallerIdentityCommand}, {GetBucketEncryptionCommand, GetPublicAccessBlockCommand, HeadBucketCommand}, {DescribeServerCommand}, {GetHostedZoneCommand}, {findRecordSets}, {replicationCheck}] =
    await Promise.all([
      import('@aws-sdk/client-sts'),
      import('@aws-sdk/client-s3'),
      import('@aws-sdk/client-transfer'),
      import('@aws-sdk/client-route-53'),
      import('../adapters/route53.js'),
      import('./doctor-replication.js'),
    ])
  const t = config.target
  const checks: Check[] = []
  const run = async (id: string, title: string, fn: () => Promise<Omit<Check, 'id' | 'title'>>, service: 's3' | 'other' = 'other') => {
    try {
      checks.push({id, title, ...(await fn())})
    } catch (err) {
      const where = endpointKey(config, service, deps.env)
      checks.push({id, title, status: 'fail', detail: awsReason(err, t.profile), fix: `Check the AWS credentials, region and endpoint (target.region, target.profile, ${where}).`})
    }
  }

  await run('aws.identity', 'AWS identity', async () => {
    const id = await deps.aws.sts().send(new GetCallerIdentityCommand({}))
    return {status: 'pass', detail: `account ${id.Account}, ${id.Arn}`}
  })

  await run('transfer.server', 'Transfer Family server', async () => {
    if (!t.transferServerId) return {status: 'warn', detail: 'target.transferServerId is not set', fix: 'Set it: sftp-cutover config set target.transferServerId s-... (init --from-stack reads it from the stack outputs).'}
    try {
      const {Server: srv} = await deps.aws.transfer().send(new DescribeServerCommand({ServerId: t.transferServerId}))
      const problems: string[] = []
      const warnings: string[] = []
      if (!srv?.Protocols?.includes('SFTP')) problems.push(`protocols ${srv?.Protocols?.join(',') ?? 'none'} do not include SFTP`)
      if (srv?.IdentityProviderType && srv.IdentityProviderType !== 'SERVICE_MANAGED') warnings.push(`identity provider ${srv.IdentityProviderType}: users are not created by this tool`)
      if (srv?.EndpointType && srv.EndpointType !== 'VPC') warnings.push(`endpoint type ${srv.EndpointType}, the reference architecture uses VPC`)
      if (srv?.State && srv.State !== 'ONLINE') (['OFFLINE', 'STARTING'].includes(srv.State) ? warnings : problems).push(`state ${srv.State}`)
      const detail = `${t.transferServerId}: ${srv?.State}, ${srv?.IdentityProviderType}, endpoint ${srv?.EndpointType}, protocols ${srv?.Protocols?.join(',')}, domain ${srv?.Domain ?? 'S3'}`
      if (problems.length) return {status: 'fail', detail: `${detail}; ${problems.join('; ')}`, fix: 'Enable SFTP on the server and bring it ONLINE (StartServer).'}
      if (warnings.length) return {status: 'warn', detail: `${detail}; ${warnings.join('; ')}`, fix: 'Start the server before cutover; use a SERVICE_MANAGED, VPC endpoint server as in the reference template.'}
      return {status: 'pass', detail}
    } catch (err) {
      // AWS answers ResourceNotFoundException; moto answers ServerNotFound.
      if (['ResourceNotFoundException', 'ServerNotFound'].includes((err as {name?: string}).name ?? '')) {
        return {status: 'fail', detail: `server ${t.transferServerId} does not exist in ${t.region}`, fix: 'Check target.transferServerId and target.region (aws transfer list-servers); correct them with sftp-cutover config set KEY VALUE.'}
      }
      throw err
    }
  })

  await run('s3.bucket', 'S3 bucket', async () => {
    const s3 = deps.aws.s3()
    try {
      await s3.send(new HeadBucketCommand({Bucket: t.bucket}))
    } catch (err) {
      const status = httpStatusOf(err)
      if (status === 404) return {status: 'fail', detail: `bucket ${t.bucket} does not exist`, fix: 'Create it with the infra/ template, or correct it: sftp-cutover config set target.bucket NAME.'}
      if (status === 403) return {status: 'fail', detail: `access to bucket ${t.bucket} is denied`, fix: 'Grant this identity s3:ListBucket, s3:GetObject, s3:PutObject and s3:GetObjectTagging, s3:PutObjectTagging (and their Version forms in a versioned bucket) on the bucket.'}
      throw err
    }
    const notes: string[] = []
    const fixes: string[] = []
    let status: CheckStatus = 'pass'
    const warn = (note: string, fix: string) => {
      status = 'warn'
      notes.push(note)
      fixes.push(fix)
    }
    // A store that does not implement a request cannot tell: said as a warning, not as a failure of the bucket.
    const unanswered = (request: string, what: string) =>
      warn(`${endpointKey(config, 's3', deps.env)} does not implement ${request} (NotImplemented): ${what} cannot be checked`, `Check ${what} on the store itself; AWS S3 answers ${request}.`)
    const kmsFix = `Set the bucket's default encryption to SSE-KMS (PutBucketEncryption with aws:kms and the key, as the infra/ template does)${t.kmsKeyId ? '' : ': sync sends no encryption header without target.kmsKeyId, so the bucket default applies'}.`
    try {
      const enc = await s3.send(new GetBucketEncryptionCommand({Bucket: t.bucket}))
      const rule = enc.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault
      const note = `default encryption ${rule?.SSEAlgorithm ?? 'none'}${rule?.KMSMasterKeyID ? ` (${rule.KMSMasterKeyID})` : ''}`
      if (rule?.SSEAlgorithm === 'aws:kms' || rule?.SSEAlgorithm === 'aws:kms:dsse') notes.push(note)
      else warn(`${note}, not SSE-KMS`, kmsFix)
    } catch (err) {
      if (notImplemented(err)) unanswered('GetBucketEncryption', 'the default encryption')
      else if ((err as {name?: string}).name === 'ServerSideEncryptionConfigurationNotFoundError') warn('no default encryption configuration (not SSE-KMS)', kmsFix)
      else throw err
    }
    const blockFix = 'Block all public access on the bucket (PutPublicAccessBlock with all four settings true).'
    try {
      const pab = await s3.send(new GetPublicAccessBlockCommand({Bucket: t.bucket}))
      const c = pab.PublicAccessBlockConfiguration
      const all = c?.BlockPublicAcls && c.IgnorePublicAcls && c.BlockPublicPolicy && c.RestrictPublicBuckets
      if (all) notes.push('public access blocked')
      else warn('public access NOT fully blocked', blockFix)
    } catch (err) {
      if (notImplemented(err)) unanswered('GetPublicAccessBlock', 'public access blocking')
      else if ((err as {name?: string}).name === 'NoSuchPublicAccessBlockConfiguration') warn('no public access block', blockFix)
      else throw err
    }
    return {status, detail: `${t.bucket}: ${notes.join(', ')}`, ...(fixes.length ? {fix: fixes.join(' ')} : {})}
  }, 's3')

  // Only shown when the bucket replicates (infra option ReplicaBucketArn).
  try {
    const replication = await replicationCheck(deps.aws.s3(), t.bucket)
    if (replication) checks.push(replication)
  } catch (err) {
    // A missing bucket is the s3.bucket check's failure; anything else means the status is unknown, not bad.
    if (httpStatusOf(err) !== 404) {
      checks.push({id: 's3.replication', title: 'S3 replication', status: 'warn', detail: `could not read the replication status: ${awsReason(err, t.profile)}`, fix: 'Grant this identity s3:GetReplicationConfiguration, s3:GetBucketVersioning, s3:ListBucket and s3:GetObject on the bucket.'})
    }
  }

  checks.push(
    t.userRoleArn
      ? {id: 'iam.userRole', title: 'Transfer user role', status: 'pass', detail: `${t.userRoleArn} is a well-formed role ARN`}
      : {id: 'iam.userRole', title: 'Transfer user role', status: 'warn', detail: 'target.userRoleArn is not set', fix: 'Set the role Transfer users assume (users import needs it): sftp-cutover config set target.userRoleArn arn:aws:iam::ACCOUNT:role/NAME.'},
  )

  const dns = config.dns
  await run('dns.zone', 'Route 53 hosted zone', async () => {
    if (!dns.hostedZoneId) return {status: 'warn', detail: 'dns.hostedZoneId is not set', fix: 'Set the record cutover switches: sftp-cutover config set dns.hostedZoneId ZONE, then sftp-cutover config set dns.recordName NAME.'}
    try {
      const zone = await deps.aws.route53().send(new GetHostedZoneCommand({Id: dns.hostedZoneId}))
      const name = zone.HostedZone?.Name
      if (!zone.HostedZone?.Config?.PrivateZone) {
        return {status: 'fail', detail: `${dns.hostedZoneId} (${name}) is a public hosted zone`, fix: 'Use the private hosted zone associated with the VPC: the friendly record must resolve only inside it.'}
      }
      const vpcs = (zone.VPCs ?? []).map((v) => v.VPCId).join(', ')
      return {status: 'pass', detail: `${dns.hostedZoneId} (${name}) is private${vpcs ? `, associated with ${vpcs}` : ''}`}
    } catch (err) {
      if ((err as {name?: string}).name === 'NoSuchHostedZone') return {status: 'fail', detail: `hosted zone ${dns.hostedZoneId} does not exist`, fix: 'Correct it (aws route53 list-hosted-zones lists them): sftp-cutover config set dns.hostedZoneId ZONE.'}
      throw err
    }
  })

  await run('dns.record', 'Friendly DNS record', async () => {
    if (!dns.hostedZoneId || !dns.recordName) return {status: 'warn', detail: 'dns.recordName is not set', fix: 'Set the name clients connect to: sftp-cutover config set dns.recordName NAME.'}
    const sets = await findRecordSets(deps.aws.route53(), dns.hostedZoneId, dns.recordName)
    if (sets.length === 0) return {status: 'warn', detail: `${dns.recordName} has no record in ${dns.hostedZoneId}`, fix: 'Create the record pointing at the legacy box before cutover, so that clients already use the name.'}
    return {status: 'pass', detail: `${dns.recordName} -> ${sets.map(describeRecordSet).join('; ')}`}
  })

  return checks
}

async function efsCheck(config: Config): Promise<Check> {
  const path = config.efs.path
  if (!path) return {id: 'efs.path', title: 'EFS mount', status: 'skip', detail: 'efs.path is not set: verify will not check the EFS copy'}
  const r = await probeDirectory(path)
  return r.ok
    ? {id: 'efs.path', title: 'EFS mount', status: 'pass', detail: `${path} is readable and writable`}
    : {id: 'efs.path', title: 'EFS mount', status: 'fail', detail: r.reason, fix: 'Mount the EFS file system (or its access point) at efs.path with read and write access, or point efs.path elsewhere: sftp-cutover config set efs.path DIR.'}
}

/** Checks everything the migration depends on and says, for each, pass/warn/fail/skip with the reason and the fix. */
export async function runDoctor(config: Config, deps: DoctorDeps): Promise<DoctorResult> {
  // The SSH handshake is the slowest check over a VPN (several round trips): it starts first, and the AWS SDK, which
  // takes the process for a few hundred milliseconds to load, is loaded once the connection is up (or has failed).
  let connected!: () => void
  const sshUnderway = new Promise<void>((resolve) => (connected = resolve))
  const [source, aws, efs] = await Promise.all([sourceChecks(config, deps, connected).finally(connected), sshUnderway.then(() => awsChecks(config, deps)), efsCheck(config)])
  const checks = [...source, ...aws, efs]
  const summary: Record<CheckStatus, number> = {pass: 0, warn: 0, fail: 0, skip: 0}
  for (const c of checks) summary[c.status]++
  return {ok: summary.fail === 0, summary, checks}
}
