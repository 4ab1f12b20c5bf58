/**
 * What an engineer sees in a real 120x40 terminal (tmux): sync's progress line moving inside a large file, an
 * interrupted sync shown as interrupted (yellow, with the resume hint) rather than as a green check, "did you mean"
 * for a mistyped command, and Ctrl-C at a prompt exiting 130. Against the sshd and versitygw peers.
 */
import {randomBytes} from 'node:crypto'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {loadPeers} from '../peers/env.js'
import {runCli} from './helpers/cli.js'
import {startTerminal, type Terminal} from './helpers/tmux.js'
import {makeProject, newBucket, removeScratch, versitygw} from './sync-helpers.js'

const {sshd} = loadPeers()
let source: string
let term: Terminal | undefined
const MiB = 1024 * 1024

beforeAll(() => {
  // sshd reads it as root: a world-readable tree under a root-owned directory
  source = mkdtempSync(join(tmpdir(), 'sct-term-src-'))
  const data = join(source, 'data')
  mkdirSync(data)
  writeFileSync(join(data, 'big.bin'), randomBytes(48 * MiB))
  for (let i = 0; i < 20; i++) writeFileSync(join(data, `small-${i}.txt`), `file ${i}\n`)
})

afterEach(() => term?.close())

afterAll(() => {
  removeScratch()
  rmSync(source, {recursive: true, force: true})
})

async function syncProject(label: string) {
  const project = makeProject({sshd, s3: versitygw(), bucket: await newBucket(versitygw(), label), roots: [join(source, 'data')]})
  const env = {AWS_ACCESS_KEY_ID: versitygw().config.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: versitygw().config.credentials.secretAccessKey}
  return {project, env}
}

describe('in a terminal', () => {
  it('sync\'s progress line moves while a large file is read and uploaded, with files/s and an ETA', async () => {
    const {project, env} = await syncProject('progress')
    term = startTerminal(['sync', '--bwlimit', '16M', '--transfers', '1'], {cwd: project.dir, env})
    // the large file (largest first) is uploaded in parts: the line must move before any file is complete
    const uploading = await term.waitFor(/0\/2\d files, ([1-9]\d*(\.\d+)?) MiB\/48\.0 MiB, [\d.]+ MiB\/s, [\d.]+ files\/s, ETA \d+s/, 60_000)
    expect(uploading).not.toMatch(/48\.0 MiB\/48\.0 MiB/)
    expect(await term.exitCode(120_000)).toBe(0)
    expect(term.screen()).toMatch(/Next: sftp-cutover verify/)
  }, 200_000)

  it('an interrupted sync shows as interrupted, in yellow, with the resume hint', async () => {
    const {project, env} = await syncProject('interrupt')
    term = startTerminal(['sync', '--bwlimit', '8M', '--transfers', '1'], {cwd: project.dir, env})
    await term.waitFor(/0\/2\d files, [1-9]\d*(\.\d+)? MiB\/48\.0 MiB/, 60_000)
    term.keys('C-c')
    expect(await term.exitCode(120_000)).toBe(1)
    const screen = term.screen({escapes: true})
    // listr2 marks a skipped task with a yellow arrow; a completed one with a green tick
    const ESC = String.fromCharCode(27)
    expect(screen).toContain(`${ESC}[33m↓${ESC}[39m interrupted: run sftp-cutover sync again to continue`)
    expect(screen).not.toMatch(/✔/)
    expect(term.screen()).toMatch(/Run sftp-cutover sync again to continue where this run stopped/)
  }, 200_000)

  it('inventory shows the walk\'s progress line (plain lines without a terminal); verify its rate and ETA', async () => {
    const {project} = await syncProject('walk')
    const inv = await project.run(['inventory', '--sshd-config', sshd.configFile])
    expect(inv.stderr).toMatch(/\d+ entries listed, [\d.]+ \S*B, [\d.]+ \S*B\/s, [\d.]+ entries\/s/)
    expect(inv.stdout).toMatch(/Next: sftp-cutover users plan \(/)
    expect((await project.run(['sync'])).code).toBe(0)
    const verify = await project.run(['verify'])
    expect(verify.stderr).toMatch(/\d+\/\d+ files checked, [\d.]+ files\/s/)
    expect(verify.stdout).toMatch(/Next: sftp-cutover cutover --dry-run/)
  }, 200_000)

  it('a mistyped command gets "did you mean" (and without a terminal, the list of commands)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sct-term-'))
    term = startTerminal(['synk'], {cwd: dir})
    await term.waitFor(/Did you mean sync\?/)
    term.keys('n', 'Enter')
    expect(await term.exitCode()).toBe(127)
    term.close()
    term = startTerminal(['user', 'import'], {cwd: dir})
    await term.waitFor(/Did you mean users import\?/)
    // CI=true makes oclif's colour library colour even into a pipe; the CLI keeps pipes plain unless FORCE_COLOR asks
    const plain = await runCli(['synk'], {cwd: dir, env: {CI: 'true'}})
    expect(plain.code).toBe(127)
    expect(plain.stderr).not.toContain("\u001b[")
    expect(plain.stderr).toMatch(/synk is not a sftp-cutover command/)
    expect(plain.stderr).toMatch(/Run sftp-cutover help for a list of available commands/)
  }, 60_000)

  it('Ctrl-C at a prompt exits 130 and changes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sct-term-'))
    term = startTerminal(['init'], {cwd: dir})
    await term.waitFor(/\?.*host/i)
    term.keys('C-c')
    expect(await term.exitCode()).toBe(130)
    expect(term.screen()).toMatch(/cancelled at a prompt: nothing was changed/)
    expect((await runCli(['config', 'get', 'source.host'], {cwd: dir})).code).toBe(2)
  }, 60_000)
})
