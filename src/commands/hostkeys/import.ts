import {Flags} from '@oclif/core'

import {createAwsClients} from '../../adapters/aws.js'
import {SdkTransfer, type TransferHostKeys} from '../../adapters/transfer-users.js'
import {awsFlags, awsOverrides} from '../../aws-flags.js'
import {BaseCommand, lockFlags} from '../../base-command.js'
import {ExitCode} from '../../core/errors.js'
import {loadConfig} from '../../services/config.js'
import {type HostKeysResult, runHostKeysImport} from '../../services/hostkeys.js'
import {requireServerId} from '../../services/users.js'
import {renderHostKeys} from '../../ui/hostkeys-report.js'

export default class HostkeysImport extends BaseCommand<typeof HostkeysImport> {
  static override summary = 'Import the legacy server\'s host keys into the Transfer server, so clients see no "host key changed" warning.'
  static override description = `Reads each --key-file (a private host key copied from the legacy box, e.g. /etc/ssh/ssh_host_ed25519_key) once, checks that it is one of the host keys inventory recorded from the live server (same fingerprint; any other key is refused), converts it to what ImportHostKey takes and imports it. Private keys are never written to the state database, the log or any output. Encrypted keys take their passphrase from the environment variable named by --passphrase-env, or a prompt.
Transfer presents the oldest key of each type: when the server already holds an older key of an imported key's type, the legacy key would not be used; the command says so and how to fix it (--replace deletes the older keys once the import worked). The result shows the legacy fingerprints beside Transfer's.
Exit codes: 0 every key the legacy server offers is on Transfer and active; 1 an AWS call failed; 2 usage or configuration error (no inventory, unreadable file, passphrase needed without a terminal); 3 problems: a key refused (does not match the legacy server, unsupported), a legacy key type not given, an older key of the same type staying active.`
  static override examples = [
    '<%= config.bin %> hostkeys import --key-file ssh_host_ed25519_key --key-file ssh_host_ecdsa_key --key-file ssh_host_rsa_key --dry-run',
    '<%= config.bin %> hostkeys import --key-file ssh_host_rsa_key --passphrase-env HOSTKEY_PASSPHRASE --json',
  ]
  static override flags = {
    ...lockFlags,
    'key-file': Flags.string({summary: 'A private host key of the legacy server (repeatable: one per key type it offers).', multiple: true, required: true}),
    'passphrase-env': Flags.string({summary: 'NAME of the environment variable holding the passphrase of encrypted key files (not the passphrase itself).'}),
    replace: Flags.boolean({summary: 'After importing, delete older host keys of the same types, so that the imported keys are the active ones.', default: false}),
    'dry-run': Flags.boolean({summary: 'Check the keys and show what would be imported; change nothing.', default: false}),
    ...awsFlags,
  }

  /** Tests replace the Transfer client (moto has no ImportHostKey). */
  static transferOverride: ((serverId: string) => TransferHostKeys) | undefined

  protected override changesProject(): boolean {
    return !this.flags['dry-run']
  }

  public async run(): Promise<HostKeysResult> {
    const config = await loadConfig(this.paths.configFile, awsOverrides(this.flags))
    const serverId = requireServerId(config)
    const aws = createAwsClients(config.target)
    const prompter = this.prompter()
    try {
      const result = await runHostKeysImport(
        {
          config,
          state: this.state,
          transfer: HostkeysImport.transferOverride?.(serverId) ?? new SdkTransfer(aws.transfer(), serverId),
          env: process.env,
          askSecret: prompter ? (message) => prompter.secret({message}) : undefined,
          log: (msg, detail) => this.logger.info(detail ?? {}, msg),
        },
        {keyFiles: this.flags['key-file'], passphraseEnv: this.flags['passphrase-env'], dryRun: this.flags['dry-run'], replace: this.flags.replace},
      )
      this.out(renderHostKeys(result))
      if (result.failed) process.exitCode = ExitCode.failure
      else if (result.problems.length > 0) this.foundProblems()
      this.next(result.failed || this.flags['dry-run'] ? 'hostkeys import (without --dry-run, or again after a failure)' : 'dns prepare --ttl 60 (days before the cutover), then sftp-cutover sync')
      return result
    } finally {
      aws.destroy()
    }
  }
}
