//! Array expressions computed by the scheduling actors of an embedded cluster agree
//! with the in-thread runner, for both partitioners; persisted arrays live as long as
//! the arrays using them; everything is released afterwards.

#[path = "arrays/differential/mod.rs"]
mod differential;
mod support;

use doreisa::array::{Array, Chunk, DType, Grid, encode_chunks};
use doreisa::core::{Cluster, ClusterConfig, NodeId};
use doreisa::sched::{ClusterRunner, GraphRunner, LocalRunner, SourceKey, Strategy};
use ndarray::{ArrayD, IxDyn};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

fn cluster(nodes: usize) -> Cluster {
    Cluster::start(
        ClusterConfig::default().nodes(nodes).compute_threads(1),
        doreisa::registry(),
    )
    .unwrap()
}

/// A 2-d array of `rows` x `cols` cut in `chunk` x `chunk` tiles, each tile published
/// on node `tile_row % nodes` (rows of tiles per node, as ranks would).
fn publish(
    runners: (&ClusterRunner, &LocalRunner),
    name: &str,
    timestep: i64,
    rows: usize,
    cols: usize,
    chunk: usize,
    nodes: &[NodeId],
) -> Array {
    let grid = Grid::regular(&[rows, cols], &[chunk, chunk]).unwrap();
    let data = ArrayD::from_shape_fn(IxDyn(&[rows, cols]), |i| {
        ((i[0] * 31 + i[1] * 7 + timestep as usize) % 23) as f64 - 11.0
    });
    for (key, bytes) in encode_chunks(name, timestep, &Chunk::from(data), &grid).unwrap() {
        let node = nodes[key.chunk[0] as usize % nodes.len()];
        runners.0.publish(key.clone(), node, bytes.clone()).unwrap();
        runners.1.insert(key, bytes);
    }
    Array::source(name, timestep, &[rows, cols], grid, DType::F64).unwrap()
}

fn same(a: &Chunk, b: &Chunk) {
    let (a, b) = (a.to_array::<f64>(), b.to_array::<f64>());
    assert_eq!(a.shape(), b.shape());
    for (x, y) in a.iter().zip(b.iter()) {
        assert!((x - y).abs() <= 1e-9 * (1.0 + x.abs()), "{x} vs {y}");
    }
}

fn expressions(x: &Array) -> Vec<Array> {
    vec![
        x.sum().unwrap(),
        x.mean().unwrap(),
        x.max_axes(&[0]).unwrap(),
        ((x + &x.flip(0).unwrap()).unwrap()).sum().unwrap(),
        x.mul(2.0).unwrap().sin().unwrap().std_axes(&[1]).unwrap(),
        x.t().unwrap().var().unwrap(),
    ]
}

#[test]
fn expressions_agree_with_the_local_runner_for_both_strategies() {
    for strategy in [Strategy::Greedy, Strategy::RandomBalanced { seed: 5 }] {
        let cluster = cluster(3);
        let runner = ClusterRunner::start(cluster.driver(), &cluster.nodes(), strategy).unwrap();
        let local = LocalRunner::new(doreisa::array::kernels());
        let x = publish((&runner, &local), "x", 4, 24, 18, 6, &cluster.nodes());
        for expression in expressions(&x) {
            same(
                &expression.compute(&runner).unwrap(),
                &expression.compute(&local).unwrap(),
            );
        }
        drop(x);
        runner.release_before(i64::MAX).unwrap();
        drop(runner);
        support::assert_drained(&cluster);
    }
}

#[test]
fn the_same_structure_next_iteration_reuses_the_plan() {
    let cluster = cluster(2);
    let runner =
        ClusterRunner::start(cluster.driver(), &cluster.nodes(), Strategy::Greedy).unwrap();
    let local = LocalRunner::new(doreisa::array::kernels());
    for timestep in 0..5 {
        let x = publish(
            (&runner, &local),
            "t",
            timestep,
            12,
            12,
            4,
            &cluster.nodes(),
        );
        let mean = x.mean().unwrap();
        same(
            &mean.compute(&runner).unwrap(),
            &mean.compute(&local).unwrap(),
        );
        runner.release_before(timestep).unwrap();
    }
    let plans: usize = runner
        .stats()
        .unwrap()
        .iter()
        .map(|(_, s)| s.plans)
        .max()
        .unwrap();
    assert_eq!(plans, 1, "one plan shipped for five iterations");
}

