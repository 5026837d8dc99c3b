#!/usr/bin/env bash
# The set-up `npm test` and `npm run demo` do themselves, so that a fresh clone needs nothing else
# (idempotent; a second run does nothing and takes a second). In order:
#   1. node modules: `npm ci` when node_modules is absent or older than package-lock.json (npm
#      writes node_modules/.package-lock.json on every install);
#   2. machine packages and the native BLAKE3 binding: scripts/setup.sh (root installs them);
#   3. the compiled CLI: dist/, rebuilt when it is not current with the sources (specs/cli.md §1).
# Environment: EOS_SKIP_SETUP=1 skips everything (for a machine set up by other means).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ "${EOS_SKIP_SETUP:-}" = 1 ] && exit 0

installed=node_modules/.package-lock.json
if [ ! -f "$installed" ] || [ package-lock.json -nt "$installed" ]; then
  echo "eos setup: node_modules is missing or older than package-lock.json; running npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi

bash scripts/setup.sh

node --input-type=module -e \
  "import { distState } from './bin/dist-state.mjs'; process.exit(distState('.').fresh ? 0 : 1)" ||
  node scripts/build-dist.mjs >&2
