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

started_dockerd=""
state="$(mktemp -d)"
cleanup() {
  local rc=$?
  if [ -n "$started_dockerd" ]; then
    kill "$started_dockerd" 2>/dev/null || true
    wait "$started_dockerd" 2>/dev/null || true
    # dockerd leaves its network-namespace mount behind under its exec root.
    grep -o " $state/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  fi
  rm -rf "$state" 2>/dev/null || echo "test:container: could not remove $state" >&2
  # The test's verdict, not the tidying's, is the exit status.
  exit "$rc"
}
trap cleanup EXIT

if ! docker info >/dev/null 2>&1; then
  echo "test:container: starting dockerd"
  dockerd --iptables=false --ip6tables=false --bridge=none \
    --exec-root "$state/exec" --pidfile "$state/dockerd.pid" >"$state/dockerd.log" 2>&1 &
  started_dockerd=$!
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$started_dockerd" 2>/dev/null || { tail -20 "$state/dockerd.log" >&2; exit 1; }
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { echo "dockerd did not come up" >&2; tail -20 "$state/dockerd.log" >&2; exit 1; }
fi

bash scripts/container/make-base-image.sh "$base_image"

echo "test:container: building $image on $base_image"
build_started=$SECONDS
docker build --network host --build-arg BASE_IMAGE="$base_image" -t "$image" . >"$state/build.log" 2>&1 || {
  tail -40 "$state/build.log" >&2
  exit 1
}
echo "test:container: built in $((SECONDS - build_started)) s, $(docker image inspect -f '{{.Size}}' "$image") bytes"

OOD_TEST_IMAGE="$image" node --import tsx --test --test-concurrency=1 test/container/stack.container.ts test/container/onboarded.container.ts
