/**
 * Help and messages an engineer relies on at the terminal: the step ids --from takes, the --users-csv columns where
 * the flag points, and the inventory's changed-files list saying how many it did not show and where they are.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {DEFAULT_RUNBOOK} from '../../src/core/runbook.js'
import {USERS_CSV_COLUMNS} from '../../src/core/users-csv.js'
import type {InventoryResult} from '../../src/services/inventory.js'
import {renderInventorySummary} from '../../src/ui/inventory-report.js'

interface ManifestFlag {
  summary?: string
  description?: string
  options?: string[]
}
const manifest = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {flags: Record<string, ManifestFlag>}>}

describe('help', () => {
  it('cutover --from lists the step ids, runbook run --from says what they are', () => {
    // the default runbook's steps, and the soft cutover's drain
    expect(manifest.commands.cutover.flags.from.options).toEqual([...DEFAULT_RUNBOOK.steps, 'drain'])
    expect(manifest.commands['runbook:run'].flags.from.description).toMatch(/preflight, confirm, freeze, sync, verify, dns-switch, smoke-test, report, exec, wait/)
  })

  it('inventory --help documents every --users-csv column, where the flag and the messages point', () => {
    const flag = manifest.commands.inventory.flags['users-csv']
    expect(flag.summary).toMatch(/FLAG DESCRIPTIONS/)
    for (const [name, c] of Object.entries(USERS_CSV_COLUMNS)) expect(flag.description).toContain(`  ${name}${c.required ? ' *' : ''}: ${c.description}`)
  })
})

describe('inventory summary', () => {
  it('ends the changed files with "... and N more" and where to see them all', () => {
    const result = {
      runId: 2,
      host: 'legacy:22',
      accountsSource: 'online',
      accounts: [],
      hostKeys: [],
      summary: {owners: [], findings: {blocker: 0, warning: 0, info: 0}, accounts: 0, hostKeys: 0},
      findings: [],
      listing: {method: 'find'},
      failed: false,
      changes: {
        since: '2026-11-28T10:00:00Z',
        users: {added: [], removed: []},
        keys: {added: [], removed: []},
        files: {added: 40, removed: 2, changed: 3, examples: [{owner: 'alice', path: 'a.txt', change: 'added'}, {owner: 'alice', path: 'b.txt', change: 'removed'}]},
      },
    } as unknown as InventoryResult
    const text = renderInventorySummary(result)
    expect(text.split('\n')[1]).toBe('Files listed with GNU find over SSH exec (one stream per root).')
    expect(text.split('\n').slice(-3)).toEqual([
      '  file added: alice/a.txt',
      '  file removed: alice/b.txt',
      '  ... and 43 more (every file: sftp-cutover inventory report --format csv --files)',
    ])
  })
})
