//! doreisa: in situ analytics for large parallel simulations, on a distributed runtime
//! with Ray's semantics.
//!
//! This is the facade users depend on: it re-exports the layers below
//! (`doreisa-insitu`, `doreisa-array`, `doreisa-sched`, `doreisa-net`, `doreisa-core`,
//! `doreisa-proto`, `doreisa-objstore`), [`registry`] gathers what every node of a
//! cluster must be able to run, and [`save`] writes results as `.npy` files and Zarr
//! stores.

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
pub mod save;

/// A registry with the scheduler, the array kernels and the one nodes write saved
/// results with ([`save::ZarrSeries`]): start from it, add your own
/// functions and actors, and give the same one to every node and driver.
pub fn registry() -> core::Registry {
    let mut registry = core::Registry::new();
    let mut kernels = array::kernels();
    save::register_kernels(&mut kernels);
    sched::cluster::register(&mut registry, kernels);
    insitu::register(&mut registry);
    registry
}
