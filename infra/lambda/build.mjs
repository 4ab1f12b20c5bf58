// Bundles the Lambda handlers with esbuild (AWS SDK included, so the code does not depend on the SDK version
// the runtime happens to ship) and packs them into dist/lambda.zip for upload to S3.
// Usage: node infra/lambda/build.mjs   ->  infra/lambda/dist/{handler,endpoint-lookup,verdict}.mjs and lambda.zip,
// and scanner.mjs + definitions.mjs, which infra/clamav/Dockerfile copies into the ClamAV image.
import {build} from 'esbuild'
import {createHash} from 'node:crypto'
import {readFile, rm, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {crc32, deflateRawSync} from 'node:zlib'

const here = path.dirname(fileURLToPath(import.meta.url))
const dist = path.join(here, 'dist')
// In the zip: the copy function, the endpoint lookup and GuardDuty's verdict function.
const entries = ['handler', 'endpoint-lookup', 'verdict']
// In the ClamAV container image only.
const imageEntries = ['scanner', 'definitions']

await rm(dist, {recursive: true, force: true})
await build({
  entryPoints: [...entries, ...imageEntries].map((name) => path.join(here, 'src', `${name}.ts`)),
  outdir: dist,
  outExtension: {'.js': '.mjs'},
  bundle: true,
  format: 'esm',
  platform: 'node',
  // Runs on the nodejs24.x runtime and in the tests on Node 20.
  target: 'node20',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  // Some CommonJS dependencies call require() for Node built-ins, which an ES module does not define.
  banner: {js: "import {createRequire as __createRequire} from 'node:module';const require=__createRequire(import.meta.url);"},
  logLevel: 'warning',
})

const files = await Promise.all(
  entries.map(async (name) => ({name: `${name}.mjs`, data: await readFile(path.join(dist, `${name}.mjs`))})),
)
const zip = zipFiles(files)
await writeFile(path.join(dist, 'lambda.zip'), zip)
const sha256 = createHash('sha256').update(zip).digest('hex')
console.log(`${path.relative(process.cwd(), path.join(dist, 'lambda.zip'))} ${zip.length} bytes sha256 ${sha256}`)

// A minimal deflate zip. Fixed timestamps and order make the archive, and so its hash, reproducible: a
// content-addressed S3 key then changes exactly when the code does, which is what makes CloudFormation update it.
function zipFiles(items) {
  const dosTime = 0
  const dosDate = (1 << 5) | 1 // 1980-01-01
  const locals = []
  const centrals = []
  let offset = 0
  for (const {name, data} of items) {
    const nameBytes = Buffer.from(name, 'utf8')
    const compressed = deflateRawSync(data, {level: 9})
    const crc = crc32(data)
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4) // version needed
    local.writeUInt16LE(0x0800, 6) // UTF-8 names
    local.writeUInt16LE(8, 8) // deflate
    local.writeUInt16LE(dosTime, 10)
    local.writeUInt16LE(dosDate, 12)
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(compressed.length, 18)
    local.writeUInt32LE(data.length, 22)
    local.writeUInt16LE(nameBytes.length, 26)
    locals.push(local, nameBytes, compressed)
    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    central.writeUInt16LE((3 << 8) | 20, 4) // made by Unix, so the external attributes carry the file mode
    central.writeUInt16LE(20, 6)
    central.writeUInt16LE(0x0800, 8)
    central.writeUInt16LE(8, 10)
    central.writeUInt16LE(dosTime, 12)
    central.writeUInt16LE(dosDate, 14)
    central.writeUInt32LE(crc, 16)
    central.writeUInt32LE(compressed.length, 20)
    central.writeUInt32LE(data.length, 24)
    central.writeUInt16LE(nameBytes.length, 28)
    central.writeUInt32LE(((0o100644 << 16) >>> 0), 38) // regular file, rw-r--r--: readable by the runtime user
    central.writeUInt32LE(offset, 42)
    centrals.push(central, nameBytes)
    offset += local.length + nameBytes.length + compressed.length
  }
  const centralSize = centrals.reduce((sum, part) => sum + part.length, 0)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(items.length, 8)
  end.writeUInt16LE(items.length, 10)
  end.writeUInt32LE(centralSize, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, ...centrals, end])
}
