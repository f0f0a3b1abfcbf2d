#!/usr/bin/env bash
# Builds strata's libFuzzer targets (tests/fuzz) with clang in build-fuzz/ (configured once; STRATA_FUZZ=ON
# builds nothing else) and runs each for N seconds, one after another, on a copy of its seed corpus
# (build-fuzz/fuzz-runs/<target>/; the committed corpus is never modified). Prints one line per target,
#   fuzz <target> <runs> runs <seconds> s <crashes> crashes
# and exits non-zero when any target found a crash, leak, undefined behaviour or timeout, after printing
# the end of its report and the path of the reproducer (run it again with build-fuzz/tests/fuzz/fuzz_<target>
# <reproducer>).
#
#   scripts/fuzz.sh [--seconds N] [TARGET...]        # default: 60 s each, every target
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${STRATA_FUZZ_BUILD_DIR:-$root/build-fuzz}"
corpora="$root/tests/fuzz/corpus"
seconds=60
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --seconds=*) seconds="${1#--seconds=}"; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  for dir in "$corpora"/*/; do targets+=("$(basename "$dir")"); done
fi
for t in "${targets[@]}"; do
  [ -d "$corpora/$t" ] || { echo "no fuzz target $t (targets: $(ls "$corpora" | tr '\n' ' '))" >&2; exit 2; }
done
command -v clang++ >/dev/null || { echo "fuzzing needs clang and libclang-rt-14-dev (scripts/install-deps.sh)" >&2; exit 2; }

if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_FUZZ=ON >/dev/null
fi
if ! cmake --build "$build" --target "${targets[@]/#/fuzz_}" -- -j"$(nproc)" >"$build/fuzz-build.log" 2>&1; then
  cat "$build/fuzz-build.log"
  echo "building the fuzz targets failed" >&2
  exit 1
fi

# Undefined behaviour aborts (-fno-sanitize-recover); print where it happened.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
failed=()
for t in "${targets[@]}"; do
  work="$build/fuzz-runs/$t"
  rm -rf "$work"
  mkdir -p "$work/corpus"
  cp "$corpora/$t"/* "$work/corpus/"
  start=$(date +%s)
  rc=0
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=25 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/corpus" >"$work/log" 2>&1 || rc=$?
  elapsed=$(($(date +%s) - start))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  artifacts=$(find "$work" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) | sort)
  crashes=$(printf '%s' "$artifacts" | grep -c . || true)
  if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi
  echo "fuzz $t ${runs:-0} runs $elapsed s $crashes crashes"
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    echo "---- $t: libFuzzer exited with $rc; the end of $work/log:"
    tail -n 60 "$work/log"
    for a in $artifacts; do echo "reproducer: $a  (run: $build/tests/fuzz/fuzz_$t $a)"; done
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found problems in: ${failed[*]}" >&2
  exit 1
fi
