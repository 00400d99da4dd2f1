//! `doreisa-rs bench`: microbenchmarks named like Ray's, on an embedded cluster. Each
//! runs a few times and writes the figures as JSON.

use doreisa::core::{Cluster, ClusterConfig, ObjectRef, Registry, TaskOptions, Worker};
use doreisa::net::ClusterFile;
use serde::Serialize;
use std::time::Instant;

doreisa::core::remote! {
    /// A task that does nothing but return.
    pub fn noop() -> u8 { 0 }
}

doreisa::core::remote! {
    /// The length of a blob (its value is moved to where the task runs).
    pub fn blob_len(blob: doreisa::core::Blob) -> u64 { blob.0.len() as u64 }
}

doreisa::core::actor! {
    /// An actor whose method does nothing but return.
    pub struct Nothing handle NothingHandle address NothingAddress { calls: u64 }
    impl {
        fn new() -> Self { Nothing { calls: 0 } }
        fn ping(&mut self) -> u8 { self.calls += 1; 0 }
    }
}

/// The functions and actor classes the benchmarks use.
pub fn register(registry: &mut Registry) {
    noop::register(registry);
    blob_len::register(registry);
    Nothing::register(registry);
}

/// The benchmarks.
pub const NAMES: &[&str] = &[
    "tasks-async",
    "tasks-sync",
    "put-small",
    "get-small",
    "put-gigabytes",
    "actor-calls-async",
    "actor-calls-sync",
    "nested-refs",
];

/// One benchmark's figures.
#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub bench: String,
    pub nodes: usize,
    /// Median over the runs.
    pub ops_per_s: f64,
    /// Each run's operations per second.
    pub runs: Vec<f64>,
    pub ops_per_run: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gb_per_s: Option<f64>,
    /// "embedded", or "processes" (a cluster joined through its cluster file).
    pub cluster: &'static str,
}

/// Runs benchmark `name` on an embedded cluster of `nodes` nodes, or on the cluster
/// of `cluster_file` (tasks and actors then run on its worker processes).
pub fn run(
    name: &str,
    nodes: usize,
    runs: usize,
    cluster_file: Option<&ClusterFile>,
) -> Result<BenchReport, String> {
    let cluster = match cluster_file {
        Some(file) => Cluster::connect(file, crate::registry()),
        None => Cluster::start(ClusterConfig::default().nodes(nodes), crate::registry()),
    }
    .map_err(|e| e.to_string())?;
    let nodes = if cluster.is_embedded() {
        nodes
    } else {
        cluster.task_nodes().len()
    };
    let driver = cluster.driver().clone();
    let (ops, bytes_per_op): (u64, u64) = match name {
        "tasks-async" => (100_000, 0),
        "tasks-sync" => (20_000, 0),
        "put-small" => (100_000, 0),
        "get-small" => (100_000, 0),
        "put-gigabytes" if !cluster.is_embedded() => (4, 256 << 20),
        "put-gigabytes" => (16, 256 << 20),
        "actor-calls-async" => (100_000, 0),
        "actor-calls-sync" => (20_000, 0),
        "nested-refs" => (20, 0),
        other => {
            return Err(format!(
                "no benchmark named {other:?}; try one of {NAMES:?}"
            ));
        }
    };
    // One warm-up run, then the measured ones.
    let mut figures = Vec::new();
    for round in 0..=runs {
        let seconds = once(name, &driver, &cluster, ops).map_err(|e| e.to_string())?;
        if round > 0 {
            figures.push(ops as f64 / seconds);
        }
    }
    let mut sorted = figures.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    Ok(BenchReport {
        bench: name.to_string(),
        nodes,
        ops_per_s: median,
        runs: figures,
        ops_per_run: ops,
        gb_per_s: (bytes_per_op > 0).then(|| median * bytes_per_op as f64 / 1e9),
        cluster: if cluster.is_embedded() {
            "embedded"
        } else {
            "processes"
        },
    })
}

fn once(name: &str, driver: &Worker, cluster: &Cluster, ops: u64) -> doreisa::core::Result<f64> {
    let start;
    match name {
        "tasks-async" => {
            start = Instant::now();
            let refs: Vec<ObjectRef<u8>> = (0..ops)
                .map(|_| noop::remote_with(driver, TaskOptions::spread().retries(0)))
                .collect::<Result<_, _>>()?;
            driver.get_all(&refs)?;
        }
        "tasks-sync" => {
            // On a process cluster, round trips to the worker processes.
            let options = if cluster.is_embedded() {
                TaskOptions::default()
            } else {
                TaskOptions::spread()
            };
            start = Instant::now();
            for _ in 0..ops {
                let r = noop::remote_with(driver, options.retries(0))?;
                driver.get(&r)?;
            }
        }
        "put-small" => {
            start = Instant::now();
            let refs: Vec<ObjectRef<u64>> =
                (0..ops).map(|i| driver.put(&i)).collect::<Result<_, _>>()?;
            drop(refs);
        }
        "get-small" => {
            let r = driver.put(&7u64)?;
            start = Instant::now();
            for _ in 0..ops {
                driver.get(&r)?;
            }
        }
        "put-gigabytes" if !cluster.is_embedded() => {
            // Between processes: put here, read by a task on a worker process.
            let source = vec![1u8; 256 << 20];
            start = Instant::now();
            for _ in 0..ops {
                let r = driver.put_slice(&source)?;
                let len = blob_len::remote_with(driver, TaskOptions::spread(), &r)?;
                assert_eq!(driver.get(&len)?, source.len() as u64);
            }
        }
        "put-gigabytes" => {
            let source = vec![1u8; 256 << 20];
            start = Instant::now();
            for _ in 0..ops {
                let r = driver.put_slice(&source)?;
                drop(r);
            }
        }
        "actor-calls-async" => {
            let nodes = cluster.task_nodes();
            let actor = Nothing::create(driver, TaskOptions::on(nodes[nodes.len() - 1]))?;
            start = Instant::now();
            let refs: Vec<ObjectRef<u8>> = (0..ops)
                .map(|_| actor.ping(driver))
                .collect::<Result<_, _>>()?;
            driver.get_all(&refs)?;
        }
        "actor-calls-sync" => {
            let actor = Nothing::create(driver, TaskOptions::on(cluster.task_nodes()[0]))?;
            start = Instant::now();
            for _ in 0..ops {
                let r = actor.ping(driver)?;
                driver.get(&r)?;
            }
        }
        "nested-refs" => {
            let inner: Vec<ObjectRef<u64>> = (0..10_000u64)
                .map(|i| driver.put(&i))
                .collect::<Result<_, _>>()?;
            let outer = driver.put(&inner)?;
            drop(inner);
            start = Instant::now();
            for _ in 0..ops {
                let refs = driver.get(&outer)?;
                assert_eq!(refs.len(), 10_000);
            }
        }
        _ => unreachable!("checked by run"),
    }
    Ok(start.elapsed().as_secs_f64())
}
