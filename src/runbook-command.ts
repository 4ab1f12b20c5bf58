import {type Command, Flags} from '@oclif/core'

import {createAwsClients} from './adapters/aws.js'
import {awsFlags, awsOverrides} from './aws-flags.js'
import {BaseCommand, lockFlags} from './base-command.js'
import type {Runbook} from './core/runbook.js'
import {loadConfig} from './services/config.js'
import {cutoverHandlers} from './services/cutover-steps.js'
import {migrationParts} from './services/migration-parts.js'
import {type RunbookResult, runRunbook} from './services/runbook.js'
import {renderRunbookResult, stepLine} from './ui/runbook-render.js'

/** What `cutover` and `runbook run` share: the flags and running a runbook against this project. */
export abstract class RunbookCommand<T extends typeof Command> extends BaseCommand<T> {
  static override flags = {
    ...awsFlags,
    ...lockFlags,
    yes: Flags.boolean({char: 'y', summary: 'Confirm the cutover without a prompt (for unattended runs).', default: false}),
    from: Flags.string({
      summary: 'Start at this step (by id), running it and the ones after it again.',
      description: 'A step\'s id is its type (preflight, confirm, freeze, sync, verify, dns-switch, smoke-test, report, exec, wait), with -2, -3... when the type repeats (wait-2), or the id: given in the runbook. --dry-run lists them.',
    }),
    'dry-run': Flags.boolean({summary: 'Show every step and the exact Route 53 change batch; change nothing.', default: false}),
  }

  protected override changesProject(): boolean {
    return !(this.flags as unknown as {'dry-run': boolean})['dry-run']
  }

  protected async runBook(runbook: Runbook): Promise<RunbookResult> {
    const flags = this.flags as unknown as {yes: boolean; from?: string; 'dry-run': boolean; region?: string; profile?: string; endpoint?: string}
    const config = await loadConfig(this.paths.configFile, awsOverrides(flags))
    const aws = createAwsClients({...config.target, s3Endpoint: config.target.s3Endpoint})
    const prompter = this.prompter()
    const askSecret = prompter ? (message: string) => prompter.secret({message}) : undefined
    const log = (msg: string, detail?: Record<string, unknown>) => this.logger.info(detail ?? {}, msg)
    try {
      const deps = {config, aws, state: this.state, env: process.env, prompter, askSecret, yes: flags.yes, log, paths: this.paths, progress: (line: string) => this.logToStderr(line)}
      const result = await runRunbook(
        runbook,
        {from: flags.from, dryRun: flags['dry-run'], onStep: (step, phase, detail) => this.logToStderr(stepLine(step, phase, detail))},
        {state: this.state, handlers: cutoverHandlers({...deps, parts: migrationParts(deps)})},
      )
      this.out(renderRunbookResult(result))
      const wouldFail = result.steps.some((s) => s.status === 'would-fail')
      if (wouldFail) this.foundProblems()
      if (this.id === 'cutover') this.next(result.outcome === 'dry-run' ? (wouldFail ? 'cutover --dry-run (after the fixes above)' : 'cutover (--yes when unattended)') : 'report')
      return result
    } finally {
      aws.destroy()
    }
  }
}
