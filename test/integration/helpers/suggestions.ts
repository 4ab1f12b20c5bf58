/**
 * Checks that what the CLI tells the operator to run exists: every "sftp-cutover COMMAND --flag" (or "COMMAND
 * --flag", or a bare "--flag" of the command that printed it) names a command and flags that the oclif manifest has,
 * in the space form (never "hostkeys:import").
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

interface Manifest {
  commands: Record<string, {flags: Record<string, {char?: string; allowNo?: boolean}>}>
}

const ROOT = join(import.meta.dirname, '..', '..', '..')

let cached: Map<string, Set<string>> | undefined

/** Command id in the space form -> every flag it takes (with --no- forms). */
export function commandFlags(): Map<string, Set<string>> {
  if (cached) return cached
  const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as Manifest
  cached = new Map([['help', new Set<string>()]])
  for (const [id, c] of Object.entries(manifest.commands)) {
    const flags = new Set<string>(['help'])
    for (const [name, f] of Object.entries(c.flags)) {
      flags.add(name)
      if (f.allowNo) flags.add(`no-${name}`)
    }
    cached.set(id.replaceAll(':', ' '), flags)
  }
  return cached
}

/** Other tools whose commands the messages name ("aws transfer delete-host-key --server-id …"): their flags are theirs. */
const FOREIGN = new Set(['aws', 'ssh', 'ssh-keygen', 'ssh-keyscan', 'ssh-add', 'sftp', 'rclone', 'sha256sum'])
const FOREIGN_COMMAND = '(another tool)'

/** Levenshtein distance, for telling a mistyped command from the tool's name used in prose. */
function distance(a: string, b: string): number {
  let prev = Array.from({length: b.length + 1}, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = row
  }
  return prev[b.length]
}

/** The longest command id that starts at words[i]: "users import" before "users". */
function commandAt(words: string[], i: number, commands: Map<string, Set<string>>): string | undefined {
  for (const n of [3, 2, 1]) {
    const id = words.slice(i, i + n).join(' ')
    if (words.length >= i + n && commands.has(id)) return id
  }
  return undefined
}

/**
 * Problems in one message or suggestion: commands that do not exist, flags the named command lacks, the colon form.
 * `current` is the command that printed it: a flag named without a command is its flag.
 */
export function suggestionProblems(text: string, current: string | undefined, commands = commandFlags()): string[] {
  const problems: string[] = []
  for (const m of text.matchAll(/sftp-cutover ([a-z][\w-]*:[\w:-]+)/g)) problems.push(`"${m[0]}": use the space form (${m[1].replaceAll(':', ' ')})`)
  // a sentence or clause at a time: a flag belongs to the command named before it in the same clause
  for (const clause of text.split(/[;.]\s|[()]|\n|, or |, then /)) {
    const raw = clause.split(/\s+/)
    const words = raw.map((w) => w.replace(/^["'`]+|["'`,:.]+$/g, ''))
    let command = current
    for (let i = 0; i < words.length; i++) {
      const w = words[i]
      if (w === 'sftp-cutover') {
        const id = commandAt(words, i + 1, commands)
        if (!id) {
          // "sftp-cutover" is also the tool's name in prose ("this sftp-cutover understands"): a command is meant when
          // the word is close to a command's or a flag follows it
          const next = words[i + 1] ?? ''
          const told = i > 0 && (/:$/.test(raw[i - 1]) || /^(run|Run|Next|then|try|with)$/.test(words[i - 1]))
          const meant = /^[a-z][a-z-]*$/.test(next) && (told || [...commands.keys()].some((c) => distance(c.split(' ')[0], next) <= 2) || /^--/.test(words[i + 2] ?? ''))
          if (meant) problems.push(`"${words.slice(i, i + 3).join(' ').trim()}": no such command`)
          command = undefined
        } else {
          command = id
          i += id.split(' ').length
        }
        continue
      }
      if (FOREIGN.has(w)) {
        command = FOREIGN_COMMAND
        continue
      }
      // a quoted "--value" is a literal (a suffix, a pattern), not a flag
      const flag = /^["'`]/.test(raw[i]) ? null : /^--([a-z][\w-]*)(=.*)?$/.exec(w)
      if (flag) {
        if (command === FOREIGN_COMMAND) continue
        if (command !== undefined) {
          if (!commands.get(command)!.has(flag[1])) problems.push(`--${flag[1]}: sftp-cutover ${command} has no such flag`)
        } else if (![...commands.values()].some((f) => f.has(flag[1]))) {
          // a message of a shared module, read without knowing which command prints it (runCli knows, and checks)
          problems.push(`--${flag[1]}: no command has this flag`)
        }
        continue
      }
      // "init --source-host": a command id right before a flag names the command the flag belongs to
      const id = /^--/.test(words[i + 1] ?? '') || /^--/.test(words[i + 2] ?? '') ? commandAt(words, i, commands) : undefined
      if (id && /^--/.test(words[i + id.split(' ').length] ?? '')) {
        command = id
        i += id.split(' ').length - 1
      }
    }
  }
  return problems
}

/**
 * What a CLI run told the operator to do: the Fix lines on stderr, or the JSON error's suggestions (the error message
 * itself may quote what the operator mistyped).
 */
export function runMessages(stdout: string, stderr: string): string[] {
  const lines = stderr.split('\n').filter((l) => /^\s+Fix:/.test(l))
  try {
    const doc = JSON.parse(stdout) as {error?: {message: string; suggestions?: string[]}}
    if (doc.error) lines.push(...(doc.error.suggestions ?? []))
  } catch {
    // not JSON
  }
  return lines
}
