import type {Finding} from '../core/inventory-model.js'
import type {UserAction, UserPlan} from '../core/users-plan.js'
import type {UsersImportResult, UsersPlan} from '../services/users.js'

const LABEL: Record<UserAction, string> = {create: 'CREATE', update: 'UPDATE', unchanged: 'UNCHANGED', skip: 'SKIP'}
const PAD = ' '.repeat(11)

function short(value: unknown): string {
  if (value === undefined || value === null || value === '') return '(none)'
  const s = typeof value === 'string' ? value : JSON.stringify(value)
  return s.length > 120 ? `${s.slice(0, 117)}...` : s
}

function findingLine(f: Finding): string {
  const mark = f.severity === 'blocker' ? 'x' : f.severity === 'warning' ? '!' : 'i'
  return `${PAD}${mark} ${f.rule}: ${f.reason}`
}

function homeLine(u: UserPlan): string {
  if (u.spec.homeDirectoryType === 'PATH') return `${PAD}home ${u.spec.homeDirectory} (path mode, session policy limits it to that folder)`
  const maps = (u.spec.homeDirectoryMappings ?? []).map((m) => `${m.Entry} -> ${m.Target}`).join(', ')
  const landing = u.spec.homeDirectory !== '/' ? ` (lands in ${u.spec.homeDirectory})` : ''
  return `${PAD}home ${maps}${landing}`
}

/** One user: the action line, then what changes and what is worth knowing. */
export function renderUserPlan(u: UserPlan, plan: Pick<UsersPlan, 'bucket'>): string[] {
  const name = u.renamed ? `${u.userName} (legacy ${u.legacyName})` : u.userName
  const lines: string[] = []
  if (u.action === 'skip') {
    const why = !u.selected ? 'not selected' : u.reasons.map((r) => `${r.rule}: ${r.reason}`).join('; ')
    lines.push(`${LABEL.skip.padEnd(10)} ${name}  ${why}`)
    if (u.selected) {
      for (const r of u.reasons) lines.push(`${PAD}fix: ${r.fix}`)
      for (const f of u.findings) if (!u.reasons.includes(f)) lines.push(findingLine(f))
    }
    return lines
  }
  const keyCounts = [u.keys.import.length ? `+${u.keys.import.length} key${u.keys.import.length > 1 ? 's' : ''}` : '', u.keys.remove.length ? `-${u.keys.remove.length} key${u.keys.remove.length > 1 ? 's' : ''}` : '']
    .filter(Boolean)
    .join(' ')
  lines.push(`${LABEL[u.action].padEnd(10)} ${name}${keyCounts ? `  ${keyCounts}` : ''}${u.adopted ? '  (exists without sftp-cutover tags: brought in line with the legacy box)' : ''}`)
  if (u.action === 'create') lines.push(homeLine(u))
  for (const c of u.changes) {
    if (c.field === 'HomePlaceholder') lines.push(`${PAD}+ home folder s3://${plan.bucket}/${String(c.after)}`)
    else lines.push(`${PAD}~ ${c.field}: ${short(c.before)} -> ${short(c.after)}`)
  }
  if (u.action === 'create' && u.placeholder && !u.placeholder.exists) lines.push(`${PAD}+ home folder s3://${plan.bucket}/${u.placeholder.key}`)
  for (const k of u.keys.import) lines.push(`${PAD}+ key ${k.type} ${k.fingerprint}${k.comment ? ` ${k.comment}` : ''} (${k.source})`)
  // An FTP user's keys come from --keys-dir or the wizard, not from the box.
  const gone = u.findings.some((f) => f.rule === 'user.ftp-login') ? 'no longer given for this FTP user' : 'no longer on the legacy box'
  for (const k of u.keys.remove) lines.push(`${PAD}- key ${k.type ?? '?'} ${k.fingerprint ?? '(unreadable)'}${k.comment ? ` ${k.comment}` : ''} (${gone}; id ${k.id})`)
  for (const k of u.keys.excluded) lines.push(`${PAD}  key ${k.type} ${k.fingerprint} excluded by the engineer`)
  for (const k of u.keys.refused) if (k.finding.rule === 'key.dead') lines.push(`${PAD}  key ${k.type} ${k.fingerprint ?? ''} not imported: ${k.finding.reason.replace(/^\S+: /, '')} (${k.source})`)
  for (const f of u.findings) if (f.rule !== 'key.dead') lines.push(findingLine(f))
  return lines
}

