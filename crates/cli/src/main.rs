//! The `doreisa-rs` command line.

mod bench;
mod demo;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// Run the main demo on an embedded cluster.
    ///
    /// Simulated ranks publish a chunk each per iteration; the analytics reduces every
    /// iteration (mean, min, max) with tasks placed where the chunks are.
    Demo {
        /// Nodes of the embedded cluster.
        #[arg(long, default_value_t = 4)]
        nodes: usize,
        /// Simulation ranks per node.
        #[arg(long, default_value_t = 10)]
        ranks_per_node: usize,
        /// Iterations to run.
        #[arg(long, default_value_t = 200)]
        iterations: u64,
        /// Values per chunk.
        #[arg(long, default_value_t = 100)]
        chunk_len: usize,
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Demo {
            nodes,
            ranks_per_node,
            iterations,
            chunk_len,
        } => {
            let config = demo::DemoConfig {
                nodes,
                ranks_per_node,
                iterations,
                chunk_len,
            };
            match demo::run(&config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("demo: {e}");
                    ExitCode::FAILURE
                }
            }
        }
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
