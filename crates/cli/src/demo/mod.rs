//! `doreisa-rs demo`: the main job. A 2-D heat-diffusion simulation (ranks as threads,
//! halo exchange) publishes its field every iteration to an embedded cluster; the in
//! situ analytics computes, per iteration and in one graph run where the chunks are,
//! the mean and max temperature, the total heat and the boundary flux (checking that
//! heat is conserved up to the flux and the source), the largest time derivative over
//! a window of 2, and steers the simulation: a hot-spot alert lowers the heat source.
//! It prints a table, writes PNG pictures, and fails if a check fails.

mod analysis;
mod heat;
mod picture;
mod rank;

pub use picture::ColourRange;

use analysis::{Switch, Thermostat, edge_sum};
use doreisa::array::Array;
use doreisa::core::{Cluster, ClusterConfig, Registry};
use doreisa::insitu::{
    Analytics, AnalyticsOptions, BridgeOptions, Client, PublishStats, Session, ThreadGroup,
    Trigger, Window,
};
use heat::{ALPHA, Block, Decomposition, SOURCE_POWER};
use plotters::style::RGBColor;
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
    let decomposition = Decomposition::new(config.grid, config.ranks)?;
    if config.nodes == 0 || config.iterations < 2 {
        return Err("at least one node and two iterations".into());
    }
    std::fs::create_dir_all(&config.output)
        .map_err(|e| format!("{}: {e}", config.output.display()))?;
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
    let rows_seen = analyse(&session, config, decomposition)?;
    let elapsed = started.elapsed();
    let mut times = Vec::new();
    for rank in simulation {
        times.push(rank.join().map_err(|_| "a simulation rank panicked")??);
    }
    let announcements = session.announce_messages().map_err(|e| e.to_string())?;
    summarize(config, &rows_seen, &times, elapsed, announcements)
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
    let mut bridges = Vec::new();
    for (i, &node) in nodes.iter().enumerate() {
        let on_node = (0..ranks).filter(|r| r % nodes.len() == i).count();
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

/// Runs the analytics until the simulation closes; returns a row per iteration.
fn analyse(
    session: &Arc<Session>,
    config: &DemoConfig,
    decomposition: Decomposition,
) -> Result<Vec<Row>, String> {
    let mut analytics =
        Analytics::new(session, AnalyticsOptions::default()).map_err(|e| e.to_string())?;
    let rows = Arc::new(Mutex::new(Vec::<Row>::new()));
    let out = rows.clone();
    let every = if config.every > 0 {
        config.every
    } else {
        (config.iterations / 20).max(1)
    };
    let snapshots = (config.iterations / 4).max(1);
    let output = config.output.clone();
    let colour_range = config.colour_range;
    let iterations = config.iterations;
    let n = decomposition.n;
    let progress = std::io::stderr().is_terminal();
    let mut previous: Option<(f64, f64)> = None;
    let mut thermostat = Thermostat::default();
    print_header();
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
            ctx.set("source_scale", &switch.scale())?;
            row.alert = switch == Switch::Off;
            row.restored = switch == Switch::On;
        }
        if t % snapshots == 0 || t == iterations - 1 {
            let field = ctx.compute(u)?.to_array::<f64>();
            let values: Vec<f64> = field.iter().copied().collect();
            let path = output.join(format!("temperature_{t:05}.png"));
            let field = picture::Field {
                name: "temperature",
                units: heat::UNITS,
                timestep: t,
                rows: n,
                cols: n,
                values: &values,
                range: colour_range,
            };
            picture::field(&path, &field)?;
        }
        if t % every == 0 || row.alert || row.restored || t == iterations - 1 {
            if progress {
                eprint!("\r\x1b[K");
            }
            print_row(&row);
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
    let rows = rows.lock().map_err(|_| "poisoned")?.clone();
    Ok(rows)
}

fn print_header() {
    println!(
        "{:>6} {:>10} {:>10} {:>14} {:>11} {:>11} {:>9}  alert",
        "iter", "mean", "max", "total heat", "imbalance", "max dT/dt", "source"
    );
}

fn print_row(row: &Row) {
    let opt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.2e}"));
    println!(
        "{:>6} {:>10.4} {:>10.4} {:>14.4} {:>11} {:>11} {:>9.2}  {}",
        row.timestep,
        row.mean,
        row.max,
        row.total,
        opt(row.imbalance),
        opt(row.max_rate),
        row.injected,
        if row.alert {
            "HOT: source off"
        } else if row.restored {
            "cool: source on"
        } else {
            ""
        }
    );
}

