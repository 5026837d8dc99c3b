#!/usr/bin/env bash
# npm run demo:swap: goes on from `npm run demo`'s built curl. Builds OpenSSL 3.0.22 once (its own
# cached, signed action; nothing that depends on it is built), swaps it into the runtime
# composition with `eos swap` (a proof over interfaces, a new root, a signature, an image), runs
# curl from the new root against an `openssl s_server` in the same composition over TLS, shows that
# curl's output and the old root are untouched, then a real refusal (a libssl.so.3 rebuilt with a
# symbol curl binds removed by its version script) and a forced override that `eos compose verify`
# flags.
#
# Environment: EOS_DEMO_DIR (default <repo>/.eos-demo, the main demo's state), EOS_DEMO_JOBS.
# Writes $EOS_DEMO_DIR/work/swap-roots.env: OLD_ROOT, NEW_ROOT, FORCED_ROOT, PROOF.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
demo=${EOS_DEMO_DIR:-$repo/.eos-demo}
work=$demo/work
export EOS_CONFIG_DIR=$demo/config
export EOS_STORE=$demo/store
jobs=${EOS_DEMO_JOBS:-1}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
eos() { "$repo/bin/eos.mjs" "$@"; }
fail() {
  echo "eos swap demo: $*" >&2
  exit 1
}
t_start=$(date +%s)

[ -f "$work/root/runtime.toml" ] && [ -f "$work/build1.json" ] || fail "run npm run demo first (no $work/root/runtime.toml)"

# What the action cache holds, one line per entry: LABEL@VERSION ACTION OUTPUT (from each record).
actions() {
  node --input-type=module -e '
    import { readdirSync, readFileSync, existsSync } from "node:fs";
    import { join } from "node:path";
    const store = process.env.EOS_STORE;
    const blob = (d) => join(store, "objects", d.slice(7, 9), d.slice(9));
    const top = join(store, "actions");
    for (const d of existsSync(top) ? readdirSync(top).sort() : [])
      for (const f of readdirSync(join(top, d)).sort()) {
        if (!/^[0-9a-f]{62}$/.test(f)) continue;
        const e = JSON.parse(readFileSync(join(top, d, f), "utf8"));
        // Build record version 2 holds the details; version 1 named a separate details blob.
        const det = e.record.details;
        const r = typeof det === "string" ? JSON.parse(readFileSync(blob(det), "utf8")) : (det ?? {});
        console.log(`${r.label}@${r.atomVersion}\t${e.record.action}\t${e.record.output}`);
      }
  ' | sort
}

