import {ListResourceRecordSetsCommand, type ResourceRecordSet, type Route53Client} from '@aws-sdk/client-route-53'

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

export function describeRecordSet(set: ResourceRecordSet): string {
  if (set.AliasTarget) return `${set.Type} alias ${set.AliasTarget.DNSName}`
  return `${set.Type} ${(set.ResourceRecords ?? []).map((r) => r.Value).join(', ')} (TTL ${set.TTL})`
}
