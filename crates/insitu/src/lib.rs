//! doreisa-insitu: what a simulation developer and an analyst use. The simulation side
//! ([`Client`], one per rank, through a [`Bridge`] per node and process) declares and
//! publishes chunks, reads steering values and closes; the analytics side
//! ([`Analytics`]) runs callbacks over windows of arrays as timesteps complete,
//! prepares iterations ahead, and sets steering values. A [`Session`] starts the
//! actors both sides meet at (a coordinator; a scheduling actor and a gate per node);
//! each bridge has an inbox, an actor in its process that the coordinator tells how far
//! the analytics got and the steering values asked for, so that nothing polls. Every
//! wait of either side is bounded: what an analytics waited for in vain is a [`Stall`].
//!
//! Built on `doreisa-array`, `doreisa-sched` and `doreisa-core`. It must not depend on
//! the CLI, nor on MPI (communicators come in through [`Communicator`]).

pub mod analytics;
pub mod bridge;
mod buffer;
pub mod client;
pub mod comm;
mod contract;
pub mod coordinator;
pub mod decl;
pub mod error;
mod gate;
mod gather;
mod inbox;
pub mod notice;
pub mod session;
pub mod session_info;
pub mod shm;
pub mod stall;
pub mod triggers;

pub use analytics::{Analytics, AnalyticsOptions, CallbackResult, Context, Report, Steering};
pub use bridge::{Bridge, BridgeOptions, BridgeStats, Delivery};
pub use buffer::ChunkBuffer;
pub use client::{Client, Preprocess, PublishStats, Published};
pub use comm::{Communicator, ThreadGroup};
pub use contract::Contract;
pub use coordinator::CoordinatorAddress;
pub use decl::{AheadPolicy, ArrayMeta, ChunkDecl, Trigger, Window};
pub use error::{InsituError, Result};
pub use gate::NodeGateAddress;
pub use session::Session;
pub use session_info::SessionInfo;
pub use stall::{RankName, Stall};

/// Registers the in situ layer's actor classes and state.
pub fn register(registry: &mut doreisa_core::Registry) {
    coordinator::register(registry);
    gate::NodeGate::register(registry);
    gate::register(registry);
    inbox::register(registry);
}
