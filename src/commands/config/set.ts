import {Args} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {configKeys} from '../../core/config.js'
import {changeSetting, type ConfigValue} from '../../services/config-edit.js'

export default class ConfigSet extends BaseCommand<typeof ConfigSet> {
  static override summary = 'Change one setting in sftp-cutover.yaml, checked like the whole file.'
  static override description = `KEY is a key of the configuration table (README, "Configuration"): ${configKeys.join(', ')}.
The value is read as the key's kind (a number, true/false, a comma-separated list) and validated with the same rules as the file; an invalid value is refused (exit 2) and nothing is written. Comments in the file are kept.`
  static override examples = ['<%= config.bin %> config set source.port 2222', '<%= config.bin %> config set source.hostKeyFingerprint SHA256:...']
  static override args = {
    key: Args.string({description: 'Setting, e.g. source.identityFile.', required: true}),
    value: Args.string({description: 'New value.', required: true}),
  }

  public async run(): Promise<ConfigValue & {changed: boolean}> {
    const r = await changeSetting(this.paths.configFile, this.args.key, this.args.value, process.env)
    this.out(`${r.changed ? 'Set' : 'Unchanged:'} ${r.key} = ${JSON.stringify(r.file)} in ${this.paths.configFile}`)
    return r
  }
}
