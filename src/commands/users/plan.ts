import {createAwsClients} from '../../adapters/aws.js'
import {S3HomeFolders, SdkTransfer} from '../../adapters/transfer-users.js'
import {awsFlags, awsOverrides} from '../../aws-flags.js'
import {BaseCommand} from '../../base-command.js'
import {loadConfig} from '../../services/config.js'
import {planUsersImport, requireServerId, type UsersPlan} from '../../services/users.js'
import {usersFlags, usersOptions} from '../../ui/users-flags.js'
import {renderUsersPlan} from '../../ui/users-plan.js'

export default class UsersPlanCommand extends BaseCommand<typeof UsersPlanCommand> {
  static override summary = 'Show what users import would do on the Transfer server, per legacy user. Changes nothing.'
  static override description = `For each account of the last inventory: CREATE, UPDATE (with what changes), UNCHANGED or SKIP (with the finding that causes it), and the SSH keys to import or remove. Users on the server that the inventory does not know are listed (users import --prune would delete them). Keys sshd ignores today are listed as not imported (dead today, with the reason); the accepted risks (--import-dead-keys, --accept-key-options) are shown first.
FTP users (of an FTP source, or read from an FTP server's user file) have no SSH key on the box: each is said to need one, as its clients must move to SFTP with a key; --keys-dir DIR shows the plan with DIR/<user>.pub.
Exit codes: 0 every selected user can be imported as planned; 2 usage or configuration error (no inventory, no target.transferServerId or target.userRoleArn); 3 the plan has problems: users skipped for blockers, keys refused, users without a usable key; 1 an AWS call failed.`
  static override examples = ['<%= config.bin %> users plan', '<%= config.bin %> users plan --only alice,bob --json', '<%= config.bin %> users plan --rename "j.doe@x=jdoe" --home-mode path']
  static override flags = {...usersFlags, ...awsFlags}

  public async run(): Promise<UsersPlan> {
    const config = await loadConfig(this.paths.configFile, awsOverrides(this.flags))
    const aws = createAwsClients(config.target)
    try {
      const plan = await planUsersImport(
        {
          config,
          state: this.state,
          transfer: new SdkTransfer(aws.transfer(), requireServerId(config)),
          homes: new S3HomeFolders(aws.s3(), config.target.bucket, config.target.kmsKeyId),
          log: (msg, detail) => this.logger.info(detail ?? {}, msg),
        },
        usersOptions(this.flags),
      )
      this.out(renderUsersPlan(plan))
      this.next('users import')
      if (plan.problems.length > 0) this.foundProblems()
      return plan
    } finally {
      aws.destroy()
    }
  }
}
