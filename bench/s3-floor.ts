/**
 * The S3 side alone, for bench/sync.ts: what sync does against S3, from local disk, with no SFTP. Its time is the
 * floor sync cannot go under against that S3 on this machine.
 *
 *   npx tsx bench/s3-floor.ts large FILE BUCKET KEY    case (a): one multipart upload the way sync uploads a large
 *       file (8 MiB parts, 4 in flight, a CRC-32 per part and the combined full-object CRC-32 at completion), no hash pass
 *   npx tsx bench/s3-floor.ts small DIR BUCKET         case (b): every file under DIR as one PutObject, sync's --transfers default at
 *       once, each with its CRC-32, SHA-256 and the metadata sync writes (keys: home/bench/<path>)
 *
 * Endpoint and credentials from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
 */
import {S3Client} from '@aws-sdk/client-s3'
import {createHash} from 'node:crypto'
import {readdirSync} from 'node:fs'
import {open, readFile, stat} from 'node:fs/promises'
import {join, relative} from 'node:path'

import type {CompletedPart} from '../src/adapters/object-target.js'
import {S3ObjectTarget} from '../src/adapters/s3-object-target.js'
import {crc32, crc32Base64, crc32Combine} from '../src/core/crc32.js'
import {objectMetadata, objectTags, partSizeFor, SYNC_DEFAULTS} from '../src/core/sync-plan.js'

const [mode, source, bucket, key] = process.argv.slice(2)
const s3 = new S3Client({endpoint: process.env.AWS_ENDPOINT_URL, region: process.env.AWS_REGION ?? 'us-east-1', forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED'})
const target = new S3ObjectTarget(s3, bucket)

async function large(file: string): Promise<void> {
  const fh = await open(file)
  const size = (await fh.stat()).size
  const partSize = partSizeFor(size)
  const uploadId = await target.createMultipart(key, {metadata: {}})
  const parts: CompletedPart[] = []
  let full = 0
  const inFlight = new Set<Promise<void>>()
  for (let n = 1, offset = 0; offset < size; n++, offset += partSize) {
    while (inFlight.size >= 4) await Promise.race(inFlight)
    const body = Buffer.allocUnsafe(Math.min(partSize, size - offset))
    await fh.read(body, 0, body.length, offset)
    const crc = crc32(body)
    full = crc32Combine(full, crc, body.length)
    const p: Promise<void> = target.uploadPart(key, uploadId, n, body, crc32Base64(crc)).then((etag) => {
      parts.push({partNumber: n, etag, crc: crc32Base64(crc)})
      inFlight.delete(p)
    })
    inFlight.add(p)
  }
  await Promise.all(inFlight)
  parts.sort((a, b) => a.partNumber - b.partNumber)
  await target.completeMultipart(key, uploadId, parts, crc32Base64(full))
  await fh.close()
}

async function small(dir: string): Promise<void> {
  await target.checkBucket() // as sync does: it also picks the direct PutObject path
  const files = readdirSync(dir, {recursive: true, withFileTypes: true})
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name))
  let next = 0
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++]
      const [body, st] = await Promise.all([readFile(file), stat(file)])
      const sha256 = createHash('sha256').update(body).digest('hex')
      const attrs = {metadata: objectMetadata({mtime: Math.floor(st.mtimeMs / 1000), sha256}), tags: objectTags(st)}
      await target.put(`home/bench/${relative(dir, file)}`, body, crc32Base64(crc32(body)), attrs)
    }
  }
  await Promise.all(Array.from({length: SYNC_DEFAULTS.transfers}, worker))
}

if (mode === 'large') await large(source)
else if (mode === 'small') await small(source)
else throw new Error('usage: s3-floor.ts large FILE BUCKET KEY | small DIR BUCKET')
