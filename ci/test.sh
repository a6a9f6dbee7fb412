#!/usr/bin/env bash
# The test command (README): provisions pybundle's own Dagger engine if none is given, runs every
# test (unit tests and the end-to-end ones that call `dagger call` for real), and stops the engine
# it started, pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH DO_NOT_TRACK=1 DAGGER_NO_NAG=1
export GONOSUMDB=github.com/dagger/dagger,dagger.io/dagger

if [ -z "${_EXPERIMENTAL_DAGGER_RUNNER_HOST:-}" ]; then
  go build -o "${TMPDIR:-/tmp}/pybundle-engine" ./ci/engine
  trap '"${TMPDIR:-/tmp}/pybundle-engine" down' EXIT
  "${TMPDIR:-/tmp}/pybundle-engine" up
  eval "$("${TMPDIR:-/tmp}/pybundle-engine" env)"
fi

# Generated SDK code (gitignored) so the whole tree compiles and vets.
dagger develop --progress=plain >/dev/null 2>&1 || dagger develop --progress=plain
go vet ./...
go test -count=1 -v -timeout 80m "$@" ./...
