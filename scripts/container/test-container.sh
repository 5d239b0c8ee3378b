#!/usr/bin/env bash
# `npm run test:container`: builds the project's image on a local Debian base (no image can be
# pulled here), runs it, and checks it under a real Prometheus (test/container/stack.container.ts).
# Starts dockerd by hand when none runs (no iptables, no bridge: containers use host networking)
# and stops it again at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."

base_image="${BASE_IMAGE:-ood-local/node:20-bookworm}"
image="${OOD_TEST_IMAGE:-ood-service:test}"

missing=()
for tool in dockerd docker docker-compose debootstrap prometheus; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "test:container: missing ${missing[*]}; apt-get install -y docker.io docker-compose debootstrap prometheus" >&2
  exit 1
fi

# A Docker engine for the run: dockerd is started here when none runs, and stopped at the end.
# shellcheck source=scripts/container/docker-up.sh
source scripts/container/docker-up.sh

bash scripts/container/make-base-image.sh "$base_image"

echo "test:container: building $image on $base_image"
build_started=$SECONDS
docker build --network host --build-arg BASE_IMAGE="$base_image" -t "$image" . >"$state/build.log" 2>&1 || {
  tail -40 "$state/build.log" >&2
  exit 1
}
echo "test:container: built in $((SECONDS - build_started)) s, $(docker image inspect -f '{{.Size}}' "$image") bytes"

OOD_TEST_IMAGE="$image" node --import tsx --test --test-concurrency=1 test/container/stack.container.ts test/container/onboarded.container.ts
