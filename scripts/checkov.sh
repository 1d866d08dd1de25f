#!/usr/bin/env bash
# Static checks of the Terraform example with checkov (PyPI), in its own
# venv (.venv-checkov: its pins must not meet moto's). Every check passes or
# is skipped in main.tf with the reason next to the resource.
# `--install-only`: set up the venv, check nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
version=3.3.30
if ! .venv-checkov/bin/checkov --version 2>/dev/null | grep -qx "$version"; then
  if ! python3 -m venv .venv-checkov 2>/dev/null; then
    # Debian's python3 ships venv separately (as in python-env.sh).
    apt-get update -qq && apt-get install -y -qq python3-venv
    python3 -m venv .venv-checkov
  fi
  .venv-checkov/bin/pip install --quiet --disable-pip-version-check "checkov==$version"
fi
# scripts/test.sh installs ahead of time, while Rust compiles.
[ "${1:-}" = --install-only ] && exit 0
.venv-checkov/bin/checkov -d examples/terraform --framework terraform --compact --quiet
