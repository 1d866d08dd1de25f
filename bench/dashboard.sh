#!/usr/bin/env bash
# Renders docs/dashboard.png, the README's picture of the Terraform
# example's dashboard, from a real run: the sink-proxy binary's EMF lines
# (tests/src/bin/dashboard-run.rs) drawn by bench/dashboard.py (matplotlib,
# installed into .venv-plot).
#   bench/dashboard.sh [SECONDS]     # default 90: the outage is the middle third
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p sink-proxy -p firelens-e2e --bin dashboard-run
if ! .venv-plot/bin/python -c "import matplotlib" 2>/dev/null; then
  python3 -m venv .venv-plot
  .venv-plot/bin/pip install --quiet --disable-pip-version-check "matplotlib==3.10.*"
fi
secs="${1:-90}"
out="$(mktemp)"
"${CARGO_TARGET_DIR:-target}/release/dashboard-run" --out "$out" --secs "$secs"
.venv-plot/bin/python bench/dashboard.py "$out" docs/dashboard.png $((secs / 3)) $((secs * 2 / 3))
rm -f "$out"
