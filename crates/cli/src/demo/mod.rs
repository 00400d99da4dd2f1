//! `doreisa-rs demo`: the main job. A 2-D heat-diffusion simulation (ranks as threads,
//! halo exchange) publishes its field every iteration to an embedded cluster; the in
//! situ analytics computes, per iteration and in one graph run where the chunks are,
//! the mean and max temperature, the total heat and the boundary flux (checking that
//! heat is conserved up to the flux and the source), the largest time derivative over
//! a window of 2, and steers the simulation: a hot-spot alert lowers the heat source.
//! It prints a table, writes PNG pictures, and fails if a check fails.

mod analysis;
mod heat;
mod history;
mod limits;
mod output;
pub(crate) mod picture;
mod rank;
mod report;

pub use picture::ColourRange;

use analysis::{Switch, Thermostat, edge_sum};
use doreisa::array::Array;
use doreisa::core::{Cluster, ClusterConfig, Registry};
use doreisa::insitu::{
    Analytics, AnalyticsOptions, BridgeOptions, Client, PublishStats, Session, ThreadGroup,
    Trigger, Window,
};
use heat::{ALPHA, Block, Decomposition, SOURCE_POWER};
use history::History;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Nothing to register: the demo runs array graphs only.
pub fn register(_registry: &mut Registry) {}

/// The demo's options (also its command-line arguments).
#[derive(Debug, Clone, clap::Args)]
pub struct DemoConfig {
    /// The grid is GRID x GRID cells.
    #[arg(long, default_value_t = 512)]
    pub grid: usize,
    /// Simulation ranks (threads), spread over the nodes.
    #[arg(long, default_value_t = 8)]
    pub ranks: usize,
    /// Nodes of the embedded cluster.
    #[arg(long, default_value_t = 2)]
    pub nodes: usize,
    /// Iterations to run.
    #[arg(long, default_value_t = 400)]
    pub iterations: i64,
    /// Where the pictures go.
    #[arg(long, default_value = "demo-output")]
    pub output: PathBuf,
    /// Print a table row every this many iterations (0: about 20 rows).
    #[arg(long, default_value_t = 0)]
    pub every: i64,
    /// The temperatures the pictures' colours span: `data` (each picture's own
    /// smallest to largest) or LOW:HIGH, the same for every picture (e.g. 0:75).
    #[arg(long, default_value = "data")]
    pub colour_range: ColourRange,
    /// Also save results here: statistics.npy (a record array, a row per
    /// iteration), temperature_*.npy (the pictures' fields) and temperature.zarr (the
    /// field over time, Zarr v3, written by the nodes that hold its chunks).
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// With --save, the field goes into temperature.zarr every this many iterations
    /// (0: about 20 times), and at the last.
    #[arg(long, default_value_t = 0)]
    pub save_every: i64,
}

impl Default for DemoConfig {
    /// The command line's defaults.
    fn default() -> Self {
        #[derive(clap::Parser)]
        struct Demo {
            #[command(flatten)]
            config: DemoConfig,
        }
        <Demo as clap::Parser>::parse_from(["demo"]).config
    }
}

/// What the analytics saw at one iteration.
#[derive(Debug, Clone, Copy, Default)]
struct Row {
    timestep: i64,
    mean: f64,
    max: f64,
    total: f64,
    /// Heat in minus heat out, minus the change of the total (0 if conserved).
    imbalance: Option<f64>,
    max_rate: Option<f64>,
    injected: f64,
    alert: bool,
    restored: bool,
}

/// What a rank measured.
#[derive(Debug, Clone, Copy, Default)]
struct RankTimes {
    total: Duration,
    publish: PublishStats,
}

/// Runs the demo.
pub fn run(config: &DemoConfig) -> Result<(), String> {
    limits::check(config)?;
    let decomposition = Decomposition::new(config.grid, config.ranks)?;
    if config.nodes == 0 || config.iterations < 2 {
        return Err("at least one node and two iterations".into());
    }
    for dir in std::iter::once(&config.output).chain(&config.save) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let cluster = Cluster::start(
        ClusterConfig::default().nodes(config.nodes),
        crate::registry(),
    )
    .map_err(|e| e.to_string())?;
    let session = Session::start(cluster.driver(), &cluster.nodes()).map_err(|e| e.to_string())?;
    let (rows, cols) = decomposition.block();
    println!(
        "heat diffusion on a {n}x{n} grid: {r} ranks ({px}x{py} blocks of {rows}x{cols}) on {nodes} embedded nodes, {it} iterations",
        n = config.grid,
        r = config.ranks,
        px = decomposition.px,
        py = decomposition.py,
        nodes = config.nodes,
        it = config.iterations
    );
    let started = Instant::now();
    let simulation = start_simulation(&cluster, &session, decomposition, config.iterations)?;
    let history = analyse(&session, config)?;
    let elapsed = started.elapsed();
    let mut times = Vec::new();
    for rank in simulation {
        times.push(rank.join().map_err(|_| "a simulation rank panicked")??);
    }
    let announcements = session.announce_messages().map_err(|e| e.to_string())?;
    report::summarize(config, &history, &times, elapsed, announcements)
}

