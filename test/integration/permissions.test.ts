/**
 * What S3 and Transfer cannot carry beyond the bytes: permissions they do not enforce (mode 000, owner-only files in
 * a directory the group shares, setuid), hard links (each name becomes its own object), and the homes' .ssh
 * directories, which sync leaves out unless --include-ssh-dirs. As the built CLI against a private OpenSSH sshd
 * (whose long listing gives the link count) and versitygw.
 */
import {chmodSync, linkSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import type {SyncResult} from '../../src/services/sync.js'
import {type SshdPeer, startSshd} from '../peers/index.js'
import {listKeys, makeProject, newBucket, removeScratch, s3Of, versitygw} from './sync-helpers.js'

let sshd: SshdPeer
let root: string

beforeAll(async () => {
  sshd = await startSshd()
  root = join(sshd.dir, 'perms')
  mkdirSync(join(root, 'shared'), {recursive: true})
  chmodSync(root, 0o700)
  chmodSync(join(root, 'shared'), 0o750)
  writeFileSync(join(root, 'shared', 'secret.txt'), 'owner only\n', {mode: 0o600})
  writeFileSync(join(root, 'shared', 'open.txt'), 'the group reads this\n', {mode: 0o640})
  writeFileSync(join(root, 'locked.txt'), 'no one\n')
  chmodSync(join(root, 'locked.txt'), 0o000)
  writeFileSync(join(root, 'tool'), '#!/bin/sh\n')
  chmodSync(join(root, 'tool'), 0o4755)
  writeFileSync(join(root, 'report.csv'), 'a,b\n', {mode: 0o600})
  linkSync(join(root, 'report.csv'), join(root, 'report-latest.csv'))
  mkdirSync(join(root, '.ssh'), {mode: 0o700})
  writeFileSync(join(root, '.ssh', 'authorized_keys'), `${sshd.users.keyUser.publicKeyLine}\n`, {mode: 0o600})
})

afterAll(async () => {
  await sshd?.stop()
  removeScratch()
})

it('inventory: findings for mode 000, owner-only in a shared directory, setuid, hard links and the .ssh directory', async () => {
  const project = makeProject({sshd, s3: versitygw(), bucket: 'unused', roots: [root]})
  const r = await project.run(['inventory', '--json'])
  const findings = r.json<{findings: Array<{rule: string; severity: string; subject: string; reason: string; fix: string}>}>().findings
  const mine = findings.filter((f) => /^file\.(mode-000|owner-only-in-shared-dir|setuid|hard-link|ssh-dir)$/.test(f.rule)).map((f) => `${f.rule} ${f.subject}`)
  expect(mine.sort()).toEqual(
    [
      'file.hard-link file:perms:report-latest.csv',
      'file.hard-link file:perms:report.csv',
      'file.mode-000 file:perms:locked.txt',
      'file.owner-only-in-shared-dir file:perms:shared/secret.txt',
      'file.setuid file:perms:tool',
      'file.ssh-dir file:perms:.ssh',
    ].sort(),
  )
  const link = findings.find((f) => f.rule === 'file.hard-link')!
  expect(link.reason).toBe('2 hard links: each linked name is copied as a separate object')
  expect(findings.every((f) => f.fix.length > 20)).toBe(true)
})

it('sync leaves the homes\' .ssh directories out (a note says so) unless --include-ssh-dirs', async () => {
  const peer = versitygw()
  const s3 = s3Of(peer)
  try {
    const bucket = await newBucket(peer, 'sshdirs')
    const project = makeProject({sshd, s3: peer, bucket, roots: [root]})
    const r = await project.run(['sync', '--json'])
    expect(r.code).toBe(0)
    const result = r.json<SyncResult>()
    expect(result.notes.filter((n) => n.kind === 'ssh-dir').map((n) => `${n.owner}/${n.path}`)).toEqual(['perms/.ssh'])
    expect((await listKeys(s3, bucket)).filter((k) => k.includes('.ssh'))).toEqual([])
    expect(await listKeys(s3, bucket)).toContain('home/perms/report.csv')

    const included = await project.run(['sync', '--include-ssh-dirs', '--json'])
    expect(included.code).toBe(0)
    expect(included.json<SyncResult>().notes.filter((n) => n.kind === 'ssh-dir')).toEqual([])
    expect((await listKeys(s3, bucket)).filter((k) => k.includes('.ssh'))).toEqual(['home/perms/.ssh/authorized_keys'])
  } finally {
    s3.destroy()
  }
})
