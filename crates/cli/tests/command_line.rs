//! The command line as a user meets it: host names where addresses go, readable
//! `status`, fingerprints in hex, plain-text logs in files, bad values refused with a
//! clear message, and help that names every benchmark.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn doreisa_rs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_doreisa-rs"))
        .args(args)
        .output()
        .unwrap()
}

/// A process killed when dropped, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < Duration::from_secs(30), "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_head_on_localhost_shows_readable_sizes_hex_fingerprints_and_plain_logs() {
    let dir = tempfile::tempdir().unwrap();
    let cluster_file = dir.path().join("cluster.json");
    let log = dir.path().join("head.log");
    let head = Command::new(env!("CARGO_BIN_EXE_doreisa-rs"))
        .args(["head", "--listen", "localhost:0", "--cluster-file"])
        .arg(&cluster_file)
        .args(["--object-store-memory", "3221225472"])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let _head = Running(head);
    eventually("the head writes its cluster file", || cluster_file.exists());
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cluster_file).unwrap()).unwrap();
    let address = file["head"].as_str().unwrap();
    assert!(
        address.starts_with("127.0.0.1:"),
        "localhost resolved: {address}"
    );
    assert!(!address.ends_with(":0"), "a port was chosen: {address}");

    let cluster = ["--cluster-file", cluster_file.to_str().unwrap()];
    let status = doreisa_rs(&[&["status"][..], &cluster].concat());
    assert!(status.status.success(), "{}", text(&status.stderr));
    let table = text(&status.stdout);
    assert!(
        table.contains("3.0 GiB"),
        "the capacity, readable:\n{table}"
    );
    assert!(!table.contains("3221225472"), "not in bytes:\n{table}");

    let watched =
        doreisa_rs(&[&["status", "--watch", "0.1", "--count", "3"][..], &cluster].concat());
    assert!(watched.status.success(), "{}", text(&watched.stderr));
    let tables = text(&watched.stdout);
    assert_eq!(
        tables.matches("tasks/s").count(),
        3,
        "three tables:\n{tables}"
    );
    let head_rows: Vec<&str> = tables.lines().filter(|l| l.starts_with("0 ")).collect();
    assert_eq!(head_rows.len(), 3, "{tables}");
    assert!(
        head_rows[0].contains(" - "),
        "no rate before a second sample: {}",
        head_rows[0]
    );
    assert!(
        !head_rows[2].contains(" - "),
        "a rate from the second on: {}",
        head_rows[2]
    );
    refused(&["status", "--watch", "0"], "between 0.05 and 86400");
    refused(&["status", "--count", "2"], "--watch");

    let json = doreisa_rs(&[&["status", "--json"][..], &cluster].concat());
    assert!(json.status.success(), "{}", text(&json.stderr));
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let fingerprint = json["members"][0]["member"]["fingerprint"]
        .as_str()
        .unwrap();
    assert_eq!(fingerprint.len(), 64, "SHA-256 in hex: {fingerprint}");
    assert_eq!(
        fingerprint,
        file["fingerprint"].as_str().unwrap(),
        "the head's"
    );

    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("DEBUG"), "the head logged:\n{logged}");
    assert!(
        !logged.contains('\u{1b}'),
        "no colour codes in a file:\n{logged}"
    );
}

fn refused(args: &[&str], message: &str) {
    let output = doreisa_rs(args);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?} refused: {stderr}");
    assert!(stderr.contains(message), "{args:?}: {stderr}");
}

#[test]
fn bad_values_are_refused_before_anything_runs() {
    refused(
        &["bench", "tasks-async", "--runs", "0"],
        "must be at least 1",
    );
    refused(
        &["bench", "weak-scaling", "--nodes", "1,0"],
        "must be at least 1",
    );
    refused(&["bench", "weak-scaling", "--mode", "cloud"], "processes");
    refused(&["bench", "weak-scaling", "--chunk", "10"], "ROWSxCOLS");
    refused(&["bench", "weak-scaling", "--chunk", "0x10"], "at least 1");
    refused(&["bench", "weak-scaling", "--chunks-per-node", "0"], "0");
    refused(
        &["bench", "weak-scaling", "--iterations", "39"],
        "must be at least 40",
    );
    refused(
        &["bench", "weak-scaling", "--analysis", "median"],
        "flip-sum",
    );
    refused(&["bench", "tasks-asink"], "weak-scaling");
    refused(&["head", "--listen", "localhost:http"], "not a port number");
    refused(&["demo", "--colour-range", "80:20"], "LOW:HIGH");
}

#[test]
fn the_help_names_weak_scaling_on_the_bench_line() {
    let help = text(&doreisa_rs(&["--help"]).stdout);
    let bench = help
        .lines()
        .find(|l| l.trim_start().starts_with("bench"))
        .unwrap_or_else(|| panic!("no bench line:\n{help}"));
    assert!(bench.contains("weak-scaling"), "{bench}");
}

#[test]
fn the_demo_writes_no_colour_codes_when_its_output_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let output = doreisa_rs(&[
        "demo",
        "--grid",
        "24",
        "--ranks",
        "4",
        "--iterations",
        "4",
        "--output",
        dir.path().to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    for stream in [&output.stdout, &output.stderr] {
        assert!(!text(stream).contains('\u{1b}'), "{}", text(stream));
    }
    assert!(Path::new(&dir.path().join("statistics.png")).exists());
}
