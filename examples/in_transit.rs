//! In transit: the simulation's ranks stream their chunks to analytics nodes, which keep
//! them and run the analytics' graphs; beside the simulation nothing runs but the
//! publishing. (In situ, as in `examples/quickstart.rs`, the chunks stay beside the
//! ranks and the graphs run there.)
//!
//! ```sh
//! # the analytics nodes are an embedded cluster in this process
//! cargo run --release --example in_transit
//! # or the nodes of a running cluster, over QUIC (start one with scripts/local-cluster.sh)
//! scripts/local-cluster.sh start 2 /tmp/c
//! cargo run --release --example in_transit -- --cluster-file /tmp/c/cluster.json
//! scripts/local-cluster.sh stop /tmp/c
//! ```
//!
//! The simulation: 128 x 128 damped oscillators (displacement `u`, velocity `v`), cut in
//! 4 strips, one per rank (threads). Their mean energy decays as `exp(-DAMPING * t)`.
//! The analytics computes the mean energy from `u` and `v` at every step, estimates the
//! damping rate over a window of the last 10 steps, and tells the simulation to stop
//! once the energy fell below 1 % of where it started. The run fails if the estimate is
//! off by more than 0.1 %, if the simulation does not stop, or if a chunk was not streamed.
//!
//! Here the analytics' driver runs in the simulation's process for brevity; in a real
//! job it is a process of its own (see `examples/heat2d_mpi.rs`, which hands the
//! session over in a file).

use doreisa::array::{Array, DType};
use doreisa::core::{Cluster, ClusterConfig};
use doreisa::insitu::{
    Analytics, AnalyticsOptions, ArrayMeta, Bridge, BridgeOptions, Client, Communicator, Delivery,
    Published, Session, ThreadGroup, Trigger, Window,
};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// N x N oscillators.
const N: usize = 128;
const RANKS: usize = 4;
/// Nodes of the embedded cluster (when no cluster file is given).
const NODES: usize = 2;
/// The most steps the simulation runs if nobody stops it.
const MAX_STEPS: i64 = 600;
/// The oscillators' angular frequency (per step).
const OMEGA: f64 = 0.3;
/// The energy's decay rate (per step): each step multiplies it by `exp(-DAMPING)`.
const DAMPING: f64 = 0.02;
/// The window the damping rate is estimated over.
const WINDOW: usize = 10;

fn main() -> Result<(), Error> {
    let cluster_file = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [] => None,
        [flag, path] if flag == "--cluster-file" => Some(PathBuf::from(path)),
        _ => return Err("usage: in_transit [--cluster-file FILE]".into()),
    };
    let started = Instant::now();
    let config = ClusterConfig::default().nodes(NODES);
    let cluster = Cluster::connect_or_start(cluster_file.as_deref(), config, doreisa::registry())?;
    // The analytics nodes: every node that takes tasks (not this program's own).
    let nodes = cluster.task_nodes();
    let session = Session::start(cluster.driver(), &nodes)?;
    let info = session.info();
    let options = BridgeOptions {
        delivery: Delivery::Stream,
        ..Default::default()
    };
    let mut bridges = Vec::new();
    for (i, &node) in nodes.iter().enumerate() {
        let ranks_there = (0..RANKS).filter(|r| r % nodes.len() == i).count();
        bridges.push(Bridge::start_for(
            cluster.driver(),
            node,
            &info,
            ranks_there,
            options,
        )?);
    }
    println!(
        "{} ranks stream {N}x{N} oscillators to {} analytics nodes ({})",
        RANKS,
        nodes.len(),
        if cluster.is_embedded() {
            "embedded in this process"
        } else {
            "processes of a running cluster"
        }
    );
    let group = ThreadGroup::new(RANKS);
    let ranks: Vec<_> = (0..RANKS)
        .map(|rank| {
            let bridge = bridges[rank % bridges.len()].clone();
            let comm = group.rank(rank);
            std::thread::spawn(move || simulation_rank(rank, bridge, comm))
        })
        .collect();
    let estimates = analytics(&session)?;
    let mut last_step = 0;
    for rank in ranks {
        last_step = rank.join().map_err(|_| "a rank panicked")??;
    }
    let published = RANKS as u64 * 2 * (last_step as u64 + 1);
    let streamed: u64 = bridges.iter().map(|b| b.stats().streamed).sum();
    println!(
        "the simulation stopped at step {last_step} as the analytics asked; \
         {streamed} of {published} chunks streamed to the analytics nodes"
    );
    let worst = estimates
        .iter()
        .map(|rate| (rate / DAMPING - 1.0).abs())
        .fold(0.0, f64::max);
    println!(
        "damping rate estimated at {} steps, off the true {DAMPING} by at most {worst:.1e} (relative)",
        estimates.len(),
    );
    println!("done in {:.1} s", started.elapsed().as_secs_f64());
    if last_step >= MAX_STEPS - 1 || streamed != published || worst > 1e-3 || estimates.is_empty() {
        return Err("the analytics' results are not what the simulation did".into());
    }
    Ok(())
}