/// Starts the ranks: each steps its block, publishes the field and the heat its
/// source injected, and reads the steering value every few iterations.
fn start_simulation(
    cluster: &Cluster,
    session: &Arc<Session>,
    decomposition: Decomposition,
    iterations: i64,
) -> Result<Vec<std::thread::JoinHandle<Result<RankTimes, String>>>, String> {
    let ranks = decomposition.px * decomposition.py;
    let nodes = session.nodes();
    // Rank r publishes on node r % nodes: a node left without rank gets no bridge.
    let mut bridges = Vec::new();
    for &node in nodes.iter().take(ranks) {
        let on_node = (0..ranks)
            .filter(|r| nodes[r % nodes.len()] == node)
            .count();
        let beside = cluster.worker_on(node).map_err(|e| e.to_string())?;
        let options = BridgeOptions {
            max_ahead: 3,
            ..Default::default()
        };
        bridges.push(
            session
                .bridge(&beside, on_node, options)
                .map_err(|e| e.to_string())?,
        );
    }
    let group = ThreadGroup::new(ranks);
    let handles = heat::halos(&decomposition)
        .into_iter()
        .enumerate()
        .map(|(rank, halo)| {
            let bridge = bridges[rank % bridges.len()].clone();
            let comm = group.rank(rank);
            std::thread::spawn(move || -> Result<RankTimes, String> {
                let arrays = rank::published(&decomposition, rank)?;
                let mut client = Client::new(bridge, arrays)
                    .map_err(|e| e.to_string())?
                    .with_communicator(comm);
                let mut block = Block::new(&decomposition, rank, halo, SOURCE_POWER);
                let mut times = RankTimes::default();
                let mut scale = 1.0;
                let started = Instant::now();
                for t in 0..iterations {
                    rank::iterate(rank, t, &mut client, &mut block, &mut scale)?;
                }
                times.total = started.elapsed();
                times.publish = client.stats();
                client.close(iterations - 1).map_err(|e| e.to_string())?;
                Ok(times)
            })
        })
        .collect();
    Ok(handles)
}

/// Runs the analytics until the simulation closes; returns the history of its rows.
fn analyse(session: &Arc<Session>, config: &DemoConfig) -> Result<History, String> {
    let mut analytics =
        Analytics::new(session, AnalyticsOptions::default()).map_err(|e| e.to_string())?;
    // Every row for --save's file, else a bounded history for the picture.
    let rows = Arc::new(Mutex::new(History::new(config.save.is_some())));
    let out = rows.clone();
    let every = if config.every > 0 {
        config.every
    } else {
        (config.iterations / 20).max(1)
    };
    let mut outputs = output::Outputs::new(config);
    let iterations = config.iterations;
    let progress = std::io::stderr().is_terminal();
    let mut previous: Option<(f64, f64)> = None;
    let mut thermostat = Thermostat::default();
    report::print_header();
    let windows = vec![Window::new("temperature", 2), Window::new("injected", 1)];
    analytics.register("heat", windows, Trigger::All, move |ctx| {
        let t = ctx.timestep();
        let window = ctx.window("temperature")?;
        let u = window.last().ok_or("empty window")?;
        let mut wanted = vec![
            u.mean()?,
            u.max()?,
            u.sum()?,
            edge_sum(u)?,
            ctx.array("injected")?.sum()?,
        ];
        if let [old, new] = window {
            wanted.push((new - old)?.abs()?.max()?);
        }
        let values = ctx.compute(&Array::stack(&wanted, 0)?)?.to_array::<f64>();
        let v: Vec<f64> = values.iter().copied().collect();
        let (total, edges) = (v[2], v[3]);
        let mut row = Row {
            timestep: t,
            mean: v[0],
            max: v[1],
            total,
            imbalance: previous.map(|before| analysis::imbalance(total, v[4], before, ALPHA)),
            max_rate: v.get(5).copied(),
            injected: v[4],
            alert: false,
            restored: false,
        };
        previous = Some((total, edges));
        if let Some(switch) = thermostat.update(row.max) {
            row.alert = switch == Switch::Off;
            row.restored = switch == Switch::On;
        }
        if rank::steering_set_at(t) {
            // Tagged with this timestep: the ranks read it STEER_LAG iterations on.
            ctx.set("source_scale", &thermostat.scale())?;
        }
        outputs.at(ctx, u)?;
        if t % every == 0 || row.alert || row.restored || t == iterations - 1 {
            if progress {
                eprint!("\r\x1b[K");
            }
            report::print_row(&row);
        }
        if progress {
            let done = (t + 1) * 40 / iterations;
            eprint!(
                "\r[{}{}] {}/{iterations}",
                "#".repeat(done as usize),
                " ".repeat(40 - done as usize),
                t + 1
            );
            let _ = std::io::stderr().flush();
        }
        out.lock().map_err(|_| "poisoned")?.push(row);
        Ok(())
    });
    let report = analytics.run().map_err(|e| e.to_string())?;
    if progress {
        eprintln!();
    }
    for error in &report.errors {
        eprintln!("analytics error: {error}");
    }
    if !report.errors.is_empty() {
        return Err(format!(
            "{} analytics callbacks failed",
            report.errors.len()
        ));
    }
    let rows = std::mem::take(&mut *rows.lock().map_err(|_| "poisoned")?);
    Ok(rows)
}
