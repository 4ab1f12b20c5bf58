import type {Check, CheckStatus} from '../services/doctor.js'

const LABEL: Record<CheckStatus, string> = {pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'SKIP'}

/** Plain, grep-friendly lines: status, check id, detail, and the fix on the next line when there is one. */
export function renderChecks(checks: Check[]): string {
  const width = Math.max(...checks.map((c) => c.id.length))
  const lines: string[] = []
  for (const c of checks) {
    lines.push(`${LABEL[c.status]}  ${c.id.padEnd(width)}  ${c.detail}`)
    if (c.fix && c.status !== 'pass') lines.push(`${' '.repeat(width + 8)}fix: ${c.fix}`)
  }
  return lines.join('\n')
}
