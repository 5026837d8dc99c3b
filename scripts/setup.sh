#!/usr/bin/env bash
# Installs the machine packages Eos needs (idempotent). Tests and the demo call it; nothing is
# installed by hand. Usage: scripts/setup.sh [--bench]   (--bench adds the benchmark peers)
set -euo pipefail
need=(erofs-utils fsverity bubblewrap util-linux binutils git xz-utils zstd ca-certificates gcc libc6-dev openssh-server openssh-client systemd openssl)
if [ "${1:-}" = "--bench" ]; then need+=(ostree b3sum nix-bin rsync); fi
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
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