/// One rank: steps its strip of oscillators, publishes `u` and `v`, and stops when the
/// analytics says so. Returns its last step.
fn simulation_rank(
    rank: usize,
    bridge: Arc<Bridge>,
    comm: Arc<dyn Communicator>,
) -> Result<i64, Error> {
    let rows = N / RANKS;
    let at = [rank as u32, 0];
    let declare = |name| Published::new(ArrayMeta::new(name, &[N, N], &[rows, N], DType::F64), &at);
    let mut client =
        Client::new(bridge, vec![declare("u")?, declare("v")?])?.with_communicator(comm);
    // Every oscillator starts with its own amplitude and phase.
    let cells = rows * N;
    let offset = rank * cells;
    let phase = |i: usize| 2.399_963 * (offset + i) as f64; // the golden angle: spread evenly
    let amplitude = |i: usize| 1.0 + ((offset + i) % 7) as f64 / 7.0;
    let mut u: Vec<f64> = (0..cells).map(|i| amplitude(i) * phase(i).cos()).collect();
    let mut v: Vec<f64> = (0..cells)
        .map(|i| -OMEGA * amplitude(i) * phase(i).sin())
        .collect();
    let mut step = 0;
    while step < MAX_STEPS {
        client.publish_slice("u", step, &u)?;
        client.publish_slice("v", step, &v)?;
        if client.get("stop", None, false)? {
            break;
        }
        // Every oscillator turns by OMEGA and loses a share DAMPING of its energy.
        let (cos, sin, decay) = (OMEGA.cos(), OMEGA.sin(), (-DAMPING / 2.0).exp());
        for (u, v) in u.iter_mut().zip(v.iter_mut()) {
            let (u0, v0) = (*u, *v);
            *u = decay * (u0 * cos + v0 / OMEGA * sin);
            *v = decay * (v0 * cos - OMEGA * u0 * sin);
        }
        step += 1;
    }
    let last = step.min(MAX_STEPS - 1);
    client.close(last)?;
    Ok(last)
}

/// The analytics: the mean energy at every step, the damping rate over the window, and
/// a stop once the energy fell below 1 %. Returns the rate estimates.
fn analytics(session: &Arc<Session>) -> Result<Vec<f64>, Error> {
    let mut analytics = Analytics::new(session, AnalyticsOptions::default())?;
    let estimates = Arc::new(Mutex::new(Vec::new()));
    let out = estimates.clone();
    let mut first_energy = None;
    let mut stop_asked = false;
    let energy = |u: &Array, v: &Array| -> doreisa::array::Result<Array> {
        ((v * v)? + (u * u)?.mul(OMEGA * OMEGA)?)?.mean()?.mul(0.5)
    };
    println!("{:>5} {:>12} {:>14}", "step", "energy", "damping rate");
    let windows = vec![Window::new("u", WINDOW), Window::new("v", WINDOW)];
    analytics.register("energy", windows, Trigger::All, move |ctx| {
        let (u, v) = (ctx.window("u")?, ctx.window("v")?);
        let (oldest, newest) = (
            energy(&u[0], &v[0])?,
            energy(&u[u.len() - 1], &v[v.len() - 1])?,
        );
        let values = ctx
            .compute(&Array::stack(&[oldest, newest], 0)?)?
            .to_array::<f64>();
        let (then, now) = (values[0], values[1]);
        let start = *first_energy.get_or_insert(now);
        let rate = (u.len() == WINDOW).then(|| (then / now).ln() / (WINDOW - 1) as f64);
        if let Some(rate) = rate {
            out.lock().map_err(|_| "poisoned")?.push(rate);
        }
        let step = ctx.timestep();
        let stop = now < 0.01 * start && !stop_asked;
        if step % 25 == 0 || stop {
            let rate = rate.map_or("-".into(), |r| format!("{r:.5}"));
            let note = if stop { "  below 1 %: stop" } else { "" };
            println!("{step:>5} {now:>12.6} {rate:>14}{note}");
        }
        if stop {
            ctx.set("stop", &true)?;
            stop_asked = true;
        }
        Ok(())
    });
    let report = analytics.run()?;
    if let Some(error) = report.errors.first() {
        return Err(format!("{} callbacks failed, first: {error}", report.errors.len()).into());
    }
    let estimates = estimates.lock().map_err(|_| "poisoned")?.clone();
    Ok(estimates)
}
