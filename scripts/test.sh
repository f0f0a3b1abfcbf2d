#!/usr/bin/env bash
# Installs what is missing, builds everything with warnings as errors, and runs the whole test suite
# through CTest (the fast tests and the `slow` crash tests).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${STRATA_BUILD_DIR:-$root/build}"
"$root/scripts/install-deps.sh"
"$root/scripts/configure.sh"
cmake --build "$build" -- -j"$(nproc)"
cd "$build"
exec ctest --output-on-failure --timeout 900 -j"$(nproc)" "$@"
