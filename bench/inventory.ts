/**
 * Inventory benchmark: builds a tree of 100,000 files in 1,000 directories on a throwaway sshd, then measures in one
 * run our inventory's wall time beside `rclone lsf -R` over the same server, and our peak RSS at 20,000 and 100,000
 * files. Targets (issue #3): no slower than rclone; peak RSS under 300 MB and growing by at most 20% from 20k to 100k.
 * Both tools also list a one-file tree and the first 20,000 files, which shows their fixed costs apart from the walk.
 *
 *   npx tsx bench/inventory.ts [--repeat 3] [-- extra inventory flags]
 *
 * (as root; peers installed by scripts/install-peers.sh; dist/ built). Each size is listed --repeat times by each
 * tool, alternating, and the medians are compared; each inventory starts in a fresh project.
 */
import {spawn} from 'node:child_process'
import {chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {startSshd} from '../test/peers/index.js'

const ROOT = join(import.meta.dirname, '..')
const CLI = join(ROOT, 'bin', 'run.js')
const DIRS = 1000
const PER_DIR = 100
const argv = process.argv.slice(2)
const dashes = argv.indexOf('--')
const EXTRA = dashes >= 0 ? argv.slice(dashes + 1) : []
const repeatAt = argv.indexOf('--repeat')
const REPEAT = repeatAt >= 0 && (dashes < 0 || repeatAt < dashes) ? Math.max(1, Number(argv[repeatAt + 1])) : 3
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]

function run(cmd: string, args: string[], opts: {cwd?: string; env?: NodeJS.ProcessEnv} = {}): Promise<{ms: number; code: number; stdout: string; stderr: string}> {
  const started = process.hrtime.bigint()
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {cwd: opts.cwd, env: {...process.env, ...opts.env}})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ms: Number(process.hrtime.bigint() - started) / 1e6, code: code ?? 1, stdout, stderr}))
  })
}

function buildTree(root: string, fromDir: number, toDir: number, owner: {uid: number; gid: number}, perDir = PER_DIR): void {
  for (let d = fromDir; d < toDir; d++) {
    const dir = join(root, `d${String(d).padStart(4, '0')}`)
    mkdirSync(dir, {recursive: true})
    for (let f = 0; f < perDir; f++) writeFileSync(join(dir, `f${String(f).padStart(3, '0')}.dat`), 'x')
    chownSync(dir, owner.uid, owner.gid)
  }
}

