/**
 * Every command and flag the messages tell the operator to run exists (checked against the oclif manifest), in the
 * space form. The CLI runs of the integration tests are checked the same way by runCli; this reads every message
 * written in the sources, including those no test provokes.
 */
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {suggestionProblems} from '../integration/helpers/suggestions.js'

const SRC = join(import.meta.dirname, '..', '..', 'src')

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []))
}

/** The command a source file belongs to (src/commands/users/import.ts -> users import), for its bare flags. */
function commandOfFile(file: string): string | undefined {
  const m = /src\/commands\/(.+)\.ts$/.exec(file)
  return m ? m[1].replace(/\/index$/, '').replaceAll('/', ' ') : undefined
}

describe('suggested commands and flags', () => {
  it('the checker finds a missing flag, a missing command and the colon form', () => {
    expect(suggestionProblems('pin it with sftp-cutover sync --source-host-key-fingerprint SHA256:x', undefined)).toEqual([
      '--source-host-key-fingerprint: sftp-cutover sync has no such flag',
    ])
    expect(suggestionProblems('run sftp-cutover synk', undefined)).toEqual(['"sftp-cutover synk": no such command'])
    expect(suggestionProblems('run sftp-cutover hostkeys:import --dry-run', undefined)[0]).toMatch(/use the space form \(hostkeys import\)/)
    expect(suggestionProblems('Pass --yes to confirm', 'sync')).toEqual(['--yes: sftp-cutover sync has no such flag'])
    expect(suggestionProblems('Pass --yes to confirm', 'cutover')).toEqual([])
    // the message of issue 14, printed by doctor: a flag only init has
    expect(suggestionProblems('if it is, pin it with --source-host-key-fingerprint SHA256:x (source.hostKeyFingerprint).', 'doctor')).toEqual([
      '--source-host-key-fingerprint: sftp-cutover doctor has no such flag',
    ])
    expect(suggestionProblems('Pass --no-such-flag.', undefined)).toEqual(['--no-such-flag: no command has this flag'])
    expect(suggestionProblems('if one is, set it: sftp-cutover confg set source.hostKeyFingerprint SHA256:x.', undefined)).toEqual(['"sftp-cutover confg set": no such command'])
    expect(suggestionProblems('Set them (init --dns-hosted-zone-id … --dns-record-name …).', 'cutover')).toEqual([])
    expect(suggestionProblems('run sftp-cutover users import --only alice, then sftp-cutover verify --deep', undefined)).toEqual([])
  })

  it('no message in the sources names a command or flag that does not exist', () => {
    const problems: string[] = []
    for (const file of sourceFiles(SRC)) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/^\s*(\/\/|\*|\/\*\*)/.test(line)) return // comments
          if (line.includes('// runs on the box')) return // a command line for another program, not a suggestion
          // only the text of string literals, with ${...} placeholders as a word
          const strings = [...line.matchAll(/'((?:[^'\\]|\\.)*)'|`((?:[^`\\]|\\.)*)`|"((?:[^"\\]|\\.)*)"/g)].map((m) => (m[1] ?? m[2] ?? m[3]).replace(/\$\{[^}]*\}/g, 'X'))
          // a literal without a space is a value in code, not a message
          for (const text of strings.filter((t) => /\s/.test(t))) for (const p of suggestionProblems(text, commandOfFile(file))) problems.push(`${file.slice(SRC.length + 1)}:${i + 1}: ${p}`)
        })
    }
    expect(problems).toEqual([])
  })
})
