//! The `doreisa-rs` command line.

// Doc comments here are clap's help text ("HOST[:PORT]"), not links.
#![allow(rustdoc::broken_intra_doc_links)]

use clap::{Parser, Subcommand};
use doreisa_cli::{args, bench, demo, nodes, selftest, weak_scaling};
use std::io::IsTerminal;
use std::net::SocketAddr;
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
    /// A 2-D heat-diffusion simulation (ranks as threads, halo exchange) with in situ
    /// analytics: mean, max, total heat and its balance, the time derivative, and a
    /// hot-spot alert that steers the heat source. Prints a table and writes PNGs.
    Demo(demo::DemoConfig),
    /// Run a benchmark: Ray-like microbenchmarks, or weak-scaling (Doreisa's protocol).
    ///
    /// Microbenchmarks named like Ray's (tasks-async, tasks-sync, put-small, get-small,
    /// put-gigabytes, actor-calls-async, actor-calls-sync, nested-refs, or all), or
    /// weak-scaling (Doreisa's protocol: by default 40 chunks of 10x10 per node, the
    /// mean every iteration, 230 iterations, time per iteration from 20 to 220; see
    /// --chunk, --chunks-per-node, --iterations, --analysis). Prints the figures, and
    /// writes them as JSON with --json.
    Bench {
        /// The benchmark.
        #[arg(value_parser = bench_names())]
        name: String,
        /// Nodes of the embedded cluster; for weak-scaling a list, e.g. 1,2,4,8.
        #[arg(long, value_delimiter = ',', default_value = "2", value_parser = args::at_least_one)]
        nodes: Vec<usize>,
        /// weak-scaling: `embedded` (virtual nodes in this process) or `processes`
        /// (a head and workers started on this machine).
        #[arg(long, value_enum, default_value = "embedded")]
        mode: weak_scaling::Mode,
        /// weak-scaling: the chunk shape, ROWSxCOLS.
        #[arg(long, default_value = "10x10", value_parser = args::chunk_shape)]
        chunk: [usize; 2],
        /// weak-scaling: chunks each node publishes per iteration.
        #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..))]
        chunks_per_node: u32,
        /// weak-scaling: iterations per run, at least 40 (measured from 20 to N-10).
        #[arg(long, default_value_t = 230, value_parser = args::iterations)]
        iterations: i64,
        /// weak-scaling: the analysis every iteration: the mean, mean(sin(sqrt(x+1)))
        /// (also timed as a hand-written loop), or (x + flip(x, 0)).sum().
        #[arg(long, value_enum, default_value = "mean")]
        analysis: weak_scaling::Analysis,
        /// weak-scaling: draw ms per iteration against nodes (log scales) as a PNG.
        #[arg(long)]
        plot: Option<PathBuf>,
        /// Measured runs, at least 1 (the microbenchmarks run one more first, to warm up;
        /// weak-scaling starts a new cluster for each run and measures iterations 20 on).
        #[arg(long, default_value_t = 5, value_parser = args::at_least_one)]
        runs: usize,
        /// Write the report(s) here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Run against the cluster of this cluster file instead of an embedded one.
        #[arg(long, env = "DOREISA_CLUSTER_FILE")]
        cluster_file: Option<PathBuf>,
    },
    /// Start the head of a new cluster and write its cluster file.
    Head {
        /// Where to accept connections: HOST[:PORT] or IP[:PORT] (port 7878 if not
        /// given, 0: any free one).
        #[arg(long, env = "DOREISA_LISTEN", default_value = "127.0.0.1:7878", value_parser = args::head_listen)]
        listen: SocketAddr,
        /// Where to write the cluster file (address, token, certificate fingerprint).
        #[arg(
            long,
            env = "DOREISA_CLUSTER_FILE",
            default_value = "doreisa-cluster.json"
        )]
        cluster_file: PathBuf,
        /// Milliseconds without a heartbeat after which a member is declared dead.
        #[arg(long, env = "DOREISA_DEATH_TIMEOUT_MS", default_value_t = 3000)]
        death_timeout_ms: u64,
        #[command(flatten)]
        node: nodes::NodeArgs,
    },
    /// Start a worker and join the cluster of a cluster file.
    Worker {
        /// The cluster file the head wrote.
        #[arg(
            long,
            env = "DOREISA_CLUSTER_FILE",
            default_value = "doreisa-cluster.json"
        )]
        cluster_file: PathBuf,
        /// Where to accept connections: HOST[:PORT] or IP[:PORT] (no port or port 0:
        /// any free one).
        #[arg(long, env = "DOREISA_LISTEN", default_value = "0.0.0.0:0", value_parser = args::worker_listen)]
        listen: SocketAddr,
        /// Milliseconds without an answer from the head after which it is taken for
        /// dead: the worker then exits with an error (at least 3 heartbeats).
        #[arg(long, env = "DOREISA_HEAD_TIMEOUT_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
        head_timeout_ms: u64,
        #[command(flatten)]
        node: nodes::NodeArgs,
    },
    /// Show a cluster's members, their objects, memory and tasks run.
    Status {
        #[arg(
            long,
            env = "DOREISA_CLUSTER_FILE",
            default_value = "doreisa-cluster.json"
        )]
        cluster_file: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Print the table again every SECONDS, with each node's tasks per second since
        /// the last one (Ctrl-C stops).
        #[arg(long, value_name = "SECONDS", value_parser = args::positive_seconds)]
        watch: Option<f64>,
        /// With --watch: stop after this many tables.
        #[arg(long, requires = "watch", value_parser = clap::value_parser!(u64).range(1..))]
        count: Option<u64>,
    },
    /// Run end-to-end checks (tasks, actors, nested and borrowed refs, transfers)
    /// against a running cluster.
    Selftest {
        #[arg(
            long,
            env = "DOREISA_CLUSTER_FILE",
            default_value = "doreisa-cluster.json"
        )]
        cluster_file: PathBuf,
    },
}

