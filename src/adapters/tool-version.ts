import {readFileSync} from 'node:fs'

/** This sftp-cutover's version, from its package.json (two levels up from both src/adapters and dist/adapters). */
export function toolVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {version: string}).version
}
