#!/usr/bin/env bash
# Configures the build directory (build/ unless STRATA_BUILD_DIR says otherwise) once; later calls reuse it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${STRATA_BUILD_DIR:-$root/build}"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_WERROR=ON "$@"
fi
