#!/usr/bin/env bash
# Starts a head and N workers on this machine, or stops them.
#
#   scripts/local-cluster.sh start [N] [DIR]   # default N=2, DIR=./doreisa-local
#   scripts/local-cluster.sh stop [DIR]
#
# The cluster file is DIR/cluster.json: point drivers at it with
#   DOREISA_CLUSTER_FILE=DIR/cluster.json  (or --cluster-file DIR/cluster.json).
# Logs are DIR/head.log and DIR/worker-I.log; process ids are in DIR/pids.
# Set DOREISA_BIN to use another binary (default: target/release/doreisa-rs, built
# if missing).
set -euo pipefail

cmd=${1:-}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${DOREISA_BIN:-$root/target/release/doreisa-rs}

start() {
  local n=${1:-2} dir=${2:-./doreisa-local}
  mkdir -p "$dir"
  if [ -s "$dir/pids" ]; then
    echo "a cluster seems to run from $dir (stop it first)" >&2
    exit 1
  fi
  if [ ! -x "$bin" ]; then
    (cd "$root" && cargo build --release --bin doreisa-rs)
  fi
  rm -f "$dir/cluster.json"
  "$bin" head --listen 127.0.0.1:0 --cluster-file "$dir/cluster.json" >"$dir/head.log" 2>&1 &
  echo $! >>"$dir/pids"
  for _ in $(seq 100); do [ -s "$dir/cluster.json" ] && break; sleep 0.1; done
  if [ ! -s "$dir/cluster.json" ]; then
    echo "the head did not start: see $dir/head.log" >&2
    stop "$dir"
    exit 1
  fi
  for i in $(seq 0 $((n - 1))); do
    "$bin" worker --cluster-file "$dir/cluster.json" --listen 127.0.0.1:0 >"$dir/worker-$i.log" 2>&1 &
    echo $! >>"$dir/pids"
  done
  sleep 1
  "$bin" status --cluster-file "$dir/cluster.json"
  echo "cluster file: $dir/cluster.json"
}

stop() {
  local dir=${1:-./doreisa-local}
  [ -f "$dir/pids" ] || { echo "no cluster in $dir"; return 0; }
  # Workers first (they leave), then the head.
  tac "$dir/pids" | while read -r pid; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    alive=0
    while read -r pid; do kill -0 "$pid" 2>/dev/null && alive=1; done <"$dir/pids"
    [ $alive = 0 ] && break
    sleep 0.1
  done
  while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done <"$dir/pids"
  rm -f "$dir/pids" "$dir/cluster.json"
  echo "stopped"
}

case "$cmd" in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
