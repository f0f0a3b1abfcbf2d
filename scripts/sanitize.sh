#!/usr/bin/env bash
# Builds the tests with a sanitizer, in a build directory of its own, and runs a selection of them.
#
#   scripts/sanitize.sh address   AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/): every fast
#                                 test of core, the event store (damage included) and projections
#   scripts/sanitize.sh thread    ThreadSanitizer (build-tsan/, one binary of only these suites: strata_tsan_tests
#                                 in tests/CMakeLists.txt): the tests of concurrent appenders, group
#                                 commit, read-only instances and backups beside a writer, the projector
#                                 (catch-up, live, rebuilds, parking, partitions) and the in-memory store
# Both also run the PostgreSQL store's tests (group commit, the notification thread, pooled
# connections) against a throw-away cluster of their own (scripts/postgres.sh), stopped on the way out.
#
# The build directory is configured once (samples, benchmarks and installation off; line tables, which
# keep reports readable; -O1 for TSan, -O0 for ASan, see below) and reused; STRATA_SANITIZE_DIR overrides
# where it is. Exits non-zero when a test fails or a sanitizer reports anything.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
kind=${1:-}
case $kind in
  address)
    dir=${STRATA_SANITIZE_DIR:-$root/build-asan}
    flags=(-DSTRATA_SANITIZE=ON)
    # -O0: with UBSan's checks, GCC 12 at -O1 takes minutes on some test files (its points-to analysis
    # on the instrumented test functions), 30 s at -O0; the tests take longer to run, much less in all.
    opt=-O0
    targets=(strata_core_tests strata_eventstore_tests strata_eventstore_damage_tests strata_projections_tests
             strata_crash_writer strata_pgstore_tests)
    ;;
  thread)
    dir=${STRATA_SANITIZE_DIR:-$root/build-tsan}
    flags=(-DSTRATA_TSAN=ON)
    opt=-O1
    targets=(strata_tsan_tests strata_pgstore_tests)
    ;;
  *)
    sed -n '2,12p' "$0" >&2
    exit 2
    ;;
esac

if [[ ! -f $dir/build.ninja ]] || ! grep -qx "CMAKE_CXX_FLAGS_RELWITHDEBINFO:STRING=$opt -g1 -DNDEBUG" "$dir/CMakeCache.txt"; then
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_WERROR=ON \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$opt -g1 -DNDEBUG" \
    -DSTRATA_BUILD_SAMPLES=OFF -DSTRATA_BUILD_BENCHMARKS=OFF -DSTRATA_INSTALL=OFF "${flags[@]}" >/dev/null
fi
if ! cmake --build "$dir" --target "${targets[@]}" -- -j"$(nproc)" >"$dir/sanitize-build.log" 2>&1; then
  tail -n 80 "$dir/sanitize-build.log"
  echo "building the $kind-sanitized tests failed" >&2
  exit 1
fi

# Any report fails the test that caused it (leaks too, by AddressSanitizer's leak checker).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$root/tests/tsan.supp}
cd "$dir"
# The PostgreSQL store's tests, against a cluster of this run's own (stopped by pid on the way out).
pg_dir=$dir/pg-cluster
pg_tests() {
  trap '"$root/scripts/postgres.sh" stop "$pg_dir" >/dev/null 2>&1 || true' EXIT
  "$root/scripts/postgres.sh" start "$pg_dir" >/dev/null
  echo "== tests/pgstore/strata_pgstore_tests"
  STRATA_PG_DIR=$pg_dir tests/pgstore/strata_pgstore_tests --no-intro=true --duration=false
}
if [[ $kind == address ]]; then
  status=0
  pg_tests || status=1
  # Only the suites built above: the README examples, header, install, compile-failure and sample tests
  # are left out, and doctest registers a binary's tests once it is built.
  ctest --output-on-failure --timeout 900 -j"$(nproc)" -L fast \
    -E "NOT_BUILT|^(readme|headers|install|compile_fail|samples)\." || status=1
  exit $status
fi
status=0
run() {
  echo "== $*"
  "$@" --no-intro=true --duration=false || status=1
}
run tests/strata_tsan_tests
pg_tests || status=1
exit $status
