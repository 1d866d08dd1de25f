#!/usr/bin/env bash
# The Terraform example's checks: `terraform fmt -check`, `terraform init`,
# `terraform validate` and `terraform test` (examples/terraform/tests: every
# combination of the variables planned and applied against a mocked AWS
# provider). No network: the AWS provider comes from a filesystem mirror
# (a directory holding registry.terraform.io/hashicorp/aws/<version>/<os_arch>/,
# found under / or given as TF_PROVIDER_MIRROR). Without a terraform binary
# or a mirror it says SKIPPED, loudly, and exits 0. It leaves nothing in the
# tree: terraform's data directory, lock file and CLI config are temporary.
set -euo pipefail
cd "$(dirname "$0")/../examples/terraform"

skip() {
  echo "terraform: SKIPPED, $*"
  exit 0
}

command -v terraform >/dev/null 2>&1 || skip "no terraform binary on the PATH (examples/terraform/main.tf is still parsed by the deployment tests)"

mirror=${TF_PROVIDER_MIRROR:-}
if [ -z "$mirror" ]; then
  found=$(find / -maxdepth 4 -path '*registry.terraform.io/hashicorp' -type d 2>/dev/null | head -n 1 || true)
  [ -n "$found" ] && mirror=$(dirname "$(dirname "$found")")
fi
[ -n "$mirror" ] && ls -d "$mirror"/registry.terraform.io/hashicorp/aws/5.* >/dev/null 2>&1 ||
  skip "no filesystem mirror of the hashicorp/aws 5.x provider (set TF_PROVIDER_MIRROR, or put one at e.g. /opt/tf-plugins/registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64/)"

work=$(mktemp -d)
# The lock file is written beside main.tf; remove it unless it was there.
lock_was_there=0
[ -e .terraform.lock.hcl ] && lock_was_there=1
cleanup() {
  rm -rf "$work"
  [ "$lock_was_there" = 1 ] || rm -f .terraform.lock.hcl
}
trap cleanup EXIT

cat >"$work/cli.tfrc" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/*"]
  }
}
EOF
export TF_CLI_CONFIG_FILE="$work/cli.tfrc"
export TF_DATA_DIR="$work/data"
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

# `terraform test` with mock providers (tests/mocks/*.tfmock.hcl) needs
# 1.7; the tests are run with 1.11.
version=$(terraform version -json 2>/dev/null | sed -n 's/.*"terraform_version": *"\([0-9.]*\).*/\1/p')
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
if [ -z "$version" ] || [ "$major" -lt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -lt 7 ]; }; then
  skip "terraform ${version:-of unknown version} is older than 1.7, which terraform test's mock providers need"
fi

echo "terraform: $(terraform version | head -n 1), provider mirror $mirror"

color=()
[ "${CI:-}" = true ] && color=(-no-color)

terraform fmt -check -diff -recursive
terraform init -backend=false "${color[@]}" >"$work/init.log" 2>&1 || {
  cat "$work/init.log" >&2
  exit 1
}
terraform validate "${color[@]}"
terraform test "${color[@]}"
