#!/usr/bin/env bash
# The log router's CPU and memory per MB/s of logs, for sizing the task
# (bench/router_load.py says how it measures):
#
#   FLUENT_BIT=/path/to/fluent-bit bench/fluent-bit-router-load.sh [RATES_MB_S] [SECONDS]
#
# Needs a Fluent Bit 4.2.2, 5.0.x or 5.1.x binary; uses the module's AOT file when
# scripts/build-wasm.sh wrote one (WAMRC set). Both includes are measured.
set -euo pipefail
cd "$(dirname "$0")/.."
FB=${FLUENT_BIT:?set FLUENT_BIT to a fluent-bit binary}
RATES=${1:-1,4,8}
SECONDS_EACH=${2:-20}
scripts/build-wasm.sh >/dev/null
# The config the ECS agent generates for the shipped task, around the include.
cargo build -q --release -p firelens-e2e --bin firelens-config
OUT=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/wasm32-wasip1/wasm
MODULE=$OUT/firelens_filter.$(uname -m | sed 's/arm64/aarch64/').aot
[ -f "$MODULE" ] || MODULE=$OUT/firelens_filter.wasm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo run -q --release -p wasm-host --bin firelens-corpus -- 20000 "$work/corpus" 2>/dev/null
echo "$("$FB" --version | head -n1), module $(basename "$MODULE"), ${SECONDS_EACH} s per rate"
for include in fluent-bit/firelens.conf fluent-bit/firelens-stacktraces.conf; do
  echo "### $include"
  python3 bench/router_load.py "$FB" "$include" "$MODULE" "$PWD" "$work/corpus" "$RATES" "$SECONDS_EACH"
done
