#!/usr/bin/env bash
# bench/world: world set-up time, hard-link materialization vs mounting the composefs image.
# Usage: bench/world/run.sh [DIR...]   (needs root for the mount path)
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/setup.sh
exec npx tsx bench/world/world-bench.ts "$@"
