//! doreisa-sched: task graphs, partitioning, and the head's and nodes' scheduling actors.
//!
//! Built on `doreisa-core`. It must not depend on the array or in situ layers
//! (`doreisa-array`, `doreisa-insitu`), which build on it.
