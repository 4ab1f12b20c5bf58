import type {Change, ResourceRecordSet} from '@aws-sdk/client-route-53'

import type {AwsClients} from '../adapters/aws.js'
import {CutoverStore} from '../adapters/cutover-store.js'
import {type DnsZone, route53Zone} from '../adapters/route53.js'
import type {SqliteStateStore} from '../adapters/state.js'
import {findServerEndpoint} from '../adapters/transfer-endpoint.js'
import type {Config} from '../core/config.js'
import {type AliasTarget, planRollback, planSwitch, planTtl} from '../core/dns-plan.js'
import {CliError, ExitCode, usageError} from '../core/errors.js'

export interface DnsDeps {
  config: Config
  aws: AwsClients
  state: SqliteStateStore
  /** Tests may give another zone; the default is Route 53's. */
  zone?: DnsZone
}

export interface DnsChangeResult {
  recordName: string
  hostedZoneId: string
  outcome: 'changed' | 'unchanged' | 'dry-run'
  changes: Change[]
  before: ResourceRecordSet[]
  changeId?: string
}

function dnsTarget(deps: DnsDeps): {zone: DnsZone; recordName: string; store: CutoverStore} {
  const {hostedZoneId, recordName} = deps.config.dns
  if (!hostedZoneId || !recordName) {
    throw usageError('dns.hostedZoneId and dns.recordName are not both set', ['Set them: sftp-cutover config set dns.hostedZoneId ZONE, then sftp-cutover config set dns.recordName NAME.'], 'NO_DNS')
  }
  return {zone: deps.zone ?? route53Zone(deps.aws.route53(), hostedZoneId), recordName, store: new CutoverStore(deps.state)}
}

async function applyAndWait(zone: DnsZone, changes: Change[], comment: string, timeoutSeconds: number): Promise<string> {
  const changeId = await zone.apply(changes, comment)
  await zone.waitInSync(changeId, timeoutSeconds)
  return changeId
}

/** Lowers the record's TTL ahead of cutover so clients pick up the switch quickly; remembers the original once. */
export async function prepareTtl(deps: DnsDeps, ttl: number, opts: {dryRun: boolean; timeoutSeconds: number}): Promise<DnsChangeResult> {
  const {zone, recordName, store} = dnsTarget(deps)
  const current = await zone.recordSets(recordName)
  if (!current.some((s) => ['A', 'AAAA', 'CNAME'].includes(s.Type ?? ''))) {
    throw new CliError(`${recordName} has no A, AAAA or CNAME record in ${zone.hostedZoneId}`, {exitCode: ExitCode.usage, code: 'NO_RECORD', suggestions: ['Create the record pointing at the legacy box first.']})
  }
  const plan = planTtl(current, ttl)
  const base = {recordName, hostedZoneId: zone.hostedZoneId, changes: plan.changes, before: plan.before}
  if (plan.changes.length === 0) return {...base, outcome: 'unchanged'}
  if (opts.dryRun) return {...base, outcome: 'dry-run'}
  const saved = store.dnsRecord(zone.hostedZoneId, recordName)
  store.saveDnsRecord({hostedZoneId: zone.hostedZoneId, recordName, ...saved, beforeTtl: saved?.beforeTtl ?? plan.before})
  const changeId = await applyAndWait(zone, plan.changes, `sftp-cutover: lower TTL to ${ttl}`, opts.timeoutSeconds)
  deps.state.audit({action: 'dns.ttl', target: `${zone.hostedZoneId}/${recordName}`, before: plan.before, after: plan.changes.map((c) => c.ResourceRecordSet), outcome: 'ok'})
  return {...base, outcome: 'changed', changeId}
}

export interface SwitchResult extends DnsChangeResult {
  target: AliasTarget & {vpcEndpointId: string}
}

/**
 * Points the record at the Transfer server's VPC endpoint in one batch, after saving the exact record sets it
 * replaces (saved first: a process killed right after the change still knows how to roll back).
 */
