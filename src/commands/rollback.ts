import {Flags} from '@oclif/core'

import {createAwsClients} from '../adapters/aws.js'
import {awsFlags, awsOverrides} from '../aws-flags.js'
import {BaseCommand, lockFlags} from '../base-command.js'
import {carryBack, type CarryBackResult} from '../services/carry-back.js'
import {loadConfig} from '../services/config.js'
import {runOnSource} from '../services/cutover-steps.js'
import {type DnsChangeResult, rollbackRecord} from '../services/dns.js'
import {describeRecordSet} from '../core/dns-plan.js'
import {CliError, usageError} from '../core/errors.js'
import {renderCarryBack} from '../ui/carry-back-report.js'

export default class Rollback extends BaseCommand<typeof Rollback> {
  static override summary = 'Point the record back at the legacy box exactly as it was, carry back what arrived through Transfer since the switch, and undo the freeze.'
  static override description = `Checks first that the record is still what the cutover set and refuses otherwise (exit 3) unless --force. Waits until Route 53 reports the change INSYNC.
Then every file that arrived in S3 under the users' homes since the switch (not put there by sync) is written to the legacy box at the path the user saw, owned by the user, with the mode sync recorded there and S3's time: to a temporary name, renamed, then hashed on the box (sha256sum over exec, or read back) and compared with what S3 sent. A file changed on the box too is never overwritten: the S3 version goes beside it as <name>.from-transfer-<time> and is listed as a conflict. Deletions made through Transfer are listed, and replayed only with --replay-deletions.
Only when every file is verified does it run cutover.unfreezeCommand; otherwise it exits 3 and the box stays frozen. An interrupted rollback resumes where it stopped; running it again changes nothing.`
  static override examples = ['<%= config.bin %> rollback --dry-run', '<%= config.bin %> rollback', '<%= config.bin %> rollback --force']
  static override flags = {
    ...lockFlags,
    ...awsFlags,
    force: Flags.boolean({summary: 'Restore the saved record even if someone changed the record since the cutover.', default: false}),
    'dry-run': Flags.boolean({summary: 'Show the change batch and every file that would be carried back, with its size; change nothing.', default: false}),
    unfreeze: Flags.boolean({summary: 'Run cutover.unfreezeCommand on the legacy box once the carry-back is verified.', default: true, allowNo: true}),
    'replay-deletions': Flags.boolean({summary: 'Delete on the box the files deleted through Transfer since the switch (only those unchanged on the box since the last sync).', default: false}),
    since: Flags.string({summary: 'Carry back what arrived in S3 from this ISO time on (default: when the switch began).'}),
    timeout: Flags.integer({summary: 'Seconds to wait for Route 53 to apply the change.', default: 300, min: 1}),
  }

  protected override changesProject(): boolean {
    return !this.flags['dry-run']
  }

  public async run(): Promise<DnsChangeResult & {carriedBack: CarryBackResult; unfrozen?: string}> {
    const since = this.flags.since === undefined ? undefined : new Date(this.flags.since)
    if (since && Number.isNaN(since.getTime())) throw usageError(`--since ${this.flags.since} is not a time`, ['Give an ISO time, e.g. --since 2026-11-29T19:30:00Z.'])
    const config = await loadConfig(this.paths.configFile, awsOverrides(this.flags))
    const aws = createAwsClients(config.target)
    try {
      const dryRun = this.flags['dry-run']
      const r = await rollbackRecord({config, aws, state: this.state}, {dryRun, force: this.flags.force, timeoutSeconds: this.flags.timeout})
      const restored = r.changes.filter((c) => c.Action !== 'DELETE').map((c) => describeRecordSet(c.ResourceRecordSet!))
      this.out(
        r.outcome === 'unchanged'
          ? `${r.recordName} already points where it did before the cutover.`
          : `${r.outcome === 'dry-run' ? 'Would restore' : 'Restored'} ${r.recordName}: ${restored.join('; ')}`,
      )
      if (r.outcome === 'dry-run') this.out(JSON.stringify(r.changes, null, 2))
      // After the record is back, so that clients stop arriving at Transfer while the files are carried back.
      const carried = await carryBack(
        config,
        {dryRun, replayDeletions: this.flags['replay-deletions'], since},
        {state: this.state, aws, env: process.env, log: (msg, detail) => this.logger.info(detail ?? {}, msg), onFile: (line) => this.logToStderr(line), askSecret: this.askSecret()},
      )
      this.out(renderCarryBack(carried))
      let unfrozen: string | undefined
      const command = config.cutover.unfreezeCommand
      if (!dryRun && !carried.complete) {
        // The result still goes out (--json included); exit 3 says the rollback is not finished.
        this.logToStderr(`The record is restored, but ${carried.counts.failed} file(s) that arrived through Transfer are not carried back and verified: the legacy box stays frozen. Fix what each note says and run sftp-cutover rollback again.`)
        this.foundProblems()
        return {...r, carriedBack: carried}
      }
      if (this.flags.unfreeze && command && !dryRun) {
        const run = await runOnSource({config, env: process.env}, command)
        this.state.audit({action: 'legacy.unfreeze', target: config.source.host, after: {command, exitCode: run.code}, outcome: run.code === 0 ? 'ok' : 'failed'})
        if (run.code !== 0) throw new CliError(`the record is restored, but the unfreeze command exited ${run.code}: ${run.output.trim().slice(-500)}`, {suggestions: ['Run the unfreeze command on the legacy box by hand.']})
        unfrozen = command
        this.out(`Unfroze the legacy box: ${command}`)
      }
      return {...r, carriedBack: carried, unfrozen}
    } finally {
      aws.destroy()
    }
  }

  private askSecret() {
    const prompter = this.prompter()
    return prompter ? (message: string) => prompter.secret({message}) : undefined
  }
}
