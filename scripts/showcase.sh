#!/usr/bin/env bash
# The streaming showcase across processes: a 3-node NATS JetStream cluster on loopback, and the three
# services — contracts, payments, catalog — each in its own process on its own durable RocksDB store.
# contracts drives the four deals; once every deal has ended and the services are quiet, all are stopped
# and the report reads the three stores: each deal's timeline across them, its verdict, the read models,
# and the trace of the deal whose payment came too late.
#
#   scripts/showcase.sh [DIR]     DIR (default: $STRATA_BUILD_DIR/showcase) is emptied first; it keeps the
#                                 stores, the cluster and the services' logs afterwards, for
#                                 `streaming report DIR/data` and `streaming trace DIR/data deal-trilogy`.
#
# Exits with the report's status: 0 when every deal ended as it must.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${STRATA_BUILD_DIR:-$root/build}"
work="$(realpath -m "${1:-$build/showcase}")"
bin="$build/samples/streaming/streaming"
prefix=showcase

# What a fresh clone lacks: the packages (nats-server among them), the build directory, the program.
"$root/scripts/install-deps.sh"
"$root/scripts/configure.sh" >/dev/null
cmake --build "$build" --target streaming_showcase -- -j"$(nproc)" >/dev/null
rm -rf "$work"
mkdir -p "$work/data"

declare -A pids=()
stop_services() {
  for service in "${!pids[@]}"; do kill -TERM "${pids[$service]}" 2>/dev/null || true; done
  for service in "${!pids[@]}"; do wait "${pids[$service]}" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_services
  "$root/scripts/nats.sh" stop "$work/nats" || true
}
trap cleanup EXIT

# Waits up to $2 seconds for file $1, failing early when a service has exited.
wait_for_file() {
  for _ in $(seq 1 $(($2 * 10))); do
    [[ -e $1 ]] && return 0
    for service in "${!pids[@]}"; do
      if ! kill -0 "${pids[$service]}" 2>/dev/null; then
        echo "showcase: $service exited; its log:" >&2
        tail -20 "$work/$service.log" >&2
        return 1
      fi
    done
    sleep 0.1
  done
  echo "showcase: no $1 after $2 s" >&2
  return 1
}

# The services' store heads, as they report them every 200 ms.
heads() { cat "$work/data/contracts.head" "$work/data/payments.head" "$work/data/catalog.head" 2>/dev/null | tr '\n' ' '; }

echo "starting a 3-node NATS JetStream cluster in $work/nats"
urls=$("$root/scripts/nats.sh" start "$work/nats" --nodes 3)
echo "  $urls"

start_service() {
  "$bin" "$1" "$work/data" "$urls" "$prefix" >"$work/$1.log" 2>&1 &
  pids[$1]=$!
  echo "started $1 (pid ${pids[$1]}), store $work/data/$1, log $work/$1.log"
}
start_service catalog
start_service payments
wait_for_file "$work/data/catalog.ready" 30
wait_for_file "$work/data/payments.ready" 30
start_service contracts

echo "contracts drives the four deals:"
wait_for_file "$work/data/contracts.done" 180
sed -n 's/^deal-/  deal-/p' "$work/contracts.log"

# Every deal has ended in contracts; what the others still do (hiding titles) ends within moments. The
# services are quiet when no store has grown for a second.
last="" stable=0
for _ in $(seq 1 300); do
  now=$(heads)
  if [[ $now == "$last" ]]; then stable=$((stable + 1)); else stable=0; fi
  last=$now
  [[ $stable -ge 5 ]] && break
  sleep 0.2
done
echo "the services are quiet (store heads: $last); stopping them"
stop_services
sed -n 's/^payments: /  payments: /p' "$work/payments.log"

status=0
"$bin" report "$work/data" || status=$?
"$bin" trace "$work/data" deal-glass || status=$?
echo
echo "stores, cluster and logs are in $work"
exit $status
