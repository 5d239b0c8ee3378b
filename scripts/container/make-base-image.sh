#!/usr/bin/env bash
# Makes a local Node 20 base image without pulling anything: a Debian bookworm root file system
# from debootstrap (Debian's own mirror, the one registry these machines reach), with this
# machine's Node 20, npm and Node headers copied in. The Dockerfile's BASE_IMAGE build argument
# takes it in place of node:20-bookworm-slim. Skipped when the image already exists.
#
# usage: scripts/container/make-base-image.sh [tag]     (default ood-local/node:20-bookworm)
set -euo pipefail

tag="${1:-ood-local/node:20-bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag exists"
  exit 0
fi

node_bin="$(command -v node)"
case "$("$node_bin" --version)" in
  v20.*) ;;
  *) echo "make-base-image: needs Node 20 on this machine, found $("$node_bin" --version)" >&2; exit 1 ;;
esac
npm_dir="$(npm root -g)/npm"
headers=/usr/include/node
for needed in "$npm_dir/bin/npm-cli.js" "$headers/node.h"; do
  [ -e "$needed" ] || { echo "make-base-image: $needed is missing" >&2; exit 1; }
done
command -v debootstrap >/dev/null || { echo "make-base-image: apt-get install -y debootstrap" >&2; exit 1; }

# Not /tmp: debootstrap creates device nodes, which a nodev /tmp would refuse.
work="$(mktemp -d -p "${TMPDIR_FOR_ROOTFS:-/var/tmp}")"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

echo "debootstrap bookworm (minbase) from $mirror"
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -20 "$work/debootstrap.log" >&2
  exit 1
}

# Node where the official images keep it; the headers let node-gyp build native addons
# (hnswlib-node) without downloading them.
install -D -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules" "$rootfs/usr/local/include"
cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
cp -a "$headers" "$rootfs/usr/local/include/node"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
chroot "$rootfs" /usr/local/bin/node --version >/dev/null

# This machine reaches the npm registry through whatever its trust store says (here, an egress
# proxy with its own CA), so the image's npm must trust the same: the build stage's `npm ci`
# runs inside it.
changes=()
ca_bundle="${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}"
if [ -f "$ca_bundle" ]; then
  install -D -m 0644 "$ca_bundle" "$rootfs/etc/ssl/certs/host-ca-bundle.crt"
  changes+=(--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/host-ca-bundle.crt')
fi

rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*

tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV npm_config_nodedir=/usr/local' \
  --change 'CMD ["node"]' \
  "${changes[@]}" \
  - "$tag" >/dev/null
echo "made base image $tag ($(docker image inspect -f '{{.Size}}' "$tag") bytes)"
