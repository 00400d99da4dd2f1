//! The self-test's end-to-end checks (the ones `processes.rs` runs across processes)
//! on an embedded cluster: the same code passes on both.

use doreisa::core::{Cluster, ClusterConfig};

#[test]
fn the_end_to_end_checks_pass_on_an_embedded_cluster() {
    let cluster = Cluster::start(
        ClusterConfig::default().nodes(3).compute_threads(1),
        doreisa_cli::registry(),
    )
    .unwrap();
    doreisa_cli::selftest::run_checks(&cluster).unwrap();
}
