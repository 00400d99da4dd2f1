//! The error type of doreisa-sched.

/// Everything that can go wrong while building, partitioning or running a task graph.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SchedError {
    #[error("no kernel registered as {0:?}")]
    UnknownKernel(String),
    #[error("kernel {kernel:?} failed: {message}")]
    KernelFailed { kernel: String, message: String },
    #[error("the graph has no value for source {0}")]
    MissingSource(String),
    #[error("invalid task graph: {0}")]
    InvalidGraph(String),
    #[error(transparent)]
    Runtime(#[from] doreisa_core::CoreError),
}
