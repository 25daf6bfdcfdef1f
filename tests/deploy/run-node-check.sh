#!/usr/bin/env bash
# Runs one of the manifest checks in this folder: makes sure kubectl and the pinned npm packages are
# there (kubectl from apt, as root, when missing; `npm ci` when node_modules is missing), then
# runs the given node command here. Used by CTest (see CMakeLists.txt).
#
# Usage: tests/deploy/run-node-check.sh install        install only
#        tests/deploy/run-node-check.sh <node args...>  e.g. validate-manifests.mjs <repo>
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

command -v node >/dev/null 2>&1 || { echo "run-node-check: node is not installed" >&2; exit 1; }
if ! command -v kubectl >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "run-node-check: kubectl is not installed (run as root to install it with apt)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get update -qq
  timeout 300 apt-get install -y -qq kubectl >/dev/null ||
    { echo "run-node-check: cannot install kubectl with apt" >&2; exit 1; }
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  timeout 600 npm ci --no-audit --no-fund --loglevel=error
fi

[ "${1:-}" = install ] && exit 0
exec node "$@"
