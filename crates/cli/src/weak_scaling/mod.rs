//! `doreisa-rs bench weak-scaling`: the benchmark protocol of Doreisa's thesis and its
//! variants. N simulation nodes each publish K chunks of RxC f64 per iteration (40 of
//! 10x10 by default), an analysis runs over the whole array every iteration (the mean
//! by default), N iterations (230 by default); the time per iteration is measured from
//! iteration 20 to N-10. Synthetic producers stand in for the simulation: one actor
//! per node puts its node's chunks and announces them to the node's scheduling actor in
//! one message per iteration, as a simulation's client would. Every iteration's value
//! is checked against the exact one from the producers' formula: a wrong value ends the
//! benchmark with an error.

mod plot;
mod processes;
mod session;
pub mod usage;
pub mod workload;

pub use plot::plot;
pub use session::{Producer, Session};
pub use workload::{Analysis, Expected, HandLoop, Workload, chunk_values, element};

use doreisa::core::{Cluster, ClusterConfig};
use processes::LocalProcesses;
use serde::Serialize;
use session::measure;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

/// The first measured iteration (the ones before warm the caches up).
pub const WARM_UP: i64 = 20;
/// Iterations left out at the end of the measured window.
pub const COOL_DOWN: i64 = 10;
/// The fewest iterations a run may have: 10 measured ones.
pub const MIN_ITERATIONS: i64 = WARM_UP + COOL_DOWN + 10;

/// Where the nodes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Virtual nodes in this process.
    Embedded,
    /// A head and workers started on this machine.
    Processes,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct ScalingConfig {
    /// The cluster sizes, each run in turn.
    pub nodes: Vec<usize>,
    pub mode: Mode,
    /// Runs per size (the median is reported).
    pub runs: usize,
    /// Rows and columns of a chunk.
    pub chunk: [usize; 2],
    pub chunks_per_node: u32,
    /// Iterations per run, at least [`MIN_ITERATIONS`].
    pub iterations: i64,
    pub analysis: Analysis,
}

impl Default for ScalingConfig {
    /// Doreisa's protocol on 2 virtual nodes, one run.
    fn default() -> Self {
        ScalingConfig {
            nodes: vec![2],
            mode: Mode::Embedded,
            runs: 1,
            chunk: [10, 10],
            chunks_per_node: 40,
            iterations: 230,
            analysis: Analysis::Mean,
        }
    }
}

impl ScalingConfig {
    /// The measured iterations: from [`WARM_UP`] to `iterations - COOL_DOWN`.
    pub fn measured(&self) -> Range<i64> {
        WARM_UP..self.iterations - COOL_DOWN
    }

    /// A clear error for what cannot run.
    pub fn check(&self) -> Result<(), String> {
        check_iterations(self.iterations)?;
        if self.chunk.contains(&0) {
            return Err(format!(
                "a chunk of {}x{} holds nothing: rows and columns start at 1",
                self.chunk[0], self.chunk[1]
            ));
        }
        if self.chunks_per_node == 0 {
            return Err("--chunks-per-node must be at least 1".into());
        }
        if self.nodes.is_empty() || self.nodes.contains(&0) {
            return Err("every cluster size must be at least 1 node".into());
        }
        Ok(())
    }
}

/// `Ok` if a run of `iterations` has a measured window.
pub fn check_iterations(iterations: i64) -> Result<(), String> {
    if iterations < MIN_ITERATIONS {
        return Err(format!(
            "{iterations} iterations: the measured window runs from iteration {WARM_UP} to \
             N-{COOL_DOWN}, so N must be at least {MIN_ITERATIONS}"
        ));
    }
    Ok(())
}

/// The sinsqrt hand loop's figures beside the runtime's.
#[derive(Debug, Clone, Serialize)]
pub struct HandLoopFigures {
    /// Mean time of one pass over one iteration's data (measured window), ms.
    pub ms_per_iteration: f64,
    pub threads: usize,
    /// The hand loop's time over the runtime's analysis time (after publishing): the
    /// share of the hand loop's throughput the runtime reaches.
    pub runtime_share: f64,
}

