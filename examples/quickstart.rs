//! Quick start: a simulation that embeds doreisa-rs, analysed in situ and steered.
//!
//! ```sh
//! cargo run --release --example quickstart
//! ```
//!
//! The simulation: a 256 x 256 plate, cut in 4 strips of 64 rows, one per rank (ranks
//! are threads here; MPI ranks work the same way, see `examples/heat2d_mpi.rs`). A
//! heater circles around the plate and every cell cools towards the room's 20 °C, so
//! the temperature field changes at every step. Each rank publishes its strip of
//! `temperature` at every step and reads the heater's power, which the analytics sets.
//!
//! The analytics sees each step's plate as one chunked 256 x 256 array and computes,
//! on the nodes that hold the strips (an embedded cluster of 2 nodes in this process):
//! - a reduction: the mean and the hottest temperature;
//! - a time derivative over a window of the last 2 steps: how fast the plate warms;
//! - a count: how many cells are above 60 °C;
//! - a slice: the temperature along the middle row, every 32nd cell;
//!
//! and steers the simulation: a thermostat raises or lowers the heater's power until
//! the hottest cell stays at 80 °C. The run fails if it does not settle there.

use doreisa::array::{Array, DType, SliceArg};
use doreisa::core::{Cluster, ClusterConfig};
use doreisa::insitu::{
    Analytics, AnalyticsOptions, ArrayMeta, Bridge, BridgeOptions, Client, Communicator, Published,
    Session, ThreadGroup, Trigger, Window,
};
use std::sync::{Arc, Mutex};
use std::time::Instant;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The plate is N x N cells.
const N: usize = 256;
/// Simulation ranks (threads), each holding N / RANKS rows.
const RANKS: usize = 4;
/// Nodes of the embedded cluster.
const NODES: usize = 2;
/// Simulation steps.
const STEPS: i64 = 300;
/// The room's temperature, °C.
const ROOM: f64 = 20.0;
/// The fraction of its excess heat a cell loses per step.
const COOLING: f64 = 0.05;
/// The thermostat's target for the hottest cell, °C.
const TARGET: f64 = 80.0;
/// The heater's power the simulation starts with (°C per step at the heater's centre).
const INITIAL_POWER: f64 = 1.0;

fn main() -> Result<(), Error> {
    let started = Instant::now();
    let cluster = Cluster::start(ClusterConfig::default().nodes(NODES), doreisa::registry())?;
    // A session: where the simulation and the analytics meet.
    let session = Session::start(cluster.driver(), &cluster.nodes())?;
    // One bridge per node: the ranks beside a node hand their chunks to it, no copy.
    let mut bridges = Vec::new();
    for (i, &node) in session.nodes().iter().enumerate() {
        let ranks_here = (0..RANKS).filter(|r| r % NODES == i).count();
        let beside = cluster.worker_on(node)?;
        bridges.push(session.bridge(&beside, ranks_here, BridgeOptions::default())?);
    }
    let group = ThreadGroup::new(RANKS);
    let ranks: Vec<_> = (0..RANKS)
        .map(|rank| {
            let bridge = bridges[rank % NODES].clone();
            let comm = group.rank(rank);
            std::thread::spawn(move || simulation_rank(rank, bridge, comm))
        })
        .collect();
    println!("a {N}x{N} plate on {RANKS} ranks, analysed in situ on {NODES} nodes, {STEPS} steps");
    let hottest = analytics(&session)?;
    for rank in ranks {
        rank.join().map_err(|_| "a rank panicked")??;
    }
    println!("done in {:.1} s", started.elapsed().as_secs_f64());
    // The thermostat must have settled: the last 100 steps within 2 °C of the target.
    let settled = &hottest[hottest.len().saturating_sub(100)..];
    let worst = settled
        .iter()
        .map(|t| (t - TARGET).abs())
        .fold(0.0, f64::max);
    println!(
        "the hottest cell over the last {} steps stayed within {worst:.2} °C of {TARGET} °C",
        settled.len()
    );
    if hottest.len() != STEPS as usize || worst > 2.0 {
        return Err(format!(
            "{} of {STEPS} steps analysed; the hottest cell strayed {worst:.2} °C from the target",
            hottest.len()
        )
        .into());
    }
    Ok(())
}

