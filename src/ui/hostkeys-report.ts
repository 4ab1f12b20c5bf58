import type {HostKeysResult} from '../services/hostkeys.js'
import {table} from './format.js'

/** Legacy fingerprints beside what Transfer holds, then warnings with their fixes. Public data only. */
export function renderHostKeys(result: HostKeysResult): string {
  const rows = result.keys.map((k) => [
    k.type,
    k.outcome,
    k.legacyFingerprint ?? '-',
    k.transferFingerprint ?? (k.outcome === 'imported' || k.outcome === 'unchanged' || k.outcome === 'would import' ? (k.fingerprint ?? '-') : '-'),
    k.hostKeyId ?? '-',
    k.active === 'unknown' ? 'unknown' : k.active === undefined ? '-' : k.active ? 'yes' : 'NO',
  ])
  const lines = [
    `Transfer server ${result.serverId}${result.dryRun ? ' (dry run: nothing is changed)' : ''}`,
    '',
    table(['type', 'outcome', 'legacy fingerprint', 'Transfer fingerprint', 'host key id', 'active'], rows),
  ]
  for (const k of result.keys) if (k.reason) lines.push(`  ${k.outcome === 'failed' ? 'error' : 'refused'}: ${k.reason}`)
  for (const d of result.deleted) lines.push(`${d.outcome === 'would delete' ? 'would delete' : d.outcome} ${d.type ?? ''} host key ${d.hostKeyId}${d.fingerprint ? ` ${d.fingerprint}` : ''}${d.error ? `: ${d.error}` : ''}`)
  const offered = result.legacy.map((h) => `${h.type} ${h.fingerprint}`)
  lines.push('', `The legacy server presented: ${offered.join(', ') || '(none recorded)'}`)
  for (const w of result.warnings) lines.push(`WARN  ${w.message}`, `      fix: ${w.fix}`)
  if (result.problems.length > 0) lines.push('Problems:', ...result.problems.map((p) => `  - ${p}`))
  return lines.join('\n')
}
