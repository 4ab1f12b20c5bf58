/**
 * The project lock, between real CLI processes: a runbook with a wait step holds the project while another command
 * tries to change it. No peer is needed (the wait step touches neither the source nor AWS).
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {hostname, tmpdir} from 'node:os'
import {join} from 'node:path'

import {CLI, cleanEnv, runCli} from './helpers/cli.js'

let dir: string
const cli = (args: string[]) => runCli(args, {cwd: dir})

/** Starts a runbook that waits `seconds` and resolves once it is inside the wait step (it holds the lock then). */
async function holder(name: string, seconds: number): Promise<{child: ChildProcess; done: Promise<number | null>; stderr: () => string}> {
  const file = join(dir, `${name}.yaml`)
  writeFileSync(file, `name: ${name}\nsteps:\n  - wait: {seconds: ${seconds}}\n`)
  const child = spawn(process.execPath, [CLI, 'runbook', 'run', file, '--yes'], {cwd: dir, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe']})
  let seen = ''
  const done = new Promise<number | null>((resolve) => child.on('close', resolve))
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      seen += d.toString()
      if (seen.includes('>> wait')) resolve()
    })
    void done.then(() => reject(new Error(`the holder exited early: ${seen}`)))
  })
  return {child, done, stderr: () => seen}
}

function waitRunbook(name: string): string {
  const file = join(dir, `${name}.yaml`)
  writeFileSync(file, `name: ${name}\nsteps:\n  - wait: {seconds: 0}\n`)
  return file
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sct-lock-'))
  writeFileSync(
    join(dir, 'sftp-cutover.yaml'),
    [
      'source:',
      '  host: 127.0.0.1',
      '  username: nobody',
      `  hostKeyFingerprint: SHA256:${'A'.repeat(43)}`,
      'target:',
      '  region: eu-west-1',
      '  bucket: lock-test-bucket',
      '',
    ].join('\n'),
  )
})

describe('project lock', () => {
  it('refuses a second writer naming the holder and since when; read-only commands and dry runs go ahead', async () => {
    const h = await holder('hold', 15)
    try {
      const refused = await cli(['sync', '--json'])
      expect(refused.code).toBe(1)
      const error = refused.json<{error: {code: string; message: string; suggestions: string[]}}>().error
      expect(error.code).toBe('PROJECT_LOCKED')
      expect(error.message).toMatch(new RegExp(`in use by sftp-cutover runbook run \\(pid ${h.child.pid} on ${hostname()}, since \\d{4}-\\d\\d-\\d\\dT`))
      expect(error.suggestions.join(' ')).toMatch(/--wait/)

      // another runbook is refused too; read-only commands and a dry run are not (they fail or pass on their own merits)
      expect((await cli(['runbook', 'run', waitRunbook('second'), '--yes'])).stderr).toMatch(/in use by sftp-cutover runbook run/)
      for (const args of [['inventory', 'report'], ['report'], ['runbook', 'run', waitRunbook('dry'), '--dry-run']]) {
        const r = await cli(args)
        expect({args, stderr: r.stderr}).toEqual({args, stderr: expect.not.stringMatching(/in use by/)})
      }
    } finally {
      expect(await h.done).toBe(0)
    }
    // released at the end: the next writer gets it at once
    expect((await cli(['runbook', 'run', waitRunbook('after'), '--yes'])).code).toBe(0)
  }, 60_000)

  it('--wait starts when the holder is done', async () => {
    const h = await holder('hold-2', 6)
    const waited = await cli(['runbook', 'run', waitRunbook('waiter'), '--yes', '--wait'])
    expect(await h.done).toBe(0)
    expect(waited.code).toBe(0)
    expect(waited.stderr).toMatch(new RegExp(`Waiting for sftp-cutover runbook run \\(pid ${h.child.pid} on .*\\) to finish`))
  }, 60_000)

  it('takes over from a holder whose process is gone, and says so in the log', async () => {
    const h = await holder('killed', 60)
    h.child.kill('SIGKILL')
    await h.done
    const r = await cli(['runbook', 'run', waitRunbook('successor'), '--yes'])
    expect(r.code).toBe(0)
    const said = `took over the project lock from sftp-cutover runbook run (pid ${h.child.pid} on ${hostname()}`
    expect(r.stderr).toContain(said)
    expect(readFileSync(join(dir, '.sftp-cutover', 'sftp-cutover.log'), 'utf8')).toContain(said)
  }, 60_000)
})
