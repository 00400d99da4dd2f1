//! Failures injected into real processes, and what the user sees: every case ends
//! within a bound, with a message that says what happened (the README's failure
//! matrix lists them).

mod common;

use common::{Processes, eventually};
use doreisa::net::ClusterFile;
use doreisa::net::client::fetch_status;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn doreisa_rs() -> Command {
    Command::new(env!("CARGO_BIN_EXE_doreisa-rs"))
}

/// Waits for `child` to end within `limit` (killing it otherwise) and returns its output.
fn finish_within(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "still running after {limit:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn start_head(cluster_file: &std::path::Path) -> Child {
    doreisa_rs()
        .args(["head", "--listen", "127.0.0.1:0", "--cluster-file"])
        .arg(cluster_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn terminate(child: &Child) {
    // SAFETY: a plain kill(2) on a child of ours that has not been waited for.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(sent, 0);
}

#[test]
fn a_second_head_refuses_a_live_heads_file_and_replaces_a_dead_ones() {
    let mut processes = Processes::start(0, 3_000);
    let path = processes.cluster_path();
    let first = processes.cluster_file();

    // A live head's file: the second head stops at once and says whose file it is.
    let second = finish_within(start_head(&path), Duration::from_secs(20));
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success());
    assert!(said.contains("running head"), "{said}");
    assert!(said.contains(&first.head.to_string()), "{said}");
    assert_eq!(ClusterFile::read(&path).unwrap(), first, "left alone");
    fetch_status(&first).expect("the first head still serves its cluster");

    // Its head killed, the file is stale: a new head takes it over.
    processes.kill("head");
    assert!(path.exists(), "a killed head leaves its file");
    let third = start_head(&path);
    eventually("the new head writes its file", || {
        ClusterFile::read(&path).is_ok_and(|f| f.token != first.token)
    });
    let replaced = ClusterFile::read(&path).unwrap();
    assert_eq!(replaced.version, first.version);
    fetch_status(&replaced).expect("the new head serves its cluster");

    // Stopped, it removes its own file.
    terminate(&third);
    let output = finish_within(third, Duration::from_secs(20));
    assert!(output.status.success(), "{output:?}");
    assert!(!path.exists());
}

#[test]
fn a_flood_of_refused_connections_logs_a_few_lines_and_the_head_goes_on() {
    let processes = Processes::start(0, 3_000);
    let mut wrong_token = processes.cluster_file();
    wrong_token.token = "00".repeat(32);
    for _ in 0..40 {
        let error = fetch_status(&wrong_token).unwrap_err().to_string();
        assert!(error.contains("wrong cluster token"), "{error}");
    }
    fetch_status(&processes.cluster_file()).expect("the head still answers");
    let lines = processes
        .log("head")
        .matches("refused a connection")
        .count();
    assert!(
        (1..=doreisa::proto::limits::REFUSALS_SHOWN_PER_WINDOW as usize).contains(&lines),
        "{lines} lines for 40 refusals"
    );
}