#[test]
fn persisted_arrays_feed_later_graphs_and_are_released_with_them() {
    let cluster = cluster(2);
    let runner =
        ClusterRunner::start(cluster.driver(), &cluster.nodes(), Strategy::Greedy).unwrap();
    let local = LocalRunner::new(doreisa::array::kernels());
    let x = publish((&runner, &local), "p", 1, 16, 16, 4, &cluster.nodes());
    let squared = (&x * &x).unwrap().persist(&runner).unwrap();
    let expected = (&x * &x).unwrap().sum().unwrap().compute(&local).unwrap();
    same(&squared.sum().unwrap().compute(&runner).unwrap(), &expected);
    let sources = |runner: &ClusterRunner| -> usize {
        runner.stats().unwrap().iter().map(|(_, s)| s.sources).sum()
    };
    assert_eq!(
        sources(&runner),
        16 + 16,
        "published chunks and persisted tiles"
    );
    drop(squared);
    support::eventually("persisted tiles released", || sources(&runner) == 16);
    drop(x);
    runner.release_before(i64::MAX).unwrap();
    support::eventually("published chunks released", || sources(&runner) == 0);
    drop(runner);
    support::assert_drained(&cluster);
}

#[test]
fn a_failing_kernel_is_an_error_not_a_hang() {
    let cluster = cluster(2);
    let runner =
        ClusterRunner::start(cluster.driver(), &cluster.nodes(), Strategy::Greedy).unwrap();
    let mut graph = doreisa::sched::TaskGraph::default();
    let key = SourceKey {
        array: "bad".into(),
        timestep: 0,
        chunk: vec![0],
    };
    runner
        .publish(
            key.clone(),
            cluster.nodes()[1],
            bytes::Bytes::from_static(b"garbage"),
        )
        .unwrap();
    let source = graph.source(key);
    graph.task("array.reduce_chunk", vec![1, 2, 3], vec![source]);
    graph.outputs = vec![0];
    let error = runner.compute(&graph).unwrap_err();
    assert!(error.to_string().contains("array.reduce_chunk"), "{error}");
    graph.tasks[0].kernel = "no.such.kernel".into();
    let error = runner.compute(&graph).unwrap_err();
    assert!(error.to_string().contains("no.such.kernel"), "{error}");
    runner.release_before(i64::MAX).unwrap();
    drop(runner);
    support::assert_drained(&cluster);
}

/// Regression: merging chunks whose pieces hold more than one evaluation tile (2 048
/// elements) lost one element per tile. The expected values come from ndarray on the
/// whole array, not from the kernels under test.
#[test]
fn rechunking_large_pieces_across_four_nodes_keeps_every_element() {
    let cluster = cluster(4);
    let runner =
        ClusterRunner::start(cluster.driver(), &cluster.nodes(), Strategy::Greedy).unwrap();
    let local = LocalRunner::new(doreisa::array::kernels());
    let (rows, cols, chunk) = (150, 100, 50);
    let x = publish(
        (&runner, &local),
        "big",
        1,
        rows,
        cols,
        chunk,
        &cluster.nodes(),
    );
    let whole = ArrayD::from_shape_fn(IxDyn(&[rows, cols]), |i| {
        ((i[0] * 31 + i[1] * 7 + 1) % 23) as f64 - 11.0
    });
    // Source chunks of 50 x 50 = 2 500 elements, merged whole or cut while merged.
    for target in [&[150usize, 100][..], &[100, 50], &[75, 100], &[150, 30]] {
        let merged = (&x * 2.0)
            .unwrap()
            .rechunk(Grid::regular(&[rows, cols], target).unwrap())
            .unwrap();
        let got = merged
            .compute(&runner)
            .unwrap()
            .into_array::<f64>()
            .unwrap();
        assert_eq!(got, whole.mapv(|v| v * 2.0), "rechunked to {target:?}");
        let summed = merged.sum().unwrap().compute(&runner).unwrap();
        assert_eq!(summed.scalar::<f64>().unwrap(), whole.sum() * 2.0);
    }
    drop(x);
    runner.release_before(i64::MAX).unwrap();
    drop(runner);
    support::assert_drained(&cluster);
}

