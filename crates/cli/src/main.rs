//! The `doreisa-rs` command line.

use clap::{Parser, Subcommand};
use doreisa::core::ownership::sim::random::run_many;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "doreisa-rs",
    version,
    about = "In situ analytics for parallel simulations on a Ray-like runtime"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the main demo.
    ///
    /// Until the runtime lands, this checks the ownership protocol (distributed reference
    /// counting) on random multi-worker programs in the deterministic simulator.
    Demo {
        /// Number of random programs.
        #[arg(long, default_value_t = 5_000)]
        programs: u64,
        /// Base seed of the programs.
        #[arg(long, default_value_t = 0x0D0E_15A0_5EED)]
        seed: u64,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Demo { programs, seed } => demo(programs, seed),
    }
}

fn demo(programs: u64, seed: u64) -> ExitCode {
    println!(
        "doreisa-rs {}: checking the ownership protocol",
        env!("CARGO_PKG_VERSION")
    );
    println!(
        "  {programs} random programs of 3-6 workers (put, pass, nest, return, get, drop, kill),"
    );
    println!("  messages delivered in random order; safety checked after every step,");
    println!("  no leak and OwnerDied answers checked at the end. Base seed {seed:#x}.");
    let start = Instant::now();
    match run_many(seed, programs) {
        Ok(stats) => {
            let secs = start.elapsed().as_secs_f64();
            println!(
                "all invariants held: {} steps, {} messages, {} worker deaths, {} values freed in {:.2} s",
                stats.steps, stats.messages, stats.deaths, stats.values_freed, secs
            );
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("{failure}");
            ExitCode::FAILURE
        }
    }
}
