//! Errors of a process cluster say what went wrong once, in the right words: a bad
//! cluster file is not a network error, and no message reads "network: network: ...".

use doreisa_core::{CoreError, Registry};
use doreisa_net::client::fetch_status;
use doreisa_net::{Cluster, NetError, NodeOptions, NodeRole, ProcessNode};

fn head() -> ProcessNode {
    let options = NodeOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..NodeOptions::new(NodeRole::Head)
    };
    ProcessNode::start_head(options, Registry::new()).unwrap()
}

/// The error's text names its category once at most.
fn said_once(error: &NetError) -> String {
    let said = error.to_string();
    assert!(said.matches("network:").count() <= 1, "{said}");
    said
}

#[test]
fn a_malformed_cluster_file_is_an_invalid_argument_not_a_network_error() {
    let head = head();
    let mut bad_fingerprint = head.cluster.clone();
    bad_fingerprint.fingerprint = "not hex".into();
    let error = fetch_status(&bad_fingerprint).unwrap_err();
    assert!(
        matches!(error, NetError::Runtime(CoreError::Invalid(_))),
        "{error:?}"
    );
    assert!(!said_once(&error).contains("network"), "{error}");

    let mut bad_token = head.cluster.clone();
    bad_token.token = "zz".into();
    let error = Cluster::connect(&bad_token, Registry::new()).err().unwrap();
    assert!(
        matches!(error, NetError::Runtime(CoreError::Invalid(_))),
        "{error:?}"
    );
    let error = fetch_status(&bad_token).unwrap_err();
    assert!(
        matches!(error, NetError::Runtime(CoreError::Invalid(_))),
        "{error:?}"
    );
}

#[test]
fn refusals_read_network_once() {
    let head = head();
    let mut wrong_token = head.cluster.clone();
    wrong_token.token = "00".repeat(32);
    let error = Cluster::connect(&wrong_token, Registry::new())
        .err()
        .unwrap();
    let said = said_once(&error);
    assert_eq!(said, "network: the head refused us: wrong cluster token");
    let error = fetch_status(&wrong_token).unwrap_err();
    assert_eq!(
        said_once(&error),
        "network: the head refused us: wrong cluster token"
    );
}
