/**
 * cutover stragglers: who still connects to the legacy box after the switch (its sshd log, read over exec, read-only)
 * and who has arrived at the Transfer server (its CloudWatch log group). Each side says what it could not read.
 */
import {CutoverStore} from '../adapters/cutover-store.js'
import {type AskSecret, resolveCredentials, SshSession} from '../adapters/ssh.js'
import type {SqliteStateStore} from '../adapters/state.js'
import {TransferLogs} from '../adapters/transfer-logs.js'
import {type Config, isFtp} from '../core/config.js'
import {errorMessage, usageError} from '../core/errors.js'
import {type LoginEvent, parseSshdLine, parseTransferEvent, type StragglerRow, summarize} from '../core/stragglers.js'

export interface StragglersOptions {
  since?: Date
  /** the sshd log file on the box (overrides cutover.sshdLog) */
  sshdLog?: string
  /** the Transfer server's log group (default /aws/transfer/<server id>) */
  logGroup?: string
}

export interface StragglersResult {
  since: string
  legacy: {
    /** where the lines came from: "journalctl" or a file path; absent when nothing could be read */
    source?: string
    rows: StragglerRow[]
    /** logins of the migration's own login (source.username): the tool itself, not a client */
    ownLogins: number
    /** matching lines without a time (cannot tell whether before or after the switch) */
    undated: number
    unread: Array<{source: string; reason: string}>
  }
  transfer: {logGroup?: string; rows: StragglerRow[]; unread?: string}
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/** Read-only commands that print the sshd log, in the order they are tried. */
function logSources(config: Config, opts: StragglersOptions, since: Date): Array<{source: string; command: string}> {
  const path = opts.sshdLog ?? config.cutover.sshdLog
  if (path) return [{source: path, command: `cat -- ${q(path)}`}]
  const epoch = Math.floor(since.getTime() / 1000)
  return [
    {source: 'journalctl', command: `journalctl --no-pager -q -o short-iso --since @${epoch} _COMM=sshd _COMM=sshd-session`}, // runs on the box
    {source: '/var/log/auth.log', command: 'cat -- /var/log/auth.log'},
    {source: '/var/log/secure', command: 'cat -- /var/log/secure'},
  ]
}

function switchTime(config: Config, state: SqliteStateStore, since?: Date): Date {
  if (since) return since
  const {hostedZoneId, recordName} = config.dns
  const rec = hostedZoneId && recordName ? new CutoverStore(state).dnsRecord(hostedZoneId, recordName) : undefined
  const at = rec?.switchStartedAt ?? rec?.switchedAt
  if (!at) throw usageError('no switch of the record is recorded in this project', ['Pass --since <ISO time> to look from that time on.'], 'NO_SWITCH')
  return new Date(at)
}

export async function findStragglers(config: Config, opts: StragglersOptions, deps: {state: SqliteStateStore; env: NodeJS.ProcessEnv; askSecret?: AskSecret}): Promise<StragglersResult> {
  const since = switchTime(config, deps.state, opts.since)
  const now = new Date()
  const legacy: StragglersResult['legacy'] = {rows: [], ownLogins: 0, undated: 0, unread: []}
  if (isFtp(config.source.protocol)) {
    throw usageError(`cutover stragglers reads sshd's log on the box, and this box is read over ${config.source.protocol.toUpperCase()}: its clients log in to the FTP server`, [
      'Read the FTP server\'s own log on the box for logins since the switch (pure-ftpd: syslog; vsftpd: /var/log/vsftpd.log).',
    ], 'STRAGGLERS_FTP')
  }
  const session = await SshSession.connect(config.source, await resolveCredentials(config.source, deps.env, deps.askSecret))
  try {
    // The first source with sshd lines in it; an empty journal still counts when no file can be read.
    let fallback: {source: string; events: LoginEvent[]} | undefined
    let chosen: {source: string; events: LoginEvent[]} | undefined
    for (const s of logSources(config, opts, since)) {
      const r = await session.exec(s.command, {timeoutMs: 120_000}).catch((err: unknown) => ({code: -1, stdout: Buffer.alloc(0), stderr: Buffer.from(errorMessage(err))}))
      if (r.code !== 0) {
        legacy.unread.push({source: s.source, reason: r.stderr.toString('utf8').trim().split('\n')[0] || `exit ${r.code}`})
        continue
      }
      const events: LoginEvent[] = []
      for (const line of r.stdout.toString('utf8').split('\n')) {
        const e = parseSshdLine(line, now)
        if (e) events.push(e)
      }
      if (events.length > 0) {
        chosen = {source: s.source, events}
        break
      }
      fallback ??= {source: s.source, events}
    }
    chosen ??= fallback
    if (chosen) {
      const own = chosen.events.filter((e) => e.user === config.source.username)
      const summary = summarize(chosen.events.filter((e) => e.user !== config.source.username), since)
      legacy.source = chosen.source
      legacy.rows = summary.rows
      legacy.undated = summary.undated
      legacy.ownLogins = summarize(own, since).rows.reduce((n, row) => n + row.logins, 0)
      legacy.unread = legacy.unread.filter((u) => u.source !== chosen.source)
    }
  } finally {
    session.close()
  }

  const serverId = config.target.transferServerId
  const logGroup = opts.logGroup ?? (serverId ? `/aws/transfer/${serverId}` : undefined)
  const transfer: StragglersResult['transfer'] = {logGroup, rows: []}
  if (!logGroup) {
    transfer.unread = 'no log group: set target.transferServerId or pass --log-group'
  } else {
    const logs = new TransferLogs(config.target)
    try {
      const events: LoginEvent[] = []
      for await (const e of logs.events(logGroup, since)) {
        const parsed = parseTransferEvent(e.message, e.at, e.stream)
        if (parsed) events.push(parsed)
      }
      transfer.rows = summarize(events, since).rows
    } catch (err) {
      transfer.unread = `${logGroup}: ${errorMessage(err)}`
    } finally {
      logs.destroy()
    }
  }
  return {since: since.toISOString(), legacy, transfer}
}
