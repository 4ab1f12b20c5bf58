import {spawn} from 'node:child_process'
import {readFile} from 'node:fs/promises'
import {setTimeout as sleep} from 'node:timers/promises'

import type {AwsClients} from '../adapters/aws.js'
import {InventoryStore} from '../adapters/inventory-store.js'
import {canaryRoundTrip} from '../adapters/sftp-canary.js'
import {type AskSecret, resolveCredentials, SshSession} from '../adapters/ssh.js'
import type {SqliteStateStore} from '../adapters/state.js'
import {findServerEndpoint} from '../adapters/transfer-endpoint.js'
import {commandSshTarget, type Config} from '../core/config.js'
import {isAliasTo} from '../core/dns-plan.js'
import {parseDuration} from '../core/duration.js'
import {ExitCode, usageError} from '../core/errors.js'
import {homeKeyPrefix} from '../core/key-mapping.js'
import {findRecordSets} from '../adapters/route53.js'
import type {RunbookStep} from '../core/runbook.js'
import type {CarriedSyncOptions} from '../core/sync-plan.js'
import type {Prompter} from '../ui/prompter.js'
import {switchRecord} from './dns.js'
import {runDoctor} from './doctor.js'
import {type StepHandlers, type StepOutcome, StepFailure} from './runbook.js'

export interface PreflightCheck {
  /** what `preflight: {skip: [...]}` names: doctor, users, hostkeys, sync, verify, dns */
  id: string
  name: string
  ok: boolean
  detail: string
}

/** What the cutover steps need from the rest of the tool: final delta, verify, users and reports. */
export interface MigrationParts {
  /** Files not yet synced (and files that failed), without copying: the preflight's "nothing left to sync" */
  pendingSync(): Promise<{pending: number; failed: number; detail: string}>
  /** The final delta with the last complete sync's options, each replaced by the step's where it gives one */
  finalSync(override: Partial<CarriedSyncOptions>, dryRun: boolean): Promise<StepOutcome>
  /** Soft cutover: the delta repeated until the box is quiet, stragglers reported */
  drain(quietMs: number, dryRun: boolean): Promise<StepOutcome>
  verify(opts: {efs: boolean; sourceHash: boolean}, dryRun: boolean): Promise<StepOutcome>
  /** Users and keys still to import, host keys not imported */
  identityChecks(): Promise<PreflightCheck[]>
  /** The last inventory read every account (else nothing may act on it) */
  accountsCheck(): PreflightCheck
  /** The last verify had no mismatch */
  lastVerify(): PreflightCheck
  writeReport(dryRun: boolean): Promise<StepOutcome>
}

export interface StepDeps {
  config: Config
  aws: AwsClients
  state: SqliteStateStore
  env: NodeJS.ProcessEnv
  prompter?: Prompter
  askSecret?: AskSecret
  yes: boolean
  parts: MigrationParts
  log: (msg: string, detail?: Record<string, unknown>) => void
}

function runLocal(command: string): Promise<{code: number | null; output: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], {stdio: ['ignore', 'pipe', 'pipe']})
    let output = ''
    const keep = (d: Buffer) => {
      output = (output + d.toString('utf8')).slice(-8192)
    }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    child.on('error', reject)
    child.on('close', (code) => resolve({code, output}))
  })
}

/** Runs a command on the legacy box over SSH (freeze, unfreeze). */
export async function runOnSource(deps: Pick<StepDeps, 'config' | 'env' | 'askSecret'>, command: string): Promise<{code: number | null; output: string}> {
  const target = commandSshTarget(deps.config.source)
  if (!target) {
    throw usageError(`"${command}" runs on the legacy box over SSH, and this box is read over ${deps.config.source.protocol.toUpperCase()}`, [
      'Set source.sshHost (and source.sshPort) where the box answers SSH: sftp-cutover config set source.sshHost <host>.',
    ], 'NO_SSH_ON_BOX')
  }
  const creds = await resolveCredentials(target, deps.env, deps.askSecret)
  const session = await SshSession.connect(target, creds)
  try {
    const r = await session.exec(command, {timeoutMs: 10 * 60_000, maxOutputBytes: 1024 * 1024})
    return {code: r.code, output: (r.stdout.toString('utf8') + r.stderr.toString('utf8')).slice(-8192)}
  } finally {
    session.close()
  }
}

