#!/usr/bin/env bash
# npm run bench: runs every bench that has a peer and a goal (each also runs alone) and prints one
# table: measure, Eos, peer, ratio, goal, met or not, with the machine's load. The rows come from
# the JSON each bench writes to bench/out/ in this run (old files are removed first).
#   startup     eos --version, eos store ls vs node -e 0           bench/startup/run.mjs
#   scheduler   1,000 trivial actions vs nix-build: cold, no-op;    bench/scheduler/nix-compare.ts
#               cold with every action sandboxed vs Nix sandboxed and unsandboxed
#   ingest      eos store add vs b3sum (cold) and ostree (warm)    bench/ingest/run.sh
#   verify      checking a composition's objects (cold, warm) vs   bench/verify/verify-bench.ts
#               b3sum; a verified run vs an unverified mount
#   observe     zlib and curl built observed (FUSE) vs in composefs worlds   bench/observe/run.ts
#               (needs the demo's built lock: .eos-demo/, from `npm run demo`; else NOT RUN)
#   resolve     1,000 and 3,000 labels x 10 versions (absolute CPU  bench/resolve/run.ts
#               goals), against the MiniSat oracle (3,000: not in --quick)
#   cache       a lock substituted from nginx / bst-artifact-server  bench/cache/cache-bench.ts
#               vs built; eos cache push vs rsync -a of the same files
#   makespan    the demo's cold build (zlib, OpenSSL, curl) with the  bench/scheduler/chain-solo.sh
#               jobserver vs each action alone (needs the demo; not in --quick: about 3 cold builds)
#   swap        openssl swapped in the demo's curl composition vs     bench/swap/swap.bench.ts
#               rebuilding curl (cold, warm); synthetic swaps with and without 1,000 unrelated
#               entries (needs the demo and demo:swap for the curl rows; else only synthetic)
# The benches without a peer goal (the simulated makespan, executor, extract, image, world, resolve, python) run
# alone. Usage: bench/run-all.sh [--quick]
#   --quick: 200 actions instead of 1,000 and one run per ingest measure instead of the best of two
#            (EOS_BENCH_QUICK=1): a whole table in a few minutes on 2 loaded cores.
# Needs root (the sandbox, drop_caches) and the peers (installed by scripts/setup.sh --bench).
set -euo pipefail
cd "$(dirname "$0")/.."
quick=
if [ "${1:-}" = "--quick" ]; then quick=1; fi
bash scripts/setup.sh --bench
# bench/out first: creating it changes bench/'s time, which would make dist/ look stale after the check.
mkdir -p bench/out
node --input-type=module -e \
  "import { distState } from './bin/dist-state.mjs'; process.exit(distState('.').fresh ? 0 : 1)" ||
  node scripts/build-dist.mjs >&2 || { echo "bench: dist/ did not build" >&2; exit 1; }
out=bench/out
mkdir -p "$out"
rm -f "$out"/startup.json "$out"/scheduler.json "$out"/scheduler-sandboxed.json "$out"/ingest.json "$out"/observe.json \
  "$out"/resolve-1000.json "$out"/resolve-3000.json "$out"/cache.json "$out"/verify.json "$out"/swap.json \
  "$out"/makespan-solo.json
nodes=1000
ingest_src=/usr/lib/x86_64-linux-gnu
if [ -n "$quick" ]; then
  export EOS_BENCH_QUICK=1
  nodes=200
  ingest_src=/usr/lib/x86_64-linux-gnu
fi
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
run() { # name command…: a failing bench leaves its row NOT RUN, the others go on
  local name=$1
  shift
  echo "== $name: $*" >&2
  "$@" >&2 || echo "bench: $name failed (exit $?)" >&2
}
run startup node bench/startup/run.mjs
run scheduler npx tsx bench/scheduler/nix-compare.ts --nodes "$nodes"
run scheduler-sandboxed npx tsx bench/scheduler/nix-compare.ts --nodes "$nodes" --sandbox
run ingest node bench/ingest/bench.mjs "$ingest_src"
run resolve-1000 npx tsx bench/resolve/run.ts 1000 10
if [ -z "$quick" ]; then run resolve-3000 npx tsx bench/resolve/run.ts 3000 10; fi
run verify npx tsx bench/verify/verify-bench.ts
demo=${EOS_DEMO_DIR:-.eos-demo}
if [ -f "$demo/work/root/eos.lock" ]; then
  run observe env EOS_STORE="$demo/store" npx tsx bench/observe/run.ts "$demo/work/root/eos.lock"
else
  echo "bench: observe needs the demo's built lock ($demo/work/root/eos.lock; npm run demo)" >&2
fi
if [ -z "$quick" ] && [ -f "$demo/work/root/eos.lock" ]; then
  run makespan bash bench/scheduler/chain-solo.sh "$demo"
fi
run cache npx tsx bench/cache/cache-bench.ts
run swap env EOS_DEMO_DIR="$demo" npx tsx bench/swap/swap.bench.ts --copy-store
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores${quick:+ (quick mode: $nodes actions, ingest of $ingest_src)}"
big=("$out"/resolve-3000.json "$out"/makespan-solo.json)
if [ -n "$quick" ]; then big=(); fi
node bench/table.mjs "$out"/startup.json "$out"/scheduler.json "$out"/scheduler-sandboxed.json "$out"/ingest.json "$out"/observe.json "$out"/cache.json "$out"/verify.json "$out"/swap.json \
  "$out"/resolve-1000.json "${big[@]}"
