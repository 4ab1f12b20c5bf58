/** Every CloudFormation template in infra/ passes cfn-lint (pinned 1.58.0 in .peers/venv by scripts/install-peers.sh). */
import {spawnSync} from 'node:child_process'
import {existsSync, readdirSync} from 'node:fs'
import path from 'node:path'

import {binaries, repoRoot} from '../peers/paths.js'

const CFN_LINT_VERSION = '1.58.0'
const infraDir = path.join(repoRoot, 'infra')
const templates = readdirSync(infraDir)
  .filter((name) => name.endsWith('.yaml'))
  .sort()

function cfnLint(args: string[]): {status: number | null; output: string} {
  // A missing linter is a failure, never a skip.
  if (!existsSync(binaries.cfnLint)) {
    throw new Error(`cfn-lint not found at ${binaries.cfnLint}: run \`bash scripts/install-peers.sh\` first`)
  }
  const run = spawnSync(binaries.cfnLint, args, {cwd: repoRoot, encoding: 'utf8', timeout: 120_000})
  if (run.error) throw run.error
  return {status: run.status, output: `${run.stdout}${run.stderr}`}
}

describe('CloudFormation templates', () => {
  test('infra/ holds templates, linted by the pinned cfn-lint', () => {
    expect(templates.length).toBeGreaterThan(0)
    expect(cfnLint(['--version']).output.trim()).toBe(`cfn-lint ${CFN_LINT_VERSION}`)
  })

  test.each(templates)('cfn-lint passes on infra/%s', (template) => {
    const {status, output} = cfnLint(['--', path.join('infra', template)])
    if (status !== 0) throw new Error(`cfn-lint exited with ${status} on infra/${template}:\n${output}`)
  }, 120_000)
})
