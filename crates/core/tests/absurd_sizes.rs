//! Sizes this host cannot give are refused before anything starts, with the figures;
//! the sizes the project promises (1024 virtual nodes) still start.

use doreisa_core::{ClusterConfig, CoreError, EmbeddedCluster as Cluster, Registry, TaskOptions};

doreisa_core::remote! {
    fn double(x: i64) -> i64 { 2 * x }
}

#[test]
fn an_embedded_cluster_larger_than_this_host_is_refused_before_it_starts() {
    let error = Cluster::start(ClusterConfig::default().nodes(100_000), Registry::new())
        .err()
        .expect("refused");
    let CoreError::Invalid(reason) = &error else {
        panic!("not a clear refusal: {error}")
    };
    assert!(
        reason.contains("an embedded cluster of 100000 nodes"),
        "{reason}"
    );
    assert!(
        reason.contains("threads") || reason.contains("available"),
        "names the limit: {reason}"
    );
}

#[test]
fn an_embedded_cluster_of_1024_nodes_starts_and_runs_tasks_on_its_last_node() {
    let mut registry = Registry::new();
    double::register(&mut registry);
    let cluster = Cluster::start(ClusterConfig::default().nodes(1024), registry).unwrap();
    let last = *cluster.nodes().last().unwrap();
    let driver = cluster.driver();
    let doubled = double::remote_with(driver, TaskOptions::on(last), 21).unwrap();
    assert_eq!(driver.get(&doubled).unwrap(), 42);
}
