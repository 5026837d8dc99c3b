#!/usr/bin/env bash
# npm run corpus: the corpus (examples/corpus/atoms, 26 upstream packages from Debian bookworm's
# orig tarballs) published, locked in one lock, built with upstream's own build systems in the
# corpus seed's hermetic world, smoke-tested with `eos run` in the runtime composition, each
# binary's closure checked, every action rebuilt with `eos build --check`, and one table printed.
#
# Resumable: the state (store, keys, atoms repository, workspace, per-step results) lives in
# EOS_CORPUS_DIR (default <repo>/.eos-corpus, gitignored); a rerun finds every built action cached
# and a check already done (results/check.json) is not redone unless EOS_CORPUS_RECHECK=1.
# Environment: EOS_CORPUS_DIR, EOS_CORPUS_JOBS (eos build --jobs, default nproc),
# EOS_CORPUS_CHECK=0 (skip the --check rebuild), EOS_CORPUS_TOOLS=0 (skip the CMake/Meson lock),
# EOS_CORPUS_NICE (default 10: builds run under nice -n N on a shared machine).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
state=${EOS_CORPUS_DIR:-$repo/.eos-corpus}
work=$state/work
results=$state/results
export EOS_CONFIG_DIR=$state/config
export EOS_STORE=$state/store
jobs=${EOS_CORPUS_JOBS:-$(nproc)}
nice_n=${EOS_CORPUS_NICE:-10}

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
eos() { "$repo/bin/eos.mjs" "$@"; }
neos() { nice -n "$nice_n" "$repo/bin/eos.mjs" "$@"; }
t_start=$(date +%s)

step "setup (scripts/ensure-setup.sh)"
bash scripts/ensure-setup.sh >&2
mkdir -p "$EOS_CONFIG_DIR" "$EOS_STORE" "$work" "$results"

step "a corpus key, trusted for atoms, builds and compositions"
if ! eos key list | awk -F'\t' '$1 == "corpus" && $3 == "secret" { f = 1 } END { exit !f }'; then
  eos key generate corpus >&2
fi
eos key trust corpus --for atoms,builds,compositions >&2

# One workspace per lock: the corpus (seed: the demo's toolchain + autoconf, automake, libtool,
# tcl8.6, bison, flex) and the tools (that seed + cmake, meson, ninja-build, python3).
prepare_root() { # name atoms-dir root-atom seed-lock
  local name=$1 ws=$work/$1
  mkdir -p "$ws"
  cp "$3" "$ws/atom.toml"
  # The committed lock is the pin; --repin-if-gone moves it only when pinned .debs left the archive
  # (printing the version diff). The moved lock stays in the workspace: copy it back to commit it.
  [ -f "$ws/seed.lock" ] || cp "$4" "$ws/seed.lock"
  step "$name: the seed ($(basename "$(dirname "$4")")/seed.lock)"
  neos seed --repin-if-gone --mode debian --lock "$ws/seed.lock" >"$ws/seed.out"
  grep -E '^(changed|added|removed)'$'\t' "$ws/seed.out" >&2 || true
  tail -1 "$ws/seed.out" >&2
}

step "the atom set: a git repository of the corpus atoms, claimed and published"
rm -rf "$work/atoms"
mkdir -p "$work/atoms"
cp -r examples/corpus/atoms/. "$work/atoms/"
cp -r examples/corpus/tools/atoms/. "$work/atoms/"
(
  cd "$work/atoms"
  export GIT_AUTHOR_NAME=eos GIT_AUTHOR_EMAIL=eos@localhost GIT_COMMITTER_NAME=eos
  export GIT_COMMITTER_EMAIL=eos@localhost GIT_AUTHOR_DATE='1700000000 +0000' GIT_COMMITTER_DATE='1700000000 +0000'
  git init -q -b main .
  git add -A
  git commit -q -m "corpus atoms"
  for dir in */; do
    dir=${dir%/}
    label=$(sed -n 's/^label = "\(.*\)"$/\1/p' "$dir/atom.toml" | head -1)
    eos atom claim "$label" --key corpus --repo . >/dev/null 2>&1 || true
    eos atom publish "$dir" --key corpus >/dev/null
  done
  eos atom verify --repo . >&2
)

build_root() { # name
  local name=$1 ws=$work/$1 rc=0 t0 t1
  step "$name: eos lock"
  eos lock --dir "$ws" --set "corpus=$work/atoms" >&2
  step "$name: eos build --jobs $jobs"
  t0=$(date +%s)
  neos --json build "$ws/eos.lock" --jobs "$jobs" --sign-key corpus --compose "$ws/runtime.toml" \
    >"$results/$name-build.json" || rc=$?
  t1=$(date +%s)
  echo "$name: eos build exit $rc, $((t1 - t0)) s wall" >&2
  node "$repo/examples/corpus/events.mjs" summary "$results/$name-build.json" >&2 || true
  return 0
}
