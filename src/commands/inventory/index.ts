import {Flags} from '@oclif/core'

import {BaseCommand, lockFlags} from '../../base-command.js'
import {USERS_CSV_COLUMNS} from '../../core/users-csv.js'
import {loadConfig} from '../../services/config.js'
import {type InventoryResult, runInventory} from '../../services/inventory.js'
import {renderInventorySummary} from '../../ui/inventory-report.js'
import {createProgress} from '../../ui/progress.js'

export default class Inventory extends BaseCommand<typeof Inventory> {
  static override summary = 'Read the legacy box: accounts, keys, host keys and every file, with what will break on Transfer Family and S3.'
  static override description = `Accounts and keys are read online by running a read-only collect script over SSH (a login that may run commands, ideally root), from an offline bundle (--from-bundle, made with "inventory collect-script") or from a CSV (--users-csv). Files are listed with one GNU find stream per root over SSH exec when the login may run it (--listing auto), else over SFTP, a directory at a time; the summary and --json (listing) say which was used and why. Nothing is changed on the box.
Exits 3 when a finding at or above --fail-on exists. A re-run shows what changed since the last inventory.`
  static override examples = [
    '<%= config.bin %> inventory',
    '<%= config.bin %> inventory --from-bundle bundle.json',
    '<%= config.bin %> inventory --users-csv users.csv --fail-on warning',
  ]
  static override flags = {
    ...lockFlags,
    'from-bundle': Flags.string({summary: 'Read accounts and keys from a bundle written by the collect script.', exclusive: ['users-csv']}),
    'users-csv': Flags.string({
      summary: 'Read accounts and keys from a CSV (its columns: below, under FLAG DESCRIPTIONS).',
      description: `A header row names the columns, in any order (* required):\n${Object.entries(USERS_CSV_COLUMNS)
        .map(([name, c]) => `  ${name}${c.required ? ' *' : ''}: ${c.description}`)
        .join('\n')}\nFields holding commas or quotes are quoted ("..."), with quotes inside doubled ("").`,
      exclusive: ['from-bundle'],
    }),
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
