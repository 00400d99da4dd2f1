//! The demo's heat-diffusion simulation as real MPI ranks (rsmpi), publishing to a
//! running cluster of processes, with its analytics in a process of its own.
//!
//! ```sh
//! # a cluster, then the analytics (it starts the session and writes SESSION) ...
//! heat2d_mpi analytics --cluster-file C --session-file SESSION [--grid N] [--iterations N]
//! # ... then the simulation, as MPI ranks
//! mpirun -n 4 heat2d_mpi simulate --cluster-file C --session-file SESSION [--grid N]
//!     [--iterations N] [--in-transit | --by-reference]
//! ```
//!
//! Each rank joins the cluster as a driver (it runs no tasks) and publishes to a node of
//! the session: in situ by default (each chunk is copied once into the node's shared
//! memory, and the node keeps it), or in transit (`--in-transit`: each chunk is
//! streamed to the node, which keeps it), or by reference (`--by-reference`: chunks stay
//! in the rank's process and the node's tasks fetch them over QUIC). Halos go through
//! MPI, and steering reads are MPI collectives. `scripts/heat2d-mpi.sh` runs it all.

#[path = "../crates/cli/src/demo/analysis.rs"]
mod analysis;
#[path = "../crates/cli/src/demo/heat.rs"]
#[allow(dead_code)] // the channel halos of thread ranks are the demo's
mod heat;
#[path = "../crates/cli/src/demo/rank.rs"]
mod rank;

use analysis::{Switch, Thermostat};
use doreisa::array::Array;
use doreisa::core::Cluster;
use doreisa::insitu::{
    Analytics, AnalyticsOptions, Bridge, BridgeOptions, Client, Delivery, Session, SessionInfo,
    Trigger, Window,
};
use doreisa::mpi::MpiWorld;
use doreisa::net::ClusterFile;
use heat::{ALPHA, Block, Decomposition, Neighbours, SOURCE_POWER};
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator as _, Destination as _, Source as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Options {
    cluster_file: PathBuf,
    session_file: PathBuf,
    grid: usize,
    iterations: i64,
    delivery: Delivery,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        cluster_file: PathBuf::from("doreisa-cluster.json"),
        session_file: PathBuf::from("doreisa-session.json"),
        grid: 256,
        iterations: 100,
        delivery: Delivery::Shared,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--cluster-file" => options.cluster_file = value()?.into(),
            "--session-file" => options.session_file = value()?.into(),
            "--grid" => options.grid = value()?.parse().map_err(|e| format!("--grid: {e}"))?,
            "--iterations" => {
                options.iterations = value()?.parse().map_err(|e| format!("--iterations: {e}"))?
            }
            "--in-transit" => options.delivery = Delivery::Stream,
            "--by-reference" => options.delivery = Delivery::Reference,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if options.iterations < 2 {
        return Err("at least two iterations".into());
    }
    Ok(options)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("analytics") => parse(&args[1..]).and_then(|o| analytics(&o)),
        Some("simulate") => parse(&args[1..]).and_then(|o| simulate(&o)),
        _ => Err("usage: heat2d_mpi analytics|simulate [options] (see the source)".into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("heat2d_mpi: {e}");
            ExitCode::FAILURE
        }
    }
}

fn connect(cluster_file: &Path) -> Result<Cluster, String> {
    let file = ClusterFile::read(cluster_file).map_err(|e| e.to_string())?;
    Cluster::connect(&file, doreisa::registry()).map_err(|e| e.to_string())
}

/// The analytics: a session over the cluster's task nodes, a callback per iteration
/// computing the statistics and the heat balance, steering the source.
fn analytics(options: &Options) -> Result<(), String> {
    let cluster = connect(&options.cluster_file)?;
    let session =
        Session::start(cluster.driver(), &cluster.task_nodes()).map_err(|e| e.to_string())?;
    // Written whole, then renamed: ranks never read half a file.
    let partial = options.session_file.with_extension("partial");
    session.info().write(&partial).map_err(|e| e.to_string())?;
    std::fs::rename(&partial, &options.session_file).map_err(|e| e.to_string())?;
    println!(
        "analytics: session on {} nodes, waiting for the simulation",
        session.nodes().len()
    );
    let mut analytics =
        Analytics::new(&session, AnalyticsOptions::default()).map_err(|e| e.to_string())?;
    let worst = Arc::new(Mutex::new((0usize, 0.0f64)));
    let seen = worst.clone();
    let every = (options.iterations / 10).max(1);
    let mut previous: Option<(f64, f64)> = None;
    let mut thermostat = Thermostat::default();
    let windows = vec![Window::new("temperature", 1), Window::new("injected", 1)];
    analytics.register("heat", windows, Trigger::All, move |ctx| {
        let t = ctx.timestep();
        let u = ctx.array("temperature")?;
        let wanted = [
            u.mean()?,
            u.max()?,
            u.sum()?,
            analysis::edge_sum(u)?,
            ctx.array("injected")?.sum()?,
        ];
        let v = ctx.compute(&Array::stack(&wanted, 0)?)?.to_array::<f64>();
        let (mean, max, total, edges, injected) = (v[0], v[1], v[2], v[3], v[4]);
        let imbalance = previous.map(|before| analysis::imbalance(total, injected, before, ALPHA));
        previous = Some((total, edges));
        let switch = thermostat.update(max);
        if rank::steering_set_at(t) {
            // Tagged with this timestep: the ranks read it STEER_LAG iterations on.
            ctx.set("source_scale", &thermostat.scale())?;
        }
        let alert = match switch {
            Some(Switch::Off) => "HOT: source off",
            Some(Switch::On) => "cool: source on",
            None => "",
        };
        let mut worst = seen.lock().map_err(|_| "poisoned")?;
        worst.0 += 1;
        if let Some(i) = imbalance {
            worst.1 = worst.1.max(i.abs() / total.abs().max(1.0));
        }
        if t % every == 0 || !alert.is_empty() {
            println!("{t:>6} mean {mean:>9.4} max {max:>9.4} total {total:>12.4} {alert}");
        }
        Ok(())
    });
    let report = analytics.run().map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&options.session_file);
    let (analysed, worst) = *worst.lock().map_err(|_| "poisoned")?;
    println!(
        "analytics: {analysed} iterations analysed, largest relative heat imbalance {worst:.1e}"
    );
    if let Ok(messages) = session.announce_messages() {
        let per_iteration = messages as f64 / analysed.max(1) as f64;
        println!("analytics: {messages} announcements, {per_iteration:.2} per iteration");
    }
    if let Some(error) = report.errors.first() {
        return Err(format!("{} callbacks failed: {error}", report.errors.len()));
    }
    if analysed as i64 != options.iterations {
        return Err(format!(
            "{analysed} of {} iterations analysed",
            options.iterations
        ));
    }
    if worst > 1e-9 {
        return Err(format!("heat is not conserved: {worst:.1e}"));
    }
    Ok(())
}

