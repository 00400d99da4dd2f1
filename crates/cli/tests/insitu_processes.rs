//! The in situ tests (`tests/insitu/cases.rs`) on a cluster of processes, the ranks in
//! a process of their own on the nodes' host: each chunk is copied once into its node's
//! shared memory and named to the node's scheduling actor over QUIC.

#[path = "../../../tests/insitu/cases.rs"]
mod cases;
mod common;
#[path = "common/insitu_cluster.rs"]
mod insitu_cluster;
#[path = "../../../tests/insitu/support.rs"]
mod sim;

fn start_cluster(nodes: usize, store: Option<&sim::StoreLimit>) -> sim::Sim {
    insitu_cluster::start_cluster(nodes, store, doreisa::insitu::Delivery::Shared)
}
