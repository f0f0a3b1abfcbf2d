#!/usr/bin/env bash
# The chaos run of the streaming showcase: many deal activations across the three services, over a
# 3-node NATS JetStream cluster on loopback, while each service process is killed with SIGKILL and
# started again a few times and one NATS node is killed and started again; the provider mishandles a
# fifth of the charges (declines, timeouts, duplicate, late and pending answers, broken connections).
# Once every saga has ended and no payment waits for the provider, the services are stopped and the
# auditor reads the three stores and prints its table of invariants.
#
#   scripts/showcase-chaos.sh [--deals N] [--kills K] [--seed S] [--rate R] [--bin PATH] [DIR]
#
#   --deals N   deal activations (default 1000)
#   --kills K   SIGKILLs per service (default 2), at random moments two to five seconds apart
#   --seed S    the deals, the provider's behaviours and the kills follow from it (default 1)
#   --rate R    deals opened per second (default 50)
#   --bin PATH  the `streaming` program (default: built in $STRATA_BUILD_DIR, or build/)
#   DIR         emptied first (default: $STRATA_BUILD_DIR/showcase-chaos); keeps the stores, the
#               cluster and the logs afterwards, for `streaming audit DIR/data --deals N --seed S`.
#
# Exits with the auditor's status: 0 when it found no violation; 1 otherwise, or when a service exited
# by itself or the run did not settle in time.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${STRATA_BUILD_DIR:-$root/build}"
deals=1000 kills=2 seed=1 rate=50 bin="" work=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --deals) deals=$2; shift 2 ;;
    --kills) kills=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    -*) sed -n '2,20p' "$0" >&2; exit 2 ;;
    *) work=$1; shift ;;
  esac
done
work="$(realpath -m "${work:-$build/showcase-chaos}")"
if [[ -z $bin ]]; then
  # What a fresh clone lacks: the packages (nats-server among them), the build directory, the program.
  "$root/scripts/install-deps.sh"
  "$root/scripts/configure.sh" >/dev/null
  cmake --build "$build" --target streaming_showcase -- -j"$(nproc)" >/dev/null
  bin="$build/samples/streaming/streaming"
fi
prefix=chaos
RANDOM=$seed
rm -rf "$work"
mkdir -p "$work/data"
began=$SECONDS
say() { printf '%5ds  %s\n' $((SECONDS - began)) "$*"; }

declare -A pids=()
stop_services() {
  for service in "${!pids[@]}"; do kill -TERM "${pids[$service]}" 2>/dev/null || true; done
  for service in "${!pids[@]}"; do wait "${pids[$service]}" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  for service in "${!pids[@]}"; do kill -KILL "${pids[$service]}" 2>/dev/null || true; done
  pids=()
  "$root/scripts/nats.sh" stop "$work/nats" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Fails when a service ended without being told to.
check_alive() {
  for service in "${!pids[@]}"; do
    if ! kill -0 "${pids[$service]}" 2>/dev/null; then
      say "$service exited by itself; the end of its log:" >&2
      tail -20 "$work/$service.log" >&2
      exit 1
    fi
  done
}

# Waits up to $2 seconds for file $1.
wait_for_file() {
  for _ in $(seq 1 $(($2 * 10))); do
    [[ -e $1 ]] && return 0
    check_alive
    sleep 0.1
  done
  say "no $1 after $2 s" >&2
  exit 1
}

start_service() {
  rm -f "$work/data/$1.ready"
  "$bin" "$1" "$work/data" "$urls" "$prefix" --chaos "$deals" --seed "$seed" --rate "$rate" >>"$work/$1.log" 2>&1 &
  pids[$1]=$!
}

say "a 3-node NATS JetStream cluster in $work/nats"
urls=$("$root/scripts/nats.sh" start "$work/nats" --nodes 3)
say "$deals deals (seed $seed, $rate a second), each service killed $kills times, one NATS node killed"
for service in catalog payments; do start_service $service; done
wait_for_file "$work/data/catalog.ready" 60
wait_for_file "$work/data/payments.ready" 60
start_service contracts
wait_for_file "$work/data/contracts.ready" 60
say "the three services run; contracts opens the deals"

# The kills: each service $kills times, in a random order, two to five seconds apart; the NATS node
# half-way through.
victims=()
for _ in $(seq 1 "$kills"); do victims+=(contracts payments catalog); done
for ((i = ${#victims[@]} - 1; i > 0; i--)); do
  j=$((RANDOM % (i + 1)))
  tmp=${victims[i]} victims[i]=${victims[j]} victims[j]=$tmp
done
nats_at=$((${#victims[@]} / 2))
for i in "${!victims[@]}"; do
  sleep "$((2 + RANDOM % 4)).$((RANDOM % 10))"
  check_alive
  if [[ $i -eq $nats_at ]]; then
    node=$((1 + RANDOM % 3))
    "$root/scripts/nats.sh" kill "$work/nats" "$node"
    say "NATS node $node killed (SIGKILL)"
  fi
  victim=${victims[i]}
  kill -KILL "${pids[$victim]}"
  wait "${pids[$victim]}" 2>/dev/null || true
  unset "pids[$victim]"
  say "$victim killed (SIGKILL); the last thing it said: $(tail -1 "$work/$victim.log")"
  sleep "0.$((2 + RANDOM % 8))"
  start_service "$victim"
  wait_for_file "$work/data/$victim.ready" 60
  say "$victim started again"
  if [[ $i -eq $nats_at ]]; then
    "$root/scripts/nats.sh" restart "$work/nats" "$node" >/dev/null
    say "NATS node $node started again"
  fi
done

say "no more kills; waiting for every saga to end"
limit=$((SECONDS + 600))
last_progress=""
until [[ -e $work/data/contracts.done ]]; do
  check_alive
  progress=$(grep -E '^ *[0-9.]+ s: ' "$work/contracts.log" | tail -1 | sed 's/^[^:]*://' || true)
  if [[ -n $progress && $progress != "$last_progress" && $((SECONDS % 10)) -eq 0 ]]; then
    say "contracts:$progress"
    last_progress=$progress
  fi
  if [[ $SECONDS -gt $limit ]]; then
    say "the sagas did not end within 10 minutes" >&2
    exit 1
  fi
  sleep 0.5
done
say "contracts:$(grep -E '^ *[0-9.]+ s: ' "$work/contracts.log" | tail -1 | sed 's/^[^:]*://')"

# Late confirmations come well after the payment window: quiet means no payment pending and no store
# grown for two seconds.
heads() { cat "$work/data/contracts.head" "$work/data/payments.head" "$work/data/catalog.head" 2>/dev/null | tr '\n' ' '; }
last="" stable=0
until [[ $stable -ge 10 ]]; do
  check_alive
  now="$(heads)$(cat "$work/data/payments.status" 2>/dev/null)"
  if [[ $now == "$last" && $now == *"pending 0" ]]; then stable=$((stable + 1)); else stable=0; fi
  last=$now
  if [[ $SECONDS -gt $limit ]]; then
    say "the services did not settle within 10 minutes (payments: $(cat "$work/data/payments.status"))" >&2
    exit 1
  fi
  sleep 0.2
done
say "quiet: no payment pending, no store grown for 2 s; stopping the services"
stop_services
sed -n 's/^payments: the provider/the provider (since the last start of payments)/p' "$work/payments.log"

say "the auditor reads the three stores"
echo
status=0
"$bin" audit "$work/data" --deals "$deals" --seed "$seed" || status=$?
echo
say "stores, cluster and logs are in $work"
exit $status
