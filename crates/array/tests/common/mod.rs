//! Shared set-up of the array tests: a local runner holding source arrays.

#![allow(dead_code)]

use doreisa_array::{Array, Chunk, DType, Grid, encode_chunks, kernels};
use doreisa_sched::LocalRunner;
use ndarray::{ArrayD, IxDyn};

pub fn runner() -> LocalRunner {
    LocalRunner::new(kernels())
}

/// Inserts `value` cut by `grid` as source `name` at timestep 0 and returns its array.
pub fn source(runner: &LocalRunner, name: &str, value: Chunk, grid: Grid) -> Array {
    for (key, bytes) in encode_chunks(name, 0, &value, &grid).unwrap() {
        runner.insert(key, bytes);
    }
    Array::source(name, 0, value.shape(), grid, value.dtype()).unwrap()
}

/// `0, 1, 2, ...` as float64 of `shape`.
pub fn iota(shape: &[usize]) -> ArrayD<f64> {
    let mut i = 0.0;
    ArrayD::from_shape_simple_fn(IxDyn(shape), || {
        i += 1.0;
        i - 1.0
    })
}

/// A float64 source `name` of `shape` holding `0, 1, 2, ...`, cut in `chunk` blocks.
pub fn iota_source(runner: &LocalRunner, name: &str, shape: &[usize], chunk: &[usize]) -> Array {
    let grid = Grid::regular(shape, chunk).unwrap();
    source(runner, name, Chunk::F64(iota(shape)), grid)
}

pub fn f64s(chunk: Chunk) -> ArrayD<f64> {
    assert_eq!(chunk.dtype(), DType::F64);
    chunk.into_array::<f64>().unwrap()
}
