#!/usr/bin/env bash
# Quick start 1: installs what is needed (pinned), builds, then runs the rehearsal against local stand-ins.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/node-env.sh
bash scripts/setup.sh
exec npx tsx scripts/rehearsal.ts
