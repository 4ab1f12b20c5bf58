import {Flags} from '@oclif/core'

import {BaseCommand} from '../base-command.js'
import {CONFIG_KEYS, type ConfigKey, type FlatValues, configKeys, flagFor, parseValue, valuesFromEnv} from '../core/config.js'
import {type InitResult, initProject} from '../services/init.js'

/** One flag per configuration key: --source-host, --target-bucket, ... */
const keyFlags = Object.fromEntries(
  configKeys.map((key) => {
    const {kind, description} = CONFIG_KEYS[key]
    const opts = {summary: `${description} (${key}).`, helpGroup: key.split('.')[0].toUpperCase()}
    const flag = kind === 'bool' ? Flags.boolean({...opts, allowNo: true}) : Flags.string(opts)
    return [flagFor(key), flag]
  }),
) as Record<string, ReturnType<typeof Flags.string> | ReturnType<typeof Flags.boolean>>

export default class Init extends BaseCommand<typeof Init> {
  static override summary = 'Write sftp-cutover.yaml and create the state directory.'
  static override description = `Asks for what is missing on a terminal; without one (or with --no-prompt), every required setting must come from flags or SFTP_CUTOVER_* variables.
Required: source host, username, a host key (pinned fingerprint or known_hosts file), a way to log in (key file, agent or password variable), target region and bucket.
Passwords and passphrases are never written: name the environment variable that holds them.`
  static override examples = [
    '<%= config.bin %> init',
    '<%= config.bin %> init --no-prompt --source-host legacy.example.com --source-username migrator --source-identity-file ~/.ssh/id_ed25519 --source-host-key-fingerprint SHA256:... --target-region eu-west-1 --target-bucket acme-sftp',
    '<%= config.bin %> init --from-stack sftp-prod --target-region eu-west-1 --source-host legacy.example.com ...',
  ]
  static override flags = {
    ...keyFlags,
    'from-stack': Flags.string({summary: 'Read target and dns settings from the outputs of a stack deployed from infra/.'}),
    force: Flags.boolean({summary: 'Replace an existing sftp-cutover.yaml that holds other values.', default: false}),
  }

  public async run(): Promise<InitResult> {
    const flags = this.flags as unknown as Record<string, unknown>
    const fromFlags: FlatValues = {}
    for (const key of configKeys) {
      const v = flags[flagFor(key)]
      if (v !== undefined) fromFlags[key] = typeof v === 'string' ? parseValue(key as ConfigKey, v) : v
    }
    const result = await initProject({
      configFile: this.paths.configFile,
      stateDir: this.paths.stateDir,
      values: {...valuesFromEnv(process.env), ...fromFlags},
      fromStack: this.flags['from-stack'],
      force: this.flags.force,
      prompter: this.prompter(),
    })
    this.logger.info({outcome: result.outcome, file: result.configFile}, 'init')
    this.out(`${result.outcome === 'unchanged' ? 'Unchanged' : result.outcome === 'created' ? 'Wrote' : 'Replaced'} ${result.configFile}; state in ${this.paths.stateDir}`)
    this.next('doctor')
    return result
  }
}
