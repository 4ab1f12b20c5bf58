import {Flags} from '@oclif/core'

import {BaseCommand} from '../base-command.js'
import {loadConfig} from '../services/config.js'
import {type MigrationReport, REPORT_FORMATS, type ReportFiles, writeMigrationReport} from '../services/report.js'

export default class Report extends BaseCommand<typeof Report> {
  static override summary = 'Write the migration report for sign-off (Markdown, JSON and HTML) into .sftp-cutover/reports/.'
  static override description =
    'Inventory summary, findings and how each was resolved, users and keys imported (with renames), files and bytes synced and verified, the cutover timeline with durations, and the DNS record saved for rollback. The HTML page is self-contained (charts as static SVG, no script, no network request) and prints to PDF.'
  static override examples = ['<%= config.bin %> report', '<%= config.bin %> report --format html']
  static override flags = {
    format: Flags.option({options: REPORT_FORMATS, multiple: true, summary: 'Report format(s); all three when not given.'})(),
  }

  public async run(): Promise<MigrationReport & {files: ReportFiles}> {
    const config = await loadConfig(this.paths.configFile)
    const r = await writeMigrationReport(this.state, config, this.paths.reportsDir, this.flags.format ?? REPORT_FORMATS)
    this.out(`Wrote ${Object.values(r.files).join('\n  and ')}`)
    return {...r.report, files: r.files}
  }
}