export async function switchRecord(deps: DnsDeps, opts: {dryRun: boolean; timeoutSeconds: number}): Promise<SwitchResult> {
  const {zone, recordName, store} = dnsTarget(deps)
  const endpoint = await findServerEndpoint(deps.aws, deps.config.target.transferServerId, deps.config.cutover.vpcEndpointId)
  const target = {dnsName: endpoint.dnsName, hostedZoneId: endpoint.hostedZoneId, vpcEndpointId: endpoint.vpcEndpointId}
  const current = await zone.recordSets(recordName)
  const plan = planSwitch(recordName, current, target)
  const base = {recordName, hostedZoneId: zone.hostedZoneId, changes: plan.changes, before: plan.saved, target}
  const previous = store.dnsRecord(zone.hostedZoneId, recordName)
  if (plan.alreadySwitched) {
    if (previous?.saved && !previous.switchedAt) store.saveDnsRecord({...previous, switchedAt: new Date().toISOString()})
    return {...base, before: previous?.saved ?? [], outcome: 'unchanged'}
  }
  if (opts.dryRun) return {...base, outcome: 'dry-run'}
  const switchStartedAt = new Date().toISOString()
  store.saveDnsRecord({hostedZoneId: zone.hostedZoneId, recordName, beforeTtl: previous?.beforeTtl, saved: plan.saved, target, switchStartedAt, switchedAt: undefined, rolledBackAt: undefined})
  let changeId: string
  try {
    changeId = await applyAndWait(zone, plan.changes, `sftp-cutover: ${recordName} -> Transfer endpoint ${endpoint.vpcEndpointId}`, opts.timeoutSeconds)
  } catch (err) {
    deps.state.audit({action: 'dns.switch', target: `${zone.hostedZoneId}/${recordName}`, before: plan.saved, after: plan.changes, outcome: 'failed'})
    throw err
  }
  store.saveDnsRecord({hostedZoneId: zone.hostedZoneId, recordName, beforeTtl: previous?.beforeTtl, saved: plan.saved, target, switchStartedAt, switchedAt: new Date().toISOString()})
  deps.state.audit({action: 'dns.switch', target: `${zone.hostedZoneId}/${recordName}`, before: plan.saved, after: plan.changes.filter((c) => c.Action !== 'DELETE').map((c) => c.ResourceRecordSet), outcome: 'ok'})
  return {...base, outcome: 'changed', changeId}
}

/** Restores the record sets saved at the switch, exactly; refuses when the record was changed since, unless forced. */
export async function rollbackRecord(deps: DnsDeps, opts: {dryRun: boolean; force: boolean; timeoutSeconds: number}): Promise<DnsChangeResult> {
  const {zone, recordName, store} = dnsTarget(deps)
  const saved = store.dnsRecord(zone.hostedZoneId, recordName)
  if (!saved?.saved || !saved.target) {
    throw new CliError(`no cutover of ${recordName} is recorded in this project: nothing to roll back`, {exitCode: ExitCode.usage, code: 'NOTHING_TO_ROLL_BACK'})
  }
  const current = await zone.recordSets(recordName)
  const plan = planRollback(current, saved.saved, saved.target, opts.force)
  if (!plan.ok) {
    throw new CliError(`refusing to roll back ${recordName}: ${plan.reason}`, {exitCode: ExitCode.problems, code: 'RECORD_CHANGED', suggestions: ['Check who changed the record; pass --force to restore the saved record anyway.']})
  }
  const base = {recordName, hostedZoneId: zone.hostedZoneId, changes: plan.changes, before: current}
  if (plan.alreadyRolledBack) return {...base, outcome: 'unchanged'}
  if (opts.dryRun) return {...base, outcome: 'dry-run'}
  const changeId = await applyAndWait(zone, plan.changes, `sftp-cutover: roll back ${recordName}`, opts.timeoutSeconds)
  store.saveDnsRecord({...saved, rolledBackAt: new Date().toISOString()})
  deps.state.audit({action: 'dns.rollback', target: `${zone.hostedZoneId}/${recordName}`, before: current, after: saved.saved, outcome: 'ok'})
  return {...base, outcome: 'changed', changeId}
}
