/**
 * The S3 side alone, for bench/sync.ts case (a): uploads a local file to an S3 endpoint the way sync uploads a large
 * file (8 MiB parts, 4 in flight, a CRC-32 per part and the combined full-object CRC-32 at completion), with no SFTP
 * and no hash pass. Its time is the floor sync cannot go under against that S3 on this machine.
 *
 *   npx tsx bench/s3-floor.ts FILE BUCKET KEY     (endpoint and credentials from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)
 */
import {S3Client} from '@aws-sdk/client-s3'
import {open} from 'node:fs/promises'

import {type CompletedPart, S3ObjectTarget} from '../src/adapters/object-target.js'
import {crc32, crc32Base64, crc32Combine} from '../src/core/crc32.js'
import {partSizeFor} from '../src/core/sync-plan.js'

const [file, bucket, key] = process.argv.slice(2)
const s3 = new S3Client({endpoint: process.env.AWS_ENDPOINT_URL, region: process.env.AWS_REGION ?? 'us-east-1', forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED'})
const target = new S3ObjectTarget(s3, bucket)
const fh = await open(file)
const size = (await fh.stat()).size
const partSize = partSizeFor(size)
const uploadId = await target.createMultipart(key, {})
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
s3.destroy()
