#!/usr/bin/env bash
# The project's test command (README, "Tests"). CI runs exactly this on a
# fresh machine, so everything it needs is installed here.
set -euo pipefail
cd "$(dirname "$0")/.."

# The Python tools (moto's server for the sink-proxy tests, in .venv;
# checkov, in .venv-checkov) install in the background while Rust compiles:
# that is network, not CPU. One after the other, as both may need apt.
py_log="$(mktemp)"
(./scripts/python-env.sh && ./scripts/checkov.sh --install-only) >"$py_log" 2>&1 &
py_pid=$!

for component in clippy rustfmt; do
  rustup component list --installed | grep -q "^$component" || rustup component add "$component"
done
cargo fmt --all --check

# What the image ships, built as its Dockerfile builds it (no Docker engine
# here): the build context assembled as Docker would send it (.dockerignore),
# the Rust stage's commands run there for this machine's CPU (the module,
# and sink-proxy), every other stage's COPY checked. The binaries
# land in target/image/; the reliability suite, the end-to-end tests that
# start sink-proxy as ECS does, and the benchmarks run that sink-proxy.
python3 -m unittest scripts/test_image_check.py
python3 scripts/image_check.py
export SINK_PROXY_BIN="$PWD/target/image/sink-proxy"

# The Wasm module, as the tests load it (installs the wasm32-wasip1 target
# if missing).
./scripts/build-wasm.sh

# The module must be panic-free: clippy denies indexing, unwrap, expect and
# panic in the rules crate (see filter-wasm/src/lib.rs).
cargo clippy --release --target wasm32-wasip1 -p filter-wasm --lib -- -D warnings
cargo clippy --release --workspace --all-targets -- -D warnings

if ! wait "$py_pid"; then
  cat "$py_log" >&2
  echo "installing the Python tools failed" >&2
  exit 1
fi
cat "$py_log"
rm -f "$py_log"

# The Terraform module and its two examples: fmt, init from the machine's
# provider mirror, validate, and `terraform test` in each (planned and
# applied against a mocked AWS provider), and the module's inputs and
# outputs table checked against its variables.tf and outputs.tf. Skipped,
# loudly, where terraform or the mirror is missing.
./scripts/terraform-test.sh

./scripts/checkov.sh

# Unit tests, the rule table, the module through the Fluent Bit host,
# sink-proxy against moto and a fault-injecting fake AWS endpoint, end to end,
# and the reliability suite. It runs the sink-proxy binary, which this builds
# before any test runs (sink-proxy's own tests need it too).
cargo test --release --workspace

# A bounded, deterministic fuzz run of both targets (FUZZ=0 skips it).
# cargo-fuzz needs a nightly toolchain; a machine without one skips, loudly.
if [ "${FUZZ:-1}" = 0 ]; then
  echo "fuzz: skipped (FUZZ=0)"
elif rustup run nightly rustc --version >/dev/null 2>&1; then
  ./scripts/fuzz.sh 200000
else
  echo "fuzz: SKIPPED, no nightly toolchain on this machine (rustup toolchain install nightly)"
fi
