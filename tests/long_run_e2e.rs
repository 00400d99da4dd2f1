//! A long run of one analysis on 16 virtual nodes: the thread count stays what it was
//! after warm-up and memory stays flat (nothing per iteration is kept: sources are
//! released by retention, outputs of standing runs are taken, plans are not rebuilt).
//! CI runs 400 iterations; the long version (2 000) is
//! `cargo test --release --test long_run_e2e -- --ignored`.

use doreisa::array::{Array, Chunk, DType, Grid, encode_chunks};
use doreisa::core::{Cluster, ClusterConfig};
use doreisa::sched::{ClusterRunner, Strategy};
use ndarray::{ArrayD, IxDyn};

const NODES: usize = 16;
/// Iterations before the baseline is taken (plans compiled, pools warm).
const WARM_UP: i64 = 100;

fn status_field(name: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} in /proc/self/status"))
}

fn long_run(iterations: i64) {
    let cluster = Cluster::start(
        ClusterConfig::default().nodes(NODES).compute_threads(2),
        doreisa::registry(),
    )
    .unwrap();
    let ids = cluster.nodes();
    let runner = ClusterRunner::start(cluster.driver(), &ids, Strategy::Greedy)
        .unwrap()
        .with_retention(2);
    // Four 32 x 32 chunks per node.
    let rows = 4 * 32 * NODES;
    let grid = Grid::regular(&[rows, 32], &[32, 32]).unwrap();
    let mut baseline = None;
    for timestep in 0..iterations {
        let data = ArrayD::from_shape_fn(IxDyn(&[rows, 32]), |i| (i[0] + i[1]) as f64);
        for (key, bytes) in encode_chunks("x", timestep, &Chunk::from(data), &grid).unwrap() {
            let node = ids[key.chunk[0] as usize / 4];
            runner.publish(key, node, bytes).unwrap();
        }
        let x = Array::source("x", timestep, &[rows, 32], grid.clone(), DType::F64).unwrap();
        let mean = x
            .mean()
            .unwrap()
            .compute(&runner)
            .unwrap()
            .scalar::<f64>()
            .unwrap();
        assert_eq!(mean, (rows - 1) as f64 / 2.0 + 15.5, "timestep {timestep}");
        if timestep == WARM_UP {
            baseline = Some((status_field("Threads:"), status_field("VmRSS:")));
        }
    }
    let (threads, rss_kib) = baseline.expect("more iterations than the warm-up");
    assert_eq!(status_field("Threads:"), threads, "the thread count stays");
    let grown = status_field("VmRSS:").saturating_sub(rss_kib);
    assert!(
        grown < 24 * 1024,
        "memory grew by {grown} KiB over {} iterations",
        iterations - WARM_UP
    );
    let stats = runner.stats().unwrap();
    for (node, stats) in &stats {
        assert!(
            stats.sources <= 3 * 4,
            "{node:?} holds {} sources",
            stats.sources
        );
    }
}

#[test]
fn a_short_long_run_keeps_threads_and_memory_flat() {
    long_run(400);
}

#[test]
#[ignore = "2 000 iterations: run with --release --ignored"]
fn two_thousand_iterations_keep_threads_and_memory_flat() {
    long_run(2_000);
}
