#!/usr/bin/env bash
# The Terraform checks: the module (terraform/modules/firelens-router) and
# both examples (examples/terraform/complete, examples/terraform/
# existing-service). `terraform fmt -check` over terraform/ and
# examples/terraform/; in each of the three, `terraform init`, `terraform
# validate` and `terraform test` (its tests/: planned and applied against a
# mocked AWS provider); and the module's inputs and outputs table
# (terraform/modules/firelens-router/README.md) checked against its
# variables.tf and outputs.tf (scripts/terraform_docs.py, and that script's
# own tests). No network: the AWS provider comes from a filesystem mirror
# (a directory holding registry.terraform.io/hashicorp/aws/<version>/<os_arch>/,
# found under / or given as TF_PROVIDER_MIRROR). Without a terraform binary
# or a mirror it says SKIPPED, loudly, after the table check, and exits 0.
# It leaves nothing in the tree: terraform's data directories, lock files
# and CLI config are temporary.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

dirs=(terraform/modules/firelens-router examples/terraform/complete examples/terraform/existing-service)

# The table needs no terraform.
python3 -m unittest -q scripts/test_terraform_docs.py
python3 scripts/terraform_docs.py --check

skip() {
  echo "terraform: SKIPPED, $*"
  exit 0
}

command -v terraform >/dev/null 2>&1 || skip "no terraform binary on the PATH (the module and the examples are still parsed by the deployment tests)"

mirror=${TF_PROVIDER_MIRROR:-}
if [ -z "$mirror" ]; then
  found=$(find / -maxdepth 4 -path '*registry.terraform.io/hashicorp' -type d 2>/dev/null | head -n 1 || true)
  [ -n "$found" ] && mirror=$(dirname "$(dirname "$found")")
fi
[ -n "$mirror" ] && ls -d "$mirror"/registry.terraform.io/hashicorp/aws/5.* >/dev/null 2>&1 ||
  skip "no filesystem mirror of the hashicorp/aws 5.x provider (set TF_PROVIDER_MIRROR, or put one at e.g. /opt/tf-plugins/registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64/)"

work=$(mktemp -d)
# Each init writes a lock file beside the configuration; remove those that
# were not there.
locks=()
for d in "${dirs[@]}"; do
  [ -e "$d/.terraform.lock.hcl" ] || locks+=("$d/.terraform.lock.hcl")
done
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
  for l in "${locks[@]}"; do rm -f "$l"; done
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
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

# `terraform test` with mock providers (the module's tests/mocks, shared by
# the examples) needs 1.7; the tests are run with 1.11.
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

terraform fmt -check -diff -recursive terraform
terraform fmt -check -diff -recursive examples/terraform

# init and validate each, one after the other (quick); then the tests of
# all three at once, each in its own data directory, their output shown
# in order once each is done.
for i in "${!dirs[@]}"; do
  d=${dirs[$i]}
  export TF_DATA_DIR="$work/data-$i"
  (cd "$d" && terraform init -backend=false "${color[@]}" >"$work/init-$i.log" 2>&1) || {
    cat "$work/init-$i.log" >&2
    exit 1
  }
  echo "terraform validate $d"
  (cd "$d" && terraform validate "${color[@]}")
done

for i in "${!dirs[@]}"; do
  d=${dirs[$i]}
  [ -d "$d/tests" ] || continue
  (
    cd "$d"
    rc=0
    TF_DATA_DIR="$work/data-$i" terraform test "${color[@]}" >"$work/test-$i.log" 2>&1 || rc=$?
    echo "$rc" >"$work/test-$i.rc"
  ) &
  pids+=($!)
done
wait "${pids[@]}"
pids=()

failed=0
for i in "${!dirs[@]}"; do
  d=${dirs[$i]}
  [ -d "$d/tests" ] || continue
  echo "terraform test $d"
  cat "$work/test-$i.log"
  [ "$(cat "$work/test-$i.rc")" = 0 ] || failed=1
done
exit "$failed"
