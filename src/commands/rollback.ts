import {Flags} from '@oclif/core'

import {createAwsClients} from '../adapters/aws.js'
import {awsFlags, awsOverrides} from '../aws-flags.js'
import {BaseCommand, lockFlags} from '../base-command.js'
import {loadConfig} from '../services/config.js'
import {runOnSource} from '../services/cutover-steps.js'
import {type DnsChangeResult, rollbackRecord} from '../services/dns.js'
import {describeRecordSet} from '../core/dns-plan.js'
import {CliError} from '../core/errors.js'

export default class Rollback extends BaseCommand<typeof Rollback> {
  static override summary = 'Point the record back at the legacy box exactly as it was before the cutover, and undo the freeze.'
  static override description = `Checks first that the record is still what the cutover set and refuses otherwise (exit 3) unless --force. Waits until Route 53 reports the change INSYNC, then runs cutover.unfreezeCommand on the legacy box when configured. Running it again changes nothing.`
  static override examples = ['<%= config.bin %> rollback', '<%= config.bin %> rollback --dry-run', '<%= config.bin %> rollback --force']
  static override flags = {
    ...lockFlags,
    ...awsFlags,
    force: Flags.boolean({summary: 'Restore the saved record even if someone changed the record since the cutover.', default: false}),
    'dry-run': Flags.boolean({summary: 'Show the change batch; change nothing.', default: false}),
    unfreeze: Flags.boolean({summary: 'Run cutover.unfreezeCommand on the legacy box after the record is restored.', default: true, allowNo: true}),
    timeout: Flags.integer({summary: 'Seconds to wait for Route 53 to apply the change.', default: 300, min: 1}),
  }

  protected override changesProject(): boolean {
    return !this.flags['dry-run']
  }

  public async run(): Promise<DnsChangeResult & {unfrozen?: string}> {
    const config = await loadConfig(this.paths.configFile, awsOverrides(this.flags))
    const aws = createAwsClients(config.target)
    try {
      const r = await rollbackRecord({config, aws, state: this.state}, {dryRun: this.flags['dry-run'], force: this.flags.force, timeoutSeconds: this.flags.timeout})
      const restored = r.changes.filter((c) => c.Action !== 'DELETE').map((c) => describeRecordSet(c.ResourceRecordSet!))
      this.out(
        r.outcome === 'unchanged'
          ? `${r.recordName} already points where it did before the cutover; nothing to do.`
          : `${r.outcome === 'dry-run' ? 'Would restore' : 'Restored'} ${r.recordName}: ${restored.join('; ')}`,
      )
      if (r.outcome === 'dry-run') this.out(JSON.stringify(r.changes, null, 2))
      let unfrozen: string | undefined
      const command = config.cutover.unfreezeCommand
      if (this.flags.unfreeze && command && r.outcome !== 'dry-run') {
        const run = await runOnSource({config, env: process.env}, command)
        this.state.audit({action: 'legacy.unfreeze', target: config.source.host, after: {command, exitCode: run.code}, outcome: run.code === 0 ? 'ok' : 'failed'})
        if (run.code !== 0) throw new CliError(`the record is restored, but the unfreeze command exited ${run.code}: ${run.output.trim().slice(-500)}`, {suggestions: ['Run the unfreeze command on the legacy box by hand.']})
        unfrozen = command
        this.out(`Unfroze the legacy box: ${command}`)
      }
      return {...r, unfrozen}
    } finally {
      aws.destroy()
    }
  }
}
