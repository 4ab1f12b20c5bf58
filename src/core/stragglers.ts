/**
 * Stragglers: who still connects to the legacy box after the switch (from its sshd log), and who has arrived at the
 * Transfer server (from its CloudWatch log group). Pure parsing and counting; the adapters fetch the lines.
 */

export type LoginOutcome = 'login' | 'failed'

export interface LoginEvent {
  at?: Date
  user: string
  address: string
  outcome: LoginOutcome
}

export interface StragglerRow {
  user: string
  address: string
  logins: number
  failures: number
  first: string
  last: string
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/**
 * The time at the start of a syslog or journal line: ISO 8601 with an offset (rsyslog's default on Debian 12,
 * `journalctl -o short-iso`) or the classic "Nov 29 19:30:56", read as UTC in the year of `now` (the year before
 * when that would be in the future). Undefined when the line has none.
 */
export function lineTime(line: string, now: Date): Date | undefined {
  const iso = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))\s/.exec(line)
  if (iso) {
    const t = new Date(iso[1])
    return Number.isNaN(t.getTime()) ? undefined : t
  }
  const classic = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})\s/.exec(line)
  if (!classic || !MONTHS.includes(classic[1])) return undefined
  const [h, m, s] = [classic[3], classic[4], classic[5]].map(Number)
  let t = new Date(Date.UTC(now.getUTCFullYear(), MONTHS.indexOf(classic[1]), Number(classic[2]), h, m, s))
  if (t.getTime() > now.getTime() + 86_400_000) t = new Date(Date.UTC(now.getUTCFullYear() - 1, MONTHS.indexOf(classic[1]), Number(classic[2]), h, m, s))
  return t
}

// OpenSSH's messages for a login and for a refused attempt (LogLevel INFO and VERBOSE; sshd or, from 9.8, sshd-session).
const ACCEPTED = /(?:^|\s)Accepted \S+ for (\S+) from (\S+) port \d+/
const FAILED = [
  /Failed \S+ for (?:invalid user )?(\S+) from (\S+) port \d+/,
  /Invalid user (\S+) from (\S+) port \d+/,
  /Connection (?:closed|reset) by (?:authenticating|invalid) user (\S+) (\S+) port \d+ \[preauth\]/,
]

/** A login or a refused attempt in one sshd log line, or undefined for any other line. */
export function parseSshdLine(line: string, now: Date): LoginEvent | undefined {
  const ok = ACCEPTED.exec(line)
  if (ok) return {at: lineTime(line, now), user: ok[1], address: ok[2], outcome: 'login'}
  for (const re of FAILED) {
    const m = re.exec(line)
    if (m) return {at: lineTime(line, now), user: m[1], address: m[2], outcome: 'failed'}
  }
  return undefined
}

/**
 * A Transfer Family JSON structured log event: CONNECTED is a login, AUTH_FAILURE a refused one. The user comes from
 * "user", else the user ARN ("resource-arn"), else the log stream name ("<user>.<session id>").
 */
export function parseTransferEvent(message: string, at: Date, stream?: string): LoginEvent | undefined {
  let j: Record<string, unknown>
  try {
    j = JSON.parse(message) as Record<string, unknown>
  } catch {
    return undefined
  }
  const type = j['activity-type']
  if (type !== 'CONNECTED' && type !== 'AUTH_FAILURE') return undefined
  const arn = typeof j['resource-arn'] === 'string' ? (j['resource-arn'] as string) : undefined
  const user = (typeof j.user === 'string' && j.user) || (arn?.includes(':user/') ? arn.slice(arn.lastIndexOf('/') + 1) : undefined) || stream?.split('.')[0]
  const address = typeof j['source-ip'] === 'string' ? (j['source-ip'] as string) : 'unknown'
  return user ? {at, user, address, outcome: type === 'CONNECTED' ? 'login' : 'failed'} : undefined
}

/** Counts per user and address, from `since` on; events without a time are counted apart (they cannot be placed). */
export function summarize(events: Iterable<LoginEvent>, since: Date): {rows: StragglerRow[]; undated: number} {
  const rows = new Map<string, StragglerRow>()
  let undated = 0
  for (const e of events) {
    if (!e.at) {
      undated++
      continue
    }
    if (e.at.getTime() < since.getTime()) continue
    const k = `${e.user}\u0000${e.address}`
    const at = e.at.toISOString()
    const row = rows.get(k) ?? {user: e.user, address: e.address, logins: 0, failures: 0, first: at, last: at}
    if (e.outcome === 'login') row.logins++
    else row.failures++
    if (at < row.first) row.first = at
    if (at > row.last) row.last = at
    rows.set(k, row)
  }
  return {rows: [...rows.values()].sort((a, b) => (a.last < b.last ? 1 : a.last > b.last ? -1 : 0)), undated}
}
