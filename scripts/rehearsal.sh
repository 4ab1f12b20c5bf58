#!/usr/bin/env bash
# Quick start 1: installs what is needed (pinned), builds, then runs the rehearsal against local stand-ins.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
exec npx tsx scripts/rehearsal.ts
