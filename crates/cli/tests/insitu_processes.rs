//! The in situ tests (`tests/insitu/cases.rs`) on a cluster of processes: a `doreisa-rs
//! head` and workers (the head takes tasks too), the analytics in this test's driver,
//! and the ranks as threads of this process streaming their chunks over QUIC to the
//! scheduling actors of the worker processes (in transit).

#[path = "../../../tests/insitu/cases.rs"]
mod cases;
mod common;
#[path = "../../../tests/insitu/support.rs"]
mod sim;

use common::Processes;
use doreisa::core::Cluster;
use doreisa::insitu::Delivery;

fn start_cluster(nodes: usize, store: Option<&sim::StoreLimit>) -> sim::Sim {
    let node_args: Vec<String> = match store {
        Some(store) => vec![
            "--object-store-memory".into(),
            store.capacity.to_string(),
            "--spill-dir".into(),
            store.spill_dir.display().to_string(),
        ],
        None => Vec::new(),
    };
    let processes = Processes::start_with(nodes - 1, 3_000, &node_args);
    let cluster = Cluster::connect(&processes.cluster_file(), sim::registry()).unwrap();
    sim::Sim {
        cluster,
        delivery: Delivery::Stream,
        _alive: Some(Box::new(processes)),
    }
}
