import type {Change, ResourceRecordSet} from '@aws-sdk/client-route-53'

/**
 * The Route 53 change batches of cutover, rollback and TTL preparation, as pure functions of the record sets that
 * exist (read just before, and checked: cutover's preflight, rollback's "is it still what cutover set"). A record
 * of the same name and type is replaced with one UPSERT; other types are deleted with their exact values, so that
 * a record changed since it was read fails the whole batch. (moto rejects a DELETE+CREATE of the same name and
 * type in one batch when that CREATE was ever made before; AWS accepts both forms.)
 */

/** Record types that decide where clients connect; cutover replaces them all with one alias A record. */
const ADDRESS_TYPES = new Set(['A', 'AAAA', 'CNAME'])

export interface AliasTarget {
  dnsName: string
  hostedZoneId: string
}

const norm = (name: string) => name.toLowerCase().replace(/\.$/, '')

export function isAliasTo(set: ResourceRecordSet, target: AliasTarget): boolean {
  return set.Type === 'A' && set.AliasTarget !== undefined && norm(set.AliasTarget.DNSName ?? '') === norm(target.dnsName) && set.AliasTarget.HostedZoneId === target.hostedZoneId
}

export function aliasRecord(recordName: string, target: AliasTarget): ResourceRecordSet {
  // Aliases to interface endpoints cannot evaluate target health; they have no TTL.
  return {Name: recordName, Type: 'A', AliasTarget: {DNSName: target.dnsName, HostedZoneId: target.hostedZoneId, EvaluateTargetHealth: false}}
}

export interface SwitchPlan {
  /** The address records in place now: what rollback restores */
  saved: ResourceRecordSet[]
  changes: Change[]
  /** Already pointing at the endpoint: nothing to change */
  alreadySwitched: boolean
}

/** Replaces the address records of the name with an alias A record to the endpoint, in one batch. */
export function planSwitch(recordName: string, current: ResourceRecordSet[], target: AliasTarget): SwitchPlan {
  const address = current.filter((s) => ADDRESS_TYPES.has(s.Type ?? ''))
  if (address.length === 1 && isAliasTo(address[0], target)) return {saved: [], changes: [], alreadySwitched: true}
  // An existing A record is replaced with UPSERT (plain A to alias A is allowed); AAAA and CNAME records are
  // deleted with their exact values, so a record changed since it was read fails the whole batch.
  const hasA = address.some((s) => s.Type === 'A')
  const changes: Change[] = address.filter((s) => s.Type !== 'A').map((s) => ({Action: 'DELETE', ResourceRecordSet: s}))
  changes.push({Action: hasA ? 'UPSERT' : 'CREATE', ResourceRecordSet: aliasRecord(recordName, target)})
  return {saved: address, changes, alreadySwitched: false}
}

export type RollbackPlan =
  | {ok: true; changes: Change[]; alreadyRolledBack: boolean}
  | {ok: false; reason: string}

const same = (a: ResourceRecordSet[], b: ResourceRecordSet[]) => {
  const key = (s: ResourceRecordSet) =>
    JSON.stringify({n: norm(s.Name ?? ''), t: s.Type, ttl: s.TTL, r: (s.ResourceRecords ?? []).map((r) => r.Value).sort(), a: s.AliasTarget ? [norm(s.AliasTarget.DNSName ?? ''), s.AliasTarget.HostedZoneId] : null})
  return a.map(key).sort().join('|') === b.map(key).sort().join('|')
}

/**
 * Restores the saved record sets exactly. Refuses when the record is no longer what cutover set (someone changed it
 * since), unless forced: then whatever is there now is replaced.
 */
export function planRollback(current: ResourceRecordSet[], saved: ResourceRecordSet[], target: AliasTarget, force: boolean): RollbackPlan {
  const address = current.filter((s) => ADDRESS_TYPES.has(s.Type ?? ''))
  if (same(address, saved)) return {ok: true, changes: [], alreadyRolledBack: true}
  const isOurs = address.length === 1 && isAliasTo(address[0], target)
  if (!isOurs && !force) {
    const now = address.map(describeRecordSet).join('; ') || 'no address record'
    return {ok: false, reason: `the record is not what cutover set (now: ${now}); someone changed it since`}
  }
  // A saved set of a type that exists now replaces it with UPSERT (alias to plain A and back is allowed); the
  // others are deleted or created. The check above has just confirmed the record is what cutover set.
  const savedTypes = new Set(saved.map((s) => s.Type))
  const changes: Change[] = [
    ...address.filter((s) => !savedTypes.has(s.Type)).map((s) => ({Action: 'DELETE' as const, ResourceRecordSet: s})),
    ...saved.map((s) => ({Action: (address.some((a) => a.Type === s.Type) ? 'UPSERT' : 'CREATE') as Change['Action'], ResourceRecordSet: s})),
  ]
  return {ok: true, changes, alreadyRolledBack: false}
}

/** Lowers the TTL of the current (non-alias) address records, keeping their values. */
export function planTtl(current: ResourceRecordSet[], ttl: number): {changes: Change[]; before: ResourceRecordSet[]} {
  const address = current.filter((s) => ADDRESS_TYPES.has(s.Type ?? '') && !s.AliasTarget && s.TTL !== ttl)
  return {changes: address.map((s) => ({Action: 'UPSERT', ResourceRecordSet: {...s, TTL: ttl}})), before: address}
}

export function describeRecordSet(set: ResourceRecordSet): string {
  if (set.AliasTarget) return `${set.Type} alias ${set.AliasTarget.DNSName}`
  return `${set.Type} ${(set.ResourceRecords ?? []).map((r) => r.Value).join(', ')} (TTL ${set.TTL})`
}
