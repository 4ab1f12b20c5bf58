#!/usr/bin/env bash
# Installs everything sftp-cutover's tests and rehearsal need on a fresh Debian machine, at pinned versions:
# npm packages from the lockfile, the peers (scripts/install-peers.sh), then builds dist/.
set -euo pipefail
cd "$(dirname "$0")/.."

# npm ci only when the lockfile changed since the last install (it wipes node_modules and rebuilds natives).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== npm ci"
  npm ci --no-audit --no-fund
fi
echo "== peers"
bash scripts/install-peers.sh
echo "== build"
npm run --silent build
