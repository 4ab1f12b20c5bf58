import {PutObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {execFile} from 'node:child_process'
import {readdir, readFile, writeFile, mkdir} from 'node:fs/promises'
import path from 'node:path'
import {promisify} from 'node:util'

import {MANIFEST} from './clamd-process.js'

const run = promisify(execFile)

/** Uploads the database files of `databaseDir`, then the manifest naming them (the scanner reads that first). */
export async function uploadDefinitions(s3: Pick<S3Client, 'send'>, bucket: string, prefix: string, databaseDir: string): Promise<string[]> {
  // freshclam writes .cvd/.cld/.cud; the other extensions are ClamAV's plain signature files (the tests use .hdb).
  const files = (await readdir(databaseDir)).filter((name) => /\.(cvd|cld|cud|hdb|hsb|ndb|ldb|cdb|fp|sfp|ign2|ftm|pdb|wdb)$/.test(name)).sort()
  if (files.length === 0) throw new Error(`freshclam left no database in ${databaseDir}`)
  for (const file of files) {
    await s3.send(new PutObjectCommand({Bucket: bucket, Key: `${prefix}${file}`, Body: await readFile(path.join(databaseDir, file))}))
  }
  await s3.send(
    new PutObjectCommand({Bucket: bucket, Key: `${prefix}${MANIFEST}`, Body: JSON.stringify({files, updated: new Date().toISOString()}), ContentType: 'application/json'}),
  )
  return files
}

// Lambda entry point (the scanner image, command definitions.handler; on a schedule): freshclam into /tmp, then S3.
export async function handler(): Promise<{files: string[]}> {
  const bucket = process.env.DEFINITIONS_BUCKET
  const prefix = process.env.DEFINITIONS_PREFIX
  if (!bucket || !prefix) throw new Error('DEFINITIONS_BUCKET and DEFINITIONS_PREFIX must be set')
  const databaseDir = '/tmp/clamav-db'
  await mkdir(databaseDir, {recursive: true})
  const config = '/tmp/freshclam.conf'
  await writeFile(config, `DatabaseDirectory ${databaseDir}\nDatabaseMirror database.clamav.net\nForeground yes\n`)
  await run('freshclam', [`--config-file=${config}`, '--stdout'], {timeout: 480_000})
  const files = await uploadDefinitions(new S3Client({}), bucket, prefix, databaseDir)
  return {files}
}