/// Runs `body` in a thread of its own and fails if it does not end within `limit` (a
/// regression that hangs fails instead of stalling CI).
fn within<T: Send + 'static>(limit: Duration, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let _ = done.send(body());
    });
    match result.recv_timeout(limit) {
        Ok(value) => value,
        Err(RecvTimeoutError::Timeout) => panic!("not done within {limit:?}: a hang"),
        Err(RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(thread.join().expect_err("ended without a result"))
        }
    }
}

/// Regression: an array persisted from arrays that are themselves persisted, on other
/// nodes, whose handles are dropped at once (temporaries), never completed: the
/// release of the inner outputs overtook the run that was still to read them. The
/// expected values come from ndarray on the whole array.
#[test]
fn persisting_over_dropped_persisted_arrays_across_four_nodes_completes() {
    within(Duration::from_secs(180), || {
        for strategy in [Strategy::Greedy, Strategy::RandomBalanced { seed: 9 }] {
            let cluster = cluster(4);
            let runner = ClusterRunner::start(cluster.driver(), &cluster.nodes(), strategy)
                .unwrap()
                .with_timeout(Duration::from_secs(30));
            let local = LocalRunner::new(doreisa::array::kernels());
            let (rows, cols, chunk) = (16, 16, 4);
            let x = publish(
                (&runner, &local),
                "pp",
                1,
                rows,
                cols,
                chunk,
                &cluster.nodes(),
            );
            let whole = ArrayD::from_shape_fn(IxDyn(&[rows, cols]), |i| {
                ((i[0] * 31 + i[1] * 7 + 1) % 23) as f64 - 11.0
            });
            // ((2x) + flip(x, 0).T + 1) * 3, every step persisted, inner handles dropped.
            let outer = {
                let doubled = x.mul(2.0).unwrap().persist(&runner).unwrap();
                let flipped = (&x.flip(0).unwrap().t().unwrap() + 1.0)
                    .unwrap()
                    .persist(&runner)
                    .unwrap();
                (&doubled + &flipped)
                    .unwrap()
                    .persist(&runner)
                    .unwrap()
                    .mul(3.0)
                    .unwrap()
                    .persist(&runner)
                    .unwrap()
            };
            let flipped = whole.slice(ndarray::s![..;-1, ..]).t().to_owned();
            let expected = (whole.mapv(|v| 2.0 * v) + flipped + 1.0) * 3.0;
            let got = outer.compute(&runner).unwrap().into_array::<f64>().unwrap();
            assert_eq!(got, expected, "{strategy:?}");
            drop((outer, x));
            runner.release_before(i64::MAX).unwrap();
            drop(runner);
            support::assert_drained(&cluster);
        }
    });
}

/// The differential tests' cluster: sources spread over its nodes.
struct ClusterTarget {
    runner: ClusterRunner,
    nodes: Vec<NodeId>,
}

impl differential::Target for ClusterTarget {
    fn runner(&self) -> &dyn GraphRunner {
        &self.runner
    }
    fn publish(&self, key: SourceKey, bytes: bytes::Bytes, spread: usize) {
        let node = self.nodes[spread % self.nodes.len()];
        self.runner.publish(key, node, bytes).unwrap();
    }
    fn release_before(&self, timestep: i64) {
        self.runner.release_before(timestep).unwrap();
    }
}

