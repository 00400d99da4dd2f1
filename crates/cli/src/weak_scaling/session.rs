//! What one run does: a producer per node publishes the chunks, the driver asks the
//! analysis of every iteration and checks its value, and the clocks are read.

use super::{Expected, ScalingConfig, Workload, chunk_values, usage};
use doreisa::core::{Cluster, ObjectRef, TaskOptions, Worker};
use doreisa::sched::cluster::SchedulingActorAddress;
use doreisa::sched::{ClusterRunner, SourceKey, Strategy};
use ndarray::{ArrayD, IxDyn};
use std::time::{Duration, Instant};

doreisa::core::actor! {
    /// Makes one node's chunks of an iteration and announces them.
    pub struct Producer handle ProducerHandle address ProducerAddress {
        first_chunk: u32, chunks: u32, rows: u32, cols: u32, scheduler: SchedulingActorAddress
    }
    impl {
        fn new(first_chunk: u32, chunks: u32, rows: u32, cols: u32, scheduler: SchedulingActorAddress) -> Self {
            Producer { first_chunk, chunks, rows, cols, scheduler }
        }
        // Publishes the chunks of `timestep`; returns when they were announced
        // (`usage::monotonic_ns`), or why they could not be.
        fn produce(&mut self, timestep: i64) -> Result<u64, String> {
            let worker = Worker::current().ok_or("not in an actor call")?;
            let shape = [self.rows as usize, self.cols as usize];
            let mut published = Vec::with_capacity(self.chunks as usize);
            for c in 0..self.chunks {
                let index = self.first_chunk + c;
                let values = chunk_values(shape, index as usize, timestep);
                let data = ArrayD::from_shape_vec(IxDyn(&shape), values).expect("rows x cols values");
                let bytes = doreisa::array::Chunk::from(data).encode();
                let chunk = worker.put_blob(bytes).map_err(|e| format!("chunk {index}: {e}"))?;
                let key = SourceKey { array: "x".into(), timestep, chunk: vec![index, 0] };
                published.push((key, chunk));
            }
            self.scheduler
                .publish_many(&worker, published)
                .map_err(|e| format!("cannot announce chunks: {e}"))?;
            Ok(usage::monotonic_ns())
        }
    }
}

/// One run's figures.
#[derive(Debug, Clone)]
pub(super) struct RunFigures {
    pub ms: f64,
    pub analysis_ms: f64,
    pub tasks: usize,
    pub driver_cpu_ms: f64,
    pub producer_calls_cpu_ms: f64,
    pub process_cpu_ms: f64,
}

/// A cluster's scheduling actors and one producer per node, which publish the
/// chunks of `workload` (node `k` chunks `k*K .. (k+1)*K`) when asked.
pub struct Session<'a> {
    /// The runner computing expressions over the published chunks (placed where their
    /// producer is, keeping one timestep of sources).
    pub runner: ClusterRunner,
    pub workload: Workload,
    driver: &'a Worker,
    producers: Vec<ProducerHandle>,
}

