import {randomBytes} from 'node:crypto'
import {readFile, rename, writeFile} from 'node:fs/promises'
import {parseDocument, stringify} from 'yaml'

import {CliError, ExitCode} from '../core/errors.js'

/** Reads sftp-cutover.yaml; undefined when there is none. A YAML syntax error names the line. */
export async function readConfigFile(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`, {exitCode: ExitCode.usage, code: 'CONFIG_UNREADABLE'})
  }
  const doc = parseDocument(text, {prettyErrors: true, uniqueKeys: true})
  if (doc.errors.length > 0) {
    const e = doc.errors[0]
    const line = e.linePos?.[0]?.line
    throw new CliError(`${path}${line ? ` line ${line}` : ''}: ${e.message.split('\n')[0]}`, {
      exitCode: ExitCode.usage,
      code: 'CONFIG_SYNTAX',
      suggestions: ['Fix the YAML syntax (indentation with spaces, "key: value").'],
    })
  }
  const value = doc.toJS() as unknown
  if (value === null || value === undefined) return {}
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new CliError(`${path} must hold a mapping with the sections source, target, efs and dns`, {exitCode: ExitCode.usage, code: 'CONFIG_SHAPE'})
  }
  return value as Record<string, unknown>
}

/** Writes the file atomically (temporary file, then rename) so that an interrupted write never leaves half a file. */
export async function writeConfigFile(path: string, doc: Record<string, unknown>, header: string): Promise<void> {
  const body = header + stringify(doc, {lineWidth: 0})
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`
  await writeFile(tmp, body, {mode: 0o644})
  await rename(tmp, path)
}

/**
 * Sets (or with undefined, removes) one value in the file, keeping its comments and layout; written atomically. The
 * caller validates the result first.
 */
export async function updateConfigFile(path: string, keyPath: [string, string], value: unknown): Promise<void> {
  const doc = parseDocument(await readFile(path, 'utf8'))
  if (value === undefined) {
    doc.deleteIn(keyPath)
    const section = doc.getIn([keyPath[0]]) as {items?: unknown[]} | undefined
    if (section?.items?.length === 0) doc.deleteIn([keyPath[0]])
  } else {
    doc.setIn(keyPath, value)
  }
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`
  await writeFile(tmp, doc.toString({lineWidth: 0}), {mode: 0o644})
  await rename(tmp, path)
}
