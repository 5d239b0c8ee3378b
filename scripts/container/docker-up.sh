# Sourced by the container scripts: makes a Docker engine available for the rest of the script.
# Starts dockerd by hand when none runs (no iptables, no bridge: containers use host networking)
# and stops it again when the script exits, whose status stays the test's. Leaves $state, a
# scratch folder removed at exit.
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
  rm -rf "$state" 2>/dev/null || echo "could not remove $state" >&2
  # The test's verdict, not the tidying's, is the exit status.
  exit "$rc"
}
trap cleanup EXIT

if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd"
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

