//! Sizes this host cannot give are refused before anything starts, with the figures;
//! the sizes the project promises (1024 virtual nodes) still start.

use doreisa_core::net::{NodeOptions, NodeRole, ProcessNode};
use doreisa_core::{Cluster, ClusterConfig, CoreError, Registry, TaskOptions};

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
fn a_node_with_more_compute_threads_than_this_host_allows_is_refused() {
    let options = NodeOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        compute_threads: 10_000_000,
        ..NodeOptions::new(NodeRole::Head)
    };
    let error = ProcessNode::start_head(options, Registry::new())
        .err()
        .expect("refused")
        .to_string();
    assert!(error.contains("10000000 compute threads"), "{error}");
    assert!(error.contains("may start about"), "{error}");
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
