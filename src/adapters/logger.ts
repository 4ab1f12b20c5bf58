import {mkdirSync} from 'node:fs'
import {dirname} from 'node:path'
import pino from 'pino'

export type Logger = pino.Logger

/**
 * The run log: JSON lines appended to .sftp-cutover/sftp-cutover.log, and to stderr with --verbose.
 * Callers never pass secrets; the redaction below is a second line of defence for fields named like one.
 */
export function createLogger(opts: {file?: string; verbose?: boolean; command: string}): Logger {
  const streams: pino.StreamEntry[] = []
  if (opts.file) {
    mkdirSync(dirname(opts.file), {recursive: true})
    streams.push({level: 'debug', stream: pino.destination({dest: opts.file, sync: true, append: true})})
  }
  if (opts.verbose) streams.push({level: 'debug', stream: pino.destination({fd: 2, sync: true})})
  if (streams.length === 0) return pino({level: 'silent'})
  return pino(
    {
      level: 'debug',
      base: {command: opts.command, pid: process.pid},
      redact: {
        paths: ['password', 'passphrase', 'privateKey', 'secretAccessKey', 'sessionToken', '*.password', '*.passphrase', '*.privateKey', '*.secretAccessKey', '*.sessionToken'],
        censor: '[redacted]',
      },
    },
    pino.multistream(streams),
  )
}