/// The benchmarks' names, for `bench NAME`.
fn bench_names() -> clap::builder::PossibleValuesParser {
    let extra = ["all", "weak-scaling"];
    clap::builder::PossibleValuesParser::new(bench::NAMES.iter().chain(&extra))
}

fn main() -> ExitCode {
    // Colours only for a terminal: a log file gets plain text.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match Cli::parse().command {
        Command::Demo(config) => exit(demo::run(&config).map_err(|e| format!("demo: {e}"))),
        Command::Bench {
            name,
            nodes,
            mode,
            runs,
            json,
            cluster_file,
            chunk,
            chunks_per_node,
            iterations,
            analysis,
            plot,
        } if name == "weak-scaling" => exit(if cluster_file.is_some() {
            Err("weak-scaling starts its own clusters (--mode embedded|processes)".into())
        } else {
            let config = weak_scaling::ScalingConfig {
                nodes,
                mode,
                runs,
                chunk,
                chunks_per_node,
                iterations,
                analysis,
            };
            weak_scaling::run(&config).and_then(|report| {
                if let Some(path) = plot {
                    weak_scaling::plot(&report, &path)?;
                }
                match json {
                    Some(path) => weak_scaling::write(&report, &path),
                    None => Ok(()),
                }
            })
        }),
        Command::Bench {
            name,
            nodes,
            runs,
            json,
            cluster_file,
            ..
        } => run_bench(
            &name,
            nodes.first().copied().unwrap_or(2),
            runs,
            json,
            cluster_file,
        ),
        Command::Head {
            listen,
            cluster_file,
            death_timeout_ms,
            node,
        } => exit(nodes::head(listen, cluster_file, death_timeout_ms, &node)),
        Command::Worker {
            cluster_file,
            listen,
            head_timeout_ms,
            node,
        } => exit(nodes::worker(listen, cluster_file, head_timeout_ms, &node)),
        Command::Status {
            cluster_file,
            json,
            watch: None,
            ..
        } => exit(nodes::status(cluster_file, json)),
        Command::Status {
            cluster_file,
            watch: Some(seconds),
            count,
            ..
        } => exit(nodes::watch(cluster_file, seconds, count)),
        Command::Selftest { cluster_file } => exit(selftest::run_file(&cluster_file)),
    }
}

fn exit(outcome: Result<(), String>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_bench(
    name: &str,
    nodes: usize,
    runs: usize,
    json: Option<PathBuf>,
    cluster_file: Option<PathBuf>,
) -> ExitCode {
    let cluster = match cluster_file
        .as_deref()
        .map(doreisa::net::ClusterFile::read)
        .transpose()
    {
        Ok(cluster) => cluster,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let names: Vec<&str> = if name == "all" {
        bench::NAMES.to_vec()
    } else {
        vec![name]
    };
    let mut reports = Vec::new();
    for name in names {
        match bench::run(name, nodes, runs, cluster.as_ref()) {
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
