#!/usr/bin/env bash
# Long lines and stack traces in a real Fluent Bit with the shipped includes
# (bench/multiline.py says what each case expects):
#
#   FLUENT_BIT=/path/to/fluent-bit bench/fluent-bit-multiline.sh [SUSTAINED_SECONDS]
#
# Needs a Fluent Bit 4.2.2, 5.0.x or 5.1.x binary (the one in
# aws-for-fluent-bit 3.x, or a release build of it). Runs both includes, fluent-bit/firelens.conf and
# fluent-bit/firelens-stacktraces.conf, with the module's AOT file when
# scripts/build-wasm.sh wrote one (WAMRC set), else the portable .wasm.
set -euo pipefail
cd "$(dirname "$0")/.."
FB=${FLUENT_BIT:?set FLUENT_BIT to a fluent-bit binary}
SUSTAINED=${1:-30}
scripts/build-wasm.sh >/dev/null
# The config the ECS agent generates for the shipped task, around the include.
cargo build -q --release -p firelens-e2e --bin firelens-config
OUT=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/wasm32-wasip1/wasm
MODULE=$OUT/firelens_filter.$(uname -m | sed 's/arm64/aarch64/').aot
[ -f "$MODULE" ] || MODULE=$OUT/firelens_filter.wasm
echo "$("$FB" --version | head -n1), module $(basename "$MODULE")"
rc=0
for include in fluent-bit/firelens.conf fluent-bit/firelens-stacktraces.conf; do
  echo "### $include"
  python3 bench/multiline.py "$FB" "$include" "$MODULE" "$PWD" --sustained "$SUSTAINED" || rc=1
done
exit $rc
