//! The in situ tests (`insitu/cases.rs`) on embedded clusters: ranks publish beside
//! their node, handing their chunks over by reference.

#[path = "insitu/cases.rs"]
mod cases;
#[path = "insitu/support.rs"]
mod sim;

use doreisa::core::{Cluster, ClusterConfig};
use doreisa::insitu::Delivery;

fn start_cluster(nodes: usize, store: Option<&sim::StoreLimit>) -> sim::Sim {
    let mut config = ClusterConfig::default().nodes(nodes).compute_threads(1);
    if let Some(store) = store {
        config = config
            .store_capacity(store.capacity)
            .spill_dir(&store.spill_dir);
    }
    sim::Sim {
        cluster: Cluster::start(config, sim::registry()).unwrap(),
        delivery: Delivery::Reference,
        _alive: None,
    }
}
