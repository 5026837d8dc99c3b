#!/usr/bin/env bash
# Installs the machine packages Eos and its tests need (idempotent), then checks that the native
# BLAKE3 binding loads and rebuilds it when it does not. scripts/ensure-setup.sh (which `npm test`
# and `npm run demo` call) runs it; nothing is installed by hand.
# Usage: scripts/setup.sh [--bench]   (--bench adds the benchmark peers)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# erofs-utils … libc6-dev: Eos itself (images, fs-verity, the sandbox, mounts, ELF tools, git,
# decompressors, the host seed's C toolchain). g++ make python3: node-gyp, to rebuild the native
# BLAKE3 binding. openssh-server … openssl: the stacks tests (a real sshd on loopback, systemd-analyze
# verify) and the deploy demo (its certificate). curl python3-six python3-distro: tests that would
# otherwise skip (a skip fails under CI=true): tests/extractors/closure-host.test.ts's libcurl
# closure, the Python extractor on Debian's dist-packages. fuse libfuse2: `eos build --observe`'s
# FUSE world server (npm fuse-native's prebuilt binding links libfuse.so.2; unmount runs fusermount).
need=(erofs-utils fsverity bubblewrap util-linux binutils git xz-utils zstd ca-certificates gcc libc6-dev
  g++ make python3
  openssh-server openssh-client systemd openssl
  curl python3-six python3-distro
  fuse libfuse2)
if [ "${1:-}" = "--bench" ]; then need+=(ostree b3sum nix-bin rsync); fi
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "eos setup: missing packages ${missing[*]}; run this script as root to install them" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Refresh the package index only when it is missing or older than a day.
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
    apt-get update -qq >/dev/null
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "eos setup: installed ${missing[*]}" >&2
fi

# The native BLAKE3 binding is an optional dependency: `npm ci` succeeds when it fails to compile
# (no C++ toolchain, no node headers), and eos then hashes with WebAssembly, slower. Check it with
# eos's own loader and rebuild it once when it does not load.
blake3() { node --input-type=module -e \
  "const m = await import('./src/kernel/blake3-load.mjs'); const r = await m.loadBlake3();
   if (r.name !== 'native') { console.error(r.errors.join('; ')); process.exit(1); }" 2>&1; }
if [ -d node_modules/blake3 ] && ! why=$(blake3); then
  echo "eos setup: the native BLAKE3 binding does not load ($why); rebuilding it" >&2
  if npm rebuild @c4312/blake3-native blake3 --no-audit --no-fund >&2 && blake3 >/dev/null; then
    echo "eos setup: rebuilt the native BLAKE3 binding" >&2
  else
    echo "eos setup: warning: the native BLAKE3 binding could not be rebuilt; eos hashes with WebAssembly (slower)" >&2
  fi
fi
