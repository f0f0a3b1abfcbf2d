#!/usr/bin/env bash
# Starts and stops a throw-away NATS JetStream server or cluster on 127.0.0.1 (Debian's nats-server),
# for strata's messaging tests, benchmarks and samples.
#
#   scripts/nats.sh start DIR [--nodes 1|3]   start 1 node or a 3-node cluster, on free ports; waits until
#                                             every node answers /healthz; prints the client URLs
#   scripts/nats.sh stop DIR                  stop every node (SIGTERM by pid, SIGKILL after 10 s)
#   scripts/nats.sh kill DIR NODE             kill -9 one node (1-based), as a crash would
#   scripts/nats.sh term DIR NODE             stop one node gracefully (SIGTERM), as an operator would
#   scripts/nats.sh restart DIR NODE          start that node again, with its data, and wait for it
#   scripts/nats.sh heal DIR                  start every node that is not running, then wait for all
#   scripts/nats.sh url DIR                   the client URLs, comma-separated
#
# DIR holds everything: node<N>.conf, node<N>.pid, node<N>.log, data/node<N>/, urls. Ports are chosen
# free at start, so two runs (two CI jobs, two checkouts) never collide; a node keeps its ports across
# kill and restart. Nothing is left running after `stop`.
set -euo pipefail

usage() {
  sed -n '2,14p' "$0" >&2
  exit 2
}