async function preflight(step: RunbookStep, deps: StepDeps): Promise<StepOutcome> {
  const skip = new Set(step.options.skip as string[])
  const checks: PreflightCheck[] = [deps.parts.accountsCheck()]
  if (!skip.has('doctor')) {
    const doctor = await runDoctor(deps.config, {aws: deps.aws, env: deps.env, askSecret: deps.askSecret})
    const failed = doctor.checks.filter((c) => c.status === 'fail')
    checks.push({id: 'doctor', name: 'doctor', ok: failed.length === 0, detail: failed.length ? failed.map((c) => `${c.id}: ${c.detail}`).join('; ') : `${doctor.summary.pass} checks passed`})
  }
  if (!skip.has('users') || !skip.has('hostkeys')) for (const c of await deps.parts.identityChecks()) if (!skip.has(c.id)) checks.push(c)
  if (!skip.has('sync')) {
    const sync = await deps.parts.pendingSync()
    checks.push({id: 'sync', name: 'nothing left to sync', ok: sync.pending === 0 && sync.failed === 0, detail: sync.detail})
  }
  if (!skip.has('verify')) checks.push(deps.parts.lastVerify())
  const {hostedZoneId, recordName} = deps.config.dns
  if (skip.has('dns')) {
    // skipped by the runbook
  } else if (!hostedZoneId || !recordName) {
    checks.push({id: 'dns', name: 'DNS record', ok: false, detail: 'dns.hostedZoneId and dns.recordName are not set'})
  } else {
    const endpoint = await findServerEndpoint(deps.aws, deps.config.target.transferServerId, deps.config.cutover.vpcEndpointId)
    const sets = await findRecordSets(deps.aws.route53(), hostedZoneId, recordName)
    const address = sets.filter((s) => ['A', 'AAAA', 'CNAME'].includes(s.Type ?? ''))
    const switched = address.some((s) => isAliasTo(s, endpoint))
    checks.push({
      id: 'dns',
      name: 'record points at the legacy box',
      ok: address.length > 0 && !switched,
      detail: switched ? `${recordName} already points at the Transfer endpoint` : address.length === 0 ? `${recordName} has no address record` : `${recordName} -> ${address.map((s) => (s.ResourceRecords ?? []).map((r) => r.Value).join(',') || s.AliasTarget?.DNSName).join('; ')}`,
    })
  }
  const failed = checks.filter((c) => !c.ok)
  if (skip.size > 0) checks.push({id: 'skipped', name: 'skipped by the runbook', ok: true, detail: [...skip].join(', ')})
  if (failed.length > 0) {
    throw new StepFailure(`preflight found ${failed.length} problem(s): ${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')}`, {
      exitCode: ExitCode.problems,
      details: checks,
      suggestions: ['Nothing was changed. Fix the problems (sync, verify, users import, hostkeys import, doctor) and run the cutover again.'],
    })
  }
  return {summary: `${checks.length} checks passed`, details: checks}
}

async function confirmStep(step: RunbookStep, deps: StepDeps, dryRun: boolean): Promise<StepOutcome> {
  if (deps.yes || dryRun) return {summary: deps.yes ? 'confirmed by --yes' : 'would ask for confirmation'}
  if (!deps.prompter) throw usageError('the cutover needs a confirmation and prompting is off (no terminal, --no-prompt or --json)', ['Pass --yes to confirm without a prompt.'], 'PROMPT_NEEDED')
  const ok = await deps.prompter.confirm({message: String(step.options.message), default: false})
  if (!ok) throw new StepFailure('not confirmed: nothing was changed', {suggestions: ['Run again and confirm, or pass --yes.']})
  return {summary: 'confirmed at the prompt'}
}

async function freezeStep(step: RunbookStep, deps: StepDeps, dryRun: boolean): Promise<StepOutcome> {
  const command = (step.options.command as string | undefined) ?? deps.config.cutover.freezeCommand
  const where = step.options.where as 'remote' | 'local'
  if (!command) return {summary: 'no freeze command configured (cutover.freezeCommand): clients may still write until the switch'}
  if (dryRun) return {summary: `would run on ${where === 'remote' ? 'the legacy box' : 'this machine'}: ${command}`}
  const r = where === 'remote' ? await runOnSource(deps, command) : await runLocal(command)
  deps.state.audit({action: 'legacy.freeze', target: where === 'remote' ? deps.config.source.host : 'local', after: {command, exitCode: r.code}, outcome: r.code === 0 ? 'ok' : 'failed'})
  if (r.code !== 0) throw new StepFailure(`the freeze command exited ${r.code}: ${r.output.trim().slice(-500)}`, {suggestions: ['Check the command (cutover.freezeCommand) on the legacy box.']})
  return {summary: `froze the legacy box: ${command}`, details: {output: r.output}}
}

