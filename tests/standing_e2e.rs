//! Plans kept in place on the nodes: a recurring analysis costs the driver no message
//! per iteration once it stands, on 8 and on 64 virtual nodes, and its expression,
//! rebuilt every timestep, is lowered to tasks once; its values stay right. A graph
//! asked once (a side effect, a one-off question) runs exactly once.

use bytes::Bytes;
use doreisa::array::{Array, Chunk, DType, Grid, encode_chunks};
use doreisa::core::{Cluster, ClusterConfig, NodeId};
use doreisa::sched::{
    ClusterRunner, GraphRunner, Persisted, SchedError, SourceKey, Strategy, TaskGraph,
};
use ndarray::{ArrayD, IxDyn};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Calls of [`counted_identity`], the side effect the tests watch.
static CALLS: AtomicUsize = AtomicUsize::new(0);

fn counted_identity(_params: &[u8], inputs: &[Bytes]) -> Result<Bytes, String> {
    CALLS.fetch_add(1, Ordering::SeqCst);
    inputs
        .first()
        .cloned()
        .ok_or_else(|| "no input".to_string())
}

/// A runner that counts the graphs lowered for it.
struct CountingLowerings<'a> {
    runner: &'a ClusterRunner,
    lowered: AtomicUsize,
}

impl<'a> CountingLowerings<'a> {
    fn new(runner: &'a ClusterRunner) -> Self {
        CountingLowerings {
            runner,
            lowered: AtomicUsize::new(0),
        }
    }
}

impl GraphRunner for CountingLowerings<'_> {
    fn compute(&self, graph: &TaskGraph) -> Result<Vec<Bytes>, SchedError> {
        self.lowered.fetch_add(1, Ordering::SeqCst);
        self.runner.compute(graph)
    }

    fn compute_keyed(
        &self,
        structure: u64,
        timestep: i64,
        lower: &mut dyn FnMut() -> Result<TaskGraph, SchedError>,
    ) -> Result<Vec<Bytes>, SchedError> {
        let mut counted = || {
            self.lowered.fetch_add(1, Ordering::SeqCst);
            lower()
        };
        self.runner.compute_keyed(structure, timestep, &mut counted)
    }

    fn persist(&self, graph: &TaskGraph, keys: Vec<SourceKey>) -> Result<Persisted, SchedError> {
        self.runner.persist(graph, keys)
    }
}

fn cluster(nodes: usize) -> Cluster {
    let mut registry = doreisa::core::Registry::new();
    let mut kernels = doreisa::array::kernels();
    kernels.register("test.counted_identity", counted_identity);
    doreisa::sched::cluster::register(&mut registry, kernels);
    Cluster::start(
        ClusterConfig::default().nodes(nodes).compute_threads(2),
        registry,
    )
    .unwrap()
}

/// A cluster of `nodes` and a runner keeping two timesteps of sources.
fn retaining_runner(nodes: usize) -> (Cluster, ClusterRunner) {
    let cluster = cluster(nodes);
    let runner = ClusterRunner::start(cluster.driver(), &cluster.nodes(), Strategy::Greedy)
        .unwrap()
        .with_retention(2);
    (cluster, runner)
}

/// Two 4x4 chunks per node of a 2-d field whose values move with `timestep`.
fn publish(runner: &ClusterRunner, nodes: &[NodeId], timestep: i64) -> (Array, f64) {
    let rows = 8 * nodes.len();
    let grid = Grid::regular(&[rows, 4], &[4, 4]).unwrap();
    let data = ArrayD::from_shape_fn(IxDyn(&[rows, 4]), |i| {
        (i[0] * 4 + i[1]) as f64 + timestep as f64
    });
    let expected = data.sum();
    for (key, bytes) in encode_chunks("field", timestep, &Chunk::from(data), &grid).unwrap() {
        let node = nodes[key.chunk[0] as usize / 2];
        runner.publish(key, node, bytes).unwrap();
    }
    let array = Array::source("field", timestep, &[rows, 4], grid, DType::F64).unwrap();
    (array, expected)
}

