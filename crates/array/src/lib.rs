//! doreisa-array: chunked n-d arrays, lazy expressions over them, and their lowering to
//! task graphs.
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
//! Built on `doreisa-sched` only (chunks are bytes there; this crate gives them types).
//! It must not depend on the in situ layer (`doreisa-insitu`), which builds on it, nor
//! use `doreisa-core` directly.

mod array;
mod chunk;
mod codec;
mod dtype;
mod error;
mod expr;
mod grid;
pub mod kernels;
mod lower;
mod ops;
mod program;
mod view;

pub use array::{Array, Operand, encode_chunks};
pub use chunk::{Chunk, MAX_NDIM};
pub use dtype::{DType, Element, Scalar, TypedScalar};
pub use error::{ArrayError, Result};
pub use grid::Grid;
pub use kernels::{kernels, register_kernels};
pub use ops::{ReduceOptions, SliceArg};
pub use program::Reduction;
