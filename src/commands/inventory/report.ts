import {createWriteStream} from 'node:fs'
import {writeFile} from 'node:fs/promises'
import {finished} from 'node:stream/promises'
import {Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {type InventoryReportData, inventoryFiles, inventoryReportData} from '../../services/inventory.js'
import {buildInventoryReport} from '../../services/report.js'
import {csvLine, fileCsvLine, FILES_CSV_HEADER, FINDINGS_CSV_HEADER, inventoryMarkdown} from '../../ui/inventory-formats.js'
import {inventoryHtml} from '../../ui/report-html.js'

export default class InventoryReport extends BaseCommand<typeof InventoryReport> {
  static override summary = 'Write the last inventory as a sign-off report: Markdown, JSON, HTML or CSV.'
  static override description =
    'HTML is one self-contained page with charts (files per user, file sizes, ages, findings, largest directories) and their numbers in tables; JSON holds the same numbers. CSV lists the findings, or with --files every file (names that are not UTF-8 shown with \\xNN escapes).'
  static override examples = ['<%= config.bin %> inventory report --format md --output inventory.md', '<%= config.bin %> inventory report --format html --output inventory.html', '<%= config.bin %> inventory report --format csv --files > files.csv']
  static override flags = {
    format: Flags.option({options: ['md', 'json', 'html', 'csv'] as const, default: 'md' as const, summary: 'Report format.'})(),
    files: Flags.boolean({summary: 'With --format csv: list every file instead of the findings.', default: false}),
    output: Flags.string({char: 'o', summary: 'Write to this file instead of stdout.'}),
  }

  public async run(): Promise<InventoryReportData> {
    const {format, output} = this.flags
    // JSON and HTML carry the charts' numbers (one pass over the files); Markdown and CSV do not need them.
    const withCharts = format === 'json' || format === 'html' ? buildInventoryReport(this.state) : undefined
    const data = withCharts ?? inventoryReportData(this.state)
    if (format === 'csv') {
      const out = output ? createWriteStream(output) : process.stdout
      if (this.flags.files) {
        out.write(csvLine(FILES_CSV_HEADER))
        for (const e of inventoryFiles(this.state)) if (!out.write(fileCsvLine(e))) await new Promise<void>((resolve) => out.once('drain', () => resolve()))
      } else {
        out.write(csvLine(FINDINGS_CSV_HEADER))
        for (const f of data.findings) out.write(csvLine([f.severity, f.rule, f.subject, f.reason, f.fix]))
      }
      if (output) {
        out.end()
        await finished(out)
      }
    } else {
      const text = withCharts && format === 'html' ? await inventoryHtml(withCharts) : format === 'md' ? inventoryMarkdown(data) : JSON.stringify(data, null, 2) + '\n'
      if (output) await writeFile(output, text)
      else if (!this.jsonEnabled()) process.stdout.write(text)
    }
    if (output) this.logToStderr(`wrote ${output}`)
    return data
  }
}
