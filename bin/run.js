#!/usr/bin/env -S node --max-semi-space-size=8
// --max-semi-space-size: V8 grows the young generation to 32 MiB in any run longer than about half a second; capped
// at 16 MiB, peak memory stays flat however many files a run sees (the objects of a walk die young either way).
import {readFileSync} from 'node:fs'
import module from 'node:module'

// Compiled code of the CLI and its dependencies is cached on disk (Node's own cache), so each start compiles nothing.
module.enableCompileCache?.()

const pjson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
// package.json's engines ("^A.B.C || >=X.Y.Z"), checked without loading a semver library: older Nodes fail later
// in obscure ways (native modules, node: APIs).
const version = process.versions.node.split('.').map(Number)
const atLeast = (min) => version[0] - min[0] || version[1] - min[1] || version[2] - min[2]
const supported = pjson.engines.node.split('||').some((range) => {
  const [, op, ...min] = /^\s*(\^|>=)(\d+)\.(\d+)\.(\d+)\s*$/.exec(range) ?? []
  return op !== undefined && atLeast(min.map(Number)) >= 0 && (op === '>=' || version[0] === Number(min[0]))
})
if (!supported) {
  process.stderr.write(`sftp-cutover needs Node.js ${pjson.engines.node}; this is ${process.version}. See the README (Installing).\n`)
  process.exit(1)
}

// Colour only on a terminal (or when FORCE_COLOR asks): oclif's and listr2's colour libraries also colour whenever
// CI is set, which puts escape codes into log files and pipes. NO_COLOR (no-color.org) is what both honour.
if (!('FORCE_COLOR' in process.env) && !(process.stdout.isTTY && process.stderr.isTTY)) process.env.NO_COLOR ??= '1'

// `--version` is what people type most; it needs nothing of oclif (same text as oclif's config.userAgent).
if (process.argv[2] === '--version') {
  process.stdout.write(`${pjson.oclif.bin}/${pjson.version} ${process.platform}-${process.arch} node-${process.version}\n`)
} else {
  const [{execute}, {settings}] = await Promise.all([import('@oclif/core/execute'), import('@oclif/core/settings')])
  // dist/ is what runs here (bin/dev.js runs the sources): oclif would otherwise look for TypeScript sources whenever
  // NODE_ENV is test or development, and warn when it finds none.
  settings.enableAutoTranspile = false
  await execute({dir: import.meta.url})
}