impl<'a> Session<'a> {
    /// Starts the scheduling actors and the producers on `cluster`'s task nodes
    /// (`workload.nodes` of them: a cluster of another size is refused).
    pub fn start(cluster: &'a Cluster, workload: Workload) -> Result<Session<'a>, String> {
        let error = |e: &dyn std::fmt::Display| e.to_string();
        let driver = cluster.driver();
        let nodes = cluster.task_nodes();
        if nodes.len() != workload.nodes {
            return Err(format!(
                "a workload for {} nodes on a cluster of {}",
                workload.nodes,
                nodes.len()
            ));
        }
        let runner = ClusterRunner::start(driver, &nodes, Strategy::Greedy)
            .map_err(|e| error(&e))?
            .with_retention(1)
            .with_timeout(Duration::from_secs(60));
        let [rows, cols] = workload.chunk;
        let mut producers = Vec::new();
        for (k, &node) in nodes.iter().enumerate() {
            let first_chunk = k as u32 * workload.chunks_per_node;
            for c in 0..workload.chunks_per_node {
                runner.place("x", &[first_chunk + c, 0], node);
            }
            let scheduler = runner.actor(node).expect("an actor per node");
            let producer = Producer::create(
                driver,
                TaskOptions::on(node),
                first_chunk,
                workload.chunks_per_node,
                rows as u32,
                cols as u32,
                scheduler,
            );
            producers.push(producer.map_err(|e| error(&e))?);
        }
        Ok(Session {
            runner,
            workload,
            driver,
            producers,
        })
    }

    /// Asks every producer to publish its chunks of `timestep`, without waiting; see
    /// `Publishing::wait`.
    pub fn publish(&self, timestep: i64) -> Result<Publishing, String> {
        let calls = self
            .producers
            .iter()
            .map(|producer| producer.produce(self.driver, timestep))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        Ok(Publishing {
            timestep,
            calls,
            driver: self.driver.clone(),
        })
    }
}

/// The producers' publishing of one timestep, under way.
pub struct Publishing {
    timestep: i64,
    calls: Vec<ObjectRef<Result<u64, String>>>,
    driver: Worker,
}

impl Publishing {
    /// Waits until every producer has announced its chunks; returns when the last one
    /// did ([`usage::monotonic_ns`]), or the first producer's error.
    pub fn wait(self) -> Result<u64, String> {
        let timestep = self.timestep;
        let ends = self
            .driver
            .get_all(&self.calls)
            .map_err(|e| format!("iteration {timestep}: a producer: {e}"))?;
        let mut last = 0;
        for (node, end) in ends.into_iter().enumerate() {
            let end = end.map_err(|e| format!("iteration {timestep}: producer {node}: {e}"))?;
            last = last.max(end);
        }
        Ok(last)
    }
}

/// One run on `cluster`, every value checked against `expected`.
pub(super) fn measure(
    cluster: &Cluster,
    config: &ScalingConfig,
    workload: &Workload,
    expected: &dyn Fn(i64) -> Expected,
) -> Result<RunFigures, String> {
    let error = |e: &dyn std::fmt::Display| e.to_string();
    let session = Session::start(cluster, *workload)?;
    let runner = &session.runner;
    let measured = config.measured();
    let mut marks = Vec::with_capacity(config.iterations as usize);
    let mut analysis_time = Duration::ZERO;
    let mut cpu_start = (Duration::ZERO, Duration::ZERO);
    let mut cpu_end = cpu_start;
    // The driver thread's time asking the producers and gathering their replies: the
    // emulated simulation's, not the analytics'.
    let mut producer_calls_cpu = Duration::ZERO;
    let mut tasks = 0;
    for timestep in 0..config.iterations {
        marks.push(Instant::now());
        if timestep == measured.start {
            cpu_start = (usage::thread_cpu(), usage::process_cpu());
        }
        if timestep == measured.end {
            cpu_end = (usage::thread_cpu(), usage::process_cpu());
        }
        let before_asking = usage::thread_cpu();
        let publishing = session.publish(timestep)?;
        let mut calls_cpu = usage::thread_cpu() - before_asking;
        let x = workload.source(timestep).map_err(|e| error(&e))?;
        let analysis = config.analysis.expression(&x).map_err(|e| error(&e))?;
        if timestep == 0 {
            tasks = analysis.lower().map_err(|e| error(&e))?.tasks.len();
        }
        let value = match analysis.compute(runner) {
            Ok(value) => value,
            Err(e) => return Err(describe_failure(timestep, &e, runner, cluster)),
        };
        let done = usage::monotonic_ns();
        let before_gathering = usage::thread_cpu();
        let published = publishing.wait()?;
        calls_cpu += usage::thread_cpu() - before_gathering;
        if measured.contains(&timestep) {
            producer_calls_cpu += calls_cpu;
            analysis_time += Duration::from_nanos(done.saturating_sub(published));
        }
        let value = value.scalar::<f64>().map_err(|e| error(&e))?;
        expected(timestep)
            .check(value)
            .map_err(|e| format!("iteration {timestep}: {} gave {e}", config.analysis.name()))?;
    }
    let window = (measured.end - measured.start) as f64;
    let span = marks[measured.end as usize] - marks[measured.start as usize];
    Ok(RunFigures {
        ms: span.as_secs_f64() * 1e3 / window,
        analysis_ms: analysis_time.as_secs_f64() * 1e3 / window,
        tasks,
        driver_cpu_ms: (cpu_end.0 - cpu_start.0)
            .saturating_sub(producer_calls_cpu)
            .as_secs_f64()
            * 1e3
            / window,
        producer_calls_cpu_ms: producer_calls_cpu.as_secs_f64() * 1e3 / window,
        process_cpu_ms: (cpu_end.1 - cpu_start.1).as_secs_f64() * 1e3 / window,
    })
}

/// A failed compute, with what each node still waits for (to tell a lost message from
/// a slow one).
fn describe_failure(
    timestep: i64,
    e: &dyn std::fmt::Display,
    runner: &ClusterRunner,
    cluster: &Cluster,
) -> String {
    let stats = runner.stats().map(|s| format!("{s:?}")).unwrap_or_default();
    let status: Vec<String> = cluster
        .status()
        .iter()
        .map(|s| {
            format!(
                "{:?}: pending {} waiting {} running {} records {}",
                s.node, s.pending_tasks, s.waiting_tasks, s.running_tasks, s.records
            )
        })
        .collect();
    format!("iteration {timestep}: {e}; schedulers {stats}; nodes {status:?}")
}
