/**
 * The cutover's final delta (the runbook's sync step) copies with the options of the last complete sync, kept in
 * state, unless the step overrides them: as the built CLI, from a private OpenSSH sshd to moto's S3 (which keeps
 * each object's storage class).
 */
import {HeadObjectCommand} from '@aws-sdk/client-s3'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {type SshdPeer, startSshd} from '../peers/index.js'
import {listKeys, makeProject, moto, newBucket, removeScratch, s3Of} from './sync-helpers.js'

let sshd: SshdPeer

beforeAll(async () => {
  sshd = await startSshd()
})

afterAll(async () => {
  await sshd?.stop()
  removeScratch()
})

it('uses the last complete sync\'s --exclude and --storage-class, prints them in the dry run, and a step may override them', async () => {
  const root = join(sshd.dir, 'delta')
  mkdirSync(root)
  writeFileSync(join(root, 'first.txt'), 'first\n')
  writeFileSync(join(root, 'scratch.tmp'), 'never migrated\n')
  const peer = moto()
  const s3 = s3Of(peer)
  const bucket = await newBucket(peer, 'delta')
  const project = makeProject({sshd, s3: peer, bucket, roots: [root]})
  const prefix = `home/delta`
  try {
    expect((await project.run(['sync', '--exclude', '**/*.tmp', '--storage-class', 'STANDARD_IA', '--transfers', '3'])).code).toBe(0)
    // Written after the last sync, as on cutover night.
    writeFileSync(join(root, 'second.txt'), 'second\n')
    writeFileSync(join(root, 'late.tmp'), 'never migrated either\n')
    const book = join(project.dir, 'delta.yaml')
    writeFileSync(book, 'name: delta\nsteps:\n  - sync\n')

    const dry = await project.run(['runbook', 'run', book, '--dry-run'])
    expect(dry.code).toBe(0)
    expect(dry.stdout).toMatch(/would copy 1 file\(s\).*options \(the options of sync run 1\): --transfers 3 --connections 4 --symlinks skip --storage-class STANDARD_IA --exclude '\*\*\/\*\.tmp'/)

    const run = await project.run(['runbook', 'run', book, '--yes'])
    expect(run.code).toBe(0)
    expect((await listKeys(s3, bucket)).sort()).toEqual([`${prefix}/first.txt`, `${prefix}/second.txt`])
    const head = await s3.send(new HeadObjectCommand({Bucket: bucket, Key: `${prefix}/second.txt`}))
    expect(head.StorageClass).toBe('STANDARD_IA')

    // A step that says otherwise wins, for the options it names.
    writeFileSync(join(root, 'third.txt'), 'third\n')
    const override = join(project.dir, 'override.yaml')
    writeFileSync(override, 'name: override\nsteps:\n  - sync: {storageClass: STANDARD, exclude: []}\n')
    const over = await project.run(['runbook', 'run', override, '--yes'])
    expect(over.code).toBe(0)
    expect(over.stdout).toMatch(/options \(the options of sync run 2, with the runbook's exclude, storageClass\): --transfers 3 .*--storage-class STANDARD$/m)
    expect((await listKeys(s3, bucket)).sort()).toEqual([`${prefix}/first.txt`, `${prefix}/late.tmp`, `${prefix}/scratch.tmp`, `${prefix}/second.txt`, `${prefix}/third.txt`])
    const third = await s3.send(new HeadObjectCommand({Bucket: bucket, Key: `${prefix}/third.txt`}))
    expect(third.StorageClass ?? 'STANDARD').toBe('STANDARD')
  } finally {
    s3.destroy()
  }
})
