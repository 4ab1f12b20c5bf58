import {Flags} from '@oclif/core'

import {RunbookCommand} from '../runbook-command.js'
import {DEFAULT_RUNBOOK, parseRunbook} from '../core/runbook.js'
import type {RunbookResult} from '../services/runbook.js'

export default class Cutover extends RunbookCommand<typeof Cutover> {
  static override summary = 'Run the cutover night: preflight, confirm, freeze, final sync, verify, DNS switch, smoke test, report.'
  static override description = `Each step's status, start, end and output are kept in the state database: a re-run resumes after the last completed step, and a completed cutover is not repeated. A failed step stops the run and says what to do next; sftp-cutover rollback goes back to the legacy box.
Exits 3 when preflight, verify or the smoke test find problems (nothing after them runs).`
  static override examples = ['<%= config.bin %> cutover --dry-run', '<%= config.bin %> cutover --yes', '<%= config.bin %> cutover --from verify']
  static override flags = {
    ...RunbookCommand.flags,
    from: Flags.option({options: DEFAULT_RUNBOOK.steps, summary: 'Start at this step, running it and the ones after it again.'})(),
  }

  public async run(): Promise<RunbookResult> {
    const parsed = parseRunbook(DEFAULT_RUNBOOK)
    if (!parsed.ok) throw new Error('the built-in runbook is invalid')
    return this.runBook(parsed.runbook)
  }
}
