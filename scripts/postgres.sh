#!/usr/bin/env bash
# Starts and stops a throw-away PostgreSQL 15 cluster on 127.0.0.1 (Debian's postgresql-15), for
# strata's PostgreSQL tests and benchmarks.
#
#   scripts/postgres.sh start DIR     initdb into DIR/data (first time only), start it on a free port,
#                                     wait until pg_isready answers, create database strata; prints the URL
#   scripts/postgres.sh stop DIR      fast shutdown (SIGINT to the postmaster), SIGKILL after 20 s
#   scripts/postgres.sh kill DIR      crash it: pg_ctl stop -m immediate (no checkpoint; recovery on restart)
#   scripts/postgres.sh restart DIR   start it again on the same port, with its data, and wait for it
#   scripts/postgres.sh url DIR       the libpq URI, postgresql://strata@127.0.0.1:PORT/strata
#   scripts/postgres.sh destroy DIR   stop, then remove DIR (and its data)
#
# DIR holds url, port, pid (the postmaster's), datadir (path of the data directory), server.log, and
# normally data/ and the server's unix socket. Auth is trust; the superuser is strata. fsync and
# synchronous_commit are on, so durability tests mean something. `start` on a running DIR says so and
# prints the URL; on a stopped DIR it starts the existing data (on its old port when that is still free).
#
# As root (CI), the server runs as the `postgres` user (or a system user strata-pg, created when missing),
# since PostgreSQL refuses to run as root. DIR is chowned to that user; when that user cannot reach DIR
# (a parent directory it may not traverse), data, socket and log go to a mktemp -d under /tmp instead,
# DIR/datadir points there and DIR/server.log is a symlink; destroy removes that too.
set -euo pipefail

usage() {
  sed -n '2,11p' "$0" >&2
  exit 2
}

[[ $# -eq 2 ]] || usage
cmd=$1
dir=$(realpath -m "$2")

bindir=""
if command -v pg_config >/dev/null 2>&1; then bindir=$(pg_config --bindir 2>/dev/null || true); fi
[[ -x $bindir/pg_ctl && -x $bindir/initdb ]] || bindir=/usr/lib/postgresql/15/bin
[[ -x $bindir/pg_ctl ]] || { echo "postgres.sh: PostgreSQL 15 is not installed (scripts/install-deps.sh)" >&2; exit 1; }

# The user the server runs as: empty means ourselves (not root).
pg_user=""
if [[ $(id -u) == 0 ]]; then
  if id postgres >/dev/null 2>&1; then
    pg_user=postgres
  else
    id strata-pg >/dev/null 2>&1 ||
      useradd --system --no-create-home --home-dir / --shell /usr/sbin/nologin strata-pg
    pg_user=strata-pg
  fi
fi

# Runs a command as the server's user, from / (root's working directory may be closed to it).
as_pg() {
  if [[ -n $pg_user ]]; then
    (cd / && runuser -u "$pg_user" -- "$@")
  else
    "$@"
  fi
}

# Whether something listens on 127.0.0.1:$1.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Ports below the kernel's range for outgoing connections: a port in that range can be bound as the
# local end of some client's connection between the check below and the server's bind ("Address
# already in use"), which the check cannot see, since nothing listens on it.
ephemeral_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
if ! [[ $ephemeral_low =~ ^[0-9]+$ ]] || ((ephemeral_low <= 11000)); then ephemeral_low=32768; fi
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((10000 + RANDOM % (ephemeral_low - 10000)))
    if ! port_busy "$p"; then
      echo "$p"
      return 0
    fi
  done
  echo "postgres.sh: no free port found" >&2
  return 1
}

# Whether process $1 exists and is not a zombie (one waiting for init to reap it is gone for us).
alive() {
  local stat
  stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $stat != Z* ]]
}

datadir() { cat "$dir/datadir" 2>/dev/null || echo "$dir/data"; }
# The server log, beside the data directory (DIR/server.log, or the target of that symlink).
logfile() { local data; data=$(datadir); echo "${data%/data}/server.log"; }

