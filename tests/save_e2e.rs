//! Results saved by the nodes of an embedded cluster read back exactly: a Zarr series
//! of an array spread over three nodes, edge chunks padded, timesteps as coordinates;
//! bad series are refused before anything is written.

use doreisa::array::{Array, Chunk, DType, Grid, encode_chunks};
use doreisa::core::{Cluster, ClusterConfig};
use doreisa::save::{ZarrSeries, read_zarr};
use doreisa::sched::{ClusterRunner, Strategy};
use ndarray::{ArrayD, Axis, IxDyn};
use serde_json::json;

const SHAPE: [usize; 2] = [10, 7];

fn values(timestep: i64) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(&SHAPE), |i| {
        (i[0] * 100 + i[1]) as f64 + 0.5 * timestep as f64
    })
}

#[test]
fn a_series_written_by_the_nodes_reads_back_with_its_coordinates() {
    let cluster = Cluster::start(ClusterConfig::default().nodes(3), doreisa::registry()).unwrap();
    let nodes = cluster.nodes();
    let runner = ClusterRunner::start(cluster.driver(), &nodes, Strategy::Greedy).unwrap();
    // 4x3 chunks: a 3x3 grid whose last row and column are short (2 and 1).
    let grid = Grid::regular(&SHAPE, &[4, 3]).unwrap();
    let field = |t: i64| {
        for (key, bytes) in encode_chunks("f", t, &Chunk::from(values(t)), &grid).unwrap() {
            let node = nodes[key.chunk[0] as usize % nodes.len()];
            runner.publish(key, node, bytes).unwrap();
        }
        Array::source("f", t, &SHAPE, grid.clone(), DType::F64).unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("out.zarr");
    let mut series = ZarrSeries::create(
        &store,
        "field",
        &field(0),
        &["y", "x"],
        json!({"units": "K"}),
    )
    .unwrap();
    for t in [0, 5, 10] {
        series.append(&runner, t, &field(t)).unwrap();
    }
    assert_eq!(series.timesteps(), [0, 5, 10]);

    let read = read_zarr(&store.join("field")).unwrap();
    assert_eq!(read.dimension_names, ["time", "y", "x"]);
    assert_eq!(read.attributes, json!({"units": "K"}));
    let data = read.data.to_array::<f64>();
    assert_eq!(data.shape(), [3, 10, 7]);
    for (i, t) in [0, 5, 10].into_iter().enumerate() {
        assert_eq!(data.index_axis(Axis(0), i), values(t), "timestep {t}");
    }
    let time = read_zarr(&store.join("time")).unwrap();
    assert_eq!(time.dimension_names, ["time"]);
    assert_eq!(
        time.data.to_array::<i64>().into_raw_vec_and_offset().0,
        [0, 5, 10]
    );

    // One file per chunk and timestep, edge chunks padded with NaN to 4x3.
    let corner = std::fs::read(store.join("field/c/2/2/2")).unwrap();
    assert_eq!(corner.len(), 4 * 3 * 8);
    let corner: Vec<f64> = corner
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(corner[0], values(10)[[8, 6]]);
    assert_eq!(corner[3], values(10)[[9, 6]]);
    assert_eq!(corner.iter().filter(|v| v.is_nan()).count(), 12 - 2);
    let group: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join("zarr.json")).unwrap()).unwrap();
    assert_eq!(group["node_type"], "group");
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join("field/zarr.json")).unwrap()).unwrap();
    assert_eq!(meta["shape"], json!([3, 10, 7]));
    assert_eq!(
        meta["chunk_grid"]["configuration"]["chunk_shape"],
        json!([1, 4, 3])
    );
    assert_eq!(meta["fill_value"], "NaN");

    // Refused: a timestep going back, another shape.
    let error = series.append(&runner, 10, &field(10)).unwrap_err();
    assert!(error.to_string().contains("must increase"), "{error}");
    let small = Array::source(
        "f",
        10,
        &[4, 3],
        Grid::regular(&[4, 3], &[4, 3]).unwrap(),
        DType::F64,
    )
    .unwrap();
    assert!(series.append(&runner, 20, &small).is_err());
    assert_eq!(
        read_zarr(&store.join("field")).unwrap().data.shape(),
        [3, 10, 7]
    );
    runner.release_before(i64::MAX).unwrap();
}

#[test]
fn irregular_chunks_and_bad_names_are_refused() {
    let irregular = Grid::from_chunks(vec![vec![2, 5, 3], vec![7]]).unwrap();
    let x = Array::source("x", 0, &SHAPE, irregular, DType::I32).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let error = ZarrSeries::create(&dir.path().join("a.zarr"), "x", &x, &["y", "x"], json!({}))
        .err()
        .unwrap();
    assert!(error.to_string().contains("regular chunks"), "{error}");
    let regular = Grid::regular(&SHAPE, &[5, 7]).unwrap();
    let x = Array::source("x", 0, &SHAPE, regular, DType::I32).unwrap();
    for (name, dims) in [
        ("time", &["y", "x"][..]),
        ("a/b", &["y", "x"]),
        ("x", &["y"]),
        ("x", &["time", "x"]),
    ] {
        let made = ZarrSeries::create(&dir.path().join("b.zarr"), name, &x, dims, json!({}));
        assert!(made.is_err(), "{name} {dims:?}");
    }
}
