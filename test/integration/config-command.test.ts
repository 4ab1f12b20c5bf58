/**
 * config get|set|unset on a project's sftp-cutover.yaml, through the CLI: validated like the file, comments kept,
 * nothing written when refused.
 */
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {homedir, tmpdir} from 'node:os'
import {join} from 'node:path'

import {runCli} from './helpers/cli.js'

let dir: string
let file: string
const cli = (args: string[], env?: NodeJS.ProcessEnv) => runCli(args, {cwd: dir, env})

const YAML = [
  '# the acme migration',
  'source:',
  '  host: legacy.example.com # the old box',
  '  port: "42757"',
  '  username: migrator',
  `  hostKeyFingerprint: SHA256:${'A'.repeat(43)}`,
  '  identityFile: ~/.ssh/id_ed25519',
  'target:',
  '  region: eu-west-1',
  '  bucket: acme-sftp',
  '',
].join('\n')

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sct-config-'))
  file = join(dir, 'sftp-cutover.yaml')
  writeFileSync(file, YAML)
})

describe('config', () => {
  it('get shows the value the commands use: a quoted port as a number, ~ expanded, env over file', async () => {
    const port = await cli(['config', 'get', 'source.port', '--json'])
    expect(port.json()).toMatchObject({key: 'source.port', file: '42757', effective: 42757, origin: 'file'})
    const key = await cli(['config', 'get', 'source.identityFile'])
    expect(key.stdout.trim()).toBe(`source.identityFile = "${join(homedir(), '.ssh/id_ed25519')}" (${file})`)
    const env = await cli(['config', 'get', 'source.port', '--json'], {SFTP_CUTOVER_SOURCE_PORT: '2222'})
    expect(env.json()).toMatchObject({effective: 2222, origin: 'env'})
    const unset = await cli(['config', 'get', 'efs.path'])
    expect(unset.stdout.trim()).toBe('efs.path is not set')
  })

  it('set validates with the file\'s schema and keeps the comments; unset removes; a required key cannot go', async () => {
    const set = await cli(['config', 'set', 'source.port', '2222'])
    expect({code: set.code, out: set.stdout.trim()}).toEqual({code: 0, out: `Set source.port = 2222 in ${file}`})
    const text = readFileSync(file, 'utf8')
    expect(text).toContain('# the acme migration')
    expect(text).toContain('host: legacy.example.com # the old box')
    expect(text).toMatch(/^ {2}port: 2222$/m)

    const bad = await cli(['config', 'set', 'source.port', '70000'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/source\.port = 70000 .*must be from 1 to 65535/)
    const badPin = await cli(['config', 'set', 'source.hostKeyFingerprint', 'abc'])
    expect(badPin.code).toBe(2)
    expect(badPin.stderr).toMatch(/must be an OpenSSH SHA-256 fingerprint/)
    expect(readFileSync(file, 'utf8')).toBe(text)

    const unknown = await cli(['config', 'set', 'source.hots', 'x'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/unknown setting "source\.hots"/)
    expect(unknown.stderr).toMatch(/source\.host, source\.port/)

    expect((await cli(['config', 'set', 'efs.path', '/mnt/efs'])).code).toBe(0)
    const removed = await cli(['config', 'unset', 'efs.path'])
    expect(removed.stdout.trim()).toBe(`Removed efs.path from ${file}`)
    expect(readFileSync(file, 'utf8')).toBe(text)
    const required = await cli(['config', 'unset', 'target.bucket'])
    expect(required.code).toBe(2)
    expect(required.stderr).toMatch(/cannot remove target\.bucket/)
    expect(readFileSync(file, 'utf8')).toBe(text)
  })
})

describe('usage errors', () => {
  it('name the command in the space form', async () => {
    const r = await cli(['hostkeys', 'import', '--no-such-flag'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('Run sftp-cutover hostkeys import --help for the flags.')
  })
})