/// Prints the summary, writes the statistics picture, and checks the physics.
fn summarize(
    config: &DemoConfig,
    rows: &[Row],
    times: &[RankTimes],
    elapsed: Duration,
    announcements: u64,
) -> Result<(), String> {
    statistics_picture(&config.output.join("statistics.png"), rows)?;
    let publishing: Duration = times.iter().map(|t| t.publish.publishing).sum();
    let waiting: Duration = times.iter().map(|t| t.publish.waiting).sum();
    let total: Duration = times.iter().map(|t| t.total).sum();
    let iterations = config.iterations as f64;
    let per_iteration = total.as_secs_f64() / times.len().max(1) as f64 / iterations;
    let share = |d: Duration| 100.0 * d.as_secs_f64() / total.as_secs_f64().max(f64::MIN_POSITIVE);
    let alerts = rows.iter().filter(|r| r.alert).count();
    let worst = rows
        .iter()
        .filter_map(|r| r.imbalance.map(|i| i.abs() / r.total.abs().max(1.0)))
        .fold(0.0, f64::max);
    println!();
    println!(
        "{} iterations analysed in {:.2} s ({:.2} ms per iteration)",
        rows.len(),
        elapsed.as_secs_f64(),
        1e3 * elapsed.as_secs_f64() / iterations,
    );
    println!(
        "simulation: {:.2} ms per iteration; publish {:.2} % of it, waiting for the analytics (back-pressure) {:.2} %",
        1e3 * per_iteration,
        share(publishing),
        share(waiting)
    );
    println!(
        "announcements: {announcements} messages to the coordinator, {:.2} per iteration over {} nodes",
        announcements as f64 / iterations,
        config.nodes
    );
    println!(
        "heat balance: largest relative imbalance {worst:.1e}; hot-spot alerts: {}",
        alerts
    );
    println!(
        "pictures: {} (temperature_*.png: the field; statistics.png: temperatures, total heat and source over the iterations)",
        config.output.display()
    );
    if rows.len() as i64 != config.iterations {
        return Err(format!(
            "{} of {} iterations analysed",
            rows.len(),
            config.iterations
        ));
    }
    if worst > 1e-9 {
        return Err(format!(
            "heat is not conserved: relative imbalance {worst:.1e}"
        ));
    }
    Ok(())
}

/// The statistics over the iterations: temperatures, total heat and the source's heat,
/// each on its own axis, with the thermostat's switches marked.
fn statistics_picture(path: &std::path::Path, rows: &[Row]) -> Result<(), String> {
    let series = |f: fn(&Row) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    let x = series(|r| r.timestep as f64);
    let (maxes, means) = (series(|r| r.max), series(|r| r.mean));
    let (totals, injected) = (series(|r| r.total), series(|r| r.injected));
    let at = |f: fn(&Row) -> bool| {
        rows.iter()
            .filter(|r| f(r))
            .map(|r| r.timestep as f64)
            .collect()
    };
    let temperature = format!("temperature ({})", heat::UNITS);
    let heat = format!("heat ({}·cell)", heat::UNITS);
    let panels = [
        picture::Panel {
            y_label: &temperature,
            series: vec![
                picture::Series {
                    label: "max",
                    values: &maxes,
                    colour: RGBColor(210, 40, 30),
                },
                picture::Series {
                    label: "mean",
                    values: &means,
                    colour: RGBColor(230, 140, 20),
                },
            ],
        },
        picture::Panel {
            y_label: &heat,
            series: vec![picture::Series {
                label: "total heat on the grid",
                values: &totals,
                colour: RGBColor(20, 150, 60),
            }],
        },
        picture::Panel {
            y_label: &heat,
            series: vec![picture::Series {
                label: "heat the source injects per iteration",
                values: &injected,
                colour: RGBColor(30, 90, 200),
            }],
        },
    ];
    let marks = [
        picture::Mark {
            label: "hot-spot alert: source off",
            at: at(|r| r.alert),
            colour: RGBColor(150, 150, 150),
        },
        picture::Mark {
            label: "cool again: source on",
            at: at(|r| r.restored),
            colour: RGBColor(120, 170, 230),
        },
    ];
    picture::panels(
        path,
        "heat diffusion: statistics per iteration",
        "iteration",
        &x,
        &panels,
        &marks,
    )
}