step "the live composition: the runtime composition npm run demo built and signed"
old_root=$(eos compose "$work/root/runtime.toml")
eos compose show "$old_root"
curl_out=$(node -e '
  const doc = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(doc.events.find((x) => (x.type === "ok" || x.type === "cached") && x.label === "curl").output);
' "$work/build1.json")
eos run "$old_root" -- curl --version | sed -n 1p
actions >"$work/actions-before.txt"

step "build OpenSSL 3.0.22 once: eos build --only openssl against a lock that pins 3.0.22"
mkdir -p "$work/root-openssl-3.0.22"
cp "$work/root/seed.lock" "$work/root-openssl-3.0.22/seed.lock"
cat >"$work/root-openssl-3.0.22/atom.toml" <<'EOF'
# The swap demo's build root: OpenSSL 3.0.22 alone (curl is not rebuilt; it is swapped onto it).
[atom]
label = "swap-openssl"
version = "0.1.0"

[deps]
openssl = "=3.0.22"
EOF
eos lock --dir "$work/root-openssl-3.0.22" --set "examples=$work/atoms"
t0=$(date +%s)
eos build "$work/root-openssl-3.0.22/eos.lock" --only openssl --jobs "$jobs" --sign-key demo |
  tee "$work/build-openssl-3.0.22.txt"
echo "eos build --only openssl: $(($(date +%s) - t0)) s wall"
actions >"$work/actions-after-build.txt"
echo "action-cache entries added by this build (label@version, action, output):"
added=$(comm -13 "$work/actions-before.txt" "$work/actions-after-build.txt")
if [ -n "$added" ]; then printf '%s\n' "$added" | sed 's/^/  /'; else echo "  none: openssl@3.0.22 was already built (cached):"; grep '^openssl@3\.0\.22' "$work/actions-after-build.txt" | sed 's/^/  /'; fi
if comm -13 "$work/actions-before.txt" "$work/actions-after-build.txt" | grep -qv '^openssl@3\.0\.22'; then
  fail "building OpenSSL 3.0.22 ran another action"
fi

step "eos swap: replace the openssl entry by the cached 3.0.22 output, with a coverage proof"
t0=$(date +%s%N)
eos swap "$old_root" openssl --atom openssl@3.0.22 --sign-key demo --image "$work/swapped.cfs" |
  tee "$work/swap.txt"
t1=$(date +%s%N)
new_root=$(awk -F'\t' '$1 == "root" { print $2 }' "$work/swap.txt")
proof=$(awk -F'\t' '$1 == "proof" { print $2 }' "$work/swap.txt")
verdict=$(awk -F'\t' '$1 == "proof" { print $3 " (" $4 ", " $5 " checked)" }' "$work/swap.txt")
[ -n "$new_root" ] || fail "eos swap printed no root"
echo "verdict: $verdict; swap + proof + re-root + sign + image in $(((t1 - t0) / 1000000)) ms"
printf '\n\033[1mNEW ROOT: %s\033[0m\n' "$new_root"
printf 'OLD_ROOT=%s\nNEW_ROOT=%s\nPROOF=%s\n' "$old_root" "$new_root" "$proof" >"$work/swap-roots.env"
echo "(written to $work/swap-roots.env)"

step "eos compose verify NEWROOT: the proof is recomputed (never trusted), then the signature"
eos compose verify "$new_root"
eos compose show "$new_root" | grep -E '^openssl'

step "eos run NEWROOT -- curl --version"
eos run "$new_root" -- curl --version | tee "$work/curl-version-swapped.txt"
grep -q 'OpenSSL/3\.0\.22' "$work/curl-version-swapped.txt" || fail "curl in the new root does not report OpenSSL/3.0.22"

step "TLS: openssl req and openssl s_server inside NEWROOT on loopback, curl from NEWROOT"
port=$((20000 + RANDOM % 20000))
# The composition has a shell and no coreutils: dash builtins only; curl retries until the server is up.
eos run "$new_root" -- sh -c '
  cd /tmp
  openssl version
  printf "[req]\ndistinguished_name = dn\n[dn]\n" > req.cnf
  openssl req -config req.cnf -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null || exit 10
  openssl s_server -accept 127.0.0.1:'"$port"' -cert cert.pem -key key.pem -www -quiet &
  pid=$!
  curl -sS -v --retry 20 --retry-connrefused --retry-delay 1 --cacert cert.pem https://127.0.0.1:'"$port"'/
  rc=$?
  kill $pid
  exit $rc
' >"$work/tls.txt" 2>&1 || {
  cat "$work/tls.txt"
  fail "the TLS request from the swapped curl failed"
}
grep -E '^OpenSSL 3|SSL connection using|^< HTTP/|^New, TLS|Protocol  :' "$work/tls.txt"

step "nothing that depends on OpenSSL was rebuilt"
new_curl=$(eos compose show "$new_root" | awk -F'\t' '$1 == "curl" { sub(/^tree /, "", $3); print $3 }')
echo "curl output tree: built $curl_out, in the new root $new_curl"
[ "$new_curl" = "$curl_out" ] || fail "curl's tree changed"
actions >"$work/actions-after-swap.txt"
echo "curl actions in the cache before: $(grep -c '^curl@' "$work/actions-before.txt"), after: $(grep -c '^curl@' "$work/actions-after-swap.txt")"
cmp -s "$work/actions-after-build.txt" "$work/actions-after-swap.txt" || fail "eos swap ran an action"
echo "eos swap added no action-cache entry"

