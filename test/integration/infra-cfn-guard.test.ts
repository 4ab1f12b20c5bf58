/**
 * AWS CloudFormation Guard (cfn-guard 3.1.2, built by scripts/install-peers.sh) with the rules of infra/rules/:
 * sftp-transfer.yaml passes them for every option combination, and each rule fails on a copy of the template broken
 * on purpose for that rule (so a rule that can never fail would show here).
 */
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {binaries, repoRoot} from '../peers/paths.js'
import {COMBINATIONS, renderTemplate, REQUIRED_PARAMETERS, type Template} from './infra-render.js'

const CFN_GUARD_VERSION = '3.1.2'
const rulesDir = path.join(repoRoot, 'infra', 'rules')
let dir: string

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sftp-cutover-guard-'))
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

/** The names of the rules that fail on the template (empty: it passes). */
function failingRules(template: Template, name: string): string[] {
  if (!existsSync(binaries.cfnGuard)) throw new Error(`cfn-guard not found at ${binaries.cfnGuard}: run \`bash scripts/install-peers.sh\` first`)
  const file = path.join(dir, `${name}.json`)
  writeFileSync(file, JSON.stringify(template, null, 1))
  const run = spawnSync(binaries.cfnGuard, ['validate', '--rules', rulesDir, '--data', file, '--show-summary', 'none', '--structured', '--output-format', 'json'], {
    encoding: 'utf8',
    timeout: 120_000,
  })
  if (run.error) throw run.error
  // Exit 0: every rule passed; 19: some rule failed; anything else is an error in the rules or the data.
  if (run.status !== 0 && run.status !== 19) throw new Error(`cfn-guard exited with ${run.status}:\n${run.stdout}${run.stderr}`)
  const reports = JSON.parse(run.stdout) as Array<{not_compliant: Array<{Rule: {name: string}}>}>
  return [...new Set(reports.flatMap((report) => report.not_compliant.map((failure) => failure.Rule.name)))].sort()
}

const render = (name: keyof typeof COMBINATIONS): Template => renderTemplate({...REQUIRED_PARAMETERS, ...COMBINATIONS[name]})
type Any = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

// One deliberate break per rule, each on the template with every option on (the most resources).
const BREAKS: Record<string, (t: Any) => void> = {
  bucket_encrypted_with_kms: (t) => {
    t.Resources.Bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault = {SSEAlgorithm: 'AES256'}
  },
  bucket_public_access_blocked: (t) => {
    t.Resources.Bucket.Properties.PublicAccessBlockConfiguration.RestrictPublicBuckets = false
  },
  bucket_policy_tls_only: (t) => {
    t.Resources.BucketPolicy.Properties.PolicyDocument.Statement[0].Condition.Bool['aws:SecureTransport'] = 'true'
  },
  iam_no_wildcard_resource: (t) => {
    t.Resources.VerdictRole.Properties.Policies[0].PolicyDocument.Statement[0].Resource = '*'
  },
  log_group_retention: (t) => {
    delete t.Resources.ScanLogGroup.Properties.RetentionInDays
  },
  lambda_dead_letter_target: (t) => {
    delete t.Resources.ScannerFunction.Properties.DeadLetterConfig
  },
}

describe('cfn-guard rules of infra/rules/', () => {
  test('the pinned cfn-guard is installed', () => {
    if (!existsSync(binaries.cfnGuard)) throw new Error(`cfn-guard not found at ${binaries.cfnGuard}: run \`bash scripts/install-peers.sh\` first`)
    expect(spawnSync(binaries.cfnGuard, ['--version'], {encoding: 'utf8'}).stdout.trim()).toBe(`cfn-guard ${CFN_GUARD_VERSION}`)
  })

  test.each(Object.keys(COMBINATIONS))('sftp-transfer.yaml rendered as %s passes every rule', (name) => {
    expect(failingRules(render(name), name)).toEqual([])
  })

  test.each(Object.keys(BREAKS))('rule %s fails on a copy broken for it (and only it)', (rule) => {
    const broken = render('all-clamav') as Any
    BREAKS[rule](broken)
    expect(failingRules(broken as Template, `broken-${rule}`)).toEqual([rule])
  })

  test('a bucket policy without the TLS deny, and a bucket with no policy at all, both fail', () => {
    const extra = render('defaults') as Any
    extra.Resources.BucketPolicy.Properties.PolicyDocument.Statement = [{Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: '*'}]
    expect(failingRules(extra as Template, 'no-deny')).toEqual(['bucket_policy_tls_only'])
    const nopolicy = render('defaults') as Any
    delete nopolicy.Resources.BucketPolicy
    expect(failingRules(nopolicy as Template, 'no-policy')).toEqual(['bucket_policy_tls_only'])
  })

  test('the admitted "*" cases are only the Describe/ENI calls: another action on "*" in the same statement fails', () => {
    const broken = render('defaults') as Any
    const statements = broken.Resources.CopyFunctionRole.Properties.Policies[0].PolicyDocument.Statement as Any[]
    statements.find((s) => s.Sid === 'ManageVpcNetworkInterfaces')?.Action.push('s3:GetObject')
    expect(failingRules(broken as Template, 'eni-plus')).toEqual(['iam_no_wildcard_resource'])
  })
})
