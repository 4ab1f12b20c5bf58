import {Flags} from '@oclif/core'

import {createAwsClients} from '../../adapters/aws.js'
import {awsFlags, awsOverrides} from '../../aws-flags.js'
import {BaseCommand, lockFlags} from '../../base-command.js'
import {loadConfig} from '../../services/config.js'
import {type DnsChangeResult, prepareTtl} from '../../services/dns.js'

export default class DnsPrepare extends BaseCommand<typeof DnsPrepare> {
  static override summary = "Lower the record's TTL days before the cutover, so that clients follow the switch quickly."
  static override description = 'The original record is remembered the first time. Run it at least one old TTL before the cutover.'
  static override examples = ['<%= config.bin %> dns prepare --ttl 60']
  static override flags = {
    ...lockFlags,
    ...awsFlags,
    ttl: Flags.integer({summary: 'New TTL in seconds.', required: true, min: 0, max: 172_800}),
    'dry-run': Flags.boolean({summary: 'Show the change batch; change nothing.', default: false}),
    timeout: Flags.integer({summary: 'Seconds to wait for Route 53 to apply the change.', default: 300, min: 1}),
  }

  protected override changesProject(): boolean {
    return !this.flags['dry-run']
  }

  public async run(): Promise<DnsChangeResult> {
    const config = await loadConfig(this.paths.configFile, awsOverrides(this.flags))
    const aws = createAwsClients(config.target)
    try {
      const r = await prepareTtl({config, aws, state: this.state}, this.flags.ttl, {dryRun: this.flags['dry-run'], timeoutSeconds: this.flags.timeout})
      this.out(
        r.outcome === 'unchanged'
          ? `${r.recordName} already has TTL ${this.flags.ttl}; nothing to do.`
          : `${r.outcome === 'dry-run' ? 'Would lower' : 'Lowered'} the TTL of ${r.recordName} to ${this.flags.ttl} s (was ${r.before.map((s) => `${s.Type} ${s.TTL}`).join(', ')}).`,
      )
      this.next(r.outcome === 'dry-run' ? `dns prepare --ttl ${this.flags.ttl}` : 'sync')
      return r
    } finally {
      aws.destroy()
    }
  }
}
