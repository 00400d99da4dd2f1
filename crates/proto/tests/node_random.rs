//! Random programs against whole nodes (`node::sim::program`): values as created,
//! failures only when explained, every get answered, nothing left once every handle
//! is dropped; with nodes killed and links interleaved at random.
//!
//! `DOREISA_SIM_SEED` sets the base seed (default fixed); a failure prints the program's
//! own seed, replayed with
//! `DOREISA_SIM_REPLAY=<seed> cargo test -p doreisa-proto --test node_random replay -- --ignored --nocapture`.

use doreisa_proto::node::sim::program::{run_many, run_program};

fn parse_seed(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn base_seed(default: u64) -> u64 {
    std::env::var("DOREISA_SIM_SEED")
        .ok()
        .and_then(|s| parse_seed(&s))
        .unwrap_or(default)
}

fn check(base: u64, programs: u64) {
    println!("node random programs: base seed {base:#x}, {programs} programs");
    match run_many(base, programs) {
        Ok(stats) => {
            println!("all held: {stats:?}");
            assert!(stats.deaths > 0 && stats.failed_gets > 0 && stats.gets > 0);
        }
        Err(failure) => {
            let mut report = failure.to_string();
            if let Ok(replayed) = run_program(failure.seed, true) {
                report.push_str(&format!("\n(the replay passed: {replayed:?})"));
            } else if let Err(replayed) = run_program(failure.seed, true) {
                let tail = replayed.trace.len().saturating_sub(60);
                for line in &replayed.trace[tail..] {
                    report.push_str(&format!("\n  {line}"));
                }
            }
            panic!("base seed {base:#x}: {report}");
        }
    }
}

#[test]
fn random_node_programs() {
    check(base_seed(0x0D0E_15A0_0DE5), 10_000);
}

#[test]
#[ignore = "long run: 200 000 programs"]
fn random_node_programs_long() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    check(base_seed(now), 200_000);
}

#[test]
#[ignore = "replays DOREISA_SIM_REPLAY"]
fn replay() {
    let seed = std::env::var("DOREISA_SIM_REPLAY")
        .ok()
        .and_then(|s| parse_seed(&s))
        .expect("set DOREISA_SIM_REPLAY to a program seed");
    match run_program(seed, true) {
        Ok(stats) => println!("held: {stats:?}"),
        Err(failure) => {
            let mut report = failure.to_string();
            for line in &failure.trace {
                report.push_str(&format!("\n  {line}"));
            }
            panic!("{report}");
        }
    }
}
