#!/usr/bin/env bash
# The main job on the bundled sample (README): provisions pybundle's own Dagger engine when no
# engine is configured, then builds testdata/backend for linux/amd64 (add linux/arm64 with
# PLATFORMS=linux/amd64,linux/arm64) into ./dist: the bundle, report.json and summary.txt.
# The engine stays up for more `dagger call`s; `go run ./ci/engine down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:/usr/local/sbin:/usr/sbin:/sbin:$PATH DO_NOT_TRACK=1 DAGGER_NO_NAG=1
export GONOSUMDB=github.com/dagger/dagger,dagger.io/dagger

if [ -z "${_EXPERIMENTAL_DAGGER_RUNNER_HOST:-}" ] && ! command -v dagger >/dev/null; then
  go run ./ci/engine up
  eval "$(go run ./ci/engine env)"
fi
# export prints the path it wrote, without a newline: give it its own line before the summary.
out=$(dagger call build --source testdata/backend --platforms "${PLATFORMS:-linux/amd64}" export --wipe --path dist)
echo "built: $out"
cat dist/summary.txt
