//! doreisa: in situ analytics for large parallel simulations, on a distributed runtime
//! with Ray's semantics.
//!
//! This is the facade users depend on: it re-exports the layers below
//! (`doreisa-insitu`, `doreisa-array`, `doreisa-sched`, `doreisa-net`, `doreisa-core`,
//! `doreisa-proto`, `doreisa-objstore`), and [`registry`] gathers what every node of a
//! cluster must be able to run.

pub use doreisa_array as array;
pub use doreisa_insitu as insitu;
pub use doreisa_net as net;
pub use doreisa_objstore as objstore;
pub use doreisa_proto as proto;
pub use doreisa_sched as sched;

/// The Ray layer as a program uses it: ObjectRefs, tasks, actors, workers
/// (`doreisa-core`), and [`Cluster`](core::Cluster), which starts an embedded cluster or
/// joins one of processes (`doreisa-net`).
pub mod core {
    pub use doreisa_core::*;
    pub use doreisa_net::Cluster;
}

#[cfg(feature = "mpi")]
pub mod mpi;

/// A registry with the scheduler and the array kernels: start from it, add your own
/// functions and actors, and give the same one to every node and driver.
pub fn registry() -> core::Registry {
    let mut registry = core::Registry::new();
    sched::cluster::register(&mut registry, array::kernels());
    insitu::register(&mut registry);
    registry
}
