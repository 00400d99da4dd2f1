//! A process node this host cannot give its threads is refused before it starts.

use doreisa_core::Registry;
use doreisa_net::{NodeOptions, NodeRole, ProcessNode};

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
