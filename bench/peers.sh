#!/usr/bin/env bash
# strata beside PostgreSQL and NATS JetStream, in one run on this machine (bench/peers_bench.cc says
# what is measured). Installs what is missing (Debian's postgresql and nats-server among it), builds
# the Release tree of bench/run.sh, starts a throw-away PostgreSQL cluster and a 1-node and a 3-node
# JetStream cluster on 127.0.0.1, runs the comparison, and stops every server by pid on the way out.
# Prints a side-by-side table and summary lines (vs_pg_*, vs_js_*). Called by `bench/run.sh --peers`.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${STRATA_BENCH_BUILD_DIR:-$root/build-bench}
jobs=${STRATA_BENCH_JOBS:-2}

"$root/scripts/install-deps.sh"
if [[ ! -f $build/build.ninja && ! -f $build/Makefile ]]; then
  generator=()
  if command -v ninja >/dev/null; then generator=(-G Ninja); fi
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DSTRATA_BUILD_BENCHMARKS=ON -DSTRATA_BUILD_TESTS=OFF -DSTRATA_BUILD_SAMPLES=OFF -DSTRATA_INSTALL=OFF
fi
cmake --build "$build" --parallel "$jobs" --target strata_peers_bench

pg_dir=$build/peers-pg
r1_dir=$build/peers-nats-r1
r3_dir=$build/peers-nats-r3
cleanup() {
  "$root/scripts/postgres.sh" stop "$pg_dir" >/dev/null 2>&1 || true
  "$root/scripts/nats.sh" stop "$r1_dir" >/dev/null 2>&1 || true
  "$root/scripts/nats.sh" stop "$r3_dir" >/dev/null 2>&1 || true
}
trap cleanup EXIT
STRATA_PG_URL=$("$root/scripts/postgres.sh" start "$pg_dir")
STRATA_NATS_R1=$("$root/scripts/nats.sh" start "$r1_dir" --nodes 1)
STRATA_NATS_R3=$("$root/scripts/nats.sh" start "$r3_dir" --nodes 3)
export STRATA_PG_URL STRATA_NATS_R1 STRATA_NATS_R3
echo "== strata_peers_bench ($(date -u +%Y-%m-%d), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
"$build/bench/strata_peers_bench"
