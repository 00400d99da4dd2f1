//! A real cluster of processes on 127.0.0.1 for the tests: a `doreisa-rs head` and
//! workers. Every wait has a deadline, and every process started is killed when a test
//! ends, pass or fail.
#![allow(dead_code)] // each test file uses its part

use doreisa::net::client::fetch_status;
use doreisa::net::{ClusterFile, NodeRole};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The processes of one test's cluster; all killed on drop.
pub struct Processes {
    pub dir: tempfile::TempDir,
    children: Vec<(String, Child)>,
}

impl Processes {
    /// Starts a head (members silent for `death_timeout_ms` are dead) and `workers`
    /// workers, and waits until they all joined.
    pub fn start(workers: usize, death_timeout_ms: u64) -> Processes {
        Self::start_with(workers, death_timeout_ms, &[])
    }

    /// Like [`Processes::start`], with `node_args` given to every process.
    pub fn start_with(workers: usize, death_timeout_ms: u64, node_args: &[String]) -> Processes {
        let mut processes = Processes {
            dir: tempfile::tempdir().unwrap(),
            children: Vec::new(),
        };
        let file = processes.cluster_path();
        let with_node_args = |args: &[&str]| -> Vec<String> {
            let args = args.iter().map(|a| a.to_string());
            args.chain(node_args.iter().cloned()).collect()
        };
        let head = with_node_args(&[
            "head",
            "--listen",
            "127.0.0.1:0",
            "--cluster-file",
            file.to_str().unwrap(),
            "--death-timeout-ms",
            &death_timeout_ms.to_string(),
            "--heartbeat-ms",
            "100",
        ]);
        processes.spawn("head", &head.iter().map(String::as_str).collect::<Vec<_>>());
        eventually("the head writes its cluster file", || file.exists());
        let cluster = processes.cluster_file();
        let joined = |count: usize| {
            fetch_status(&cluster).is_ok_and(|s| {
                s.members
                    .iter()
                    .filter(|m| m.member.role == NodeRole::Worker)
                    .count()
                    == count
            })
        };
        // One after the other, so that worker-i has the i-th lowest worker id.
        for i in 0..workers {
            let worker = with_node_args(&[
                "worker",
                "--cluster-file",
                file.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
                "--heartbeat-ms",
                "100",
            ]);
            let worker: Vec<&str> = worker.iter().map(String::as_str).collect();
            processes.spawn(&format!("worker-{i}"), &worker);
            eventually("the worker joins", || joined(i + 1));
        }
        processes
    }

    pub fn cluster_path(&self) -> PathBuf {
        self.dir.path().join("cluster.json")
    }

    pub fn cluster_file(&self) -> ClusterFile {
        ClusterFile::read(&self.cluster_path()).unwrap()
    }

    pub fn spawn(&mut self, name: &str, args: &[&str]) {
        let log = std::fs::File::create(self.log_path(name)).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_doreisa-rs"))
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.children.push((name.to_string(), child));
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
    }

    /// kill -9 the process `name`.
    pub fn kill(&mut self, name: &str) {
        let (_, child) = self
            .children
            .iter_mut()
            .find(|(n, _)| n == name)
            .expect("a process of that name");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Waits up to `limit` for the process `name` to end by itself; how it ended and
    /// when, or `None` if it still runs.
    pub fn wait_exit(
        &mut self,
        name: &str,
        limit: Duration,
    ) -> Option<(std::process::ExitStatus, Instant)> {
        let (_, child) = self
            .children
            .iter_mut()
            .find(|(n, _)| n == name)
            .expect("a process of that name");
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().unwrap() {
                return Some((status, Instant::now()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Kills everything and checks that nothing is left running.
    pub fn stop_all(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
        }
        for (name, child) in &mut self.children {
            let status = child.wait().unwrap();
            assert!(
                child.try_wait().unwrap().is_some(),
                "{name} still runs: {status}"
            );
        }
        self.children.clear();
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for (name, _) in &self.children {
                eprintln!("---- {name} ----\n{}", self.log(name));
            }
        }
        self.stop_all();
    }
}

pub fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "never happened: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
