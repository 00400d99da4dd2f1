//! The in situ tests' cluster of processes: a `doreisa-rs head` and workers (the head
//! takes tasks too), the analytics in the test's driver, and the ranks as threads of
//! the driver process handing their chunks over as `delivery` says.

use crate::common::Processes;
use crate::sim;
use doreisa::core::Cluster;
use doreisa::insitu::Delivery;

pub fn start_cluster(
    nodes: usize,
    store: Option<&sim::StoreLimit>,
    delivery: Delivery,
) -> sim::Sim {
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
        delivery,
        _alive: Some(Box::new(processes)),
    }
}
