import {DEFAULT_RUNBOOK, parseRunbook, softRunbook, startIndex} from '../../src/core/runbook.js'

describe('runbook model', () => {
  it('parses names and options, numbers repeated steps and fills defaults', () => {
    const r = parseRunbook({name: 'night', steps: ['preflight', {wait: {seconds: 5}}, {exec: {command: 'echo a'}}, {exec: {command: 'echo b'}, id: 'notify'}, {'dns-switch': {}}]})
    if (!r.ok) throw new Error(JSON.stringify(r.problems))
    expect(r.runbook.steps.map((s) => s.id)).toEqual(['preflight', 'wait', 'exec', 'notify', 'dns-switch'])
    expect(r.runbook.steps[0].options).toEqual({skip: []})
    expect(r.runbook.steps[4].options).toEqual({timeoutSeconds: 300})
  })

  it('names each problem with the step position and what is allowed', () => {
    const r = parseRunbook({steps: ['preflight', 'teleport', {wait: {seconds: -1}}, {exec: {}}, {freeze: {where: 'moon'}}]})
    expect(r.ok).toBe(false)
    if (r.ok) return
    const text = r.problems.map((p) => `${p.path}: ${p.message}`).join('\n')
    expect(text).toMatch(/steps\.1: unknown step type "teleport"; allowed: preflight, confirm, freeze/)
    expect(text).toMatch(/steps\.2 \(wait\)\.seconds: must be 0 or more/)
    expect(text).toMatch(/steps\.3 \(exec\)\.command/)
    expect(text).toMatch(/steps\.4 \(freeze\)\.where/)
  })

  it('gives a changed runbook another digest, so it starts afresh', () => {
    const a = parseRunbook(DEFAULT_RUNBOOK)
    const b = parseRunbook({...DEFAULT_RUNBOOK, steps: [...DEFAULT_RUNBOOK.steps, {wait: {seconds: 1}}]})
    if (!a.ok || !b.ok) throw new Error('invalid')
    expect(a.runbook.digest).not.toBe(b.runbook.digest)
    const again = parseRunbook(DEFAULT_RUNBOOK)
    expect(again.ok && again.runbook.digest).toBe(a.runbook.digest)
  })

  it('starts after the completed steps, or at --from', () => {
    const r = parseRunbook(DEFAULT_RUNBOOK)
    if (!r.ok) throw new Error('invalid')
    expect(startIndex(r.runbook, new Set())).toEqual({index: 0})
    expect(startIndex(r.runbook, new Set(['preflight', 'confirm', 'freeze']))).toEqual({index: 3})
    expect(startIndex(r.runbook, new Set(r.runbook.steps.map((s) => s.id)))).toEqual({index: r.runbook.steps.length})
    expect(startIndex(r.runbook, new Set(), 'verify')).toEqual({index: 4})
    expect(startIndex(r.runbook, new Set(), 'nope')).toEqual({error: expect.stringContaining('no step "nope"')})
  })
})

describe('the soft cutover runbook', () => {
  it('switches before the freeze and drains the box in between; untilQuiet must be a duration', () => {
    const parsed = parseRunbook(softRunbook('5m'))
    expect(parsed.ok && parsed.runbook.steps.map((s) => `${s.id}:${s.type}`)).toEqual([
      'preflight:preflight', 'confirm:confirm', 'dns-switch:dns-switch', 'smoke-test:smoke-test', 'drain:sync', 'freeze:freeze', 'sync:sync', 'verify:verify', 'report:report',
    ])
    expect(parsed.ok && parsed.runbook.steps.find((s) => s.id === 'drain')!.options).toEqual({untilQuiet: '5m'})
    const bad = parseRunbook({steps: [{sync: {untilQuiet: 'soon'}}]})
    expect(bad.ok ? [] : bad.problems).toEqual([{path: 'steps.0 (sync).untilQuiet', message: 'must be a duration such as 90s, 5m or 1h'}])
  })
})
