#!/usr/bin/env bash
# The test command (README): provisions pybundle's own Dagger engine if none is given, starts the
# SSH runners the dispatch tests log in to (ci/engine runners-up: sshd in netns pybundle-runner),
# runs every test (unit tests and the end-to-end ones that call `dagger call` for real), and stops
# the runners and the engine it started, pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:/usr/local/sbin:/usr/sbin:/sbin:$PATH DO_NOT_TRACK=1 DAGGER_NO_NAG=1
export GONOSUMDB=github.com/dagger/dagger,dagger.io/dagger

ENGINE="${TMPDIR:-/tmp}/pybundle-engine"
CACHE="${PYBUNDLE_CACHE:-/var/cache/pybundle}"

# After the tests, `runners-down` must leave no sshd running in a runner rootfs (sessions and
# builds they started included), no netns pybundle-runner and no veth pbr-host. Checked, not assumed.
stop_runners() {
  local rc=0 p root left=""
  "$ENGINE" runners-down || rc=1
  for p in /proc/[0-9]*; do
    root=$(readlink "$p/root" 2>/dev/null) || continue
    case "$root" in "$CACHE"/rootfs/ssh-runner-*) left="$left ${p#/proc/}";; esac
  done
  if [ -n "$left" ]; then echo "ci/engine runners-down left processes in the runner rootfs:"; ps -o pid,args -p "${left# }" || true; rc=1; fi
  if ip netns list | awk '{print $1}' | grep -qx pybundle-runner; then echo "ci/engine runners-down left the netns pybundle-runner"; rc=1; fi
  if ip link show pbr-host >/dev/null 2>&1; then echo "ci/engine runners-down left the veth pbr-host"; rc=1; fi
  [ $rc = 0 ] && echo "ci/engine runners-down: no sshd, netns or veth left"
  return $rc
}

# After the tests, `down` must leave nothing behind: no engine or registry process, no bridge,
# ip_forward as it was before the first `up` (recorded in its state). Checked, not assumed.
stop_engine() {
  local rc=0 fwd_before=""
  [ -f "$CACHE/run/state.json" ] && fwd_before=$(sed -n 's/.*"ip_forward_before": "\(.\)".*/\1/p' "$CACHE/run/state.json")
  "$ENGINE" down || rc=1
  if pgrep -f "^/usr/local/bin/dagger-engine|$CACHE/registry/x/usr/bin/docker-registry" >/dev/null; then
    echo "ci/engine down left processes behind:"; pgrep -af "dagger-engine|docker-registry"; rc=1
  fi
  if ip link show pybundle0 >/dev/null 2>&1; then echo "ci/engine down left the pybundle0 bridge"; rc=1; fi
  if [ -n "$fwd_before" ] && [ "$(cat /proc/sys/net/ipv4/ip_forward)" != "$fwd_before" ]; then
    echo "ci/engine down left ip_forward=$(cat /proc/sys/net/ipv4/ip_forward), was $fwd_before"; rc=1
  fi
  [ $rc = 0 ] && echo "ci/engine down: no engine, registry or bridge left; ip_forward restored"
  return $rc
}

STARTED_ENGINE="" STARTED_RUNNERS=""
on_exit() {
  local rc=$?
  if [ -n "$STARTED_RUNNERS" ]; then stop_runners || rc=1; fi
  if [ -n "$STARTED_ENGINE" ]; then stop_engine || rc=1; fi
  exit $rc
}

go build -o "$ENGINE" ./ci/engine
trap on_exit EXIT
if [ -z "${_EXPERIMENTAL_DAGGER_RUNNER_HOST:-}" ]; then
  STARTED_ENGINE=1
  "$ENGINE" up
  eval "$("$ENGINE" env)"
fi
# The SSH runners (after `up`: they are built from its root filesystems). They need root; with a
# given engine and no root the dispatch tests find no PYBUNDLE_SSH_* and skip.
if [ "$(id -u)" = 0 ]; then
  STARTED_RUNNERS=1
  "$ENGINE" runners-up
  eval "$("$ENGINE" runners-env)"
else
  echo "ci/test.sh: not root, SSH runners not started (dispatch end-to-end tests skip)"
fi

# Generated SDK code (gitignored) so the whole tree compiles and vets.
dagger develop --progress=plain >/dev/null 2>&1 || dagger develop --progress=plain
# Unformatted code and vet findings fail the run.
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt -l lists:"; echo "$unformatted"; exit 1; fi
go vet ./...
# The GitHub workflows: actionlint with shellcheck (both installed into a cache on first use).
bash ci/lint-workflows.sh
# The Electron app's backend manager (node's own test runner, no dependencies to install).
(cd testdata/app && node --test test/)
# The module's facade: its package starts a Dagger client when loaded, so its tests run in a
# Dagger session.
dagger run --progress=plain go test -count=1 .
# The engine-free packages, with the race detector (fuzz targets run their seed corpora).
go test -race -count=1 ./pipeline/... ./images/... ./cmd/... ./ci/...
# End to end: `dagger call`, `dagger check`, the consumer module, the SSH runners.
go test -count=1 -v -timeout 80m "$@" ./tests/...
