import {createAwsClients} from '../adapters/aws.js'
import {awsFlags, awsOverrides} from '../aws-flags.js'
import {BaseCommand} from '../base-command.js'
import {loadConfig} from '../services/config.js'
import {type DoctorResult, runDoctor} from '../services/doctor.js'
import {renderChecks} from '../ui/checks.js'

export default class Doctor extends BaseCommand<typeof Doctor> {
  static override summary = 'Check the legacy box, AWS and the EFS mount before migrating.'
  static override description =
    'Each check prints PASS, WARN, FAIL or SKIP with the reason and the fix. Exits 0 when nothing fails, 3 when a check fails.'
  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --json']
  static override flags = {...awsFlags}

  public async run(): Promise<DoctorResult> {
    const config = await loadConfig(this.paths.configFile, awsOverrides(this.flags))
    const aws = createAwsClients(config.target)
    const prompter = this.prompter()
    try {
      const result = await runDoctor(config, {aws, env: process.env, askSecret: prompter ? (message) => prompter.secret({message}) : undefined})
      for (const c of result.checks) this.logger.info({check: c.id, status: c.status, detail: c.detail}, 'doctor check')
      this.out(renderChecks(result.checks))
      this.out(`\n${result.summary.pass} passed, ${result.summary.warn} warnings, ${result.summary.fail} failed, ${result.summary.skip} skipped`)
      if (result.ok) this.next('inventory')
      else {
        this.next('doctor (again, after the fixes above)')
        this.foundProblems()
      }
      return result
    } finally {
      aws.destroy()
    }
  }
}
