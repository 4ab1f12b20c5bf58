import {RunbookCommand} from '../runbook-command.js'
import {DEFAULT_RUNBOOK, parseRunbook} from '../core/runbook.js'
import type {RunbookResult} from '../services/runbook.js'

export default class Cutover extends RunbookCommand<typeof Cutover> {
  static override summary = 'Run the cutover night: preflight, confirm, freeze, final sync, verify, DNS switch, smoke test, report.'
  static override description = `Each step's status, start, end and output are kept in the state database: a re-run resumes after the last completed step, and a completed cutover is not repeated. A failed step stops the run and says what to do next; sftp-cutover rollback goes back to the legacy box.
The final sync copies with the options of the last complete sync (--include, --exclude, --symlinks, --storage-class, --bwlimit, --transfers, --connections, --include-ssh-dirs), which --dry-run prints; a runbook's "- sync: {...}" step overrides them one by one.
Exits 3 when preflight, verify or the smoke test find problems (nothing after them runs).`
  static override examples = ['<%= config.bin %> cutover --dry-run', '<%= config.bin %> cutover --yes', '<%= config.bin %> cutover --from verify']
  static override flags = {...RunbookCommand.flags}

  public async run(): Promise<RunbookResult> {
    const parsed = parseRunbook(DEFAULT_RUNBOOK)
    if (!parsed.ok) throw new Error('the built-in runbook is invalid')
    return this.runBook(parsed.runbook)
  }
}
