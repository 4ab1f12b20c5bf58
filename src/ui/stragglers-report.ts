import type {StragglersResult} from '../services/stragglers.js'
import {table} from './format.js'

const rowsTable = (rows: StragglersResult['legacy']['rows']) =>
  table(['user', 'address', 'logins', 'refused', 'first', 'last'], rows.map((r) => [r.user, r.address, r.logins, r.failures, r.first, r.last]))

export function renderStragglers(r: StragglersResult): string {
  const out: string[] = [`Since ${r.since}:`, '']
  const l = r.legacy
  if (l.source) {
    out.push(l.rows.length ? `Still connecting to the legacy box (from ${l.source}):` : `Nobody has connected to the legacy box (from ${l.source}).`)
    if (l.rows.length) out.push(rowsTable(l.rows))
    if (l.ownLogins) out.push(`(${l.ownLogins} login(s) of the migration's own login are not counted.)`)
    if (l.undated) out.push(`${l.undated} login line(s) carry no time and could not be placed before or after the switch.`)
  } else {
    out.push('Could not read the legacy sshd log:')
  }
  for (const u of l.unread) if (!l.source) out.push(`  ${u.source}: ${u.reason}`)
  if (!l.source) out.push('  Set cutover.sshdLog (or --sshd-log) to the sshd log file, for a login that may run commands.')
  out.push('')
  const t = r.transfer
  if (t.unread) out.push(`Could not read the Transfer server's log: ${t.unread}`)
  else out.push(t.rows.length ? `Arrived at Transfer (${t.logGroup}):` : `Nobody has connected to Transfer yet (${t.logGroup}).`)
  if (t.rows.length) out.push(rowsTable(t.rows))
  return out.join('\n')
}
