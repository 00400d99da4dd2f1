//! Random programs against the ownership protocol (`ownership::sim::random`): safety
//! after every step, no leak and `OwnerDied` answers at the end.
//!
//! `DOREISA_SIM_SEED` sets the base seed (default fixed); a failure prints the program's
//! own seed, replayed with
//! `DOREISA_SIM_REPLAY=<seed> cargo test -p doreisa-proto --test ownership_random replay -- --ignored --nocapture`.

use doreisa_proto::ownership::sim::random::{run_many, run_program};

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
    println!("ownership random programs: base seed {base:#x}, {programs} programs");
    match run_many(base, programs) {
        Ok(stats) => println!("all held: {stats:?}"),
        Err(failure) => panic!("base seed {base:#x}: {failure}"),
    }
}

#[test]
fn random_programs() {
    check(base_seed(0x0D0E_15A0_5EED), 2_000);
}

#[test]
#[ignore = "long run: 100 000 programs"]
fn random_programs_long() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    check(base_seed(now), 100_000);
}

#[test]
#[ignore = "replays DOREISA_SIM_REPLAY"]
fn replay() {
    let seed = std::env::var("DOREISA_SIM_REPLAY")
        .ok()
        .and_then(|s| parse_seed(&s))
        .expect("set DOREISA_SIM_REPLAY to a program seed");
    if let Err(failure) = run_program(seed, true) {
        let mut report = failure.to_string();
        for line in &failure.trace {
            report.push_str(&format!("\n  {line}"));
        }
        panic!("{report}");
    }
}
