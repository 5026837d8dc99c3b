#!/usr/bin/env bash
# npm run demo: zlib -> OpenSSL 3.0.20 -> curl, from Debian's orig tarballs, built from a lock in a
# Debian-seeded hermetic world, run with `eos run`, checked with readelf, then rebuilt all cached.
#
# Everything lives under .eos-demo/ in the repository (gitignored): the store, the config (keys,
# trust policy), the atom repository and the workspace. A second run reuses them.
# Environment: EOS_DEMO_DIR (default <repo>/.eos-demo), EOS_DEMO_JOBS (eos build --jobs, default nproc).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
demo=${EOS_DEMO_DIR:-$repo/.eos-demo}
work=$demo/work
export EOS_CONFIG_DIR=$demo/config
export EOS_STORE=$demo/store
# --jobs = the cores: the build's jobserver shares them between the running actions' makes as they
# go (specs/scheduler.md §4.3), so OpenSSL alone gets every core and beside zlib shares them.
jobs=${EOS_DEMO_JOBS:-$(nproc)}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
eos() { "$repo/bin/eos.mjs" "$@"; }
t_start=$(date +%s)

step "setup: node modules, machine packages, the native BLAKE3 binding (scripts/ensure-setup.sh)"
bash scripts/ensure-setup.sh
mkdir -p "$demo" "$EOS_CONFIG_DIR" "$EOS_STORE" "$work"

step "a demo key, trusted for atoms, builds and compositions"
if ! eos key list | awk -F'\t' '$1 == "demo" && $3 == "secret" { f = 1 } END { exit !f }'; then
  eos key generate demo
fi
eos key trust demo --for atoms,builds,compositions
eos key list

step "the Debian seed (83 .debs pinned in examples/seed/seed.lock; fetched once, then offline)"
mkdir -p "$work/root"
cp examples/root/atom.toml "$work/root/atom.toml"
cp examples/seed/seed.lock "$work/root/seed.lock"
# Pins that have left the archive (bookworm's point and security updates replace them) are re-pinned
# from the current index, and the version diff is printed; the tests take the same path
# (ensureSeed's repinIfGone, specs/seed.md §6).
eos seed --repin-if-gone --mode debian --lock "$work/root/seed.lock" >"$work/seed.out"
grep -E '^(changed|added|removed)'$'\t' "$work/seed.out" || true
tail -1 "$work/seed.out"

step "an atom set: a git repository of the example atoms, claimed and published"
rm -rf "$work/atoms"
cp -r examples/atoms "$work/atoms"
(
  cd "$work/atoms"
  # Fixed identity and dates: the same examples give the same commit, so publishing is a no-op the
  # second time and the lock does not move.
  export GIT_AUTHOR_NAME=eos GIT_AUTHOR_EMAIL=eos@localhost GIT_COMMITTER_NAME=eos
  export GIT_COMMITTER_EMAIL=eos@localhost GIT_AUTHOR_DATE='1700000000 +0000' GIT_COMMITTER_DATE='1700000000 +0000'
  git init -q -b main .
  git add -A
  git commit -q -m "example atoms"
  for label in zlib openssl curl; do eos atom claim "$label" --key demo --repo .; done
  for dir in zlib openssl-3.0.20 openssl-3.0.22 curl; do eos atom publish "$dir" --key demo; done
  eos atom list --repo .
  eos atom verify --repo .
)

step "eos lock: the root pins openssl =3.0.20"
eos lock --dir "$work/root" --set "examples=$work/atoms"

step "eos build: zlib -> OpenSSL 3.0.20 -> curl (sandboxed, Debian-seeded world)"
t0=$(date +%s)
rc=0
eos --json build "$work/root/eos.lock" --jobs "$jobs" --sign-key demo \
  --compose "$work/root/runtime.toml" >"$work/build1.json" || rc=$?
t1=$(date +%s)
node -e '
  const doc = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  if (doc.error) console.log(`error\t${doc.error.message}`);
  for (const e of doc.events ?? []) {
    if (e.type === "ok") console.log(`ok\t${e.label}\t${e.output}\t${(e.durationMs / 1000).toFixed(1)} s`);
    else if (e.type === "cached") console.log(`cached\t${e.label}\t${e.output}`);
    else if (e.type === "failed") console.log(`FAIL\t${e.label}\t${e.detail}${e.log ? ` (log: ${e.log})` : ""}`);
    else if (e.type === "skipped") console.log(`skipped\t${e.label}\t${e.detail}`);
  }
  if (doc.composition) console.log(`composition\t${doc.composition.root}`);
' "$work/build1.json"
echo "eos build: $((t1 - t0)) s wall"
if [ "$rc" -ne 0 ]; then
  echo "eos demo: eos build failed (exit $rc); build logs are under $EOS_STORE" >&2
  exit "$rc"
fi

step "the runtime composition (runtime seed entries + outputs), signed by the builder key"
root=$(eos compose "$work/root/runtime.toml")
eos compose show "$root"
eos compose verify "$root"

step "eos run ROOT -- curl --version"
eos run "$root" -- curl --version | tee "$work/curl-version.txt"
grep -q 'OpenSSL/3\.0\.20' "$work/curl-version.txt" || {
  echo "eos demo: curl does not report OpenSSL/3.0.20" >&2
  exit 1
}

step "readelf: no RPATH/RUNPATH, plain-soname DT_NEEDED in curl and libcurl"
curl_out=$(node -e '
  const doc = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const e = doc.events.find((x) => (x.type === "ok" || x.type === "cached") && x.label === "curl");
  console.log(e.output);
' "$work/build1.json")
rm -rf "$work/curl-out"
eos store export "$curl_out" "$work/curl-out" >/dev/null
bad=0
for f in "$work/curl-out/usr/bin/curl" "$work"/curl-out/usr/lib/x86_64-linux-gnu/libcurl.so.*.*.*; do
  dyn=$(readelf -d -W "$f")
  needed=$(printf '%s\n' "$dyn" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
  if printf '%s\n' "$dyn" | grep -Eq '\((RPATH|RUNPATH)\)'; then
    echo "FAIL	${f#"$work"/curl-out/}	has RPATH/RUNPATH"
    bad=1
  elif printf '%s\n' $needed | grep -q /; then
    echo "FAIL	${f#"$work"/curl-out/}	DT_NEEDED with a path: $needed"
    bad=1
  else
    echo "ok	${f#"$work"/curl-out/}	no RPATH/RUNPATH; NEEDED: $needed"
  fi
done
[ "$bad" -eq 0 ] || exit 1

step "eos build again: every action cached"
eos build "$work/root/eos.lock" --jobs "$jobs" --sign-key demo --compose "$work/root/runtime.toml" |
  tee "$work/build2.txt"
summary=$(grep -E '^[0-9]+ atom\(s\):' "$work/build2.txt" | tail -1)
case "$summary" in
  *" 0 ok, "*" cached") ;;
  *)
    echo "eos demo: the second build was not all cached: $summary" >&2
    exit 1
    ;;
esac

step "done in $(($(date +%s) - t_start)) s"

# The swap goes on from here: OpenSSL 3.0.22 into this composition, nothing rebuilt. It is its own
# script so that it can be rerun alone: npm run demo:swap (EOS_DEMO_DIR as above).
if [ "${EOS_DEMO_SWAP:-1}" = 1 ]; then
  step "next: the swap (examples/swap-demo.sh; rerun alone with npm run demo:swap)"
  bash "$repo/examples/swap-demo.sh"
fi