/// One cluster size's figures, from the run of median time.
#[derive(Debug, Serialize)]
pub struct ScalingPoint {
    pub nodes: usize,
    /// Median over the runs of the mean time per iteration (measured window), ms.
    pub ms_per_iteration: f64,
    pub runs_ms_per_iteration: Vec<f64>,
    /// Of an iteration, the time from the last chunk published to the analysis' value
    /// at the driver, ms (nodes may start computing before: a standing plan runs as
    /// chunks land).
    pub analysis_ms_per_iteration: f64,
    pub chunks_per_iteration: usize,
    /// Chunks per second through the whole loop: the main throughput.
    pub chunks_per_s: f64,
    /// Tasks of each iteration's graph (as Dask would count them, before fusion).
    pub tasks_per_iteration: usize,
    pub tasks_per_s: f64,
    /// The analytics side's CPU time per iteration, ms: the CPU time of the driver
    /// thread (the one that runs the benchmark loop: builds the expression, finds its
    /// plan, submits it or finds it standing, waits for the value, including any polling
    /// while it waits, and checks it), less its time asking the producers to publish and
    /// gathering their replies. Not the nodes' scheduling actors, their compute or the
    /// producers, which run on other threads (or processes).
    pub driver_cpu_ms_per_iteration: f64,
    /// The driver thread's CPU time per iteration asking the producers to publish and
    /// gathering their replies, ms (the emulated simulation's share of that thread).
    pub producer_calls_cpu_ms_per_iteration: f64,
    /// CPU time of this whole process per iteration, ms: in embedded mode every node,
    /// producer and the driver; in processes mode the driver process only.
    pub process_cpu_ms_per_iteration: f64,
    /// Peak resident memory of this process over this size's runs (`VmHWM`, reset
    /// before them), embedded mode only.
    pub peak_rss_bytes: Option<u64>,
    /// sinsqrt only.
    pub hand_loop: Option<HandLoopFigures>,
}

/// The benchmark's report.
#[derive(Debug, Serialize)]
pub struct ScalingReport {
    pub bench: &'static str,
    pub mode: Mode,
    pub analysis: Analysis,
    pub iterations: i64,
    pub measured: String,
    pub chunk: String,
    pub chunks_per_node: u32,
    pub points: Vec<ScalingPoint>,
}

/// The sinsqrt references of every timestep, and the hand loop's mean time over the
/// measured window.
struct References {
    expected: Vec<Expected>,
    hand_loop_ms: f64,
    threads: usize,
}

impl References {
    fn compute(config: &ScalingConfig, workload: &Workload) -> References {
        let threads = doreisa::core::cluster::cores();
        let mut hand_loop = HandLoop::new(threads);
        let mut expected = Vec::with_capacity(config.iterations as usize);
        let mut measured = Duration::ZERO;
        for timestep in 0..config.iterations {
            let (value, time) = hand_loop.sinsqrt(workload, timestep);
            expected.push(value);
            if config.measured().contains(&timestep) {
                measured += time;
            }
        }
        References {
            expected,
            hand_loop_ms: measured.as_secs_f64() * 1e3 / config.measured().count().max(1) as f64,
            threads,
        }
    }
}