[[ $# -ge 2 ]] || usage
cmd=$1
dir=$2
shift 2

# Whether something listens on 127.0.0.1:$1.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Ports below the kernel's range for outgoing connections: a port in that range can be bound as the
# local end of some client's connection between the check below and the server's bind ("Address
# already in use"), which the check cannot see, since nothing listens on it.
ephemeral_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
if ! [[ $ephemeral_low =~ ^[0-9]+$ ]] || ((ephemeral_low <= 11000)); then ephemeral_low=32768; fi
# A free port, not among those already taken by this start.
taken=" "
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((10000 + RANDOM % (ephemeral_low - 10000)))
    if [[ $taken != *" $p "* ]] && ! port_busy "$p"; then
      taken+="$p "
      echo "$p"
      return 0
    fi
  done
  echo "nats.sh: no free port found" >&2
  return 1
}

# GET http://127.0.0.1:$1$2 with bash alone (no curl on a bare machine); prints the body.
http_get() {
  local port=$1 path=$2
  exec 4<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$path" >&4
  local body
  body=$(timeout 2 cat <&4 || true)
  exec 4>&-
  printf '%s' "${body#*$'\r\n\r\n'}"
}

# Waits until node $1 answers /healthz?js-server-only=true with ok (its JetStream is up and in the
# cluster), for at most $2 seconds. Not every stream and consumer replica on it: after a restart of the
# whole cluster, nats-server 2.9 can keep one follower replica "not current" for minutes while its
# group has a leader elsewhere and works, and clients wait for what they need themselves.
wait_healthy() {
  local node=$1 limit=$2 http
  http=$(sed -n 's/^http: 127.0.0.1:\([0-9]*\)$/\1/p' "$dir/node$node.conf")
  for _ in $(seq 1 $((limit * 10))); do
    if http_get "$http" '/healthz?js-server-only=true' 2>/dev/null | grep -q '"ok"'; then return 0; fi
    if ! node_alive "$node"; then
      echo "nats.sh: node $node exited; its log:" >&2
      tail -20 "$dir/node$node.log" >&2 || true
      return 1
    fi
    sleep 0.1
  done
  echo "nats.sh: node $node not healthy after ${limit}s; its log:" >&2
  tail -20 "$dir/node$node.log" >&2 || true
  return 1
}

node_pid() { cat "$dir/node$1.pid" 2>/dev/null || true; }
node_alive() {
  local pid
  pid=$(node_pid "$1")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

start_node() {
  local node=$1
  rm -f "$dir/node$node.pid"
  nats-server -c "$dir/node$node.conf" >>"$dir/node$node.log" 2>&1 &
  echo $! >"$dir/node$node.pid"
}

nodes_in() { ls "$dir"/node*.conf 2>/dev/null | wc -l; }

case $cmd in
  start)
    nodes=1
    if [[ ${1:-} == --nodes ]]; then nodes=${2:?}; fi
    [[ $nodes == 1 || $nodes == 3 ]] || { echo "nats.sh: --nodes must be 1 or 3" >&2; exit 2; }
    command -v nats-server >/dev/null || { echo "nats.sh: nats-server is not installed (scripts/install-deps.sh)" >&2; exit 1; }
    if [[ -d $dir ]] && [[ $(nodes_in) -gt 0 ]]; then "$0" stop "$dir" || true; fi
    rm -rf "$dir"
    mkdir -p "$dir/data"
    declare -a client cluster http
    for n in $(seq 1 "$nodes"); do
      client[$n]=$(free_port)
      cluster[$n]=$(free_port)
      http[$n]=$(free_port)
    done
    urls=""
    for n in $(seq 1 "$nodes"); do
      {
        echo "server_name: strata-n$n"
        echo "listen: 127.0.0.1:${client[$n]}"
        echo "http: 127.0.0.1:${http[$n]}"
        echo "jetstream {"
        echo "  store_dir: \"$dir/data/node$n\""
        echo "  max_memory_store: 268435456"
        echo "  max_file_store: 8589934592"
        echo "}"
        if [[ $nodes -gt 1 ]]; then
          echo "cluster {"
          echo "  name: strata"
          echo "  listen: 127.0.0.1:${cluster[$n]}"
          echo "  routes: ["
          for m in $(seq 1 "$nodes"); do
            [[ $m == "$n" ]] || echo "    nats-route://127.0.0.1:${cluster[$m]}"
          done
          echo "  ]"
          echo "}"
        fi
      } >"$dir/node$n.conf"
      urls+="${urls:+,}nats://127.0.0.1:${client[$n]}"
    done
    echo "$urls" >"$dir/urls"
    for n in $(seq 1 "$nodes"); do start_node "$n"; done
    for n in $(seq 1 "$nodes"); do
      wait_healthy "$n" 30 || { "$0" stop "$dir" || true; exit 1; }
    done
    echo "$urls"
    ;;
  stop)
    [[ -d $dir ]] || exit 0
    for conf in "$dir"/node*.conf; do
      [[ -e $conf ]] || continue
      n=${conf##*/node}
      n=${n%.conf}
      pid=$(node_pid "$n")
      [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null || true
    done
    for conf in "$dir"/node*.conf; do
      [[ -e $conf ]] || continue
      n=${conf##*/node}
      n=${n%.conf}
      pid=$(node_pid "$n")
      [[ -n $pid ]] || continue
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
      rm -f "$dir/node$n.pid"
    done
    ;;
  kill)
    node=${1:?node number}
    pid=$(node_pid "$node")
    [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$dir/node$node.pid"
    ;;
  term)
    node=${1:?node number}
    pid=$(node_pid "$node")
    [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$dir/node$node.pid"
    ;;
  restart)
    node=${1:?node number}
    [[ -f $dir/node$node.conf ]] || { echo "nats.sh: no node $node in $dir" >&2; exit 1; }
    if node_alive "$node"; then exit 0; fi
    start_node "$node"
    wait_healthy "$node" 30
    ;;
  heal)
    # All at once: a cluster that lost its quorum elects a meta leader only when enough nodes are back.
    for conf in "$dir"/node*.conf; do
      n=${conf##*/node}
      n=${n%.conf}
      node_alive "$n" || start_node "$n"
    done
    for conf in "$dir"/node*.conf; do
      n=${conf##*/node}
      n=${n%.conf}
      wait_healthy "$n" 60
    done
    ;;
  url)
    cat "$dir/urls"
    ;;
  *)
    usage
    ;;
esac