/// One rank of the simulation: declares its strip, then steps, publishes and reads the
/// heater's power.
fn simulation_rank(
    rank: usize,
    bridge: Arc<Bridge>,
    comm: Arc<dyn Communicator>,
) -> Result<(), Error> {
    let rows = N / RANKS;
    // The global array, its chunk shape, and this rank's chunk: row `rank` of chunks.
    let meta = ArrayMeta::new("temperature", &[N, N], &[rows, N], DType::F64);
    let strip = Published::new(meta, &[rank as u32, 0])?;
    let mut client = Client::new(bridge, vec![strip])?.with_communicator(comm);
    let mut plate = vec![ROOM; rows * N];
    let mut power = INITIAL_POWER;
    for step in 0..STEPS {
        // The latest power the analytics set (every rank gets the same value).
        power = client.get("heater_power", None, power)?;
        heat(&mut plate, rank * rows, step, power);
        client.publish_slice("temperature", step, &plate)?;
    }
    client.close(STEPS - 1)?;
    Ok(())
}

/// One step of the plate's rows from `row0` on: the heater (a Gaussian spot circling
/// the centre once every 150 steps) warms, every cell cools towards the room.
fn heat(plate: &mut [f64], row0: usize, step: i64, power: f64) {
    let angle = std::f64::consts::TAU * step as f64 / 150.0;
    let centre = N as f64 / 2.0;
    let (cy, cx) = (
        centre + 0.25 * N as f64 * angle.sin(),
        centre + 0.25 * N as f64 * angle.cos(),
    );
    let width = N as f64 / 12.0;
    for (i, row) in plate.chunks_exact_mut(N).enumerate() {
        let y = (row0 + i) as f64;
        for (x, cell) in row.iter_mut().enumerate() {
            let d2 = (y - cy).powi(2) + (x as f64 - cx).powi(2);
            let heater = power * (-d2 / (2.0 * width * width)).exp();
            *cell += heater - COOLING * (*cell - ROOM);
        }
    }
}

/// The analytics: runs until the simulation closes; returns the hottest temperature
/// of every step.
fn analytics(session: &Arc<Session>) -> Result<Vec<f64>, Error> {
    let mut analytics = Analytics::new(session, AnalyticsOptions::default())?;
    let hottest = Arc::new(Mutex::new(Vec::new()));
    let seen = hottest.clone();
    let mut power = INITIAL_POWER;
    println!(
        "at every step the analytics computes the plate's mean and hottest temperature, how fast\n\
         it warms (over a window of 2 steps) and how many cells are above 60 °C, and sets the\n\
         heater's power so that the hottest cell settles at {TARGET} °C:"
    );
    println!(
        "{:>5} {:>7} {:>8} {:>8} {:>12} {:>10}",
        "step", "heater", "mean °C", "max °C", "warming/step", "cells>60°C"
    );
    // Called at every step with the last 2 steps of `temperature` (1 at step 0).
    let window = vec![Window::new("temperature", 2)];
    analytics.register("plate", window, Trigger::All, move |ctx| {
        let steps = ctx.window("temperature")?;
        let now = steps.last().ok_or("an empty window")?;
        let mut wanted = vec![
            now.mean()?,
            now.max()?,
            now.gt(60.0)?.astype(DType::F64)?.sum()?,
        ];
        if let [before, now] = steps {
            wanted.push((now - before)?.mean()?); // the mean warming per step
        }
        // One graph for all of them, run where the strips are.
        let values = ctx.compute(&Array::stack(&wanted, 0)?)?.to_array::<f64>();
        let (mean, max, hot) = (values[0], values[1], values[2]);
        let warming = values.get(3).copied().unwrap_or(0.0);
        // The thermostat: more power when the hottest cell is below the target.
        power = (power + 0.004 * (TARGET - max)).max(0.0);
        ctx.set("heater_power", &power)?;
        let step = ctx.timestep();
        if step % 25 == 0 || step == STEPS - 1 {
            println!("{step:>5} {power:>7.3} {mean:>8.2} {max:>8.2} {warming:>12.4} {hot:>10}");
        }
        if step == STEPS - 1 {
            let middle = [
                SliceArg::Index(N as isize / 2),
                SliceArg::from(0..N).step(32),
            ];
            let row = ctx.compute(&now.slice(&middle)?)?.to_array::<f64>();
            let row: Vec<String> = row.iter().map(|t| format!("{t:.1}")).collect();
            println!("middle row, every 32nd cell (°C): {}", row.join(" "));
        }
        seen.lock().map_err(|_| "poisoned")?.push(max);
        Ok(())
    });
    let report = analytics.run()?;
    if let Some(error) = report.errors.first() {
        return Err(format!("{} callbacks failed, first: {error}", report.errors.len()).into());
    }
    let hottest = hottest.lock().map_err(|_| "poisoned")?.clone();
    Ok(hottest)
}
