//! The error type of doreisa-insitu.

use crate::stall::{RankName, Stall};
use std::time::Duration;

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
    /// No timestep completed within the analytics' timeout (see [`Stall`]).
    #[error("{0}")]
    Stalled(Box<Stall>),
    /// A rank closed before publishing its chunk of `array` at `timestep`: that
    /// timestep can never complete.
    #[error(
        "array {array:?}: timestep {timestep} can never complete: its chunk {chunk:?} comes from {rank}"
    )]
    RankGone {
        array: String,
        timestep: i64,
        chunk: Vec<u32>,
        rank: Box<RankName>,
    },
    /// A callback reads an array that no rank declared when a timestep completed.
    #[error(
        "callback {callback:?} reads array {array:?}, which no rank declares \
         (timestep {timestep} completed without it)"
    )]
    UndeclaredWindow {
        callback: String,
        array: String,
        timestep: i64,
    },
    /// A rank waited for the analytics to catch up (back-pressure) until its bridge's
    /// timeout.
    #[error(
        "timestep {timestep}: waited {:.1} s for the analytics to catch up (it finished {}){}",
        .waited.as_secs_f64(),
        .done.map_or_else(|| "no timestep".to_string(), |t| format!("timestep {t}")),
        if .holding.is_empty() { String::new() } else { format!("; {}", .holding.join("; ")) }
    )]
    AnalyticsBehind {
        timestep: i64,
        waited: Duration,
        done: Option<i64>,
        /// What keeps this bridge's iterations from leaving (ranks missing).
        holding: Vec<String>,
    },
    /// The analytics' coordinator was lost with its node (the analytics' process died,
    /// or left without closing the session): nothing it would have said will come.
    #[error(
        "the analytics is gone: its coordinator was lost with node {node:?}, which left the cluster"
    )]
    AnalyticsLost { node: doreisa_core::NodeId },
    #[error("a bridge started for {ranks} ranks takes no more once they all closed")]
    BridgeLeft { ranks: usize },
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
