import {Args} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {configKeys} from '../../core/config.js'
import {changeSetting, type ConfigValue} from '../../services/config-edit.js'

export default class ConfigUnset extends BaseCommand<typeof ConfigUnset> {
  static override summary = 'Remove one setting from sftp-cutover.yaml (its default applies again).'
  static override description = `KEY is a key of the configuration table (README, "Configuration"): ${configKeys.join(', ')}. A required setting cannot be removed (exit 2).`
  static override examples = ['<%= config.bin %> config unset efs.path']
  static override args = {key: Args.string({description: 'Setting, e.g. efs.path.', required: true})}

  public async run(): Promise<ConfigValue & {changed: boolean}> {
    const r = await changeSetting(this.paths.configFile, this.args.key, undefined, process.env)
    this.out(`${r.changed ? 'Removed' : 'Unchanged:'} ${r.key}${r.changed ? ` from ${this.paths.configFile}` : ' is not set in the file'}`)
    return r
  }
}
