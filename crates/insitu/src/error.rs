//! The error type of doreisa-insitu.

/// What can go wrong between a simulation and its analytics.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InsituError {
    #[error("array {0:?} was not declared by this rank")]
    Undeclared(String),
    #[error("array {array:?}: {message}")]
    BadDeclaration { array: String, message: String },
    #[error(
        "array {array:?}: chunk of shape {got:?} and dtype {got_dtype}, declared {expected:?} {expected_dtype}"
    )]
    BadChunk {
        array: String,
        got: Vec<usize>,
        got_dtype: String,
        expected: Vec<usize>,
        expected_dtype: String,
    },
    #[error("array {array:?}: timestep {timestep} after {last}: timesteps must not go back")]
    OutOfOrder {
        array: String,
        timestep: i64,
        last: i64,
    },
    #[error(
        "array {array:?}: duplicate chunk {chunk:?} at timestep {timestep}{}",
        .rank.map(|r| format!(", published again by rank {r}")).unwrap_or_default()
    )]
    Duplicate {
        array: String,
        chunk: Vec<u32>,
        timestep: i64,
        /// The rank publishing it again, when known: its number in its communicator,
        /// or in its bridge when it has none.
        rank: Option<u64>,
    },
    #[error(
        "close at timestep {timestep}, but timestep {published} of array {array:?} was \
         published already: close at the last timestep published"
    )]
    CloseBeforeLast {
        timestep: i64,
        array: String,
        published: i64,
    },
    #[error(
        "steering key {key:?}: timestep {timestep} after {last}: set values in increasing timesteps"
    )]
    SteeringOrder {
        key: String,
        timestep: i64,
        last: i64,
    },
    #[error("callback {callback} failed at timestep {timestep}: {message}")]
    Callback {
        callback: String,
        timestep: i64,
        message: String,
    },
    #[error("the session is closed")]
    Closed,
    #[error("shared memory: {0}")]
    SharedMemory(String),
    #[error(transparent)]
    Array(#[from] doreisa_array::ArrayError),
    #[error(transparent)]
    Sched(#[from] doreisa_sched::SchedError),
    #[error(transparent)]
    Runtime(#[from] doreisa_core::CoreError),
}

pub type Result<T, E = InsituError> = std::result::Result<T, E>;
