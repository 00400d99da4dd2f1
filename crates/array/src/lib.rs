//! doreisa-array: chunked n-d arrays, lazy expressions over them, and their lowering to
//! task graphs.
//!
//! Built on `doreisa-sched` only (chunks are bytes there; this crate gives them types).
//! It must not depend on the in situ layer (`doreisa-insitu`), which builds on it, nor
//! use `doreisa-core` directly.
//!
//! An [`Array`] has a shape, a [`DType`] and a chunk [`Grid`]; its chunks are sources of
//! task graphs (`doreisa_sched::SourceKey`: a published chunk of an array at a
//! timestep, or the output of an earlier graph kept alive by a persisted array).
//! Operations build a lazy expression; [`Array::compute`] lowers it to a
//! `doreisa_sched::TaskGraph` and runs it through a `doreisa_sched::GraphRunner`,
//! [`Array::persist`] starts it and returns an array over its outputs. Lowering fuses
//! chains of element-wise operations and reads through slices, flips, transposes and
//! broadcasts into one kernel per chunk, turns reductions into trees, and only emits
//! tasks for chunks the result needs.
//!
//! ```
//! use doreisa_array::{Array, Chunk, DType, Grid, encode_chunks, kernels};
//! use doreisa_sched::LocalRunner;
//! use ndarray::{ArrayD, IxDyn};
//!
//! // A runner holding one published 4x6 array, cut in 2x3 chunks.
//! let runner = LocalRunner::new(kernels());
//! let grid = Grid::regular(&[4, 6], &[2, 3])?;
//! let data = ArrayD::from_shape_fn(IxDyn(&[4, 6]), |i| (i[0] * 6 + i[1]) as f64);
//! for (key, bytes) in encode_chunks("temperature", 7, &Chunk::from(data), &grid)? {
//!     runner.insert(key, bytes);
//! }
//!
//! let t = Array::source("temperature", 7, &[4, 6], grid, DType::F64)?;
//! let anomaly = (&t - &t.mean()?)?; // a 0-d result broadcasts
//! let variance = (&anomaly * &anomaly)?.mean_axes(&[0])?;
//! let values = variance.compute(&runner)?;
//! assert_eq!(values.shape(), &[6]);
//! assert_eq!(values.as_array::<f64>()?[[0]], 51.25); // column 0, around the mean 11.5
//! assert_eq!(t.max()?.compute(&runner)?.scalar::<f64>()?, 23.0);
//! # Ok::<(), doreisa_array::ArrayError>(())
//! ```

mod array;
mod chunk;
mod codec;
mod dispatch;
mod dtype;
mod element;
mod error;
mod expr;
mod f16;
mod grid;
pub mod kernels;
mod lower;
mod ops;
mod program;
mod structure;
mod view;

pub use array::{Array, Operand, encode_chunks};
pub use chunk::{Chunk, MAX_CHUNK_NDIM};
pub use dtype::{DType, Scalar};
pub use element::{Element, TypedScalar};
pub use error::{ArrayError, Result};
pub use f16::F16;
pub use grid::{Grid, MAX_NDIM};
pub use kernels::{kernels, register_kernels};
pub use ops::{QUANTILE_BUDGET, ReduceOptions, SliceArg};
pub use program::Reduction;
