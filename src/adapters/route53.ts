import {type Change, ChangeResourceRecordSetsCommand, ListResourceRecordSetsCommand, type ResourceRecordSet, type Route53Client, waitUntilResourceRecordSetsChanged} from '@aws-sdk/client-route-53'

/** Route 53 returns names fully qualified, lower-case, with a trailing dot and octal escapes for special characters. */
export function normalizeRecordName(name: string): string {
  const n = name.toLowerCase().replace(/\\052/g, '*')
  return n.endsWith('.') ? n : `${n}.`
}

/** Every record set (any type) with exactly this name in the zone. */
export async function findRecordSets(route53: Route53Client, hostedZoneId: string, recordName: string): Promise<ResourceRecordSet[]> {
  const wanted = normalizeRecordName(recordName)
  const out: ResourceRecordSet[] = []
  let start: {name?: string; type?: string; id?: string} = {name: wanted}
  for (;;) {
    const page = await route53.send(
      new ListResourceRecordSetsCommand({HostedZoneId: hostedZoneId, StartRecordName: start.name, StartRecordType: start.type as never, StartRecordIdentifier: start.id, MaxItems: 100}),
    )
    const sets = page.ResourceRecordSets ?? []
    for (const set of sets) if (normalizeRecordName(set.Name ?? '') === wanted) out.push(set)
    // Listing is sorted by name: stop once past the wanted name.
    const pastName = sets.some((s) => normalizeRecordName(s.Name ?? '') !== wanted && out.length > 0)
    if (!page.IsTruncated || pastName) break
    start = {name: page.NextRecordName, type: page.NextRecordType, id: page.NextRecordIdentifier}
    if (normalizeRecordName(start.name ?? '') !== wanted) break
  }
  return out
}

/** The record changes cutover and rollback make, and waiting for Route 53 to apply them. */
export interface DnsZone {
  readonly hostedZoneId: string
  recordSets(name: string): Promise<ResourceRecordSet[]>
  /** Applies the changes as one all-or-nothing batch; returns the change id. */
  apply(changes: Change[], comment: string): Promise<string>
  /** Waits until the change is INSYNC on every Route 53 name server. */
  waitInSync(changeId: string, timeoutSeconds: number): Promise<void>
}

export function route53Zone(route53: Route53Client, hostedZoneId: string): DnsZone {
  return {
    hostedZoneId,
    recordSets: (name) => findRecordSets(route53, hostedZoneId, name),
    async apply(changes, comment) {
      const r = await route53.send(new ChangeResourceRecordSetsCommand({HostedZoneId: hostedZoneId, ChangeBatch: {Comment: comment, Changes: changes}}))
      return r.ChangeInfo?.Id ?? ''
    },
    async waitInSync(changeId, timeoutSeconds) {
      // waitUntil… throws when the change is not INSYNC within the time.
      await waitUntilResourceRecordSetsChanged({client: route53, maxWaitTime: timeoutSeconds, minDelay: 2, maxDelay: 10}, {Id: changeId}).catch((err: unknown) => {
        throw new Error(`change ${changeId} was not INSYNC after ${timeoutSeconds} s: ${(err as Error).message}`)
      })
    },
  }
}
