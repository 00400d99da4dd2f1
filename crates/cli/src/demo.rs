//! `doreisa-rs demo`: simulated ranks publish a chunk each per iteration on an embedded
//! cluster; the analytics computes the global mean, min and max of every iteration with
//! tasks that run where the chunks are, and a tree of merges.
//!
//! Ranks hand their chunk refs to a collector actor (nested refs, borrowed by the
//! actor), the analytics takes them from it (borrowed again), and every value is freed
//! once the iteration is reduced.

use doreisa::core::{Cluster, ClusterConfig, ObjectRef, Registry, TaskOptions, Worker};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Sum, extremes and count of some values.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Stats {
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub count: u64,
}

impl Stats {
    fn of(values: &[f64]) -> Stats {
        values.iter().fold(
            Stats {
                sum: 0.0,
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
                count: 0,
            },
            |s, &v| Stats {
                sum: s.sum + v,
                min: s.min.min(v),
                max: s.max.max(v),
                count: s.count + 1,
            },
        )
    }

    fn merge(self, other: Stats) -> Stats {
        Stats {
            sum: self.sum + other.sum,
            min: self.min.min(other.min),
            max: self.max.max(other.max),
            count: self.count + other.count,
        }
    }
}

doreisa::core::remote! {
    /// Statistics of one chunk (runs on the node holding it).
    pub fn chunk_stats(chunk: Vec<f64>) -> Stats { Stats::of(&chunk) }
}

doreisa::core::remote! {
    /// Merges partial statistics (a level of the reduction tree).
    pub fn merge_stats(parts: Vec<ObjectRef<Stats>>) -> Stats {
        let worker = Worker::current().expect("in a task");
        let values = worker.get_all(&parts).expect("partial statistics");
        values.into_iter().reduce(Stats::merge).expect("at least one part")
    }
}

doreisa::core::actor! {
    /// Gathers the chunk refs of each iteration until the analytics takes them.
    pub struct Collector handle CollectorHandle {
        chunks: BTreeMap<u64, Vec<ObjectRef<Vec<f64>>>>,
    }
    impl {
        fn new() -> Self { Collector { chunks: BTreeMap::new() } }
        fn publish(&mut self, iteration: u64, chunk: ObjectRef<Vec<f64>>) -> usize {
            let chunks = self.chunks.entry(iteration).or_default();
            chunks.push(chunk);
            chunks.len()
        }
        fn take(&mut self, iteration: u64, expected: usize) -> Option<Vec<ObjectRef<Vec<f64>>>> {
            match self.chunks.get(&iteration) {
                Some(chunks) if chunks.len() >= expected => self.chunks.remove(&iteration),
                _ => None,
            }
        }
    }
}

/// The demo's functions and actor class.
pub fn register(registry: &mut Registry) {
    chunk_stats::register(registry);
    merge_stats::register(registry);
    Collector::register(registry);
}

/// What the demo runs.
pub struct DemoConfig {
    pub nodes: usize,
    pub ranks_per_node: usize,
    pub iterations: u64,
    pub chunk_len: usize,
}

/// Runs the demo, printing a line every few iterations and a summary.
pub fn run(config: &DemoConfig) -> Result<(), String> {
    let cluster = Cluster::start(
        ClusterConfig::default().nodes(config.nodes),
        crate::registry(),
    )
    .map_err(|e| e.to_string())?;
    let driver = cluster.driver().clone();
    let collector =
        Collector::create(&driver, TaskOptions::default()).map_err(|e| e.to_string())?;
    let ranks = config.nodes * config.ranks_per_node;
    println!(
        "{ranks} ranks on {} embedded nodes publish a {}-value chunk each per iteration; \
         the analytics reduces each iteration where its chunks are",
        config.nodes, config.chunk_len
    );
    let start = Instant::now();
    let outcome = std::thread::scope(|scope| {
        for rank in 0..ranks {
            let node = cluster.nodes()[rank / config.ranks_per_node];
            let beside = cluster.worker_on(node).map_err(|e| e.to_string())?;
            let collector = collector.clone();
            scope.spawn(move || simulate(rank, &beside, &collector, config));
        }
        analyse(&driver, &collector, ranks, config)
    });
    let elapsed = start.elapsed();
    let (tasks, latency) = outcome?;
    println!(
        "{} iterations in {:.2} s: {:.2} ms per iteration, {} tasks ({:.0} tasks/s), \
         mean latency from last chunk to result {:.3} ms",
        config.iterations,
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e3 / config.iterations as f64,
        tasks,
        tasks as f64 / elapsed.as_secs_f64(),
        latency.as_secs_f64() * 1e3 / config.iterations as f64,
    );
    drop(collector);
    let deadline = Instant::now() + Duration::from_secs(5);
    while cluster.store_objects() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    println!(
        "objects left in the stores after the run: {}",
        cluster.store_objects()
    );
    Ok(())
}

/// One rank: relaxes its chunk towards a rank-dependent source and publishes it.
fn simulate(rank: usize, beside: &Worker, collector: &CollectorHandle, config: &DemoConfig) {
    let mut chunk = vec![0.0f64; config.chunk_len];
    let source = (rank + 1) as f64;
    for iteration in 0..config.iterations {
        for (i, value) in chunk.iter_mut().enumerate() {
            let target = source * (1.0 + (i as f64 * 0.01).sin());
            *value += 0.05 * (target - *value);
        }
        let published = beside
            .put(&chunk)
            .and_then(|r| collector.publish(beside, iteration, r));
        if let Err(e) = published {
            eprintln!("rank {rank}: cannot publish iteration {iteration}: {e}");
            return;
        }
    }
}

/// The analytics: per iteration, a stats task per chunk where it lies, then a tree of
/// merges (fan-in 8). Returns the tasks run and the summed time from the moment an
/// iteration's chunks were all published to its result.
fn analyse(
    driver: &Worker,
    collector: &CollectorHandle,
    ranks: usize,
    config: &DemoConfig,
) -> Result<(u64, Duration), String> {
    let error = |e: doreisa::core::CoreError| e.to_string();
    let mut tasks = 0u64;
    let mut latency = Duration::ZERO;
    let every = (config.iterations / 10).max(1);
    for iteration in 0..config.iterations {
        let chunks = loop {
            let taken = collector.take(driver, iteration, ranks).map_err(error)?;
            if let Some(chunks) = driver.get(&taken).map_err(error)? {
                break chunks;
            }
            std::thread::sleep(Duration::from_micros(100));
        };
        let ready = Instant::now();
        let mut level: Vec<ObjectRef<Stats>> = chunks
            .iter()
            .map(|chunk| chunk_stats::remote(driver, chunk))
            .collect::<Result<_, _>>()
            .map_err(error)?;
        tasks += level.len() as u64;
        drop(chunks);
        while level.len() > 1 {
            level = level
                .chunks(8)
                .map(|parts| merge_stats::remote(driver, parts.to_vec()))
                .collect::<Result<_, _>>()
                .map_err(error)?;
            tasks += level.len() as u64;
        }
        let stats = driver.get(&level[0]).map_err(error)?;
        latency += ready.elapsed();
        if iteration % every == 0 || iteration + 1 == config.iterations {
            println!(
                "iteration {iteration:>5}: mean {:>9.5}  min {:>9.5}  max {:>9.5}  ({} values)",
                stats.sum / stats.count as f64,
                stats.min,
                stats.max,
                stats.count
            );
        }
    }
    Ok((tasks, latency))
}
