//! doreisa: in situ analytics for large parallel simulations, on a distributed runtime
//! with Ray's semantics.
//!
//! This is the facade users depend on: it re-exports the layers below
//! (`doreisa-insitu`, `doreisa-array`, `doreisa-sched`, `doreisa-core`,
//! `doreisa-objstore`). It holds no logic of its own.

pub use doreisa_array as array;
pub use doreisa_core as core;
pub use doreisa_insitu as insitu;
pub use doreisa_objstore as objstore;
pub use doreisa_sched as sched;
