import {Flags} from '@oclif/core'

import {createAwsClients} from '../../adapters/aws.js'
import {S3HomeFolders, SdkTransfer} from '../../adapters/transfer-users.js'
import {awsFlags, awsOverrides} from '../../aws-flags.js'
import {BaseCommand, lockFlags} from '../../base-command.js'
import {ExitCode} from '../../core/errors.js'
import {loadConfig} from '../../services/config.js'
import {requireServerId, runUsersImport, type UsersImportResult} from '../../services/users.js'
import {usersFlags, usersOptions} from '../../ui/users-flags.js'
import {renderUsersImport} from '../../ui/users-plan.js'
import {createUsersWizard} from '../../ui/users-wizard.js'

export default class UsersImport extends BaseCommand<typeof UsersImport> {
  static override summary = 'Create and update the Transfer Family users from the legacy accounts: same names, keys and paths.'
  static override description = `Applies the plan that "users plan" shows: creates missing users (logical home directories that reproduce the legacy paths, the role target.userRoleArn, tags with the legacy uid, name and host, a home folder object in S3), updates users that differ, imports new SSH keys and removes keys no longer on the legacy box. Idempotent: a second run changes nothing; after a partial failure the next run carries on. Users on the server that the inventory does not know are reported, and deleted only with --prune.
Keys: only those that let the user log in today. Keys sshd ignores (wrong file or format, expired, ...) are reported as dead and imported only with --import-dead-keys USER; keys restricted by authorized_keys options (from=, command=, ...) only with --accept-key-options USER (Transfer has no per-key options); cert-authority lines never. Both opt-ins are remembered once the import succeeds and listed in the migration report as accepted risks; a failed run remembers no setting.
FTP users (of an FTP source, or read from an FTP server's user file) have no SSH key on the box, and Transfer's service-managed users are SFTP-only: give each its key with --keys-dir DIR (DIR/<user>.pub, the same key rules; remembered once imported), or --interactive asks for it. Their clients then move to SFTP with that key.
--interactive asks on a terminal who to import, new names for names Transfer rejects (remembered; the files stay under the legacy name's home) and which keys, then shows the plan to confirm. Without a terminal it refuses: pass --only, --rename and --allow-no-keys instead.
Exit codes: 0 done; 1 an AWS call failed for some user (the others were applied; run again), or the wizard was cancelled (nothing changed); 2 usage or configuration error; 3 done, but with problems: users skipped for blockers, keys refused, users without a usable key.`
  static override examples = [
    '<%= config.bin %> users import --dry-run',
    '<%= config.bin %> users import',
    '<%= config.bin %> users import --interactive',
    '<%= config.bin %> users import --only alice,bob --rename "j doe=jdoe" --json',
  ]
  static override flags = {
    ...lockFlags,
    ...usersFlags,
    'dry-run': Flags.boolean({summary: 'Show the plan and change nothing.', default: false}),
    interactive: Flags.boolean({char: 'i', summary: 'Choose users, names and keys on a terminal, then confirm the plan.', default: false}),
    ...awsFlags,
  }

  protected override changesProject(): boolean {
    return !this.flags['dry-run']
  }

  public async run(): Promise<UsersImportResult> {
    const config = await loadConfig(this.paths.configFile, awsOverrides(this.flags))
    let wizard
    if (this.flags.interactive) {
      const prompter = this.prompter()
      if (!prompter) {
        throw this.cannotPrompt('users import --interactive asks who and what to import', [
          '--only NAME,... (who)',
          '--rename LEGACY=NEW (names Transfer rejects)',
          '--allow-no-keys (users without a usable key)',
          '--dry-run to review the plan first, without --interactive',
        ])
      }
      wizard = createUsersWizard(prompter, (text) => process.stderr.write(`${text}\n`))
    }
    const aws = createAwsClients(config.target)
    try {
      const result = await runUsersImport(
        {
          config,
          state: this.state,
          transfer: new SdkTransfer(aws.transfer(), requireServerId(config)),
          homes: new S3HomeFolders(aws.s3(), config.target.bucket, config.target.kmsKeyId),
          log: (msg, detail) => this.logger.info(detail ?? {}, msg),
        },
        {...usersOptions(this.flags), dryRun: this.flags['dry-run'], wizard},
      )
      this.out(renderUsersImport(result))
      if (result.failed) process.exitCode = ExitCode.failure
      else if (result.problems.length > 0) this.foundProblems()
      this.next(result.failed ? 'users import (again: it carries on where it failed)' : this.flags['dry-run'] ? 'users import' : 'hostkeys import --key-file /path/to/ssh_host_ed25519_key --key-file ...')
      return result
    } finally {
      aws.destroy()
    }
  }
}
