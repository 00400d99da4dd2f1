//! The `doreisa-rs` command line.

mod bench;

use clap::{Parser, Subcommand};
use doreisa::core::ownership::sim::random::run_many;
use std::path::PathBuf;
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
    /// Run a microbenchmark (named like Ray's) and print or write its figures as JSON.
    Bench {
        /// tasks-async, tasks-sync, put-small, get-small, put-gigabytes,
        /// actor-calls-async, actor-calls-sync, nested-refs, or all.
        name: String,
        /// Nodes of the embedded cluster.
        #[arg(long, default_value_t = 2)]
        nodes: usize,
        /// Measured runs (after one warm-up run).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Write the report(s) here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Demo { programs, seed } => demo(programs, seed),
        Command::Bench {
            name,
            nodes,
            runs,
            json,
        } => run_bench(&name, nodes, runs, json),
    }
}

fn run_bench(name: &str, nodes: usize, runs: usize, json: Option<PathBuf>) -> ExitCode {
    let names: Vec<&str> = if name == "all" {
        bench::NAMES.to_vec()
    } else {
        vec![name]
    };
    let mut reports = Vec::new();
    for name in names {
        match bench::run(name, nodes, runs.max(1)) {
            Ok(report) => {
                let extra = report
                    .gb_per_s
                    .map(|g| format!(", {g:.2} GB/s"))
                    .unwrap_or_default();
                println!(
                    "{:<18} {:>12.0} ops/s{extra}  (runs: {})",
                    report.bench,
                    report.ops_per_s,
                    report
                        .runs
                        .iter()
                        .map(|r| format!("{r:.0}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                reports.push(report);
            }
            Err(e) => {
                eprintln!("bench {name}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(path) = json {
        let text = if reports.len() == 1 {
            serde_json::to_string_pretty(&reports[0])
        } else {
            serde_json::to_string_pretty(&reports)
        };
        if let Err(e) = text
            .map_err(|e| e.to_string())
            .and_then(|t| std::fs::write(&path, t).map_err(|e| e.to_string()))
        {
            eprintln!("cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
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