/// Runs `count` differential cases from `seed` on a cluster of 3 nodes (or replays the
/// case `DOREISA_DIFF_REPLAY` names).
fn differential_run(seed: u64, count: u64) {
    let (seed, count) = match std::env::var("DOREISA_DIFF_REPLAY") {
        Ok(replay) => (replay.parse().expect("a seed"), 1),
        Err(_) => (seed, count),
    };
    let cluster = cluster(3);
    let runner = ClusterRunner::start(cluster.driver(), &cluster.nodes(), Strategy::Greedy)
        .unwrap()
        .with_timeout(Duration::from_secs(60));
    let target = ClusterTarget {
        runner,
        nodes: cluster.nodes(),
    };
    let started = std::time::Instant::now();
    let summary = differential::run(&target, seed, count);
    eprintln!(
        "{} differential cases from seed {seed} ({} where numpy raises, {} nodes) in {:.1?}",
        summary.cases,
        summary.raised,
        summary.nodes,
        started.elapsed()
    );
    assert_eq!(summary.cases, count);
}

/// Random expressions over every dtype, shape and chunking agree with numpy 2's
/// semantics on a cluster of 3 nodes (a failure prints its shrunk form and seed).
#[test]
fn random_expressions_agree_with_numpy_semantics() {
    within(Duration::from_secs(600), || {
        differential_run(0x5eed_0001, 2_000)
    });
}

/// The long run: `cargo test --release --test arrays_e2e differential_long -- --ignored
/// --nocapture` (`DOREISA_DIFF_SEED` to change the seed).
#[test]
#[ignore]
fn differential_long() {
    let seed = std::env::var("DOREISA_DIFF_SEED")
        .map(|s| s.parse().expect("a seed"))
        .unwrap_or_else(|_| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        });
    eprintln!("seed {seed}");
    let count =
        std::env::var("DOREISA_DIFF_CASES").map_or(100_000, |c| c.parse().expect("a count"));
    differential_run(seed, count);
}

/// The operations with trees and kernels of their own (matmul, topk, quantiles exact
/// and approximate, sort, take, extract, unique) give on 4 nodes what they give in
/// this thread.
#[test]
fn matrix_products_topk_quantiles_sort_and_take_agree_across_nodes() {
    within(Duration::from_secs(180), || {
        let cluster = cluster(4);
        let runner = ClusterRunner::start(cluster.driver(), &cluster.nodes(), Strategy::Greedy)
            .unwrap()
            .with_timeout(Duration::from_secs(60));
        let local = LocalRunner::new(doreisa::array::kernels());
        let x = publish((&runner, &local), "ops", 1, 12, 10, 4, &cluster.nodes());
        let rows = x
            .rechunk(Grid::regular(&[12, 10], &[3, 10]).unwrap())
            .unwrap();
        let expressions = vec![
            x.matmul(&x.t().unwrap()).unwrap(),
            x.t().unwrap().matmul(&x.mul(0.5).unwrap()).unwrap(),
            x.topk(3, 0).unwrap(),
            x.topk(-2, 1).unwrap(),
            x.argtopk(4, 0).unwrap(),
            x.argtopk(-3, -1).unwrap(),
            x.quantile(&[0.1, 0.5, 0.99], Some(0)).unwrap(),
            x.quantile_budget(&[0.25, 0.75], None, 64).unwrap(),
            rows.sort(1).unwrap(),
            x.take(&[11, 0, 5, 5, -1], 0).unwrap(),
            x.cumsum(0).unwrap().reshape(&[-1, 6]).unwrap(),
            x.argmax_axis(1).unwrap(),
            x.nanvar_axes(&[0]).unwrap(),
        ];
        for e in &expressions {
            let (a, b) = (e.compute(&runner).unwrap(), e.compute(&local).unwrap());
            assert_eq!(a, b, "{e:?}");
        }
        // Data-dependent sizes: resolved on each runner, the same.
        let mask = x.gt(0.0).unwrap();
        let picked = (
            x.extract(&mask, &runner).unwrap(),
            x.extract(&mask, &local).unwrap(),
        );
        assert_eq!(picked.0.chunks(), picked.1.chunks());
        assert_eq!(
            picked.0.compute(&runner).unwrap(),
            picked.1.compute(&local).unwrap()
        );
        assert_eq!(x.unique(&runner).unwrap(), x.unique(&local).unwrap());
        drop(picked);
        drop((expressions, x, rows));
        runner.release_before(i64::MAX).unwrap();
        drop(runner);
        support::assert_drained(&cluster);
    });
}
