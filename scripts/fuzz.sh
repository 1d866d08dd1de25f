#!/usr/bin/env bash
# Fuzz the record handling and the rules parser with cargo-fuzz (libFuzzer).
#   scripts/fuzz.sh            run each target for 60 s
#   scripts/fuzz.sh 200000     run each target for that many inputs, seed 1 (deterministic)
set -euo pipefail
cd "$(dirname "$0")/../filter-wasm"
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# New inputs go to a scratch corpus; fuzz/seeds/<target> (committed, FireLens
# records in pairs so the memo is hit) is read only.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in record rules; do
  mkdir -p "$scratch/$target"
  seeds=()
  [ -d "fuzz/seeds/$target" ] && seeds=("fuzz/seeds/$target")
  if [ $# -gt 0 ]; then
    cargo +nightly fuzz run "$target" "$scratch/$target" "${seeds[@]}" -- -runs="$1" -seed=1
  else
    cargo +nightly fuzz run "$target" "$scratch/$target" "${seeds[@]}" -- -max_total_time=60
  fi
done
