import {Args} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {configKeys} from '../../core/config.js'
import {type ConfigValue, getSetting} from '../../services/config-edit.js'

export default class ConfigGet extends BaseCommand<typeof ConfigGet> {
  static override summary = 'Show one setting: its value in sftp-cutover.yaml and the value the commands use.'
  static override description = `KEY is a key of the configuration table (README, "Configuration"): ${configKeys.join(', ')}.`
  static override examples = ['<%= config.bin %> config get source.port']
  static override args = {key: Args.string({description: 'Setting, e.g. source.identityFile.', required: true})}

  public async run(): Promise<ConfigValue> {
    const r = await getSetting(this.paths.configFile, this.args.key, process.env)
    this.out(r.origin === 'not set' ? `${r.key} is not set` : `${r.key} = ${JSON.stringify(r.effective)} (${r.origin === 'file' ? this.paths.configFile : r.origin === 'env' ? 'environment' : 'default'})`)
    return r
  }
}
