//! The one error type of doreisa-array.

use crate::DType;

/// Everything that can go wrong while building, lowering or computing an array
/// expression, or while decoding a chunk.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArrayError {
    /// Operand shapes that cannot be combined (broadcasting, concatenation, ...).
    #[error("shape mismatch in {op}: {detail}")]
    ShapeMismatch { op: &'static str, detail: String },
    /// An operation that does not accept this element type (e.g. `sqrt` on bool).
    #[error("{op} does not support dtype {dtype}")]
    UnsupportedDType { op: &'static str, dtype: DType },
    /// An axis number at or past the number of dimensions (or before minus it).
    #[error("axis {axis} is out of range for an array of {ndim} dimensions")]
    AxisOutOfRange { axis: isize, ndim: usize },
    /// A slice or index that does not fit the array.
    #[error("bad slice: {0}")]
    BadSlice(String),
    /// A chunk grid that does not fit a shape, or is malformed.
    #[error("bad chunk grid: {0}")]
    BadGrid(String),
    /// Bytes that are no valid encoded chunk.
    #[error("bad chunk bytes: {0}")]
    BadChunk(String),
    /// Kernel parameters that do not decode or do not fit the kernel's inputs.
    #[error("bad kernel parameters: {0}")]
    BadParams(String),
    /// Any other invalid argument (a scalar out of the dtype's range, a fan-in below 2, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A dynamically typed value read as the wrong element type.
    #[error("expected dtype {expected}, found {found}")]
    DTypeMismatch { expected: DType, found: DType },
    /// A computed chunk whose dtype or shape is not what the expression promised
    /// (typically a `map_blocks` kernel that changed its chunk's shape).
    #[error("computed chunk {chunk:?} does not match the expression: {detail}")]
    ResultMismatch { chunk: Vec<u32>, detail: String },
    /// Running the task graph failed.
    #[error(transparent)]
    Sched(#[from] doreisa_sched::SchedError),
}

/// Results of this crate.
pub type Result<T, E = ArrayError> = std::result::Result<T, E>;
