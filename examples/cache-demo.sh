#!/usr/bin/env bash
# npm run demo:cache: a second "machine" builds the demo's lock from the first one's binary cache.
# Machine A is the main demo's state (EOS_DEMO_DIR, default <repo>/.eos-demo; when its lock is not
# there yet, examples/demo.sh runs first, stopping before the swap and the deploy). The demo starts
# Debian's nginx with WebDAV PUT on a random loopback port (configuration written here), pushes A's
# signed build records and outputs (`eos cache push`), then machine B (a fresh store and config
# under EOS_DEMO_DIR/cache-demo/b, trusting A's key for `cache`, nginx in its cache.toml) gets its
# seed as any machine does (`eos seed`, pinned by the lock's seed.lock) and runs `eos build
# --require-cache`: every action substituted, nothing built; then `eos run ROOT -- curl --version`.
# Nothing of the main demo's state is changed.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
demo=${EOS_DEMO_DIR:-$repo/.eos-demo}
work=$demo/work
here=$demo/cache-demo
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
eos() { "$repo/bin/eos.mjs" "$@"; }
a() { EOS_STORE=$demo/store EOS_CONFIG_DIR=$demo/config eos "$@"; }
b() { EOS_STORE=$here/b/store EOS_CONFIG_DIR=$here/b/config eos "$@"; }

bash scripts/ensure-setup.sh
if [ ! -f "$work/root/eos.lock" ] || [ ! -d "$demo/store" ]; then
  step "machine A: the main demo (examples/demo.sh, up to the build)"
  EOS_DEMO_DIR=$demo EOS_DEMO_SWAP=0 EOS_DEMO_DEPLOY=0 bash examples/demo.sh
fi

step "nginx with WebDAV PUT on loopback (the cache: a plain file tree)"
rm -rf "$here"
mkdir -p "$here/nginx/www/eos" "$here/b/store" "$here/b/config"
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
cat >"$here/nginx/nginx.conf" <<CONF
user root;
worker_processes 1;
daemon off;
pid $here/nginx/nginx.pid;
error_log $here/nginx/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $here/nginx/body;
  proxy_temp_path $here/nginx/proxy;
  fastcgi_temp_path $here/nginx/fastcgi;
  uwsgi_temp_path $here/nginx/uwsgi;
  scgi_temp_path $here/nginx/scgi;
  client_max_body_size 0;
  server {
    listen 127.0.0.1:$port;
    root $here/nginx/www;
    location / { dav_methods PUT; create_full_put_path on; }
  }
}
CONF
/usr/sbin/nginx -p "$here/nginx" -c "$here/nginx/nginx.conf" &
nginx_pid=$!
trap 'kill "$nginx_pid" 2>/dev/null || true' EXIT
url=http://127.0.0.1:$port/eos
for _ in $(seq 50); do curl -fsS -o /dev/null -X HEAD "$url/" 2>/dev/null && break; [ -d /proc/$nginx_pid ] || break; sleep 0.1; done

step "machine A: eos cache push $url (signed records + the objects the cache lacks)"
a cache push "$url" | tail -1
step "machine A: push again (sends no object)"
a cache push "$url" | tail -1

step "machine B: a fresh store and config; A's public key trusted for cache; nginx as substituter"
a key export demo >"$here/demo.pub"
b key import "$here/demo.pub" >/dev/null
b key trust demo --for cache
printf 'version = 1\nsubstituters = ["%s"]\n' "$url" >"$here/b/config/cache.toml"
cat "$here/b/config/cache.toml"

step "machine B: the seed, as any machine gets it (eos seed, pinned by seed.lock)"
b seed --mode debian --lock "$work/root/seed.lock" >"$here/seed.out"
tail -1 "$here/seed.out"

step "machine B: eos build --require-cache (every action substituted, nothing built)"
b build "$work/root/eos.lock" --require-cache --compose "$here/b/runtime.toml" | tee "$here/build.txt"
summary=$(grep -E '^[0-9]+ atom\(s\):' "$here/build.txt" | tail -1)
subs=$(grep -c '^substituted' "$here/build.txt" || true)
case "$summary" in
  *": 0 ok, "*" cached") ;;
  *) echo "eos cache demo: machine B built something: $summary" >&2; exit 1 ;;
esac
echo "substituted: $subs action(s); built: 0"

step "machine B: eos run ROOT -- curl --version"
root=$(b compose "$here/b/runtime.toml")
b run "$root" -- curl --version | tee "$here/curl-version.txt"
grep -q 'OpenSSL/3\.0\.20' "$here/curl-version.txt"
step "done: machine B ran curl without building anything"
