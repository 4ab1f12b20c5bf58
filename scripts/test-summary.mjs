// Prints the jest totals per project and a closing "N passed, N failed" line; fails when a test was skipped
// or when a project ran no test (the integration tests must really run against the peers).
import {readFileSync} from 'node:fs'

const file = process.argv[2]
let results
try {
  results = JSON.parse(readFileSync(file, 'utf8'))
} catch {
  console.log('tests: 0 passed, 1 failed')
  console.error(`no jest results in ${file}: jest did not finish`)
  process.exit(1)
}
const projects = {}
let passed = 0
let failed = 0
let skipped = 0
for (const suite of results.testResults) {
  const project = suite.name.includes('/test/integration/') ? 'integration' : 'unit'
  const p = (projects[project] ??= {passed: 0, failed: 0, skipped: 0})
  if (suite.status === 'failed' && suite.assertionResults.length === 0) {
    p.failed++
    failed++
    console.error(`suite failed to run: ${suite.name}\n${suite.message}`)
  }
  for (const t of suite.assertionResults) {
    if (t.status === 'passed') {
      p.passed++
      passed++
    } else if (t.status === 'failed') {
      p.failed++
      failed++
    } else {
      p.skipped++
      skipped++
      console.error(`not run (${t.status}): ${t.fullName}`)
    }
  }
}
for (const [name, p] of Object.entries(projects)) console.log(`${name}: ${p.passed} passed, ${p.failed} failed, ${p.skipped} skipped`)
let ok = failed === 0 && skipped === 0
for (const name of process.argv.includes('--require-all') ? ['unit', 'integration'] : []) {
  if (!projects[name]?.passed) {
    console.error(`no ${name} test passed`)
    ok = false
  }
}
if (skipped > 0) console.error('skipped tests hide failures: every test must run')
console.log(`tests: ${passed} passed, ${failed + (ok || failed ? 0 : 1)} failed, ${skipped} skipped`)
process.exit(ok ? 0 : 1)
