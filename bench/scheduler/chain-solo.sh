#!/usr/bin/env bash
# bench/scheduler (real chain, solo runs): the demo's cold `eos build` (zlib, OpenSSL, curl) with the
# jobserver against the sum of the same actions' wall times when each ran ALONE with every core
# (issue 14's goal: makespan <= 1.1x that sum).
#
# Needs a finished `npm run demo` (its store, config and lock). Each measured run gets its own copy
# of the demo's store with the three actions' cache records removed, so each action really runs
# (its source tarballs, seed world and output objects are already in the copy: ingest deduplicates
# them, in the solo and the whole runs alike). Order: whole, solo x3, whole (the two whole runs
# bracket the solo ones, so a drifting load moves both sides). Solo: `eos build --only LABEL` in
# dependency order, each run executing exactly one action (its dependencies already cached).
# Makespan: first queued/started event to the last ok event of the whole build's --json document;
# an action's time: its ok event's durationMs. Writes bench/out/makespan-solo.json.
#
# Usage: bash bench/scheduler/chain-solo.sh [DEMO_DIR] [JOBS]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
demo=${1:-${EOS_DEMO_DIR:-$repo/.eos-demo}}
jobs=${2:-$(nproc)}
lock=$demo/work/root/eos.lock
[ -f "$lock" ] || { echo "chain-solo: no $lock (run npm run demo first)" >&2; exit 1; }
export EOS_CONFIG_DIR=$demo/config
scratch=$(mktemp -d /var/tmp/eos-chain-solo-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
eos() { "$repo/bin/eos.mjs" "$@"; }
labels=(zlib openssl curl)

# The three action ids, from a dry run against the demo's store (cached there).
EOS_STORE=$demo/store eos --json build "$lock" --dry-run >"$scratch/dry.json"
mapfile -t ids < <(node -e '
  const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const ids = new Set();
  for (const e of d.events ?? []) if (e.action) ids.add(e.action);
  for (const a of d.plan ?? []) if (a.action) ids.add(a.action);
  console.log([...ids].join("\n"));' "$scratch/dry.json")
[ "${#ids[@]}" -ge 3 ] || { echo "chain-solo: dry run named ${#ids[@]} action(s), want 3" >&2; cat "$scratch/dry.json" >&2; exit 1; }

fresh() { # DIR: a copy of the demo's store without the lock's action records
  cp -a "$demo/store" "$1"
  for id in "${ids[@]}"; do
    hex=${id#blake3:}
    rm -rf "$1/actions/${hex:0:2}/${hex:2}" "$1/actions/${hex:0:2}/$hex"
  done
}
run_whole() { # N
  fresh "$scratch/w$1"
  EOS_STORE=$scratch/w$1 eos --json build "$lock" --jobs "$jobs" >"$scratch/whole$1.json"
  echo "load after whole $1: $(cut -d' ' -f1 /proc/loadavg)" >&2
}
run_whole 1
fresh "$scratch/s"
for l in "${labels[@]}"; do
  EOS_STORE=$scratch/s eos --json build "$lock" --only "$l" --jobs "$jobs" >"$scratch/solo-$l.json"
  echo "load after solo $l: $(cut -d' ' -f1 /proc/loadavg)" >&2
done
run_whole 2
mkdir -p "$repo/bench/out"
node - "$scratch" "$repo/bench/out/makespan-solo.json" "$jobs" "${labels[@]}" <<'EOF'
const fs = require('fs');
const [dir, out, jobs, ...labels] = process.argv.slice(2);
const read = (f) => JSON.parse(fs.readFileSync(`${dir}/${f}`, 'utf8'));
const oks = (d) => (d.events ?? []).filter((e) => e.type === 'ok');
function span(d) {
  const ev = d.events ?? [];
  const start = Math.min(...ev.filter((e) => e.type === 'queued' || e.type === 'started').map((e) => e.atMs));
  return Math.max(...oks(d).map((e) => e.atMs)) - start;
}
const solo = {};
for (const l of labels) {
  const ran = oks(read(`solo-${l}.json`));
  if (ran.length !== 1 || ran[0].label !== l) throw new Error(`solo ${l}: ran ${ran.map((e) => e.label)}`);
  solo[l] = ran[0].durationMs;
}
const sum = Object.values(solo).reduce((a, b) => a + b, 0);
const wholes = [1, 2].map((n) => {
  const d = read(`whole${n}.json`);
  if (oks(d).length !== labels.length) throw new Error(`whole ${n}: ran ${oks(d).length} action(s)`);
  return { makespanMs: span(d), actions: Object.fromEntries(oks(d).map((e) => [e.label, e.durationMs])) };
});
const mean = (wholes[0].makespanMs + wholes[1].makespanMs) / 2;
const ratio = mean / sum;
const s = (ms) => `${(ms / 1000).toFixed(1)} s`;
console.log(`solo (each alone, --jobs ${jobs}): ${labels.map((l) => `${l} ${s(solo[l])}`).join(', ')}; sum ${s(sum)}`);
for (const [i, w] of wholes.entries())
  console.log(`whole build ${i + 1}: makespan ${s(w.makespanMs)} (${Object.entries(w.actions).map(([l, d]) => `${l} ${s(d)}`).join(', ')})`);
console.log(`makespan (mean of 2) / sum of solo = ${ratio.toFixed(3)} (goal <= 1.10)`);
fs.writeFileSync(out, JSON.stringify({ jobs: Number(jobs), solo, wholes, rows: [{
  measure: `demo cold build makespan vs sum of ${labels.join(', ')} each alone (--jobs ${jobs})`,
  eos: mean / 1000, peer: sum / 1000, unit: 's', ratio, goal: '<= 1.1', met: ratio <= 1.1 }] }, null, 2) + '\n');
EOF