# The postmaster's pid, when one runs for this data directory (checked against its command line, so a
# stale pid file never makes us signal an unrelated process).
running_pid() {
  local data pid
  data=$(datadir)
  pid=$(head -1 "$data/postmaster.pid" 2>/dev/null || cat "$dir/pid" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-D $data" || return 1
  echo "$pid"
}

log_tail() {
  echo "postgres.sh: $1; the server log:" >&2
  tail -30 "$(logfile)" >&2 2>/dev/null || true
}

# Starts the initialized cluster on $(cat DIR/port) and waits at most $1 seconds until it accepts
# connections (a restart after a crash runs recovery first).
start_server() {
  local limit=$1 data port
  data=$(datadir)
  port=$(cat "$dir/port")
  if port_busy "$port"; then
    echo "postgres.sh: port $port is taken by another process" >&2
    return 1
  fi
  rm -f "$dir/pid"
  if ! as_pg "$bindir/pg_ctl" -D "$data" -l "$(logfile)" -w -t "$limit" start >/dev/null; then
    log_tail "the server did not start"
    "$0" stop "$dir" >/dev/null 2>&1 || true
    return 1
  fi
  for _ in $(seq 1 $((limit * 10))); do
    if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U strata -d postgres; then
      head -1 "$data/postmaster.pid" >"$dir/pid"
      return 0
    fi
    sleep 0.1
  done
  log_tail "no answer on 127.0.0.1:$port after ${limit}s"
  "$0" stop "$dir" >/dev/null 2>&1 || true
  return 1
}

psql_admin() {
  "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(cat "$dir/port")" -U strata -d postgres "$@"
}

case $cmd in
  start)
    if running_pid >/dev/null; then
      echo "postgres.sh: already running in $dir" >&2
      cat "$dir/url"
      exit 0
    fi
    mkdir -p "$dir"
    if [[ ! -f $(datadir)/PG_VERSION ]]; then
      # First start (or a failed one): place the data directory and initdb it.
      old=$(datadir)
      [[ $old == /tmp/strata-pg.* ]] && rm -rf "${old%/data}"
      rm -rf "$dir/data" "$dir/datadir"
      rundir=$dir
      if [[ -n $pg_user ]]; then
        chown -R "$pg_user:" "$dir"
        if ! as_pg test -w "$dir" -a -x "$dir"; then
          rundir=$(mktemp -d /tmp/strata-pg.XXXXXX)
          chown "$pg_user:" "$rundir"
          ln -sfn "$rundir/server.log" "$dir/server.log"
        fi
      fi
      data=$rundir/data
      echo "$data" >"$dir/datadir"
      if ! as_pg "$bindir/initdb" -D "$data" -U strata --auth=trust --encoding=UTF8 --locale=C --no-sync \
        >"$rundir/initdb.log" 2>&1; then
        cat "$rundir/initdb.log" >&2
        exit 1
      fi
      {
        echo "# written by scripts/postgres.sh"
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = '$rundir'"
        echo "fsync = on"
        echo "synchronous_commit = on"
        echo "max_connections = 200"
        echo "shared_buffers = 128MB"
        echo "logging_collector = off"
        echo "include_if_exists = 'strata-port.conf'"
      } | as_pg tee -a "$data/postgresql.conf" >/dev/null
    fi
    data=$(datadir)
    port=$(cat "$dir/port" 2>/dev/null || true)
    # Another process may still bind the port first: then the server is started on another one.
    for attempt in 1 2 3; do
      if [[ -z $port ]] || port_busy "$port" || ((attempt > 1)); then port=$(free_port); fi
      echo "port = $port" | as_pg tee "$data/strata-port.conf" >/dev/null
      echo "$port" >"$dir/port"
      url="postgresql://strata@127.0.0.1:$port/strata"
      echo "$url" >"$dir/url"
      if start_server 30; then break; fi
      if ((attempt == 3)) || ! grep -q "Address already in use" "$(logfile)" 2>/dev/null; then exit 1; fi
      echo "postgres.sh: port $port was taken as the server started; trying another" >&2
    done
    if [[ -z $(psql_admin -tA -c "select 1 from pg_database where datname = 'strata'") ]]; then
      psql_admin -c "create database strata"
    fi
    echo "$url"
    ;;
  stop)
    pid=$(running_pid) || exit 0
    kids=$(pgrep -P "$pid" || true)
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 200); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
      echo "postgres.sh: no fast shutdown after 20 s; killing it" >&2
      kids="$kids $(pgrep -P "$pid" || true)"
      # shellcheck disable=SC2086 # a list of pids
      kill -KILL "$pid" $kids 2>/dev/null || true
      for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
    fi
    rm -f "$dir/pid"
    ;;
  kill)
    running_pid >/dev/null || exit 0
    as_pg "$bindir/pg_ctl" -D "$(datadir)" -m immediate -t 20 stop >/dev/null
    rm -f "$dir/pid"
    ;;
  restart)
    [[ -f $(datadir)/PG_VERSION && -f $dir/port ]] || { echo "postgres.sh: no cluster in $dir" >&2; exit 1; }
    if running_pid >/dev/null; then exit 0; fi
    start_server 60
    ;;
  url)
    cat "$dir/url"
    ;;
  destroy)
    "$0" stop "$dir"
    data=$(datadir)
    [[ $data == /tmp/strata-pg.*/data ]] && rm -rf "${data%/data}"
    rm -rf "$dir"
    ;;
  *)
    usage
    ;;
esac
