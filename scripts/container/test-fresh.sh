#!/usr/bin/env bash
# `npm run test:fresh`: the README's test command on a fresh machine. A clean clone of HEAD runs
# `npm ci && npm test` in a Debian bookworm container that has Node 20 and nothing else (the
# local base image of the container test): no python3, make or g++, so the optional hnswlib-node
# cannot compile and npm leaves it out. promtool, Chromium, kubectl, Docker, Fashion-MNIST and
# hnswlib-node are absent there, so the tests that need them must skip, naming what to install,
# and everything else must pass.
set -euo pipefail
cd "$(dirname "$0")/../.."

base_image="${BASE_IMAGE:-ood-local/node:20-bookworm}"

missing=()
for tool in dockerd docker debootstrap git; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "test:fresh: missing ${missing[*]}; apt-get install -y docker.io debootstrap git" >&2
  exit 1
fi

# shellcheck source=scripts/container/docker-up.sh
source scripts/container/docker-up.sh
bash scripts/container/make-base-image.sh "$base_image"

# What is committed, as a new machine would clone it: no node_modules, caches or models built here.
git clone -q . "$state/repo"
echo "test:fresh: $(git -C "$state/repo" log -1 --format='%h %s' | cut -c1-72)"

# CI is unset inside: with it set, a missing tool fails its tests instead of skipping them.
docker run --rm --network host -v "$state/repo:/repo" -w /repo -e CI= "$base_image" bash -euo pipefail -c '
  for tool in promtool chromium kubectl docker python3 make g++ cc; do
    if command -v "$tool" >/dev/null; then echo "test:fresh: $tool is in the base image, so it is not a fresh machine" >&2; exit 1; fi
  done
  if [ -e /usr/share/datasets/fashion-mnist ]; then echo "test:fresh: Fashion-MNIST is in the base image" >&2; exit 1; fi
  npm ci --no-audit --no-fund
  if [ -e node_modules/hnswlib-node/build/Release ]; then echo "test:fresh: hnswlib-node compiled, so a compiler was found" >&2; exit 1; fi
  npm test
'
