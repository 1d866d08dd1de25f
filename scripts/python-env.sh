#!/usr/bin/env bash
# The Python tools the tests need (scripts/requirements-test.txt), in the
# repo's .venv. Reinstalls only when the requirements change.
set -euo pipefail
cd "$(dirname "$0")/.."
req=scripts/requirements-test.txt
if [ -x .venv/bin/moto_server ] && cmp -s "$req" .venv/requirements-test.txt; then
  exit 0
fi
if ! python3 -m venv .venv 2>/dev/null; then
  # Debian's python3 ships venv separately.
  apt-get update -qq && apt-get install -y -qq python3-venv
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r "$req"
cp "$req" .venv/requirements-test.txt
echo "python-env: $(.venv/bin/python -m pip show moto | grep ^Version) in .venv"
