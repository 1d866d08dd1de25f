#!/usr/bin/env bash
# Builds the log router image (this repository's Dockerfile) for one
# platform and pushes it to its ECR repository. `terraform apply` runs it
# (terraform_data.router_image, main.tf); by hand, as one line
# (`terraform output -raw image_push_command` prints it filled in):
#
#   IMAGE=123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-web/firelens-router:src-0123456789ab \
#     PLATFORM=linux/arm64 ./build-and-push.sh
#
# PLATFORM: linux/amd64 (X86_64 tasks) or linux/arm64 (ARM64, Graviton);
# another platform than the machine's builds under emulation (docker
# buildx with QEMU), which is slow: build on a machine of that CPU if you
# can. Tags are immutable in the repository: an image already there under
# this tag is not built again. Needs docker with buildx, and the AWS CLI.
set -euo pipefail

: "${IMAGE:?set IMAGE=<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>}"
platform=${PLATFORM:-linux/amd64}
context=${CONTEXT:-$(cd "$(dirname "$0")/../../.." && pwd)}
registry=${IMAGE%%/*}
rest=${IMAGE#*/}
repository=${rest%:*}
tag=${rest##*:}
# <account>.dkr.ecr.<region>.amazonaws.com
region=${AWS_REGION:-$(echo "$registry" | cut -d. -f4)}

case "$platform" in
linux/amd64 | linux/arm64) ;;
*)
  echo "build-and-push.sh: PLATFORM is linux/amd64 or linux/arm64, not $platform" >&2
  exit 2
  ;;
esac
[ -f "$context/Dockerfile" ] || {
  echo "build-and-push.sh: no Dockerfile in $context (CONTEXT: a checkout of this repository)" >&2
  exit 2
}

if aws ecr describe-images --region "$region" --repository-name "$repository" \
  --image-ids "imageTag=$tag" >/dev/null 2>&1; then
  echo "build-and-push.sh: $IMAGE is already in ECR"
  exit 0
fi

aws ecr get-login-password --region "$region" |
  docker login --username AWS --password-stdin "$registry"
# --provenance=false: one image manifest, no attestation index beside it.
docker buildx build --platform "$platform" --provenance=false \
  --tag "$IMAGE" --push "$context"
echo "build-and-push.sh: pushed $IMAGE ($platform)"
