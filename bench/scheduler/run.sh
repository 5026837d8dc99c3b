#!/usr/bin/env bash
# bench/scheduler: the makespan simulation (always), then the Nix comparison, unsandboxed and with
# Eos sandboxed (needs nix-bin: installed by scripts/setup.sh --bench). Prints ratios; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
npx tsx bench/scheduler/makespan.ts "$@"
echo
if bash scripts/setup.sh --bench && command -v nix-build >/dev/null; then
  npx tsx bench/scheduler/nix-compare.ts
  echo
  # the cold build with every Eos action in the real sandbox (needs root or user namespaces, bwrap)
  npx tsx bench/scheduler/nix-compare.ts --sandbox
else
  echo "nix-build unavailable: Nix comparison skipped"
fi
