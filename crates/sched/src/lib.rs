//! doreisa-sched: task graphs of kernel invocations, how they are partitioned over
//! nodes, and the scheduling actors that run them where their inputs are.
//!
//! - [`graph`]: the task-graph form every array expression lowers to (kernels by name,
//!   inputs from earlier tasks or from source chunks given at run time).
//! - [`kernel`]: the registry of kernels (functions from input chunks to a chunk).
//! - [`local`]: evaluates a graph in this thread (the reference for tests).
//! - [`runner`]: the [`GraphRunner`] interface arrays are computed through, and the
//!   in-thread [`LocalRunner`].
//! - [`partition`]: greedy and random-balanced partitioners.
//! - [`plan`]: partitioned graphs cut into per-node fragments, cached by structure.
//! - [`cluster`]: the scheduling actors and the [`ClusterRunner`] that drives them.
//!
//! Built on `doreisa-core`. It must not depend on the array or in situ layers
//! (`doreisa-array`, `doreisa-insitu`), which build on it; kernels see chunks as bytes.

pub mod cluster;
pub mod error;
pub mod graph;
pub mod kernel;
pub mod local;
pub mod partition;
pub mod plan;
pub mod runner;

pub use cluster::{ClusterRunner, Strategy};
pub use error::SchedError;
pub use graph::{GraphTask, Input, SourceKey, TaskGraph};
pub use kernel::{KernelFn, KernelRegistry};
pub use runner::{GraphRunner, LocalRunner, Persisted};
