#!/usr/bin/env bash
# Installs everything sftp-cutover's tests and rehearsal need on a fresh Debian machine, at pinned versions:
# the project's Node.js (scripts/node-env.sh), npm packages from the lockfile, the peers (scripts/install-peers.sh),
# then builds dist/. Nothing is compiled: no dependency runs a native build (package.json's allowScripts).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/node-env.sh

# npm ci only when the lockfile changed since the last install (it wipes node_modules).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== npm ci"
  npm ci --no-audit --no-fund
fi
echo "== peers"
bash scripts/install-peers.sh
echo "== build"
npm run --silent build
