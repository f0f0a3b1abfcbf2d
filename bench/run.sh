#!/usr/bin/env bash
# Runs every strata benchmark and ends with a summary block: one headline figure per line,
#   <name> <value> <unit>
# Builds a Release tree first when needed (in build-bench/, or $STRATA_BENCH_BUILD_DIR), with
# $STRATA_BENCH_JOBS compile jobs (default 2). Arguments go to every benchmark binary, e.g.
#   bench/run.sh --benchmark_filter=strata/b100
# A new benchmark needs no change here: every bench_* binary that bench/CMakeLists.txt builds is run,
# and the "summary: ..." lines it prints (bench_summary.h) are collected.
#   bench/run.sh --peers    also runs bench/peers.sh (strata beside PostgreSQL and NATS JetStream)
set -euo pipefail

peers=0
args=()
for a in "$@"; do
  if [[ $a == --peers ]]; then peers=1; else args+=("$a"); fi
done
set -- ${args[@]+"${args[@]}"}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${STRATA_BENCH_BUILD_DIR:-$root/build-bench}
jobs=${STRATA_BENCH_JOBS:-2}

# Configure unless a previous configure finished (it writes the generator's build file last): a configure
# that failed, for example before the dependencies were installed, leaves a cache but no build file.
if [[ ! -f $build/build.ninja && ! -f $build/Makefile ]]; then
  generator=()
  if command -v ninja >/dev/null; then generator=(-G Ninja); fi
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DSTRATA_BUILD_BENCHMARKS=ON -DSTRATA_BUILD_TESTS=OFF -DSTRATA_BUILD_SAMPLES=OFF -DSTRATA_INSTALL=OFF
fi
cmake --build "$build" --parallel "$jobs"

logs=$(mktemp -d)
# The messaging benchmark runs over a 3-node NATS JetStream cluster on loopback, started here and
# stopped on exit (by pid); without nats-server it skips itself.
nats_dir=$build/nats-cluster
# bench_pgstore runs against a throw-away PostgreSQL cluster on loopback, also started here and stopped
# on exit (by pid); without PostgreSQL's server it skips itself.
pg_dir=$build/pg-cluster
cleanup() {
  "$root/scripts/nats.sh" stop "$nats_dir" >/dev/null 2>&1 || true
  "$root/scripts/postgres.sh" stop "$pg_dir" >/dev/null 2>&1 || true
  rm -rf "$logs"
}
trap cleanup EXIT
if command -v nats-server >/dev/null; then
  STRATA_NATS_URLS=$("$root/scripts/nats.sh" start "$nats_dir" --nodes 3)
  export STRATA_NATS_URLS
fi
if [[ -x /usr/lib/postgresql/15/bin/postgres ]]; then
  STRATA_PG_URL=$("$root/scripts/postgres.sh" start "$pg_dir")
  export STRATA_PG_URL
fi
shopt -s nullglob
binaries=("$build"/bench/bench_*)
if [[ ${#binaries[@]} -eq 0 ]]; then
  echo "run.sh: no bench_* binaries in $build/bench" >&2
  exit 1
fi
failed=()
for binary in "${binaries[@]}"; do
  [[ -x $binary ]] || continue
  name=$(basename "$binary")
  echo "== $name"
  # A failing benchmark is reported at the end; the others still run and are summarised.
  if ! "$binary" "$@" 2>&1 | tee "$logs/$name.log"; then failed+=("$name"); fi
  echo
done
if [[ $peers -eq 1 ]]; then
  if ! "$root/bench/peers.sh" 2>&1 | tee "$logs/peers.log"; then failed+=(peers); fi
  echo
fi

echo "== summary (targets: append_batch100_vs_raw >= 0.75, durable_16w_vs_1w >= 8, replay_vs_raw >= 0.8, snapshot_load_vs_raw_get <= 2, load_100_vs_raw <= 1.5, catchup_vs_raw >= 0.6, catchup_2p_vs_1p >= 1.6; metrics_overhead_pct < 2, next to its noise metrics_overhead_noise_pct; pg_append_16w_vs_raw_sql >= 0.7, pg_replay_vs_raw_sql >= 0.7; with --peers: vs_pg_durable_16w >= 4)"
for binary in "${binaries[@]}"; do
  grep -ho 'summary: .*' "$logs/$(basename "$binary").log" | sed 's/^summary: //' || true
done
if [[ $peers -eq 1 ]]; then grep -ho 'summary: .*' "$logs/peers.log" | sed 's/^summary: //' || true; fi
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "run.sh: failed: ${failed[*]}" >&2
  exit 1
fi
