import {Flags} from '@oclif/core'

import {RunbookCommand} from '../runbook-command.js'
import {DEFAULT_RUNBOOK, parseRunbook, softRunbook} from '../core/runbook.js'
import {usageError} from '../core/errors.js'
import {parseDuration} from '../core/duration.js'
import type {RunbookResult} from '../services/runbook.js'

// --from takes the id of a step of either built-in runbook (the soft one adds drain).
const CUTOVER_STEP_IDS = [
  ...new Set([DEFAULT_RUNBOOK, softRunbook('5m')].flatMap((book) => {
    const parsed = parseRunbook(book)
    return parsed.ok ? parsed.runbook.steps.map((s) => s.id) : []
  })),
]

export default class Cutover extends RunbookCommand<typeof Cutover> {
  static override summary = 'Run the cutover night: preflight, confirm, freeze, final sync, verify, DNS switch, smoke test, report.'
  static override description = `Each step's status, start, end and output are kept in the state database: a re-run resumes after the last completed step, and a completed cutover is not repeated. A failed step stops the run and says what to do next; sftp-cutover rollback goes back to the legacy box.
The final sync copies with the options of the last complete sync (--include, --exclude, --symlinks, --storage-class, --bwlimit, --transfers, --connections, --include-ssh-dirs), which --dry-run prints; a runbook's "- sync: {...}" step overrides them one by one.
Exits 3 when preflight, verify or the smoke test find problems (nothing after them runs).
--soft switches without freezing first: preflight, confirm, DNS switch, smoke test, then the delta repeated until the legacy box has been quiet for --until-quiet (stragglers still connecting to it are reported as they appear), then freeze, final sync, verify, report. Files may then arrive on both sides; rollback's conflict rule covers that.`
  static override examples = ['<%= config.bin %> cutover --dry-run', '<%= config.bin %> cutover --yes', '<%= config.bin %> cutover --from verify', '<%= config.bin %> cutover --soft --until-quiet 10m --yes']
  static override flags = {
    ...RunbookCommand.flags,
    soft: Flags.boolean({summary: 'Soft cutover: switch first, drain the legacy box until it is quiet, then freeze (for partners who cannot be coordinated).', default: false}),
    'until-quiet': Flags.string({summary: 'With --soft: how long the legacy box must be quiet before it is frozen (default 5m).'}),
    from: Flags.option({options: CUTOVER_STEP_IDS, summary: 'Start at this step, running it and the ones after it again.'})(),
  }

  public async run(): Promise<RunbookResult> {
    if (this.flags['until-quiet'] !== undefined && !this.flags.soft) throw usageError('--until-quiet goes with --soft', ['Add --soft, or drop --until-quiet.'])
    const untilQuiet = this.flags['until-quiet'] ?? '5m'
    if (this.flags.soft && parseDuration(untilQuiet) === undefined) throw usageError(`--until-quiet ${untilQuiet} is not a duration`, ['Pass e.g. --until-quiet 90s, 5m or 1h.'])
    const parsed = parseRunbook(this.flags.soft ? softRunbook(untilQuiet) : DEFAULT_RUNBOOK)
    if (!parsed.ok) throw new Error('the built-in runbook is invalid')
    return this.runBook(parsed.runbook)
  }
}
