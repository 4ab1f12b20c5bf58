import {GetObjectCommand, type GetObjectCommandOutput} from '@aws-sdk/client-s3'
import {createHash, randomBytes} from 'node:crypto'
import {createWriteStream} from 'node:fs'
import {mkdir, rename, rm, utimes} from 'node:fs/promises'
import path from 'node:path'
import {Readable, Transform} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {crc32} from 'node:zlib'

// The one S3 call the copy makes; an S3Client satisfies it, and tests can wrap one.
export interface ObjectReader {
  send(command: GetObjectCommand): Promise<GetObjectCommandOutput>
}

export class VerificationError extends Error {
  override name = 'VerificationError'
}

export interface CopyResult {
  bytes: number
  sha256: string
  sha256Verified: boolean
  // The bytes matched the full-object CRC-32 S3 stores for the object (sync writes one with every object).
  crc32Verified: boolean
  // Seconds since the epoch applied to the file, or null when the object has no (valid) mtime metadata.
  mtime: number | null
  mtimeInvalid: boolean
}

const SHA256_HEX = /^[0-9a-f]{64}$/
const EPOCH_SECONDS = /^\d+(\.\d+)?$/

// Streams the object into a temporary file next to the target and renames it into place only after the byte
// count, the full-object CRC-32 S3 stores (checksum mode on) and the sha256 user metadata (each when present) match,
// so readers never see a partial or corrupt file. A large object's sha256 arrives later as a tag: its CRC-32 is
// known when it is created, so the copy checks that instead of waiting.
export async function copyObjectToFile(s3: ObjectReader, bucket: string, key: string, target: string): Promise<CopyResult> {
  const object = await s3.send(new GetObjectCommand({Bucket: bucket, Key: key, ChecksumMode: 'ENABLED'}))
  const body = object.Body
  if (!(body instanceof Readable)) throw new Error('GetObject returned no readable body')
  try {
    return await writeVerified(body, object, target)
  } finally {
    // Releases the connection when the copy stopped before the end of the body (a no-op after a full read).
    body.destroy()
  }
}

async function writeVerified(body: Readable, object: GetObjectCommandOutput, target: string): Promise<CopyResult> {
  const expectedSha256 = object.Metadata?.sha256?.toLowerCase()
  if (expectedSha256 !== undefined && !SHA256_HEX.test(expectedSha256)) {
    throw new VerificationError('sha256 metadata is not 64 hex digits')
  }
  if (object.ContentLength === undefined) throw new VerificationError('GetObject returned no ContentLength')
  // A COMPOSITE checksum ("…-N") is a checksum of part checksums, not comparable with the bytes' CRC.
  const storedCrc = object.ChecksumType !== 'COMPOSITE' && object.ChecksumCRC32 && !object.ChecksumCRC32.includes('-') ? object.ChecksumCRC32 : undefined
  const mtimeText = object.Metadata?.mtime
  const mtime = mtimeText !== undefined && EPOCH_SECONDS.test(mtimeText) ? Number(mtimeText) : null

  const directory = path.dirname(target)
  await mkdir(directory, {recursive: true})
  // Same directory as the target so the rename is atomic; a short fixed-length name cannot exceed NAME_MAX.
  const temporary = path.join(directory, `.s3-to-efs-${randomBytes(8).toString('hex')}.tmp`)
  const hash = createHash('sha256')
  let crc = 0
  let bytes = 0
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk)
      crc = crc32(chunk, crc)
      bytes += chunk.length
      callback(null, chunk)
    },
  })
  let placed = false
  try {
    await pipeline(body, meter, createWriteStream(temporary, {flags: 'wx'}))
    const sha256 = hash.digest('hex')
    if (bytes !== object.ContentLength) {
      throw new VerificationError(`read ${bytes} bytes, S3 reported ContentLength ${object.ContentLength}`)
    }
    const crcBytes = Buffer.alloc(4)
    crcBytes.writeUInt32BE(crc >>> 0)
    if (storedCrc !== undefined && crcBytes.toString('base64') !== storedCrc) {
      throw new VerificationError(`crc32 ${crcBytes.toString('base64')} does not match the object's ${storedCrc}`)
    }
    if (expectedSha256 !== undefined && sha256 !== expectedSha256) {
      throw new VerificationError(`sha256 ${sha256} does not match metadata ${expectedSha256}`)
    }
    if (mtime !== null) await utimes(temporary, mtime, mtime)
    await rename(temporary, target)
    placed = true
    return {bytes, sha256, sha256Verified: expectedSha256 !== undefined, crc32Verified: storedCrc !== undefined, mtime, mtimeInvalid: mtimeText !== undefined && mtime === null}
  } finally {
    if (!placed) await rm(temporary, {force: true})
  }
}
