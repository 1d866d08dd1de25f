#!/usr/bin/env bash
# The main job on this machine, no AWS account needed: the bundled sample
# FireLens logs go through the Wasm filter (as Fluent Bit 4.2 runs it) and
# sink-proxy (as Fluent Bit's http output posts to it) into CloudWatch Logs
# and Firehose -> S3, served locally by moto; then a summary.
#   scripts/demo.sh [--records FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
echo "demo: building the filter module, moto (into .venv) and the demo; the first run compiles for a few minutes" >&2
./scripts/build-wasm.sh >/dev/null
./scripts/python-env.sh
cargo build --release -p firelens-e2e --bin firelens-demo
exec "${CARGO_TARGET_DIR:-target}/release/firelens-demo" "$@"
