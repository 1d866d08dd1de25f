#!/usr/bin/env bash
# Static checks of the Terraform module (terraform/) and its examples
# (examples/terraform/) with checkov (PyPI), in its own venv
# (.venv-checkov: its pins must not meet moto's). Every check passes or is
# skipped beside the resource, with the reason. The examples call the
# module by its local path: checkov follows it and checks its resources as
# the example configures them.
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
# One directory per run: given several -d at once, checkov 3.3.30 reported
# the first one's results twice and missed the examples' failures.
for dir in terraform examples/terraform; do
  echo "checkov: $dir"
  # --skip-download: nothing fetched from Prisma Cloud (guidelines, custom
  # policies); the checks are all in the package.
  .venv-checkov/bin/checkov -d "$dir" --framework terraform --compact --quiet --skip-download
done
