import {BaseCommand} from '../base-command.js'
import {loadConfig} from '../services/config.js'
import {type MigrationReport, writeMigrationReport} from '../services/report.js'

export default class Report extends BaseCommand<typeof Report> {
  static override summary = 'Write the migration report for sign-off (Markdown and JSON) into .sftp-cutover/reports/.'
  static override description =
    'Inventory summary, findings and how each was resolved, users and keys imported (with renames), files and bytes synced and verified, the cutover timeline with durations, and the DNS record saved for rollback.'
  static override examples = ['<%= config.bin %> report']

  public async run(): Promise<MigrationReport & {files: {markdown: string; json: string}}> {
    const config = await loadConfig(this.paths.configFile)
    const r = await writeMigrationReport(this.state, config, this.paths.reportsDir)
    this.out(`Wrote ${r.markdown}\n  and ${r.json}`)
    return {...r.report, files: {markdown: r.markdown, json: r.json}}
  }
}
