#!/usr/bin/env bash
# Static checks of the Terraform example with checkov (PyPI), in its own
# venv (.venv-checkov: its pins must not meet moto's). Every check passes or
# is skipped in main.tf with the reason next to the resource.
set -euo pipefail
cd "$(dirname "$0")/.."
version=3.3.30
if ! .venv-checkov/bin/checkov --version 2>/dev/null | grep -qx "$version"; then
  python3 -m venv .venv-checkov
  .venv-checkov/bin/pip install --quiet --disable-pip-version-check "checkov==$version"
fi
.venv-checkov/bin/checkov -d examples/terraform --framework terraform --compact --quiet
