//! doreisa-core: the Ray layer of doreisa-rs.
//!
//! Ids, the ownership / distributed reference-counting protocol (a sans-IO state
//! machine in [`ownership`]), and, built on it, `ObjectRef`s, tasks, actors, nodes and
//! the transports between them.
//!
//! Depends on `doreisa-objstore` only. It must not depend on the scheduling, array or
//! in situ layers (`doreisa-sched`, `doreisa-array`, `doreisa-insitu`): they build on it.

pub mod ids;
pub mod ownership;

pub use ids::{IdMinter, NodeId, ObjectId, TaskId, WorkerId};
