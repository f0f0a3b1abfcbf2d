#!/usr/bin/env bash
# Installs what is missing, builds, and runs the bank demo on the embedded RocksDB store in data/bank.
# Run it twice: the second run finds the account the first one saved.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${STRATA_BUILD_DIR:-$root/build}"
"$root/scripts/install-deps.sh"
"$root/scripts/configure.sh"
cmake --build "$build" --target bank_demo -- -j"$(nproc)"
cd "$root"
exec "$build/samples/bank/bank_demo" --data "${STRATA_DEMO_DATA:-data/bank}"