/// Runs the benchmark for each cluster size, `runs` times each; prints a line per size.
pub fn run(config: &ScalingConfig) -> Result<ScalingReport, String> {
    config.check()?;
    let mode_name = match config.mode {
        Mode::Embedded => "embedded",
        Mode::Processes => "processes",
    };
    let mut points = Vec::new();
    for &n in &config.nodes {
        let workload = Workload {
            nodes: n,
            chunks_per_node: config.chunks_per_node,
            chunk: config.chunk,
        };
        check_data_memory(&workload)?;
        let references =
            (config.analysis == Analysis::Sinsqrt).then(|| References::compute(config, &workload));
        let expected = |timestep: i64| match &references {
            Some(r) => r.expected[timestep as usize],
            None => workload
                .closed_form(config.analysis, timestep)
                .expect("mean and flip-sum have a closed form"),
        };
        if config.mode == Mode::Embedded {
            usage::reset_peak_rss();
        }
        let mut figures = Vec::new();
        for _ in 0..config.runs.max(1) {
            let run = match config.mode {
                Mode::Embedded => {
                    let cluster =
                        Cluster::start(ClusterConfig::default().nodes(n), crate::registry())
                            .map_err(|e| e.to_string())?;
                    measure(&cluster, config, &workload, &expected)?
                }
                Mode::Processes => {
                    let processes = LocalProcesses::start(n)?;
                    let cluster = Cluster::connect(&processes.cluster_file()?, crate::registry())
                        .map_err(|e| e.to_string())?;
                    measure(&cluster, config, &workload, &expected)?
                }
            };
            figures.push(run);
        }
        let runs_ms: Vec<f64> = figures.iter().map(|f| f.ms).collect();
        figures.sort_by(|a, b| a.ms.total_cmp(&b.ms));
        let median = figures[figures.len() / 2].clone();
        let chunks = workload.chunks();
        let point = ScalingPoint {
            nodes: n,
            ms_per_iteration: median.ms,
            runs_ms_per_iteration: runs_ms,
            analysis_ms_per_iteration: median.analysis_ms,
            chunks_per_iteration: chunks,
            chunks_per_s: chunks as f64 * 1e3 / median.ms,
            tasks_per_iteration: median.tasks,
            tasks_per_s: median.tasks as f64 * 1e3 / median.ms,
            driver_cpu_ms_per_iteration: median.driver_cpu_ms,
            producer_calls_cpu_ms_per_iteration: median.producer_calls_cpu_ms,
            process_cpu_ms_per_iteration: median.process_cpu_ms,
            peak_rss_bytes: (config.mode == Mode::Embedded)
                .then(usage::peak_rss)
                .flatten(),
            hand_loop: references.as_ref().map(|r| HandLoopFigures {
                ms_per_iteration: r.hand_loop_ms,
                threads: r.threads,
                runtime_share: r.hand_loop_ms / median.analysis_ms,
            }),
        };
        print_point(mode_name, config.analysis, &point);
        points.push(point);
    }
    Ok(ScalingReport {
        bench: "weak-scaling",
        mode: config.mode,
        analysis: config.analysis,
        iterations: config.iterations,
        measured: format!("{}..{}", config.measured().start, config.measured().end),
        chunk: format!("{}x{} f64", config.chunk[0], config.chunk[1]),
        chunks_per_node: config.chunks_per_node,
        points,
    })
}

fn print_point(mode: &str, analysis: Analysis, point: &ScalingPoint) {
    let rss = point
        .peak_rss_bytes
        .map(doreisa::core::host::human_bytes)
        .unwrap_or_else(|| "-".into());
    println!(
        "weak-scaling {mode:<9} {:<8} {:>4} nodes: {:>8.3} ms/iteration, {:>9.0} chunks/s, \
         {:>9.0} tasks/s ({} tasks), driver CPU {:.3} ms/iteration (+{:.3} asking the producers), \
         process CPU {:.3} ms/iteration, peak RSS {rss}",
        analysis.name(),
        point.nodes,
        point.ms_per_iteration,
        point.chunks_per_s,
        point.tasks_per_s,
        point.tasks_per_iteration,
        point.driver_cpu_ms_per_iteration,
        point.producer_calls_cpu_ms_per_iteration,
        point.process_cpu_ms_per_iteration,
    );
    if let Some(hand) = &point.hand_loop {
        println!(
            "  analysis after publishing {:.3} ms/iteration; hand loop {:.3} ms/iteration on {} \
             thread(s): the runtime reaches {:.0} % of its throughput",
            point.analysis_ms_per_iteration,
            hand.ms_per_iteration,
            hand.threads,
            hand.runtime_share * 100.0
        );
    }
}

/// Refuses a workload whose data would not fit in this machine's memory (a published
/// iteration, the next one and the results in flight, and the check's own copy).
fn check_data_memory(workload: &Workload) -> Result<(), String> {
    let what = format!(
        "weak-scaling with {} chunks of {}x{} f64 on {} nodes",
        workload.chunks(),
        workload.chunk[0],
        workload.chunk[1],
        workload.nodes
    );
    doreisa::core::host::check_memory(&what, workload.bytes().saturating_mul(4))
}

/// Writes `report` as JSON to `path`.
pub fn write(report: &ScalingReport, path: &Path) -> Result<(), String> {
    let text = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
