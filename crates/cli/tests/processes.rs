//! A real cluster of processes on 127.0.0.1: a `doreisa-rs head`, two `doreisa-rs
//! worker`s, and this test as the driver.

mod common;

use common::{Processes, eventually};
use doreisa::core::{Cluster, CoreError, NodeId, TaskOptions};
use doreisa::net::NodeRole;
use doreisa::net::client::fetch_status;
use doreisa_cli::selftest::{self, st_blob, st_blob_len, st_put_inside, st_sleep};
use std::path::Path;
use std::time::Duration;

fn connect(processes: &Processes) -> Cluster {
    Cluster::connect(&processes.cluster_file(), doreisa_cli::registry()).unwrap()
}

/// The worker processes' node ids, with their process names.
fn worker_nodes(processes: &Processes) -> Vec<NodeId> {
    let status = fetch_status(&processes.cluster_file()).unwrap();
    status
        .members
        .iter()
        .filter(|m| m.member.role == NodeRole::Worker)
        .map(|m| m.member.node)
        .collect()
}

#[test]
fn the_end_to_end_checks_pass_across_processes() {
    let processes = Processes::start(2, 3_000);
    let cluster = connect(&processes);
    assert_eq!(
        cluster.task_nodes().len(),
        3,
        "the head and two workers take tasks"
    );
    selftest::run_checks(&cluster).unwrap();
    drop(cluster);
    drop(processes);
}

#[test]
fn a_killed_worker_fails_or_rebuilds_what_it_held_and_the_rest_goes_on() {
    let mut processes = Processes::start(2, 1_000);
    let cluster = connect(&processes);
    let driver = cluster.driver();
    // worker-0 joined first: it has the lower worker id.
    let victim = worker_nodes(&processes)[0];

    // Owned there: fails for us with OwnerDied.
    let outer = st_put_inside::remote_with(driver, TaskOptions::on(victim), 5).unwrap();
    let owned_there = driver.get(&outer).unwrap();
    assert_eq!(owned_there.owner().node(), victim);
    // Owned here, stored there only (measured there, never copied): rebuilt.
    let stored_there = st_blob::remote_with(driver, TaskOptions::on(victim), 1 << 20, 9).unwrap();
    let measured =
        st_blob_len::remote_with(driver, TaskOptions::on(victim), &stored_there).unwrap();
    assert_eq!(driver.get(&measured).unwrap(), 1 << 20);
    // Running there when it dies: run again elsewhere.
    let running = st_sleep::remote_with(driver, TaskOptions::on(victim), 1_500, 11).unwrap();
    std::thread::sleep(Duration::from_millis(200));

    processes.kill("worker-0");
    let deadline = Some(Duration::from_secs(20));
    assert_eq!(
        driver.get_timeout(&owned_there, deadline),
        Err(CoreError::OwnerDied(owned_there.id()))
    );
    let rebuilt = driver.get_timeout(&stored_there, deadline).unwrap();
    assert_eq!(rebuilt.0.len(), 1 << 20);
    assert!(
        rebuilt
            .0
            .iter()
            .enumerate()
            .all(|(i, &b)| b == 9u8.wrapping_add(i as u8))
    );
    assert_eq!(driver.get_timeout(&running, deadline).unwrap(), 11);
    let status = fetch_status(&processes.cluster_file()).unwrap();
    assert!(status.departed.contains(&victim), "{:?}", status.departed);
    assert!(!cluster.task_nodes().contains(&victim));

    // The survivors keep working, and everything is released.
    drop((outer, owned_there, stored_there, measured, running));
    selftest::run_checks(&cluster).unwrap();
    drop(cluster);
    processes.stop_all();
}

#[test]
fn peers_without_the_cluster_token_or_certificate_are_refused() {
    let processes = Processes::start(0, 3_000);
    let good = processes.cluster_file();

    let mut wrong_token = good.clone();
    wrong_token.token = "00".repeat(32);
    let error = Cluster::connect(&wrong_token, doreisa_cli::registry())
        .err()
        .expect("refused");
    assert!(error.to_string().contains("wrong cluster token"), "{error}");
    let error = fetch_status(&wrong_token).unwrap_err();
    assert!(error.to_string().contains("wrong cluster token"), "{error}");

    let mut wrong_certificate = good.clone();
    wrong_certificate.fingerprint = "11".repeat(32);
    assert!(Cluster::connect(&wrong_certificate, doreisa_cli::registry()).is_err());

    eventually("the head logs the refusals", || {
        processes
            .log("head")
            .matches("refused a connection")
            .count()
            >= 2
    });
    // The head goes on admitting those with the token, and nobody else joined.
    let status = fetch_status(&good).unwrap();
    assert_eq!(status.members.len(), 1);
    let cluster = connect(&processes);
    let sum = doreisa_cli::selftest::st_add::remote(cluster.driver(), 1, 2).unwrap();
    assert_eq!(cluster.driver().get(&sum).unwrap(), 3);
    let _ = Path::new(".");
}
