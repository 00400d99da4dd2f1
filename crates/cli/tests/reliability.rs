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

fn demo(grid: usize, ranks: usize, nodes: usize) -> Result<(), String> {
    let output = tempfile::tempdir().unwrap();
    doreisa_cli::demo::run(&doreisa_cli::demo::DemoConfig {
        grid,
        ranks,
        nodes,
        iterations: 5,
        output: output.path().to_path_buf(),
        ..Default::default()
    })
}

#[test]
fn absurd_demo_sizes_are_refused_before_anything_runs() {
    let error = demo(64, 8, 100_000).unwrap_err();
    assert!(
        error.contains("an embedded cluster of 100000 nodes needs about"),
        "{error}"
    );
    let error = demo(64, 1 << 40, 2).unwrap_err();
    assert!(error.contains("1099511627776 ranks"), "{error}");
    let error = demo(10_000_000, 8, 2).unwrap_err();
    assert!(
        error.contains("a 10000000x10000000 grid needs about"),
        "{error}"
    );
    assert!(error.contains("available"), "{error}");
}

#[test]
fn a_node_with_absurdly_many_compute_threads_is_refused_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.json");
    let child = doreisa_rs()
        .args(["head", "--listen", "127.0.0.1:0", "--num-cpus", "100000"])
        .arg("--cluster-file")
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = finish_within(child, Duration::from_secs(20));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(said.contains("100000 compute threads"), "{said}");
    assert!(!said.contains("panicked"), "{said}");
    assert!(!path.exists());
}

#[test]
fn a_weak_scaling_run_larger_than_this_host_is_refused_before_it_starts() {
    use doreisa_cli::weak_scaling::{Mode, ScalingConfig, run};
    let huge = |mode| ScalingConfig {
        nodes: vec![100_000],
        mode,
        ..ScalingConfig::default()
    };
    let error = run(&huge(Mode::Processes)).unwrap_err();
    assert!(error.contains("100000 node processes"), "{error}");
    let error = run(&huge(Mode::Embedded)).unwrap_err();
    assert!(error.contains("100000 nodes"), "{error}");
}

/// The live (not zombie) processes whose parent is `parent`.
fn children_of(parent: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (name) state ppid ...": the name may hold spaces, not a ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1) == Some(&parent.to_string().as_str()) && fields[0] != "Z" {
            children.push(pid);
        }
    }
    children
}

/// Whether `pid` runs (a zombie does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let rest = stat.rsplit_once(')')?.1.to_string();
            rest.split_whitespace().next().map(|state| state != "Z")
        })
        .unwrap_or(false)
}

/// Kills whatever of `pids` still runs when dropped (a failing test leaks nothing).
struct Reaper(Vec<u32>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for &pid in &self.0 {
            if alive(pid) {
                // SAFETY: kill(2) on a process this test started (through the bench).
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
        }
    }
}

#[test]
fn a_bench_killed_by_sigterm_or_sigkill_leaves_no_node_process_behind() {
    for signal in [libc::SIGTERM, libc::SIGKILL] {
        let mut bench = doreisa_rs()
            .args(["bench", "weak-scaling", "--mode", "processes"])
            .args(["--nodes", "3", "--runs", "3"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The head and two workers.
        eventually("the bench starts its node processes", || {
            children_of(bench.id()).len() == 3
        });
        let nodes = Reaper(children_of(bench.id()));
        // SAFETY: kill(2) on our child, not yet waited for.
        assert_eq!(unsafe { libc::kill(bench.id() as libc::pid_t, signal) }, 0);
        bench.wait().unwrap();
        eventually("every node process ends with the bench", || {
            nodes.0.iter().all(|&pid| !alive(pid))
        });
        let cluster_file = std::env::temp_dir().join(format!("doreisa-weak-{}-3.json", bench.id()));
        assert!(!cluster_file.exists(), "the head removed its cluster file");
    }
}
