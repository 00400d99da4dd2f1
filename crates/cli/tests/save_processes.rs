//! A Zarr series saved from a cluster of processes: the chunks live in the head's and
//! the workers' processes, and the write tasks run there (a driver's node takes no
//! tasks): the kernel is in the binary's registry, the store's path is absolute, and
//! the store reads back whole.

mod common;

use common::Processes;
use doreisa::array::{Array, Chunk, DType, Grid, encode_chunks};
use doreisa::core::Cluster;
use doreisa::save::{ZarrSeries, read_zarr};
use doreisa::sched::{ClusterRunner, Strategy};
use ndarray::{ArrayD, Axis, IxDyn};

#[test]
fn the_nodes_write_their_chunks_into_the_shared_directory() {
    let processes = Processes::start(2, 3_000);
    let cluster = Cluster::connect(&processes.cluster_file(), doreisa_cli::registry()).unwrap();
    let nodes = cluster.task_nodes();
    assert_eq!(nodes.len(), 3);
    let runner = ClusterRunner::start(cluster.driver(), &nodes, Strategy::Greedy).unwrap();
    let grid = Grid::regular(&[12, 9], &[4, 4]).unwrap();
    let values = |t: i64| ArrayD::from_shape_fn(IxDyn(&[12, 9]), |i| (i[0] * 9 + i[1]) as i64 * t);
    let field = |t: i64| {
        for (key, bytes) in encode_chunks("f", t, &Chunk::from(values(t)), &grid).unwrap() {
            let node = nodes[key.chunk[0] as usize % nodes.len()];
            runner.publish(key, node, bytes).unwrap();
        }
        Array::source("f", t, &[12, 9], grid.clone(), DType::I64).unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("f.zarr");
    let mut series =
        ZarrSeries::create(&store, "f", &field(1), &["y", "x"], serde_json::json!({})).unwrap();
    for t in 1..=3 {
        series.append(&runner, t, &field(t)).unwrap();
    }
    let read = read_zarr(&store.join("f")).unwrap().data.to_array::<i64>();
    assert_eq!(read.shape(), [3, 12, 9]);
    for t in 1..=3 {
        assert_eq!(read.index_axis(Axis(0), t as usize - 1), values(t));
    }
    runner.release_before(i64::MAX).unwrap();
}
