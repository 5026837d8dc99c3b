#!/usr/bin/env bash
# examples/deploy-demo.sh: deploy a TLS service (the built OpenSSL's s_server, its certificate and
# key as config files) over SSH to a host (a real OpenSSH server on loopback with a fresh host key,
# strict host-key checking), check the built curl completes a request to it, deploy again after the
# OpenSSL swap (only the TLS service restarts, only OpenSSL's blobs travel, the server reports
# 3.0.22), roll back (3.0.20 again, one rename), and show a replay of the older signed deployment
# refused.
#
# Inputs: the demo store EOS_DEMO_DIR (default <repo>/.eos-demo, made by `npm run demo`; read only:
# its objects are hard-linked into this demo's own store) and the two runtime compositions
# OLD_ROOT/NEW_ROOT, from the environment or from $EOS_DEMO_DIR/work/swap-roots.env (written by the
# swap demo). Before the swap exists, NEW_TOML may name a composition TOML (e.g. the runtime
# composition with OpenSSL 3.0.22's output tree) to compose here as NEW_ROOT. Everything else lives
# in EOS_DEPLOY_DEMO_DIR (default /tmp/eos-deploy-demo, recreated).
# Needs root (sshd as root, services in mounted worlds).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
demo=${EOS_DEMO_DIR:-$repo/.eos-demo}
dir=${EOS_DEPLOY_DEMO_DIR:-/tmp/eos-deploy-demo}
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
eos() { node "$repo/bin/eos.mjs" "$@"; }
fail() { echo "deploy demo: $*" >&2; exit 1; }

if [ -z "${OLD_ROOT:-}" ] || { [ -z "${NEW_ROOT:-}" ] && [ -z "${NEW_TOML:-}" ]; }; then
  [ -f "$demo/work/swap-roots.env" ] || fail "no OLD_ROOT/NEW_ROOT and no $demo/work/swap-roots.env (run the swap demo first)"
  # shellcheck disable=SC1091
  . "$demo/work/swap-roots.env"
fi
[ -d "$demo/store/objects" ] || fail "no demo store at $demo/store (run npm run demo first)"

