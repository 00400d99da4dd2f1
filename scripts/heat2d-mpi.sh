#!/usr/bin/env bash
# Runs examples/heat2d_mpi.rs on this machine: a local cluster (a head and WORKERS
# workers), the analytics as a process of its own, and the simulation as RANKS MPI
# ranks under mpirun. Exits non-zero if any part fails.
#
#   scripts/heat2d-mpi.sh [RANKS] [WORKERS] [-- options for the simulation...]
#   e.g. scripts/heat2d-mpi.sh 4 2 -- --grid 512 --iterations 200 --in-transit
#
# Needs a system MPI and libclang (see .ci/run). As root, OpenMPI needs
# OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 (set here), and more ranks
# than cores needs oversubscription (set here too). PROFILE=debug builds faster.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
ranks=4 workers=2
if [ $# -gt 0 ] && [ "$1" != "--" ]; then ranks=$1; shift; fi
if [ $# -gt 0 ] && [ "$1" != "--" ]; then workers=$1; shift; fi
[ "${1:-}" = "--" ] && shift
profile=${PROFILE:-release}
flag=--release
[ "$profile" = debug ] && flag=

cd "$root"
cargo build $flag --features mpi --example heat2d_mpi --bin doreisa-rs
example=target/$profile/examples/heat2d_mpi
export DOREISA_BIN=target/$profile/doreisa-rs
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1

dir=$(mktemp -d)
analytics_pid=
cleanup() {
  [ -n "$analytics_pid" ] && kill "$analytics_pid" 2>/dev/null || true
  scripts/local-cluster.sh stop "$dir" >/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

# The head takes tasks too: WORKERS workers make WORKERS + 1 analytics nodes.
scripts/local-cluster.sh start "$workers" "$dir" >/dev/null
cluster=(--cluster-file "$dir/cluster.json" --session-file "$dir/session.json")
"$example" analytics "${cluster[@]}" "$@" &
analytics_pid=$!
mpirun -n "$ranks" "$example" simulate "${cluster[@]}" "$@"
wait "$analytics_pid"
analytics_pid=
