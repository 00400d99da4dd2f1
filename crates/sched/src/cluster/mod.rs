//! Running task graphs on a cluster: one scheduling actor per node runs the fragments
//! of its node as runtime tasks, pushes the refs other nodes need straight to their
//! actors, and hands graph outputs to the driver's mailbox. The driver partitions,
//! ships a plan once per graph structure, then sends one small request per node and
//! run.

pub mod actor;
pub mod runner;
pub mod shared;
pub mod state;

pub use actor::{SchedulingActor, SchedulingActorAddress, SchedulingActorHandle};
pub use runner::{ClusterRunner, Strategy, start_actors};
pub use shared::SchedShared;

/// Registers the scheduler (its functions, actor class and state) with `kernels`.
pub fn register(registry: &mut doreisa_core::Registry, kernels: crate::KernelRegistry) {
    shared::register_functions(registry, kernels);
    SchedulingActor::register(registry);
}