step "setup: machine packages; a fresh demo directory $dir"
bash "$repo/scripts/setup.sh"
if [ -f "$dir/sshd/sshd.pid" ]; then kill "$(cat "$dir/sshd/sshd.pid")" 2>/dev/null || true; fi
if [ -d "$dir/host/run" ]; then
  for f in "$dir"/host/run/*.json; do [ -f "$f" ] && kill -9 -- "-$(node -p "JSON.parse(require('fs').readFileSync('$f','utf8')).pid")" 2>/dev/null || true; done
fi
rm -rf "$dir"
mkdir -p "$dir/store" "$dir/config" "$dir/sshd" "$dir/files"
export EOS_STORE=$dir/store EOS_CONFIG_DIR=$dir/config
# The demo store, read only: hard links of its objects and trees (nothing there is changed).
mkdir -p "$dir/store/tmp" "$dir/store/locks" "$dir/store/roots"; cp "$demo/store/eos-store.json" "$dir/store/"
cp -al "$demo/store/objects" "$dir/store/objects"
cp -al "$demo/store/trees" "$dir/store/trees"
# The compositions' pins too (roots/composition-<hex>, specs/composition.md §10): an unpinned
# composition is not used.
cp -a "$demo"/store/roots/composition-* "$dir/store/roots/"
host=$dir/host
if [ -n "${NEW_TOML:-}" ]; then NEW_ROOT=$(eos compose "$NEW_TOML"); fi
echo "OLD_ROOT=$OLD_ROOT"
echo "NEW_ROOT=$NEW_ROOT"

step "a host: Debian's sshd on 127.0.0.1 with a host key made now, the deployer's key authorized for root"
ssh-keygen -q -t ed25519 -N '' -f "$dir/sshd/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$dir/sshd/client_key"
cp "$dir/sshd/client_key.pub" "$dir/sshd/authorized_keys"
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
mkdir -p /run/sshd
cat >"$dir/sshd/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $dir/sshd/host_key
AuthorizedKeysFile $dir/sshd/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $dir/sshd/sshd.pid
EOF
/usr/sbin/sshd -f "$dir/sshd/sshd_config" -E "$dir/sshd/sshd.log"
trap 'kill "$(cat "$dir/sshd/sshd.pid" 2>/dev/null)" 2>/dev/null || true' EXIT
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/sshd/host_key.pub")" >"$dir/known_hosts"
target="ssh://root@127.0.0.1:$port$host"
ssh_opts=(--target "$target" --known-hosts "$dir/known_hosts" --identity "$dir/sshd/client_key" --remote-eos "$(command -v node) $repo/bin/eos.mjs")
echo "target $target (known_hosts: $dir/known_hosts)"

step "keys: the deployer's key ops; the host trusts it for deploy"
eos key generate ops
eos key export ops >"$dir/ops.pub"
EOS_CONFIG_DIR=$host/config eos key import "$dir/ops.pub"
EOS_CONFIG_DIR=$host/config eos key trust ops --for deploy

step "a certificate for localhost (config files of the stack) and a second, unchanging composition"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -addext subjectAltName=DNS:localhost -days 2 \
  -keyout "$dir/files/key.pem" -out "$dir/files/cert.pem" 2>/dev/null
cp "$dir/files/cert.pem" "$dir/cert.pem"
i=0
{
  for p in /usr/bin/dash /usr/bin/sleep; do
    for f in $p $(ldd $p | grep -o '/[^ ]*'); do printf '%s %s\n' "$f" "$(realpath "$f")"; done
  done
} | sort -u | while read -r at real; do
  printf '[entries.f%d]\nat = "%s"\npath = "%s"\n\n' "$i" "$at" "$real"
  i=$((i + 1))
done >"$dir/clock.toml"
printf '[entries.sh]\nat = "/usr/bin/sh"\nsymlink = "dash"\n' >>"$dir/clock.toml"

write_stack() { # $1: the TLS composition root
  node -e '
    const fs = require("fs");
    const [root, dir] = process.argv.slice(1);
    const toml = (s) => JSON.stringify(s);
    fs.writeFileSync(`${dir}/tls.stack.toml`, `version = 1
name = "tls"
channel = "demo"
backend = "process"

[compositions]
openssl = ${toml(root)}
clock = { file = "clock.toml" }

[[services]]
name = "tls"
composition = "openssl"
exec = "/usr/bin/sh"
args = ["-c", "cd /tmp && openssl version > version.txt && exec openssl s_server -quiet -accept 8443 -cert /etc/tls/cert.pem -key /etc/tls/key.pem -WWW"]
files = ["/etc/tls/cert.pem", "/etc/tls/key.pem"]

[[services]]
name = "clock"
composition = "clock"
exec = "/usr/bin/sh"
args = ["-c", "while :; do sleep 60; done"]
files = []

[[files]]
path = "/etc/tls/cert.pem"
content = ${toml(fs.readFileSync(`${dir}/files/cert.pem`, "utf8"))}

[[files]]
path = "/etc/tls/key.pem"
content = ${toml(fs.readFileSync(`${dir}/files/key.pem`, "utf8"))}
`);
  ' "$1" "$dir"
}

check_tls() { # $1: the OpenSSL version the server must report
  # --network: `eos run` has no network of its own by default; the client must reach the host's service.
  local out=""
  for _ in $(seq 1 50); do
    out=$(cd "$dir" && eos run "$OLD_ROOT" --network --cwd -- curl -sS --cacert /work/cert.pem https://localhost:8443/version.txt 2>&1) && break
    sleep 0.3
  done
  echo "curl (built, in $OLD_ROOT) -> https://localhost:8443/version.txt: $out"
  case "$out" in *"OpenSSL $1"*) ;; *) fail "the TLS service does not report OpenSSL $1" ;; esac
}

step "deploy 1: the TLS service on OpenSSL 3.0.20 ($OLD_ROOT)"
write_stack "$OLD_ROOT"
eos stack check "$dir/tls.stack.toml" --target "$target" | head -3
eos deploy "$dir/tls.stack.toml" --key ops "${ssh_opts[@]}" | tee "$dir/deploy1.txt"
check_tls 3.0.20

step "a wrong host key is refused before anything is sent"
ssh-keygen -q -t ed25519 -N '' -f "$dir/sshd/impostor"
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/sshd/impostor.pub")" >"$dir/wrong_known_hosts"
if eos deploy "$dir/tls.stack.toml" --key ops "${ssh_opts[@]}" --known-hosts "$dir/wrong_known_hosts" 2>"$dir/wrong.err"; then
  fail "a deploy with a wrong host key went through"
fi
head -2 "$dir/wrong.err"

step "deploy 2: after the swap, OpenSSL 3.0.22 ($NEW_ROOT)"
write_stack "$NEW_ROOT"
eos deploy "$dir/tls.stack.toml" --key ops "${ssh_opts[@]}" | tee "$dir/deploy2.txt"
grep -q $'^restart\ttls$' "$dir/deploy2.txt" || fail "tls was not restarted"
grep -q $'^unchanged\tclock$' "$dir/deploy2.txt" || fail "clock was restarted"
(cd "$repo" && npx tsx examples/deploy-demo-check.ts "$OLD_ROOT" "$NEW_ROOT" "$(grep $'^pushed\t' "$dir/deploy2.txt")")
check_tls 3.0.22

step "eos rollback: one rename, OpenSSL 3.0.20 again"
eos rollback "${ssh_opts[@]}"
check_tls 3.0.20

step "a replay of the older signed deployment (#1) is refused"
if eos deploy --signed "$dir/config/deployments/tls.demo.1.json" "${ssh_opts[@]}" 2>"$dir/replay.err"; then
  fail "the replay was accepted"
fi
cat "$dir/replay.err"
eos host generations --root "$host"
eos host verify --root "$host"

step "done: stopping the demo's services and sshd"
for f in "$host"/run/*.json; do
  kill -TERM -- "-$(node -p "JSON.parse(require('fs').readFileSync('$f','utf8')).pid")" 2>/dev/null || true
done