/// Halos through MPI: immediate sends to every neighbour, then the receives.
struct MpiHalo {
    ranks: [Option<i32>; 4],
}

impl Neighbours for MpiHalo {
    fn has(&self, d: usize) -> bool {
        self.ranks[d].is_some()
    }

    fn exchange(&mut self, edges: [Vec<f64>; 4]) -> Result<[Option<Vec<f64>>; 4], String> {
        let world = SimpleCommunicator::world();
        let mut received: [Option<Vec<f64>>; 4] = Default::default();
        mpi::request::scope(|scope| {
            let sends: Vec<_> = (0..4)
                .filter_map(|d| {
                    let rank = self.ranks[d]?;
                    let to = world.process_at_rank(rank);
                    Some(to.immediate_send_with_tag(scope, &edges[d][..], d as i32))
                })
                .collect();
            for (d, slot) in received.iter_mut().enumerate() {
                if let Some(rank) = self.ranks[d] {
                    // The neighbour in direction d sent towards us: its direction d ^ 1.
                    let from = world.process_at_rank(rank);
                    let (edge, _) = from.receive_vec_with_tag::<f64>((d ^ 1) as i32);
                    *slot = Some(edge);
                }
            }
            for send in sends {
                send.wait();
            }
        });
        Ok(received)
    }
}

/// Waits for the analytics' session file.
fn session_info(path: &Path) -> Result<SessionInfo, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        if Instant::now() > deadline {
            return Err(format!("no session file at {} after 60 s", path.display()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    SessionInfo::read(path).map_err(|e| e.to_string())
}

/// One MPI rank: steps its block, publishes the field and the heat its source
/// injected, reads the steering value every few iterations.
fn simulate(options: &Options) -> Result<(), String> {
    let universe = mpi::initialize().ok_or("MPI is already initialized")?;
    let world = universe.world();
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let decomposition = Decomposition::new(options.grid, size)?;
    let cluster = connect(&options.cluster_file)?;
    let info = session_info(&options.session_file)?;
    let (node, _) = *info
        .schedulers
        .get(rank % info.schedulers.len().max(1))
        .ok_or("the session has no nodes")?;
    let delivery = options.delivery;
    let bridge_options = BridgeOptions {
        max_ahead: 3,
        delivery,
        ..Default::default()
    };
    let bridge = Bridge::start_for(cluster.driver(), node, &info, 1, bridge_options)
        .map_err(|e| e.to_string())?;
    let arrays = rank::published(&decomposition, rank)?;
    let mut client = Client::new(bridge, arrays)
        .map_err(|e| e.to_string())?
        .with_communicator(Arc::new(MpiWorld::new()));
    let halo = MpiHalo {
        ranks: heat::neighbours(&decomposition, rank).map(|r| r.map(|r| r as i32)),
    };
    let mut block = Block::new(&decomposition, rank, halo, SOURCE_POWER);
    let mut scale = 1.0;
    let started = Instant::now();
    for t in 0..options.iterations {
        rank::iterate(rank, t, &mut client, &mut block, &mut scale)?;
    }
    let elapsed = started.elapsed();
    let stats = client.stats();
    let last = options.iterations - 1;
    let released = client
        .close_and_wait(last, Duration::from_secs(120))
        .map_err(|e| e.to_string())?;
    let share = |d: Duration| 100.0 * d.as_secs_f64() / elapsed.as_secs_f64();
    println!(
        "rank {rank}/{size} ({}): {:.2} ms per iteration, publish {:.2} %, back-pressure {:.2} %{}",
        match options.delivery {
            Delivery::Shared => "in situ, shared memory",
            Delivery::Reference => "in situ, by reference",
            Delivery::Stream => "in transit",
        },
        1e3 * elapsed.as_secs_f64() / options.iterations as f64,
        share(stats.publishing),
        share(stats.waiting),
        if released {
            ""
        } else {
            " (gave up waiting for the analytics)"
        }
    );
    drop(cluster);
    Ok(())
}
