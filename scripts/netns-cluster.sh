#!/usr/bin/env bash
# Runs a cluster across network namespaces, one per "host", each with its own address
# on a shared bridge, and runs `doreisa-rs selftest` from a host of its own: the
# multi-host path (no loopback) on one machine. Needs root (ip netns).
#
#   sudo scripts/netns-cluster.sh [WORKERS]     # default 2
#
# Hosts are 10.77.0.1 (head), 10.77.0.2.. (workers), the last one the driver.
# Everything is torn down on exit, whatever happens.
set -euo pipefail

workers=${1:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${DOREISA_BIN:-$root/target/release/doreisa-rs}
[ "$(id -u)" = 0 ] || { echo "needs root (ip netns)" >&2; exit 1; }
[ -x "$bin" ] || (cd "$root" && cargo build --release --bin doreisa-rs)

bridge=br-doreisa
hosts=$((workers + 2))
dir=$(mktemp -d)
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 20); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for i in $(seq 1 $hosts); do ip netns del "doreisa-h$i" 2>/dev/null || true; done
  ip link del "$bridge" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

ip link add "$bridge" type bridge
ip link set "$bridge" up
for i in $(seq 1 $hosts); do
  ns=doreisa-h$i
  ip netns add "$ns"
  ip link add "veth-h$i" type veth peer name eth0 netns "$ns"
  ip link set "veth-h$i" master "$bridge" up
  ip -n "$ns" addr add "10.77.0.$i/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
done

file=$dir/cluster.json
ip netns exec doreisa-h1 "$bin" head --listen 10.77.0.1:7878 --cluster-file "$file" \
  >"$dir/head.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$file" ] && break; sleep 0.1; done
for i in $(seq 2 $((workers + 1))); do
  ip netns exec "doreisa-h$i" "$bin" worker --cluster-file "$file" --listen 0.0.0.0:0 \
    >"$dir/worker-$i.log" 2>&1 &
  pids+=($!)
done
sleep 1
ip netns exec doreisa-h1 "$bin" status --cluster-file "$file"
status=0
ip netns exec "doreisa-h$hosts" "$bin" selftest --cluster-file "$file" || status=$?
if [ $status != 0 ]; then
  for log in "$dir"/*.log; do echo "---- $log"; cat "$log"; done
fi
exit $status
