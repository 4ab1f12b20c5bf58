import {Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {collectScript} from '../../core/collect-script.js'

export default class CollectScript extends BaseCommand<typeof CollectScript> {
  static override summary = 'Print the read-only POSIX sh script that collects accounts and keys on the box, for an offline inventory.'
  static override description = `Give it to the box's administrator: run as root, it prints one JSON bundle (accounts, groups, sshd configuration, authorized keys; never password hashes or private keys). Then: sftp-cutover inventory --from-bundle bundle.json`
  static override examples = ['<%= config.bin %> inventory collect-script > collect.sh   # on the box: sh collect.sh > bundle.json']
  static override flags = {
    'sshd-config': Flags.string({summary: 'sshd_config path on the box (default: the -f file of the sshd listening on --port, else /etc/ssh/sshd_config).'}),
    port: Flags.integer({summary: 'Port the SFTP clients connect to: the script reads the configuration of the sshd listening on it.', min: 1, max: 65535}),
  }

  public async run(): Promise<{script: string}> {
    const script = collectScript({sshdConfig: this.flags['sshd-config'], port: this.flags.port})
    if (!this.jsonEnabled()) process.stdout.write(script)
    return {script}
  }
}