async function smokeTest(deps: StepDeps, dryRun: boolean): Promise<StepOutcome> {
  const c = deps.config.cutover
  const host = c.endpointHost ?? deps.config.dns.recordName
  if (!c.canaryUser || !c.canaryIdentityFile || !host) {
    throw new StepFailure('the smoke test needs cutover.canaryUser, cutover.canaryIdentityFile and cutover.endpointHost (or dns.recordName)', {
      exitCode: ExitCode.usage,
      suggestions: ['Import a canary user with sftp-cutover users import, then set it: sftp-cutover config set cutover.canaryUser NAME, then sftp-cutover config set cutover.canaryIdentityFile PATH.'],
    })
  }
  const store = new InventoryStore(deps.state)
  const run = store.latestCompleteRun()
  const trusted = run ? store.hostKeys(run.id).map((k) => k.fingerprint) : []
  if (trusted.length === 0 && deps.config.source.hostKeyFingerprint) trusted.push(deps.config.source.hostKeyFingerprint)
  if (dryRun) return {summary: `would log in to ${host}:${c.endpointPort} as ${c.canaryUser}, expecting one of ${trusted.length} legacy host key(s), and put, get and delete a canary file`}
  const privateKey = await readFile(c.canaryIdentityFile)
  const efsPath = deps.config.efs.path
  const result = await canaryRoundTrip({host, port: c.endpointPort, username: c.canaryUser, privateKey, trustedFingerprints: trusted}, undefined, async (name, body) => {
    if (!efsPath || c.efsWaitSeconds === 0) return
    // The Lambda copies <prefix>/home/<user>/<name> to <efs.path>/<same key>.
    const copy = `${efsPath}/${homeKeyPrefix(deps.config.target.prefix, c.canaryUser!)}/${name}`
    const deadline = Date.now() + c.efsWaitSeconds * 1000
    for (;;) {
      const got = await readFile(copy).catch(() => undefined)
      if (got?.equals(body)) return
      if (Date.now() > deadline) throw new StepFailure(`the canary did not appear on the EFS path ${copy} within ${c.efsWaitSeconds} s`, {exitCode: ExitCode.problems, suggestions: ['Check the S3-to-EFS Lambda (its log group and dead-letter queue).']})
      await sleep(1000)
    }
  })
  return {summary: `${c.canaryUser}@${host}:${c.endpointPort} presented ${result.hostKey.type} ${result.hostKey.fingerprint}; canary put in ${result.putMs} ms, read back identical in ${result.getMs} ms, deleted`, details: result}
}

/** The handlers of every step type, bound to this project. */
export function cutoverHandlers(deps: StepDeps): StepHandlers {
  return {
    // Every check is read-only, so a dry run runs them for real: it must not pass where the real run would stop.
    preflight: (step) => preflight(step, deps),
    confirm: (step, {dryRun}) => confirmStep(step, deps, dryRun),
    freeze: (step, {dryRun}) => freezeStep(step, deps, dryRun),
    sync: (step, {dryRun}) => {
      const {untilQuiet, ...override} = step.options as Partial<CarriedSyncOptions> & {untilQuiet?: string}
      return untilQuiet ? deps.parts.drain(parseDuration(untilQuiet)!, dryRun) : deps.parts.finalSync(override, dryRun)
    },
    verify: (step, {dryRun}) => deps.parts.verify({efs: Boolean(step.options.efs), sourceHash: Boolean(step.options.sourceHash)}, dryRun),
    'dns-switch': async (step, {dryRun}) => {
      const r = await switchRecord(deps, {dryRun, timeoutSeconds: Number(step.options.timeoutSeconds)})
      const verb = r.outcome === 'dry-run' ? 'would switch' : r.outcome === 'unchanged' ? 'already points' : 'switched'
      return {summary: `${verb} ${r.recordName} to the Transfer endpoint ${r.target.vpcEndpointId} (${r.target.dnsName})`, details: {changeBatch: r.changes, saved: r.before, changeId: r.changeId}}
    },
    'smoke-test': (_step, {dryRun}) => smokeTest(deps, dryRun),
    report: (_step, {dryRun}) => deps.parts.writeReport(dryRun),
    exec: async (step, {dryRun}) => {
      const command = String(step.options.command)
      if (dryRun) return {summary: `would run: ${command}`}
      const r = await runLocal(command)
      if (r.code !== 0) throw new StepFailure(`"${command}" exited ${r.code}: ${r.output.trim().slice(-500)}`)
      return {summary: `ran: ${command}`, details: {output: r.output}}
    },
    wait: async (step, {dryRun}) => {
      const seconds = Number(step.options.seconds)
      if (!dryRun) await sleep(seconds * 1000)
      return {summary: `${dryRun ? 'would wait' : 'waited'} ${seconds} s`}
    },
  }
}

