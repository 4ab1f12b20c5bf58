#!/usr/bin/env bash
# The test command (README quick start, .ci/run): installs what the tests need, builds, lints, type-checks,
# then runs the unit and the integration tests against real peers (OpenSSH sshd, moto, versitygw).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/node-env.sh

bash scripts/setup.sh

echo "== lint and type-check"
npx eslint .
npx tsc -p tsconfig.json --noEmit

echo "== tests"
mkdir -p .peers
results=.peers/jest-results.json
rm -f "$results"
status=0
NODE_OPTIONS=--experimental-vm-modules npx jest --ci --json --outputFile="$results" "$@" || status=$?
# A full run (no jest arguments) must run both projects.
node scripts/test-summary.mjs "$results" $([ $# -eq 0 ] && echo --require-all) || status=$((status == 0 ? 1 : status))
exit "$status"
