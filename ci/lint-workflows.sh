#!/usr/bin/env bash
# Lints the GitHub workflows in ci/github/ with actionlint (pinned, built through the Go module
# proxy) and shellcheck (Debian's package), which actionlint runs on every `run:` script. Exits
# non-zero on any finding. Installs what is missing into a cache outside the work tree and
# reuses it: quick when both are there.
#
#   bash ci/lint-workflows.sh [workflow.yml ...]   (default: every ci/github/*.yml / *.yaml)
#
# PYBUNDLE_TOOLS overrides the cache folder (default /var/cache/pybundle/tools, else
# ~/.cache/pybundle/tools when that is not writable).
set -euo pipefail
files=()
for f in "$@"; do
  case "$f" in /*) files+=("$f") ;; *) files+=("$PWD/$f") ;; esac
done
cd "$(dirname "$0")/.."

ACTIONLINT_VERSION=1.7.12

command -v go >/dev/null || PATH=/usr/local/go/bin:$PATH

if [ -n "${PYBUNDLE_TOOLS:-}" ]; then
  TOOLS=$PYBUNDLE_TOOLS
elif mkdir -p /var/cache/pybundle/tools 2>/dev/null && [ -w /var/cache/pybundle/tools ]; then
  TOOLS=/var/cache/pybundle/tools
else
  TOOLS=${XDG_CACHE_HOME:-$HOME/.cache}/pybundle/tools
fi
mkdir -p "$TOOLS"
case "$(cd "$TOOLS" && pwd -P)/" in
  "$(pwd -P)"/*) echo "lint-workflows: the tools cache $TOOLS must be outside the work tree" >&2; exit 2 ;;
esac
ACTIONLINT=$TOOLS/actionlint

# Runs "$@" as root: directly, or through sudo when it needs no password.
as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    echo "lint-workflows: need root to run: $*" >&2
    return 1
  fi
}

# Both installs hold a lock on the cache, so two runs at once do not build over each other.
exec 9>"$TOOLS/.lock"
flock 9

have_actionlint() {
  [ -x "$ACTIONLINT" ] && [ "$("$ACTIONLINT" -version 2>/dev/null | head -n 1)" = "v$ACTIONLINT_VERSION" ]
}
if ! have_actionlint; then
  echo "lint-workflows: installing actionlint v$ACTIONLINT_VERSION into $TOOLS (go install)"
  GOBIN=$TOOLS go install "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION"
  have_actionlint || { echo "lint-workflows: $ACTIONLINT is not actionlint v$ACTIONLINT_VERSION" >&2; exit 1; }
fi

if ! command -v shellcheck >/dev/null; then
  echo "lint-workflows: installing shellcheck (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y --no-install-recommends shellcheck ||
    { as_root apt-get update && as_root apt-get install -y --no-install-recommends shellcheck; }
fi
SHELLCHECK=$(command -v shellcheck)
flock -u 9

if [ ${#files[@]} = 0 ]; then
  shopt -s nullglob
  files=(ci/github/*.yml ci/github/*.yaml)
  shopt -u nullglob
fi
if [ ${#files[@]} = 0 ]; then
  echo "lint-workflows: no workflow in ci/github/" >&2
  exit 1
fi

# The workflows live in ci/github/, not .github/workflows/, so actionlint is given their paths
# (it lints any file it is given; with no .github/workflows above them it looks for no project
# config, which they do not need: they use no local actions or reusable workflows). It gets
# the path of shellcheck: when it finds none itself, it skips the scripts silently.
# -pyflakes= : no step runs Python inline (shell: python); whether pyflakes happens to be
# installed must not change the result. A `shell: python` step would need pyflakes here.
echo "lint-workflows: actionlint $("$ACTIONLINT" -version | head -n 1), $("$SHELLCHECK" --version | sed -n 's/^version: /shellcheck /p')"
if "$ACTIONLINT" -shellcheck "$SHELLCHECK" -pyflakes= "${files[@]}"; then
  echo "lint-workflows: ${#files[@]} workflow(s) clean: ${files[*]}"
else
  rc=$?
  echo "lint-workflows: findings above (actionlint exit $rc)" >&2
  exit "$rc"
fi
