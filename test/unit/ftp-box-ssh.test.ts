import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {SqliteStateStore} from '../../src/adapters/state.js'
import {commandSshTarget, resolveConfig} from '../../src/core/config.js'
import {CliError} from '../../src/core/errors.js'
import type {AwsClients} from '../../src/adapters/aws.js'
import {carryBack} from '../../src/services/carry-back.js'
import {runOnSource} from '../../src/services/cutover-steps.js'
import {findStragglers} from '../../src/services/stragglers.js'

// What runs over SSH on the box (freeze commands, carry-back, stragglers) with an FTP box: refused up front with the
// reason and the fix, before any connection is tried (nothing here reaches a network: the guards come first).

const base = {'source.host': '127.0.0.1', 'source.username': 'migrator', 'target.region': 'eu-west-1', 'target.bucket': 'acme-sftp'}
const ftpConfig = (extra: Record<string, unknown> = {}) => {
  const r = resolveConfig({file: {...base, 'source.protocol': 'ftp', ...extra}})
  if (!r.ok) throw new Error(JSON.stringify(r.problems))
  return r.config
}

let dir: string
let state: SqliteStateStore
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sct-ftp-ssh-'))
  state = new SqliteStateStore(join(dir, 'state.db'))
})
afterEach(() => {
  state.close()
  rmSync(dir, {recursive: true, force: true})
})

async function refusal(p: Promise<unknown>): Promise<CliError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(CliError)
  return err as CliError
}

test('commands on an FTP box run over SSH at source.sshHost:sshPort, and only when it is set', () => {
  const sftp = resolveConfig({file: {...base, 'source.hostKeyFingerprint': 'SHA256:' + 'a'.repeat(43)}})
  if (!sftp.ok) throw new Error('sftp config')
  expect(commandSshTarget(sftp.config.source)).toBe(sftp.config.source)
  expect(commandSshTarget(ftpConfig().source)).toBeUndefined()
  expect(commandSshTarget(ftpConfig({'source.sshHost': 'box.internal', 'source.sshPort': 2222}).source)).toMatchObject({host: 'box.internal', port: 2222})
})

test('a freeze command on an FTP box without source.sshHost is refused, naming the setting', async () => {
  const err = await refusal(runOnSource({config: ftpConfig(), env: {}}, 'touch /etc/nologin'))
  expect(err.code).toBe('NO_SSH_ON_BOX')
  expect(err.exitCode).toBe(2)
  expect(err.message).toMatch(/runs on the legacy box over SSH, and this box is read over FTP/)
  expect(err.suggestions.join(' ')).toMatch(/source\.sshHost/)
})

test('carry-back from an FTP box is refused (exit 3): its paths are the FTP login\'s, not the box\'s', async () => {
  const err = await refusal(carryBack(ftpConfig(), {dryRun: true, replayDeletions: false, since: new Date('2026-11-29T00:00:00Z')}, {state, aws: {} as Pick<AwsClients, 's3'>, env: {}, log: () => undefined}))
  expect(err.code).toBe('CARRY_BACK_FTP')
  expect(err.exitCode).toBe(3)
  expect(err.message).toMatch(/not carried back/)
  expect(err.suggestions.join(' ')).toMatch(/s3:\/\/acme-sftp/)
})

test('cutover stragglers on an FTP box is refused: sshd\'s log does not show FTP logins', async () => {
  const err = await refusal(findStragglers(ftpConfig(), {since: new Date('2026-11-29T00:00:00Z')}, {state, env: {}}))
  expect(err.code).toBe('STRAGGLERS_FTP')
  expect(err.message).toMatch(/its clients log in to the FTP server/)
})
