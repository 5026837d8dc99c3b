#!/usr/bin/env bash
# The static checks of `npm test` (tsc, eslint, prettier), run side by side: each is a single
# process on its own and they share nothing, so on 2 cores the three take about as long as the
# slowest two one after the other instead of all three (tests/README.md, "Timing"). Each tool's
# output is printed whole, after it ends, in this order; the exit status is non-zero when any failed,
# and names which.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=node_modules/.bin
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
names=(tsc eslint prettier)
"$bin/tsc" --noEmit -p . >"$out/tsc" 2>&1 &
pids=($!)
"$bin/eslint" . >"$out/eslint" 2>&1 &
pids+=($!)
"$bin/prettier" --check . >"$out/prettier" 2>&1 &
pids+=($!)
failed=()
for i in "${!names[@]}"; do
  wait "${pids[$i]}" || failed+=("${names[$i]}")
  cat "$out/${names[$i]}"
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "static checks failed: ${failed[*]}" >&2
  exit 1
fi