export function renderUsersPlan(plan: UsersPlan): string {
  const lines = [
    `Transfer server ${plan.serverId} (${plan.server.domain}) · bucket ${plan.bucket}${plan.prefix ? `, prefix ${plan.prefix}` : ''} · home mode ${plan.homeMode} (${plan.homeModeFrom})`,
    `Inventory #${plan.inventory.runId} of ${plan.inventory.host}${plan.inventory.finishedAt ? `, finished ${plan.inventory.finishedAt}` : ''}`,
    '',
  ]
  const accepted = Object.entries(plan.accepted)
    .map(([legacy, a]) => [legacy, [a.deadKeys ? 'keys sshd ignores today' : '', a.keyOptions ? 'keys without their restricting options' : ''].filter(Boolean).join(' and ')])
    .filter(([, what]) => what)
  if (accepted.length > 0) lines.push('Accepted risks (imported on purpose, listed in the migration report):', ...accepted.map(([legacy, what]) => `  ${legacy}: ${what}`), '')
  for (const u of plan.users) lines.push(...renderUserPlan(u, plan))
  if (plan.unknown.names.length > 0 || plan.unknown.note) {
    lines.push('')
    if (plan.unknown.names.length > 0) {
      lines.push(
        `${plan.unknown.action === 'delete' ? 'DELETE' : 'UNKNOWN'}    users on the server that the inventory does not know: ${plan.unknown.names.join(', ')}${plan.unknown.action === 'delete' ? ' (--prune)' : ' (kept; --prune deletes them)'}`,
      )
    }
    if (plan.unknown.note) lines.push(`note: ${plan.unknown.note}`)
  }
  const s = plan.summary
  lines.push(
    '',
    `Plan: ${s.create} to create, ${s.update} to update, ${s.unchanged} unchanged, ${s.skip} skipped${s.delete ? `, ${s.delete} to delete` : ''}; keys: ${s.keysToImport} to import, ${s.keysToRemove} to remove, ${s.keysRefused} refused${s.keysDead ? ` (${s.keysDead} dead today)` : ''}`,
  )
  if (plan.problems.length > 0) lines.push('Problems:', ...plan.problems.map((p) => `  - ${p}`))
  return lines.join('\n')
}

export function renderUsersImport(result: UsersImportResult): string {
  if (result.dryRun) return `${renderUsersPlan(result.plan)}\n\nDry run: nothing was changed.`
  const lines = [renderUsersPlan(result.plan), '']
  for (const o of result.outcomes) {
    if (o.outcome === 'unchanged' || o.outcome === 'skipped') continue
    const keys = [o.keysImported.length ? `${o.keysImported.length} key(s) imported` : '', o.keysRemoved.length ? `${o.keysRemoved.length} key(s) removed` : ''].filter(Boolean).join(', ')
    lines.push(`${o.outcome.toUpperCase().padEnd(10)} ${o.userName}${keys ? `  ${keys}` : ''}`)
    for (const e of o.errors) lines.push(`${PAD}error: ${e}`)
  }
  const s = result.summary
  lines.push(`Done: ${s.created} created, ${s.updated} updated, ${s.unchanged} unchanged, ${s.skipped} skipped, ${s.deleted} deleted, ${s.failed} failed.`)
  return lines.join('\n')
}

/** The users table the wizard starts with. */
export function renderUsersOverview(plan: UsersPlan): string {
  const rows = plan.users.map((u) => {
    const blocker = u.reasons[0] ?? u.findings.find((f) => f.severity === 'blocker')
    const status = u.action === 'skip' && blocker ? `blocked: ${blocker.rule}` : u.exists ? 'on Transfer' : 'new'
    const keys = `${u.keys.available.length} usable${u.keys.refused.length ? `, ${u.keys.refused.length} refused` : ''}${u.keys.excluded.length ? `, ${u.keys.excluded.length} excluded` : ''}`
    return [u.renamed ? `${u.legacyName} -> ${u.userName}` : u.legacyName, status, keys]
  })
  const widths = [0, 1].map((i) => Math.max(...rows.map((r) => r[i].length), 4))
  return rows.map((r) => `  ${r[0].padEnd(widths[0])}  ${r[1].padEnd(widths[1])}  ${r[2]}`).join('\n')
}
