//! Reductions give the same bits whatever the cluster: for one chunking, the same
//! values on 1, 4 and 16 virtual nodes, with greedy and random placement of the tasks,
//! chunks held by blocks of rows or round robin, one or two compute threads. Partials
//! are combined in chunk-index order, never in arrival order.

use doreisa::array::{Array, Chunk, DType, Grid, encode_chunks};
use doreisa::core::{Cluster, ClusterConfig, NodeId};
use doreisa::sched::{ClusterRunner, Strategy};
use ndarray::{ArrayD, IxDyn};

const ROWS: usize = 48;
const COLS: usize = 20;

/// Values whose sums round differently when added in another order.
fn awkward() -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(&[ROWS, COLS]), |i| {
        let k = i[0] * COLS + i[1];
        ((k * 7919) % 1013) as f64 * 1e-3 + if k.is_multiple_of(7) { 1e12 } else { 0.1 }
    })
}

/// The bits of each reduction's values on one cluster set-up.
fn reductions(nodes: usize, threads: usize, strategy: Strategy, round_robin: bool) -> Vec<u64> {
    let cluster = Cluster::start(
        ClusterConfig::default()
            .nodes(nodes)
            .compute_threads(threads),
        doreisa::registry(),
    )
    .unwrap();
    let ids: Vec<NodeId> = cluster.nodes();
    let runner = ClusterRunner::start(cluster.driver(), &ids, strategy).unwrap();
    // 12 x 4 chunks of 4 x 5.
    let grid = Grid::regular(&[ROWS, COLS], &[4, 5]).unwrap();
    for (index, (key, bytes)) in encode_chunks("x", 0, &Chunk::from(awkward()), &grid)
        .unwrap()
        .into_iter()
        .enumerate()
    {
        let holder = if round_robin {
            index % ids.len()
        } else {
            key.chunk[0] as usize * ids.len() / 12
        };
        runner.publish(key, ids[holder], bytes).unwrap();
    }
    let x = Array::source("x", 0, &[ROWS, COLS], grid, DType::F64).unwrap();
    let expressions = [
        x.sum().unwrap(),
        x.mean().unwrap(),
        x.var().unwrap(),
        x.std().unwrap(),
        x.sum_axes(&[0]).unwrap(),
        x.mean_axes(&[1]).unwrap(),
        (&x + &x.flip(0).unwrap()).unwrap().sum().unwrap(),
    ];
    expressions
        .iter()
        .flat_map(|e| {
            let values = e.compute(&runner).unwrap().to_array::<f64>();
            values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn reductions_give_the_same_bits_on_any_cluster() {
    let reference = reductions(1, 1, Strategy::Greedy, false);
    assert_eq!(reference.len(), 4 + COLS + ROWS + 1);
    for nodes in [1, 4, 16] {
        for strategy in [Strategy::Greedy, Strategy::RandomBalanced { seed: 7 }] {
            for round_robin in [false, true] {
                for threads in [1, 2] {
                    let bits = reductions(nodes, threads, strategy, round_robin);
                    assert_eq!(
                        bits, reference,
                        "{nodes} nodes, {strategy:?}, round robin {round_robin}, {threads} threads"
                    );
                }
            }
        }
    }
}
