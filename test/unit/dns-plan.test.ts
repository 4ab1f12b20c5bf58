import type {ResourceRecordSet} from '@aws-sdk/client-route-53'

import {isAliasTo, planRollback, planSwitch, planTtl} from '../../src/core/dns-plan.js'

const name = 'mysftp.corp.internal.'
const target = {dnsName: 'vpce-0abc-123.vpce-svc-0def.us-east-1.vpce.amazonaws.com', hostedZoneId: 'Z7HUB22UULQXV'}
const legacyA: ResourceRecordSet = {Name: name, Type: 'A', TTL: 300, ResourceRecords: [{Value: '10.1.2.3'}]}
const legacyCname: ResourceRecordSet = {Name: name, Type: 'CNAME', TTL: 60, ResourceRecords: [{Value: 'legacy.corp.internal'}]}
const alias: ResourceRecordSet = {Name: name, Type: 'A', AliasTarget: {DNSName: `${target.dnsName}.`, HostedZoneId: target.hostedZoneId, EvaluateTargetHealth: false}}
const txt: ResourceRecordSet = {Name: name, Type: 'TXT', TTL: 300, ResourceRecords: [{Value: '"owner=it"'}]}

describe('DNS change plans', () => {
  it('switches an A record with one UPSERT to the alias, saving what it replaces and leaving other types alone', () => {
    const p = planSwitch(name, [legacyA, txt], target)
    expect(p.saved).toEqual([legacyA])
    expect(p.changes).toEqual([{Action: 'UPSERT', ResourceRecordSet: {Name: name, Type: 'A', AliasTarget: {DNSName: target.dnsName, HostedZoneId: target.hostedZoneId, EvaluateTargetHealth: false}}}])
  })

  it('deletes a CNAME with its exact values and creates the alias in the same batch', () => {
    const p = planSwitch(name, [legacyCname], target)
    expect(p.changes.map((c) => [c.Action, c.ResourceRecordSet?.Type])).toEqual([['DELETE', 'CNAME'], ['CREATE', 'A']])
    expect(p.changes[0].ResourceRecordSet).toBe(legacyCname)
  })

  it('changes nothing when the record already points at the endpoint (trailing dots and case ignored)', () => {
    expect(isAliasTo({...alias, AliasTarget: {...alias.AliasTarget!, DNSName: target.dnsName.toUpperCase()}}, target)).toBe(true)
    expect(planSwitch(name, [alias], target)).toEqual({saved: [], changes: [], alreadySwitched: true})
  })

  it('rolls back exactly what was saved, refuses a record changed since unless forced, and is idempotent', () => {
    expect(planRollback([alias], [legacyA], target, false)).toEqual({ok: true, alreadyRolledBack: false, changes: [{Action: 'UPSERT', ResourceRecordSet: legacyA}]})
    expect(planRollback([alias], [legacyCname], target, false)).toEqual({
      ok: true,
      alreadyRolledBack: false,
      changes: [
        {Action: 'DELETE', ResourceRecordSet: alias},
        {Action: 'CREATE', ResourceRecordSet: legacyCname},
      ],
    })
    const changed: ResourceRecordSet = {Name: name, Type: 'A', TTL: 60, ResourceRecords: [{Value: '10.9.9.9'}]}
    const refused = planRollback([changed], [legacyA], target, false)
    expect(refused).toEqual({ok: false, reason: expect.stringContaining('now: A 10.9.9.9 (TTL 60)')})
    expect(planRollback([changed], [legacyA], target, true)).toMatchObject({ok: true, changes: [{Action: 'UPSERT', ResourceRecordSet: legacyA}]})
    expect(planRollback([legacyA, txt], [legacyA], target, false)).toEqual({ok: true, changes: [], alreadyRolledBack: true})
  })

  it('lowers the TTL of plain address records only', () => {
    expect(planTtl([legacyA, alias, txt], 60)).toEqual({before: [legacyA], changes: [{Action: 'UPSERT', ResourceRecordSet: {...legacyA, TTL: 60}}]})
    expect(planTtl([{...legacyA, TTL: 60}], 60).changes).toEqual([])
  })
})
