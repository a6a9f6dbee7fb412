#!/usr/bin/env bash
# The test command (README): provisions pybundle's own Dagger engine if none is given, runs every
# test (unit tests and the end-to-end ones that call `dagger call` for real), and stops the engine
# it started, pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:/usr/local/sbin:/usr/sbin:/sbin:$PATH DO_NOT_TRACK=1 DAGGER_NO_NAG=1
export GONOSUMDB=github.com/dagger/dagger,dagger.io/dagger

ENGINE="${TMPDIR:-/tmp}/pybundle-engine"
CACHE="${PYBUNDLE_CACHE:-/var/cache/pybundle}"

# After the tests, `down` must leave nothing behind: no engine or registry process, no bridge,
# ip_forward as it was before the first `up` (recorded in its state). Checked, not assumed.
stop_engine() {
  local rc=$? fwd_before=""
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
  exit $rc
}

if [ -z "${_EXPERIMENTAL_DAGGER_RUNNER_HOST:-}" ]; then
  go build -o "$ENGINE" ./ci/engine
  trap stop_engine EXIT
  "$ENGINE" up
  eval "$("$ENGINE" env)"
fi

# Generated SDK code (gitignored) so the whole tree compiles and vets.
dagger develop --progress=plain >/dev/null 2>&1 || dagger develop --progress=plain
go vet ./...
# The Electron app's backend manager (node's own test runner, no dependencies to install).
(cd testdata/app && node --test test/)
go test -count=1 -v -timeout 80m "$@" ./...