step "the old root still runs 3.0.20"
eos run "$old_root" -- curl --version | sed -n 1p | tee "$work/curl-version-old.txt"
grep -q 'OpenSSL/3\.0\.20' "$work/curl-version-old.txt" || fail "the old root no longer reports OpenSSL/3.0.20"

step "a real refusal: libssl.so.3 rebuilt with a symbol libcurl binds removed by its version script"
new_tree=$(awk -F'\t' '$1 == "openssl" { sub(/^tree /, "", $3); print $3 }' <(eos compose show "$new_root"))
bad=$work/openssl-3.0.22-broken
rm -rf "$bad"
eos store export "$new_tree" "$bad" >/dev/null
chmod -R u+w "$bad"
libdir=$bad/usr/lib/x86_64-linux-gnu
# The symbol to remove: one libcurl binds from libssl.so.3 that the openssl program does not need.
eos --json interface "$bad" >"$work/openssl-interface.json"
drop=$(node -e '
  const proof = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const prog = m.requires.find((r) => r.path === "usr/bin/openssl");
  const used = new Set(prog.symbols["libssl.so.3"] ?? []);
  const curl = proof.consumers.flatMap((c) => c.needs).filter((n) => n.soname === "libssl.so.3").flatMap((n) => n.symbols);
  console.log(curl.filter((s) => !used.has(s)).sort()[0]);
' "$work/openssl-interface.json" < <(eos store cat "$proof"))
[ -n "$drop" ] || fail "found no symbol to drop"
echo "dropping ${drop} from libssl.so.3"
# A real library with libssl's exported interface (same names, types, sizes, version node), built
# with gcc and a version script that leaves one symbol out.
real=$(readlink -f "$libdir/libssl.so.3")
readelf --dyn-syms -W "$real" | awk -v drop="${drop%@*}" '
  $7 != "UND" && $8 ~ /@@OPENSSL_3\.0\.0$/ {
    name = $8; sub(/@@.*/, "", name)
    if (name == drop || name == "OPENSSL_3.0.0") next
    if ($4 == "OBJECT") printf "char %s[%d];\n", name, $3 > "/dev/stderr"
    else printf "void %s(void) {}\n", name > "/dev/stderr"
    print name
  }' 2>"$work/libssl-stub.c" >"$work/libssl-stub.names"
{
  echo 'OPENSSL_3.0.0 {'
  echo '  global:'
  sed 's/.*/    &;/' "$work/libssl-stub.names"
  echo '  local: *;'
  echo '};'
} >"$work/libssl-stub.map"
rm -f "$libdir"/libssl.so*
gcc -shared -fPIC -fno-builtin -w -o "$libdir/libssl.so.3" "$work/libssl-stub.c" \
  -Wl,-soname,libssl.so.3 "-Wl,--version-script=$work/libssl-stub.map"
ln -s libssl.so.3 "$libdir/libssl.so"
rc=0
eos swap "$old_root" openssl="$bad" >"$work/refusal.txt" 2>"$work/refusal.err" || rc=$?
cat "$work/refusal.txt"
cat "$work/refusal.err"
[ "$rc" -eq 3 ] || fail "eos swap did not refuse (exit $rc)"
grep -q "^missing	.*	libssl.so.3	${drop}	absent" "$work/refusal.txt" || fail "the refusal does not name $drop"
echo "refused: exit 3, nothing written"

step "--force --reason: the override is written, loudly, and eos compose verify flags it"
eos swap "$old_root" openssl="$bad" --force --reason "demo: knowingly ship a libssl without ${drop%@*}" \
  --sign-key demo | tee "$work/forced.txt"
forced_root=$(awk -F'\t' '$1 == "root" { print $2 }' "$work/forced.txt")
printf 'FORCED_ROOT=%s\n' "$forced_root" >>"$work/swap-roots.env"
rc=0
eos compose verify "$forced_root" || rc=$?
[ "$rc" -eq 3 ] || fail "eos compose verify did not flag the override (exit $rc)"
echo "eos compose verify: exit 3 (override reported)"

step "done in $(($(date +%s) - t_start)) s"
cat "$work/swap-roots.env"