async function ourInventory(sshd: Awaited<ReturnType<typeof startSshd>>, tree: string): Promise<{ms: number; rss: number; files: number}> {
  const project = mkdtempSync(join(tmpdir(), 'sct-bench-inv-'))
  const admin = sshd.users.adminUser
  const init = await run(process.execPath, [CLI, 'init', '--no-prompt', '--source-host', sshd.host, '--source-port', String(sshd.port), '--source-username', admin.name,
    '--source-identity-file', admin.privateKeyPath!, '--source-known-hosts-file', sshd.knownHostsFile, '--source-roots', tree, '--target-region', 'us-east-1', '--target-bucket', 'bench-bucket'], {cwd: project})
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`)
  const rssFile = join(project, 'rss')
  // Run as installed (the shebang's node flags apply), with the hook that records peak RSS.
  const r = await run(CLI, ['inventory', '--json', '--fail-on', 'blocker', '--sshd-config', sshd.configFile, ...EXTRA], {
    cwd: project,
    env: {BENCH_RSS_FILE: rssFile, NODE_OPTIONS: `--import ${join(ROOT, 'bench', 'rss-hook.mjs')}`},
  })
  if (r.code !== 0 && r.code !== 3) throw new Error(`inventory failed (${r.code}): ${r.stderr}`)
  const result = JSON.parse(r.stdout) as {summary: {owners: Array<{files: number}>}}
  const files = result.summary.owners.reduce((n, o) => n + o.files, 0)
  const rss = Number(readFileSync(rssFile, 'utf8'))
  rmSync(project, {recursive: true, force: true})
  return {ms: r.ms, rss, files}
}

async function rcloneLsf(sshd: Awaited<ReturnType<typeof startSshd>>, tree: string): Promise<{ms: number; lines: number}> {
  const admin = sshd.users.adminUser
  const env = {
    RCLONE_CONFIG_SRC_TYPE: 'sftp',
    RCLONE_CONFIG_SRC_HOST: sshd.host,
    RCLONE_CONFIG_SRC_PORT: String(sshd.port),
    RCLONE_CONFIG_SRC_USER: admin.name,
    RCLONE_CONFIG_SRC_KEY_FILE: admin.privateKeyPath!,
    RCLONE_CONFIG_SRC_KNOWN_HOSTS_FILE: sshd.knownHostsFile,
  }
  const r = await run('rclone', ['lsf', '-R', '--files-only', `src:${tree}`], {env})
  if (r.code !== 0) throw new Error(`rclone failed: ${r.stderr}`)
  return {ms: r.ms, lines: r.stdout.split('\n').filter(Boolean).length}
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`

async function main(): Promise<void> {
  const sshd = await startSshd()
  try {
    const key = sshd.users.keyUser
    const tree = join(key.home, 'bench-tree')
    mkdirSync(tree)
    chownSync(tree, key.uid, key.gid)
    // The fixed costs (start-up, handshakes, for us the accounts too) and the cost per file, for both tools: a one-file
    // tree, then 20% and 100% of the tree, each tool's runs alternating.
    const one = join(key.home, 'bench-one')
    buildTree(one, 0, 1, key, 1)
    const both = async (root: string) => {
      const ours: Array<Awaited<ReturnType<typeof ourInventory>>> = []
      const theirs: Array<Awaited<ReturnType<typeof rcloneLsf>>> = []
      for (let i = 0; i < REPEAT; i++) {
        theirs.push(await rcloneLsf(sshd, root))
        ours.push(await ourInventory(sshd, root))
      }
      return {ours, theirs, ms: median(ours.map((o) => o.ms)), rss: median(ours.map((o) => o.rss)), files: ours[0].files, rcloneMs: median(theirs.map((t) => t.ms)), rcloneFiles: theirs[0].lines}
    }
    const fixed = await both(one)
    console.error(`building ${DIRS * PER_DIR / 5} files…`)
    buildTree(tree, 0, DIRS / 5, key)
    const small = await both(tree)
    console.error(`building the rest, up to ${DIRS * PER_DIR} files…`)
    buildTree(tree, DIRS / 5, DIRS, key)
    const big = await both(tree)
    const growth = (big.rss - small.rss) / small.rss
    const runs = (xs: number[]) => xs.map((ms) => (ms / 1000).toFixed(2)).join(', ')
    for (const [name, r] of [['1 file', fixed], ['20k', small], ['100k', big]] as const) {
      console.error(`${name}: inventory runs ${runs(r.ours.map((o) => o.ms))} s (peak RSS ${r.ours.map((o) => mb(o.rss)).join(', ')}); rclone runs ${runs(r.theirs.map((t) => t.ms))} s`)
    }
    console.log(`| measure (medians of ${REPEAT}) | sftp-cutover inventory | rclone lsf -R | target | met |`)
    console.log('| --- | ---: | ---: | --- | --- |')
    console.log(`| wall time, ${big.files} files | ${s(big.ms)} | ${s(big.rcloneMs)} (${big.rcloneFiles} files) | no slower than rclone | ${big.ms <= big.rcloneMs ? 'yes' : 'NO'} |`)
    console.log(`| wall time, ${small.files} files | ${s(small.ms)} | ${s(small.rcloneMs)} | | |`)
    console.log(`| wall time, 1 file (fixed costs) | ${s(fixed.ms)} | ${s(fixed.rcloneMs)} | | |`)
    console.log(`| peak RSS, ${small.files} files | ${mb(small.rss)} | | < 300 MB | ${small.rss < 300e6 ? 'yes' : 'NO'} |`)
    console.log(`| peak RSS, ${big.files} files | ${mb(big.rss)} | | < 300 MB, growth <= 20% | ${big.rss < 300e6 && growth <= 0.2 ? 'yes' : 'NO'} (${(growth * 100).toFixed(0)}%) |`)
    console.log(
      '\nOur inventory also collects accounts (the collect script over exec), keys and host keys, raises findings and writes everything to SQLite; rclone only lists. The fixed costs include Node and oclif start-up and, for us, the accounts (overlapping the walk on big trees).',
    )
  } finally {
    await sshd.stop()
  }
}

await main()
