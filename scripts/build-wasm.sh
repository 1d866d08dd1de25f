#!/usr/bin/env bash
# Builds the Fluent Bit filter module:
#   target/wasm32-wasip1/wasm/firelens_filter.wasm          portable, interpreted by WAMR
# and, when WAMR's wamrc 2.4.1 is available ($WAMRC, or wamrc on PATH), the
# ahead-of-time compiled files Fluent Bit 4.1-5.1 load as native code:
#   target/wasm32-wasip1/wasm/firelens_filter.x86_64.aot
#   target/wasm32-wasip1/wasm/firelens_filter.aarch64.aot   (Graviton)
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
cargo build --profile wasm --target wasm32-wasip1 -p filter-wasm --lib "$@"
out=${CARGO_TARGET_DIR:-target}/wasm32-wasip1/wasm
ls -l "$out/firelens_filter.wasm"

wamrc=${WAMRC:-$(command -v wamrc || true)}
if [ -z "$wamrc" ]; then
  echo "wamrc not found: skipping AOT (set WAMRC to a wamrc 2.4.1 binary)"
  exit 0
fi
# An AOT file only loads in the WAMR version that wrote its format.
version=$("$wamrc" --version 2>&1 | head -n1)
case "$version" in
  *2.4.1*) ;;
  *) echo "error: $wamrc is '$version'; Fluent Bit 4.1-5.1 bundle WAMR 2.4.1" >&2; exit 1 ;;
esac
for arch in x86_64 aarch64; do
  "$wamrc" --target="$arch" -o "$out/firelens_filter.$arch.aot" "$out/firelens_filter.wasm" >/dev/null
  ls -l "$out/firelens_filter.$arch.aot"
done
