//! An analytics client: a program that joins a running cluster of processes by its
//! cluster file and computes on arrays whose chunks live on the cluster's nodes (as
//! Dask's `Client("scheduler-address")` does).
//!
//! ```sh
//! cargo build --release --bin doreisa-rs
//! scripts/local-cluster.sh start 2 /tmp/c     # a head and 2 workers on this machine
//! cargo run --release --example analytics_client -- /tmp/c/cluster.json
//! scripts/local-cluster.sh stop /tmp/c
//! ```
//!
//! (`DOREISA_CLUSTER_FILE=/tmp/c/cluster.json` works too.) On a real cluster, start
//! `doreisa-rs head` and `doreisa-rs worker` on the machines (see
//! `scripts/slurm-cluster.sbatch`) and copy the cluster file where this client runs:
//! it holds the cluster's token, keep it private.
//!
//! The client spreads a synthetic data set over the nodes: 4 days of a 512 x 512
//! temperature map, in chunks of 128 x 128, each row of chunks on one node. Then it
//! computes, where the chunks are: each day's mean, the last day's anomaly against the
//! 4-day mean, a cross-section, and how many cells were above 25 °C. Every result is
//! checked against the same expression computed in this process.
//!
//! The nodes of a cluster run only the kernels their binary registered: `doreisa-rs`
//! registers everything in `doreisa::registry()`, which this client uses too.

use doreisa::array::{Array, Chunk, DType, Grid, SliceArg, encode_chunks};
use doreisa::core::Cluster;
use doreisa::net::{CLUSTER_FILE_ENV, ClusterFile};
use doreisa::sched::{ClusterRunner, LocalRunner, Strategy};
use ndarray::{ArrayD, IxDyn};
use std::path::PathBuf;
use std::time::Instant;

type Error = Box<dyn std::error::Error + Send + Sync>;

const N: usize = 512;
const CHUNK: usize = 128;
const DAYS: i64 = 4;

fn main() -> Result<(), Error> {
    let path = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os(CLUSTER_FILE_ENV).map(PathBuf::from))
        .ok_or("usage: analytics_client CLUSTER_FILE (see the example's doc)")?;
    let cluster = Cluster::connect(&ClusterFile::read(&path)?, doreisa::registry())?;
    let nodes = cluster.task_nodes();
    println!(
        "connected to {}: {} nodes take tasks",
        path.display(),
        nodes.len()
    );
    let runner = ClusterRunner::start(cluster.driver(), &nodes, Strategy::Greedy)?;
    // The same data in this process, to check the cluster's results against.
    let local = LocalRunner::new(doreisa::array::kernels());
    let grid = Grid::regular(&[N, N], &[CHUNK, CHUNK])?;
    let started = Instant::now();
    let mut days = Vec::new();
    for day in 0..DAYS {
        for (key, bytes) in encode_chunks("temperature", day, &synthetic_day(day), &grid)? {
            let node = nodes[key.chunk[0] as usize % nodes.len()];
            runner.publish(key.clone(), node, bytes.clone())?;
            local.insert(key, bytes);
        }
        days.push(Array::source(
            "temperature",
            day,
            &[N, N],
            grid.clone(),
            DType::F64,
        )?);
    }
    println!(
        "{DAYS} days of {N}x{N} cells ({} chunks each) spread over the nodes in {:.0} ms",
        grid.num_chunks(),
        1e3 * started.elapsed().as_secs_f64()
    );

    let week = Array::stack(&days, 0)?; // days x N x N
    let last = &days[days.len() - 1];
    let results = [
        ("mean of each day (°C)", week.mean_axes(&[1, 2])?),
        (
            "largest anomaly of the last day against the 4-day mean (°C)",
            (last - &week.mean_axes(&[0])?)?.abs()?.max()?,
        ),
        (
            "last day along row 256, every 64th cell (°C)",
            last.slice(&[SliceArg::Index(256), SliceArg::from(0..N).step(64)])?,
        ),
        (
            "cells above 25 °C, by day",
            week.gt(25.0)?.astype(DType::F64)?.sum_axes(&[1, 2])?,
        ),
    ];
    for (what, expression) in &results {
        let started = Instant::now();
        let there = expression.compute(&runner)?.to_array::<f64>();
        let took = started.elapsed();
        let here = expression.compute(&local)?.to_array::<f64>();
        let agree = there.shape() == here.shape()
            && there
                .iter()
                .zip(here.iter())
                .all(|(a, b)| (a - b).abs() <= 1e-9 * (1.0 + b.abs()));
        let values: Vec<String> = there.iter().map(|v| format!("{v:.2}")).collect();
        let values: Vec<&str> = values.iter().map(|v| v.trim_end_matches(".00")).collect();
        println!(
            "{what}: {} ({:.1} ms on the cluster)",
            values.join(" "),
            1e3 * took.as_secs_f64()
        );
        if !agree {
            return Err(
                format!("{what}: the cluster computed {there}, this process {here}").into(),
            );
        }
    }
    println!("every result agrees with the same computation in this process");
    // The published chunks stay on the nodes until released.
    runner.release_before(i64::MAX)?;
    Ok(())
}

/// Day `day`'s temperature map: a warm band moving north, plus a daily offset.
fn synthetic_day(day: i64) -> Chunk {
    let data = ArrayD::from_shape_fn(IxDyn(&[N, N]), |i| {
        let (y, x) = (i[0] as f64 / N as f64, i[1] as f64 / N as f64);
        let band = (-((y - 0.3 - 0.1 * day as f64) / 0.15).powi(2)).exp();
        15.0 + 12.0 * band + 2.0 * (6.0 * x).sin() + day as f64
    });
    Chunk::from(data)
}
