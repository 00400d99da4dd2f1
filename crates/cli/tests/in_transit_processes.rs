//! The in situ tests (`tests/insitu/cases.rs`) in transit on a cluster of processes:
//! the ranks stream their chunks over QUIC to the scheduling actors of the worker
//! processes, in the calls themselves.

#[path = "../../../tests/insitu/cases.rs"]
mod cases;
mod common;
#[path = "common/insitu_cluster.rs"]
mod insitu_cluster;
#[path = "../../../tests/insitu/support.rs"]
mod sim;

fn start_cluster(nodes: usize, store: Option<&sim::StoreLimit>) -> sim::Sim {
    insitu_cluster::start_cluster(nodes, store, doreisa::insitu::Delivery::Stream)
}
