#!/usr/bin/env bash
# Chaos run of the MPI heat example (examples/heat2d_mpi.rs): a head and WORKERS
# workers on this machine, the analytics in a process of its own, RANKS MPI ranks; every
# EVERY iterations (as the analytics reports them) one worker is killed with kill -9
# and a new one started. Records what every process said, the memory of every process
# once a second, and prints a summary: iterations analysed or failed (with their
# causes), the kills, how long each part ran, memory at the start and the end.
#
#   scripts/chaos-heat2d.sh [in-situ|in-transit] [ITERATIONS] [EVERY]
#   e.g. scripts/chaos-heat2d.sh in-transit 1000 100
#
# Environment: RANKS (4), WORKERS (4), GRID (256), PROFILE (release; debug builds
# faster), LIMIT (seconds the whole run may take, 900), OUT (a directory to keep the
# logs in; a temporary one otherwise, removed unless the run failed).
# Needs MPI and libclang like scripts/heat2d-mpi.sh. Exits non-zero if the run did
# not end within LIMIT, or if a process ended in a way the policy does not allow
# (see the README's reliability section).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-in-situ}
iterations=${2:-1000}
every=${3:-100}
ranks=${RANKS:-4}
workers=${WORKERS:-4}
grid=${GRID:-256}
limit=${LIMIT:-900}
profile=${PROFILE:-release}
case "$mode" in
  in-situ) delivery=() ;;
  in-transit) delivery=(--in-transit) ;;
  *) echo "mode: in-situ or in-transit" >&2; exit 2 ;;
esac
flag=--release
[ "$profile" = debug ] && flag=

cd "$root"
cargo build -q $flag --features mpi --example heat2d_mpi --bin doreisa-rs
example=$root/target/$profile/examples/heat2d_mpi
bin=$root/target/$profile/doreisa-rs
export DOREISA_BIN=$bin
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1

out=${OUT:-}
keep=1
if [ -z "$out" ]; then
  out=$(mktemp -d)
  keep=0
fi
mkdir -p "$out"
rm -f "$out"/*.log "$out"/pids "$out"/memory.csv "$out"/kills.txt "$out"/cluster.json
analytics_pid= mpirun_pid= sampler_pid=
cleanup() {
  for pid in $sampler_pid $mpirun_pid $analytics_pid; do kill "$pid" 2>/dev/null || true; done
  scripts/local-cluster.sh stop "$out" >/dev/null 2>&1 || true
}
trap cleanup EXIT

scripts/local-cluster.sh start "$workers" "$out" >/dev/null
# Worker i of the cluster is line i + 2 of the pids file (the head is line 1).
mapfile -t pids <"$out/pids"
head_pid=${pids[0]}
live_workers=("${pids[@]:1}")

cluster=(--cluster-file "$out/cluster.json" --session-file "$out/session.json")
common=(--grid "$grid" --iterations "$iterations" "${delivery[@]}")
start=$(date +%s.%N)
"$example" analytics "${cluster[@]}" "${common[@]}" >"$out/analytics.log" 2>&1 &
analytics_pid=$!
mpirun -n "$ranks" "$example" simulate "${cluster[@]}" "${common[@]}" >"$out/ranks.log" 2>&1 &
mpirun_pid=$!

# Memory of every process of the run, once a second (kB of resident memory).
# (0 for a process that is gone, or has no resident memory: a zombie.)
rss() { awk '/^VmRSS/ {kb = $2} END {print kb + 0}' "/proc/$1/status" 2>/dev/null || echo 0; }
sample() {
  echo "seconds,head_kb,workers_kb,analytics_kb,ranks_kb"
  while true; do
    local now w=0 r=0 pid
    now=$(date +%s.%N)
    while read -r pid; do w=$((w + $(rss "$pid"))); done < <(tail -n +2 "$out/pids")
    for pid in $(pgrep -f "heat2d_mpi simulate" || true); do r=$((r + $(rss "$pid"))); done
    printf '%.1f,%s,%s,%s,%s\n' "$(echo "$now - $start" | bc)" "$(rss "$head_pid")" "$w" \
      "$(rss "$analytics_pid")" "$r"
    sleep 1
  done
}
sample >"$out/memory.csv" &
sampler_pid=$!

# The chaos: once the analytics reported iteration k * EVERY, kill a worker (in turn)
# and start a new one.
next=$every
kills=0
victim=0
deadline=$(echo "$start + $limit" | bc)
outcome=ok
while kill -0 "$analytics_pid" 2>/dev/null || kill -0 "$mpirun_pid" 2>/dev/null; do
  if (($(echo "$(date +%s.%N) > $deadline" | bc))); then
    outcome="still running after $limit s"
    break
  fi
  reached=$(awk '$1 ~ /^[0-9]+$/ {t = $1} END {print t + 0}' "$out/analytics.log")
  if [ "$next" -lt "$iterations" ] && [ "$reached" -ge "$next" ]; then
    pid=${live_workers[$victim]}
    kill -9 "$pid" 2>/dev/null || true
    at=$(echo "$(date +%s.%N) - $start" | bc)
    "$bin" worker --cluster-file "$out/cluster.json" --listen 127.0.0.1:0 \
      >"$out/worker-new-$kills.log" 2>&1 &
    echo $! >>"$out/pids"
    live_workers[$victim]=$!
    victim=$(((victim + 1) % workers))
    kills=$((kills + 1))
    printf '%.1f s: iteration %s reported, worker %s killed, worker %s started\n' \
      "$at" "$reached" "$pid" "$!" >>"$out/kills.txt"
    next=$((next + every))
  fi
  sleep 0.2
done
end=$(date +%s.%N)

analytics_status=running ranks_status=running
if [ "$outcome" = ok ]; then
  wait "$analytics_pid" && analytics_status=0 || analytics_status=$?
  wait "$mpirun_pid" && ranks_status=0 || ranks_status=$?
fi
kill "$sampler_pid" 2>/dev/null || true
sampler_pid=

echo "== chaos run: $mode, $ranks ranks, $workers workers, grid $grid, $iterations iterations, a worker killed every $every"
printf 'ran %.1f s; analytics exit %s, ranks (mpirun) exit %s; %s\n' \
  "$(echo "$end - $start" | bc)" "$analytics_status" "$ranks_status" "$outcome"
echo "-- kills ($kills)"
cat "$out/kills.txt" 2>/dev/null || true
echo "-- analytics"
grep -E "^analytics|failed|error" "$out/analytics.log" | head -40 || true
echo "-- ranks"
grep -E "^rank|heat2d_mpi:|error|Error" "$out/ranks.log" | head -40 || true
echo "-- memory (kB resident: seconds, head, workers, analytics, ranks): first, last, largest"
sed -n 2p "$out/memory.csv"
tail -n 1 "$out/memory.csv"
awk -F, 'NR > 1 {for (i = 2; i <= 5; i++) if ($i > m[i]) m[i] = $i}
  END {printf "max,%s,%s,%s,%s\n", m[2], m[3], m[4], m[5]}' "$out/memory.csv"
echo "logs: $out"
if [ "$outcome" != ok ]; then
  exit 1
fi
if [ "$keep" = 0 ] && [ "$analytics_status" = 0 ] && [ "$ranks_status" = 0 ]; then
  rm -rf "$out"
fi