fn steady_state_sends_nothing(nodes: usize) {
    let (cluster, runner) = retaining_runner(nodes);
    let ids = cluster.nodes();
    let counting = CountingLowerings::new(&runner);
    let mut after_standing = None;
    for timestep in 0..100 {
        let (field, expected) = publish(&runner, &ids, timestep);
        let sum = field.sum().unwrap().compute(&counting).unwrap();
        assert_eq!(sum.to_array::<f64>().sum(), expected, "timestep {timestep}");
        if timestep == 1 {
            assert_eq!(runner.standing_plans(), 1, "the analysis recurred");
            after_standing = Some(runner.messages_sent());
        }
    }
    let after_standing = after_standing.unwrap();
    assert!(after_standing > 0);
    assert_eq!(
        runner.messages_sent(),
        after_standing,
        "no message from the driver once the plan stands ({nodes} nodes)"
    );
    assert_eq!(
        counting.lowered.load(Ordering::SeqCst),
        1,
        "the expression is lowered to tasks once, then found by its structure"
    );
}

#[test]
fn a_recurring_analysis_on_8_nodes_sends_nothing_per_iteration() {
    steady_state_sends_nothing(8);
}

#[test]
fn a_recurring_analysis_on_64_nodes_sends_nothing_per_iteration() {
    steady_state_sends_nothing(64);
}

#[test]
fn a_changed_analysis_recompiles_once_and_alternating_ones_stay_compiled() {
    let (cluster, runner) = retaining_runner(8);
    let ids = cluster.nodes();
    let counting = CountingLowerings::new(&runner);
    let lowered = || counting.lowered.load(Ordering::SeqCst);
    let rows = 8 * ids.len();
    let check = |timestep: i64, use_max: bool| {
        let (field, sum) = publish(&runner, &ids, timestep);
        let (array, expected) = if use_max {
            (
                field.max().unwrap(),
                (rows * 4 - 1) as f64 + timestep as f64,
            )
        } else {
            (field.sum().unwrap(), sum)
        };
        let value = array.compute(&counting).unwrap().to_array::<f64>().sum();
        assert_eq!(value, expected, "timestep {timestep}, max {use_max}");
    };
    for timestep in 0..10 {
        check(timestep, false);
    }
    assert_eq!(lowered(), 1);
    for timestep in 10..20 {
        check(timestep, true);
    }
    assert_eq!(lowered(), 2, "the changed analysis is lowered once");
    let mut steady = 0;
    for timestep in 20..60 {
        check(timestep, timestep % 2 == 1);
        if timestep == 30 {
            steady = runner.messages_sent();
        }
    }
    assert_eq!(lowered(), 2, "both alternating analyses stay compiled");
    assert_eq!(runner.standing_plans(), 2);
    assert_eq!(
        runner.messages_sent(),
        steady,
        "both stand: no message per iteration"
    );
}

#[test]
fn a_graph_asked_once_runs_once_and_never_stands() {
    let cluster = cluster(3);
    let ids = cluster.nodes();
    let runner = ClusterRunner::start(cluster.driver(), &ids, Strategy::Greedy).unwrap();
    let before = CALLS.load(Ordering::SeqCst);
    // A side effect asked for at timestep 0 only, with its own parameters each time
    // (as a writer naming its file would), then plain sums for later timesteps.
    let (field, _) = publish(&runner, &ids, 0);
    let touched = Array::map_blocks(
        &[field],
        "test.counted_identity",
        b"file-0".to_vec(),
        DType::F64,
    )
    .unwrap();
    touched.sum().unwrap().compute(&runner).unwrap();
    let chunks = 2 * ids.len();
    assert_eq!(CALLS.load(Ordering::SeqCst) - before, chunks);
    assert_eq!(runner.standing_plans(), 0);
    for timestep in 1..6 {
        let (field, expected) = publish(&runner, &ids, timestep);
        let sum = field.sum().unwrap().compute(&runner).unwrap();
        assert_eq!(sum.to_array::<f64>().sum(), expected);
    }
    assert_eq!(
        CALLS.load(Ordering::SeqCst) - before,
        chunks,
        "the side effect never ran again"
    );
}
