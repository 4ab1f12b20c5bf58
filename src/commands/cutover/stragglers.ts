import {Flags} from '@oclif/core'

import {awsFlags, awsOverrides} from '../../aws-flags.js'
import {BaseCommand} from '../../base-command.js'
import {usageError} from '../../core/errors.js'
import {loadConfig} from '../../services/config.js'
import {findStragglers, type StragglersResult} from '../../services/stragglers.js'
import {renderStragglers} from '../../ui/stragglers-report.js'

export default class CutoverStragglers extends BaseCommand<typeof CutoverStragglers> {
  static override summary = 'Who still connects to the legacy box since the switch, and who has arrived at Transfer.'
  static override description = `Reads the legacy sshd's log on the box over SSH exec, read-only (cutover.sshdLog or --sshd-log; else the journal, /var/log/auth.log or /var/log/secure) and the Transfer server's CloudWatch log group, from the switch on (or --since), and lists each user and address that logged in or tried to, with counts and the last time. Logins of the migration's own login are counted apart. Without exec (or a readable log) it says what it could not read.`
  static override examples = ['<%= config.bin %> cutover stragglers', '<%= config.bin %> cutover stragglers --since 2026-11-29T19:30:00Z --sshd-log /var/log/sshd.log --json']
  static override flags = {
    ...awsFlags,
    since: Flags.string({summary: 'From this ISO time on (default: when the switch began).'}),
    'sshd-log': Flags.string({summary: 'The sshd log file on the legacy box (overrides cutover.sshdLog).'}),
    'log-group': Flags.string({summary: "The Transfer server's CloudWatch log group (default /aws/transfer/<server id>)."}),
  }

  public async run(): Promise<StragglersResult> {
    const since = this.flags.since === undefined ? undefined : new Date(this.flags.since)
    if (since && Number.isNaN(since.getTime())) throw usageError(`--since ${this.flags.since} is not a time`, ['Give an ISO time, e.g. --since 2026-11-29T19:30:00Z.'])
    const config = await loadConfig(this.paths.configFile, awsOverrides(this.flags))
    const prompter = this.prompter()
    const r = await findStragglers(config, {since, sshdLog: this.flags['sshd-log'], logGroup: this.flags['log-group']}, {state: this.state, env: process.env, askSecret: prompter ? (message) => prompter.secret({message}) : undefined})
    this.out(renderStragglers(r))
    return r
  }
}
