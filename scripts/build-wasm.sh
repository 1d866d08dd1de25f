#!/usr/bin/env bash
# Builds the Fluent Bit filter module: target/wasm32-wasip1/wasm/firelens_filter.wasm
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
cargo build --profile wasm --target wasm32-wasip1 -p filter-wasm --lib "$@"
ls -l target/wasm32-wasip1/wasm/firelens_filter.wasm
