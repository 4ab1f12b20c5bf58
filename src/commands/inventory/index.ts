import {Flags} from '@oclif/core'

import {BaseCommand, lockFlags} from '../../base-command.js'
import {USERS_CSV_COLUMNS} from '../../core/users-csv.js'
import {loadConfig} from '../../services/config.js'
import {type InventoryResult, runInventory} from '../../services/inventory.js'
import {renderInventorySummary} from '../../ui/inventory-report.js'
import {createProgress} from '../../ui/progress.js'

export default class Inventory extends BaseCommand<typeof Inventory> {
  static override summary = 'Read the legacy box: accounts, keys, host keys and every file, with what will break on Transfer Family and S3.'
  static override description = `Accounts and keys are read online by running a read-only collect script over SSH (a login that may run commands, ideally root), from an offline bundle (--from-bundle, made with "inventory collect-script"), from a CSV (--users-csv) or from copies of an FTP server's user files (--ftp-server). Files are listed with one GNU find stream per root over SSH exec when the login may run it (--listing auto), else over SFTP (or FTP), a directory at a time; the summary and --json (listing) say which was used and why. Nothing is changed on the box.
An FTP source cannot list accounts: they come from those files, or over SSH at source.sshHost:source.sshPort (default source.host:22) when the box also answers SSH. Every FTP user is reported as one whose clients must move to SFTP with a key.
Exits 3 when a finding at or above --fail-on exists. A re-run shows what changed since the last inventory.`
  static override examples = [
    '<%= config.bin %> inventory',
    '<%= config.bin %> inventory --from-bundle bundle.json',
    '<%= config.bin %> inventory --users-csv users.csv --fail-on warning',
    '<%= config.bin %> inventory --ftp-server pure-ftpd --ftp-users-file pureftpd.passwd',
    '<%= config.bin %> inventory --ftp-server vsftpd --ftp-config vsftpd.conf --passwd-file passwd --ftp-users-file user_list',
  ]
  static override flags = {
    ...lockFlags,
    'from-bundle': Flags.string({summary: 'Read accounts and keys from a bundle written by the collect script.', exclusive: ['users-csv', 'ftp-server']}),
    'users-csv': Flags.string({
      summary: 'Read accounts and keys from a CSV (its columns: below, under FLAG DESCRIPTIONS).',
      description: `A header row names the columns, in any order (* required):\n${Object.entries(USERS_CSV_COLUMNS)
        .map(([name, c]) => `  ${name}${c.required ? ' *' : ''}: ${c.description}`)
        .join('\n')}\nFields holding commas or quotes are quoted ("..."), with quotes inside doubled ("").`,
      exclusive: ['from-bundle', 'ftp-server'],
    }),
    'ftp-server': Flags.option({
      options: ['pure-ftpd', 'vsftpd'] as const,
      summary: "Read the accounts from copies of this FTP server's user files (no password hash is kept).",
      description: 'pure-ftpd: --ftp-users-file is a copy of pureftpd.passwd (homes with "/./" are chroots). vsftpd: --ftp-config and --passwd-file are copies of vsftpd.conf and /etc/passwd; --ftp-users-file (its user_list) and --chroot-list are needed when vsftpd.conf enables them.',
      exclusive: ['from-bundle', 'users-csv'],
    })(),
    'ftp-users-file': Flags.string({summary: "With --ftp-server: a copy of pure-ftpd's pureftpd.passwd, or of vsftpd's user_list.", dependsOn: ['ftp-server']}),
    'ftp-config': Flags.string({summary: 'With --ftp-server vsftpd: a copy of vsftpd.conf.', dependsOn: ['ftp-server']}),
    'passwd-file': Flags.string({summary: "With --ftp-server vsftpd: a copy of the box's /etc/passwd (homes and ids).", dependsOn: ['ftp-server']}),
    'chroot-list': Flags.string({summary: "With --ftp-server vsftpd: a copy of vsftpd's chroot_list.", dependsOn: ['ftp-server']}),
    'sshd-config': Flags.string({
      summary: 'sshd_config path on the box, for the online collect script.',
      description: 'Default: the -f file of the sshd listening on source.port (found with ss or /proc), else /etc/ssh/sshd_config.',
    }),
    'include-system': Flags.boolean({summary: 'Also list system accounts (uid outside the login.defs range, root).', default: false}),
    'fail-on': Flags.option({options: ['blocker', 'warning', 'info'] as const, default: 'blocker' as const, summary: 'Exit 3 when a finding of this severity or worse exists.'})(),
    listing: Flags.option({
      options: ['auto', 'find', 'sftp'] as const,
      default: 'auto' as const,
      summary: 'find: one GNU find stream per root over SSH exec; sftp: a directory at a time; auto: find when the login may run it.',
    })(),
    connections: Flags.integer({summary: 'SSH connections for listing over SFTP.', default: 4, min: 1, max: 32}),
    concurrency: Flags.integer({summary: 'Directories listed at once.', default: 16, min: 1, max: 256}),
  }

  protected override changesProject(): boolean {
    return true
  }

  public async run(): Promise<InventoryResult> {
    const config = await loadConfig(this.paths.configFile)
    const prompter = this.prompter()
    const progress = createProgress(this.jsonEnabled() ? 'off' : process.stderr.isTTY ? 'tty' : 'plain')
    progress.phase(`reading ${config.source.host}: accounts, keys, host keys, every file`)
    const result = await runInventory(
      config,
      {
        fromBundle: this.flags['from-bundle'],
        usersCsv: this.flags['users-csv'],
        ftpUsers: this.flags['ftp-server']
          ? {
              server: this.flags['ftp-server'],
              usersFile: this.flags['ftp-users-file'],
              ftpConfig: this.flags['ftp-config'],
              passwdFile: this.flags['passwd-file'],
              chrootList: this.flags['chroot-list'],
            }
          : undefined,
        sshdConfig: this.flags['sshd-config'],
        includeSystem: this.flags['include-system'],
        connections: this.flags.connections,
        concurrency: this.flags.concurrency,
        failOn: this.flags['fail-on'],
        listing: this.flags.listing,
      },
      {
        state: this.state,
        env: process.env,
        askSecret: prompter ? (message) => prompter.secret({message}) : undefined,
        log: (msg, detail) => this.logger.info(detail ?? {}, msg),
        progress: (listed) => progress.update({filesDone: listed.files, bytesDone: listed.bytes, failed: 0, noun: 'entries listed'}),
      },
    ).finally(() => progress.end())
    this.state.audit({action: 'inventory.run', target: result.host, after: {runId: result.runId, findings: result.summary.findings}, outcome: 'ok'})
    this.out(renderInventorySummary(result))
    if (result.failed) this.foundProblems()
    this.next('users plan (it shows which users the findings above keep from being imported)')
    return result
  }
}
