//! Settings of an embedded cluster.

use std::path::PathBuf;
use std::time::Duration;

/// The cores of this machine (at least 1).
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Settings of an embedded cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub nodes: usize,
    /// Threads running task bodies, shared by all the nodes (default: the cores).
    pub compute_threads: usize,
    /// Threads running the nodes' state machines, each a share of the nodes (default:
    /// the cores, and never more than the nodes). Never a thread per node.
    pub node_threads: usize,
    /// Object store capacity, per node.
    pub store_capacity: u64,
    /// Where nodes spill primary copies under memory pressure (a folder per node).
    pub spill_dir: Option<PathBuf>,
    /// How long an idle thread polls for work before parking.
    pub spin: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            nodes: 2,
            compute_threads: cores(),
            node_threads: cores(),
            store_capacity: 2 << 30,
            spill_dir: None,
            spin: default_spin(),
        }
    }
}

/// How long idle threads of an embedded cluster poll before parking:
/// `DOREISA_SPIN_US` microseconds, else 200. Parking and waking a thread costs 8–35 µs
/// on virtual machines like ours; polling a little longer keeps request/reply chains on
/// running CPUs (see `runtime::spin` for how polling is bounded).
pub fn default_spin() -> Duration {
    spin_from_env(200)
}

/// `DOREISA_SPIN_US` microseconds, else `default`.
pub fn spin_from_env(default: u64) -> Duration {
    let micros = std::env::var("DOREISA_SPIN_US")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Duration::from_micros(micros)
}

impl ClusterConfig {
    pub fn nodes(mut self, nodes: usize) -> Self {
        self.nodes = nodes;
        self
    }

    pub fn store_capacity(mut self, bytes: u64) -> Self {
        self.store_capacity = bytes;
        self
    }

    pub fn spill_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spill_dir = Some(dir.into());
        self
    }

    pub fn compute_threads(mut self, threads: usize) -> Self {
        self.compute_threads = threads;
        self
    }

    pub fn node_threads(mut self, threads: usize) -> Self {
        self.node_threads = threads;
        self
    }
}
