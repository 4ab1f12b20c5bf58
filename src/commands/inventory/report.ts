import {createWriteStream} from 'node:fs'
import {writeFile} from 'node:fs/promises'
import {finished} from 'node:stream/promises'
import {Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {type InventoryReportData, inventoryFiles, inventoryReportData} from '../../services/inventory.js'
import {csvLine, fileCsvLine, FILES_CSV_HEADER, FINDINGS_CSV_HEADER, inventoryMarkdown} from '../../ui/inventory-formats.js'

export default class InventoryReport extends BaseCommand<typeof InventoryReport> {
  static override summary = 'Write the last inventory as a sign-off report: Markdown, JSON or CSV.'
  static override description = 'CSV lists the findings, or with --files every file (names that are not UTF-8 shown with \\xNN escapes).'
  static override examples = ['<%= config.bin %> inventory report --format md --output inventory.md', '<%= config.bin %> inventory report --format csv --files > files.csv']
  static override flags = {
    format: Flags.option({options: ['md', 'json', 'csv'] as const, default: 'md' as const, summary: 'Report format.'})(),
    files: Flags.boolean({summary: 'With --format csv: list every file instead of the findings.', default: false}),
    output: Flags.string({char: 'o', summary: 'Write to this file instead of stdout.'}),
  }

  public async run(): Promise<InventoryReportData> {
    const data = inventoryReportData(this.state)
    const {format, output} = this.flags
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
      const text = format === 'md' ? inventoryMarkdown(data) : JSON.stringify(data, null, 2) + '\n'
      if (output) await writeFile(output, text)
      else if (!this.jsonEnabled()) process.stdout.write(text)
    }
    if (output) this.logToStderr(`wrote ${output}`)
    return data
  }
}
