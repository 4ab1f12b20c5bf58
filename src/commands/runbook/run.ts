import {Args} from '@oclif/core'
import {readFile} from 'node:fs/promises'
import {parse} from 'yaml'

import {RunbookCommand} from '../../runbook-command.js'
import {usageError} from '../../core/errors.js'
import {parseRunbook, STEP_TYPES} from '../../core/runbook.js'
import type {RunbookResult} from '../../services/runbook.js'

export default class RunbookRun extends RunbookCommand<typeof RunbookRun> {
  static override summary = 'Run a cutover runbook written in YAML.'
  static override description = `Steps: ${STEP_TYPES.join(', ')}. Each is a name, or a name with options, e.g. "- wait: {seconds: 30}" or "- exec: {command: ./notify.sh}". Resumes like cutover.`
  static override examples = ['<%= config.bin %> runbook run cutover.yaml --dry-run']
  static override args = {file: Args.string({required: true, description: 'runbook YAML file'})}
  static override flags = {...RunbookCommand.flags}

  public async run(): Promise<RunbookResult> {
    const file = this.args.file
    const text = await readFile(file, 'utf8').catch((err: Error) => {
      throw usageError(`cannot read the runbook ${file}: ${err.message}`)
    })
    let doc: unknown
    try {
      doc = parse(text)
    } catch (err) {
      throw usageError(`${file}: ${(err as Error).message.split('\n')[0]}`, ['Fix the YAML syntax.'], 'RUNBOOK_SYNTAX')
    }
    const parsed = parseRunbook(doc)
    if (!parsed.ok) throw usageError(`invalid runbook ${file}:\n${parsed.problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`, ['Correct the steps named above.'], 'RUNBOOK_INVALID')
    return this.runBook(parsed.runbook)
  }
}
