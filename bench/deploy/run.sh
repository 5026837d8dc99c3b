#!/usr/bin/env bash
# bench/deploy: push time and bytes over SSH against rsync -a of the same trees over the same sshd
# (first deploy, re-deploy, post-swap deploy), and rollback time for 10 MB and 1 GB closures.
# Then the 200-kill deploy fault run. Usage: bench/deploy/run.sh [--no-fault]   (root)
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/setup.sh --bench
npx tsx bench/deploy/deploy-bench.ts
if [ "${1:-}" != "--no-fault" ]; then npx tsx bench/deploy/fault.ts 200; fi
