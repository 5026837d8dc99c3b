#!/usr/bin/env bash
# Ingest benchmark: `eos store add` against `ostree commit` (bare-user), `b3sum` (the hashing
# limit) and `cp -a` (the disk limit) over the same large tree, cold and warm, in one run.
# Usage: bench/ingest/run.sh [SRC]   (default /usr/lib/x86_64-linux-gnu; root for drop_caches)
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh --bench
exec node bench/ingest/bench.mjs "${1:-/usr/lib/x86_64-linux-gnu}"
