//! doreisa-proto: everything in doreisa-rs that is protocol and no I/O.
//!
//! - [`ids`]: workers, nodes, objects, tasks and actors.
//! - [`ownership`]: Ray's ownership protocol (distributed reference counting), one
//!   reference table per worker.
//! - [`task`]: tasks as they travel (specs, replies).
//! - [`node`]: the state machine of a node (hosting workers' tables, running tasks,
//!   fetching objects), generic over its store and what it runs, and the node-to-node
//!   messages.
//! - [`codec`]: the one encoding of control messages and small values.
//! - [`frame`]: the frame codec every stream between processes uses; [`wire`]: the
//!   handshake, membership, heartbeat and status messages; [`membership`]: the head's
//!   table of members; [`limits`]: what a node accepts before authentication.
//!
//! The contract, in the manner of quinn-proto: nothing here opens a socket, spawns a
//! thread, reads a clock or waits. Inputs are events and method calls (time, when it
//! matters, is an argument); outputs are messages to send and actions for the caller to
//! carry out. So every protocol is driven step by step in tests, and the `sim` feature
//! adds deterministic simulators that reorder and drop messages and kill workers.
//!
//! It must not depend on any other doreisa crate, nor on an async runtime, an actor
//! framework or a network library.

#![warn(unreachable_pub)]

pub mod codec;
pub mod error;
pub mod frame;
pub mod ids;
pub mod limits;
pub mod membership;
pub mod node;
pub mod ownership;
pub mod task;
pub mod wire;

pub use error::{ProtoError, Result};
pub use ids::{ActorId, IdMinter, NodeId, ObjectId, TaskId, WorkerId};
