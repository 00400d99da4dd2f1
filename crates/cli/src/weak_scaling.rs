//! `doreisa-rs bench weak-scaling`: the benchmark protocol of Doreisa's thesis. N
//! simulation nodes, 40 chunks of 10x10 f64 per node per iteration, the mean of the
//! whole array every iteration, 230 iterations; the time per iteration is measured
//! from iteration 20 to 220. Synthetic producers stand in for the simulation: one
//! actor per node puts its node's chunks and announces them to the node's scheduling
//! actor in one message per iteration, as a simulation's client would.

use doreisa::array::{Array, Chunk, DType, Grid};
use doreisa::core::{Cluster, ClusterConfig, TaskOptions, Worker};
use doreisa::sched::cluster::SchedulingActorAddress;
use doreisa::sched::{ClusterRunner, SourceKey, Strategy};
use ndarray::{ArrayD, IxDyn};
use serde::Serialize;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Chunks per node per iteration.
pub const CHUNKS_PER_NODE: u32 = 40;
/// Chunk side.
pub const SIDE: usize = 10;
const ITERATIONS: i64 = 230;
const MEASURED: std::ops::Range<i64> = 20..220;

doreisa::core::actor! {
    /// Makes one node's chunks of an iteration and announces them.
    pub struct Producer handle ProducerHandle address ProducerAddress { first_row: u32, scheduler: SchedulingActorAddress }
    impl {
        fn new(first_row: u32, scheduler: SchedulingActorAddress) -> Self { Producer { first_row, scheduler } }
        fn produce(&mut self, timestep: i64) -> u32 {
            let worker = Worker::current().expect("in an actor call");
            let mut chunks = Vec::with_capacity(CHUNKS_PER_NODE as usize);
            for c in 0..CHUNKS_PER_NODE {
                let row = self.first_row + c;
                // A plain loop, as a simulation fills its field (not ndarray's indexing).
                let mut values = Vec::with_capacity(SIDE * SIDE);
                for i in 0..SIDE {
                    for j in 0..SIDE {
                        values.push((row as usize * SIDE + i) as f64 + timestep as f64 * 0.5 + j as f64 * 0.01);
                    }
                }
                let data = ArrayD::from_shape_vec(IxDyn(&[SIDE, SIDE]), values).expect("SIDE x SIDE values");
                let bytes = Chunk::from(data).encode();
                let chunk = worker.put_blob(bytes).expect("room for a chunk");
                let key = SourceKey { array: "x".into(), timestep, chunk: vec![row, 0] };
                chunks.push((key, chunk));
            }
            if let Err(e) = self.scheduler.publish_many(&worker, chunks) {
                tracing::error!(error = %e, "cannot announce chunks");
            }
            CHUNKS_PER_NODE
        }
    }
}

/// One cluster size's figures.
#[derive(Debug, Serialize)]
pub struct ScalingPoint {
    pub nodes: usize,
    /// Median over the runs of the mean time per iteration (20 to 220), ms.
    pub ms_per_iteration: f64,
    pub runs_ms_per_iteration: Vec<f64>,
    /// Tasks of each iteration's graph (as Dask would count them).
    pub tasks_per_iteration: usize,
    pub tasks_per_s: f64,
    pub chunks_per_iteration: usize,
}

/// The benchmark's report.
#[derive(Debug, Serialize)]
pub struct ScalingReport {
    pub bench: &'static str,
    pub mode: String,
    pub iterations: i64,
    pub measured: String,
    pub chunk: String,
    pub points: Vec<ScalingPoint>,
}

/// Runs the benchmark for each cluster size, `runs` times each.
pub fn run(sizes: &[usize], mode: &str, runs: usize) -> Result<ScalingReport, String> {
    let mut points = Vec::new();
    for &n in sizes {
        let mut per_run = Vec::new();
        let mut tasks = 0;
        for _ in 0..runs.max(1) {
            let (ms, t) = match mode {
                "embedded" => {
                    let config = ClusterConfig::default().nodes(n);
                    let cluster =
                        Cluster::start(config, crate::registry()).map_err(|e| e.to_string())?;
                    measure(&cluster)?
                }
                "processes" => {
                    let processes = LocalProcesses::start(n)?;
                    let cluster = Cluster::connect(&processes.cluster_file()?, crate::registry())
                        .map_err(|e| e.to_string())?;
                    measure(&cluster)?
                }
                other => return Err(format!("unknown mode {other:?}: embedded or processes")),
            };
            per_run.push(ms);
            tasks = t;
        }
        let mut sorted = per_run.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        println!(
            "weak-scaling {mode:<9} {n:>2} nodes: {median:>8.3} ms/iteration, {tasks} tasks/iteration, {:>9.0} tasks/s",
            tasks as f64 * 1e3 / median
        );
        points.push(ScalingPoint {
            nodes: n,
            ms_per_iteration: median,
            runs_ms_per_iteration: per_run,
            tasks_per_iteration: tasks,
            tasks_per_s: tasks as f64 * 1e3 / median,
            chunks_per_iteration: n * CHUNKS_PER_NODE as usize,
        });
    }
    Ok(ScalingReport {
        bench: "weak-scaling",
        mode: mode.to_string(),
        iterations: ITERATIONS,
        measured: format!("{}..{}", MEASURED.start, MEASURED.end),
        chunk: format!("{SIDE}x{SIDE} f64"),
        points,
    })
}

/// One run on `cluster`: ms per iteration (20 to 220) and tasks per iteration.
fn measure(cluster: &Cluster) -> Result<(f64, usize), String> {
    let error = |e: &dyn std::fmt::Display| e.to_string();
    let driver = cluster.driver();
    let nodes = cluster.task_nodes();
    let runner = ClusterRunner::start(driver, &nodes, Strategy::Greedy)
        .map_err(|e| error(&e))?
        .with_retention(1)
        .with_timeout(Duration::from_secs(60));
    let mut producers = Vec::new();
    for (k, &node) in nodes.iter().enumerate() {
        let first_row = k as u32 * CHUNKS_PER_NODE;
        for c in 0..CHUNKS_PER_NODE {
            runner.place("x", &[first_row + c, 0], node);
        }
        let scheduler = runner.actor(node).expect("an actor per node");
        producers.push(
            Producer::create(driver, TaskOptions::on(node), first_row, scheduler)
                .map_err(|e| error(&e))?,
        );
    }
    let rows = nodes.len() * CHUNKS_PER_NODE as usize * SIDE;
    let grid = Grid::regular(&[rows, SIDE], &[SIDE, SIDE]).map_err(|e| error(&e))?;
    let mut marks = Vec::with_capacity(ITERATIONS as usize + 1);
    let mut tasks = 0;
    for timestep in 0..ITERATIONS {
        marks.push(Instant::now());
        for producer in &producers {
            producer.produce(driver, timestep).map_err(|e| error(&e))?;
        }
        let x = Array::source("x", timestep, &[rows, SIDE], grid.clone(), DType::F64)
            .map_err(|e| error(&e))?;
        let mean = x.mean().map_err(|e| error(&e))?;
        if timestep == 0 {
            tasks = mean.lower().map_err(|e| error(&e))?.tasks.len();
        }
        let value = match mean.compute(&runner) {
            Ok(value) => value,
            Err(e) => {
                // What each node still waits for, to tell a lost message from a slow one.
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
                return Err(format!(
                    "iteration {timestep}: {e}; schedulers {stats}; nodes {status:?}"
                ));
            }
        };
        let value = value.scalar::<f64>().map_err(|e| error(&e))?;
        let expected = (rows as f64 - 1.0) / 2.0 + timestep as f64 * 0.5 + 0.045;
        if (value - expected).abs() > 1e-6 * expected.abs().max(1.0) {
            return Err(format!(
                "iteration {timestep}: mean {value}, expected {expected}"
            ));
        }
    }
    marks.push(Instant::now());
    let span = marks[MEASURED.end as usize] - marks[MEASURED.start as usize];
    let ms = span.as_secs_f64() * 1e3 / (MEASURED.end - MEASURED.start) as f64;
    Ok((ms, tasks))
}

/// Threads of one node process (its node, compute and signal threads; 3 measured).
const PROCESS_THREADS: u64 = 4;

/// Memory of one idle node process (about 15 MiB measured), with a margin for its
/// share of the benchmark's chunks.
const PROCESS_BYTES: u64 = 64 << 20;

/// A head and workers of this binary on 127.0.0.1, killed when dropped, and when
/// this process ends in any way (the head then removes its cluster file: nothing is
/// left behind).
struct LocalProcesses {
    file: std::path::PathBuf,
    children: Vec<Child>,
}

impl LocalProcesses {
    /// The head and `workers - 1` workers: `workers` nodes that take tasks.
    fn start(workers: usize) -> Result<LocalProcesses, String> {
        let what = format!("weak-scaling on {workers} node processes");
        let threads = (workers as u64).saturating_mul(PROCESS_THREADS);
        doreisa::core::host::check_threads(&what, threads)?;
        let bytes = (workers as u64).saturating_mul(PROCESS_BYTES);
        doreisa::core::host::check_memory(&what, bytes)?;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let file = std::env::temp_dir().join(format!(
            "doreisa-weak-{}-{workers}.json",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&file);
        let mut processes = LocalProcesses {
            file: file.clone(),
            children: Vec::new(),
        };
        // With RUST_LOG set, the processes' logs go to this one's standard error.
        let logs = std::env::var_os("RUST_LOG").is_some();
        let spawn = |args: &[&str]| {
            let mut command = Command::new(&exe);
            ends_with_this_process(&mut command);
            command
                .args(args)
                .stdout(Stdio::null())
                .stderr(if logs {
                    Stdio::inherit()
                } else {
                    Stdio::null()
                })
                .spawn()
                .map_err(|e| e.to_string())
        };
        let path = file.to_str().ok_or("a temporary path that is not UTF-8")?;
        processes.children.push(spawn(&[
            "head",
            "--listen",
            "127.0.0.1:0",
            "--cluster-file",
            path,
        ])?);
        wait_until(|| file.exists(), "the head to start")?;
        for _ in 1..workers {
            processes.children.push(spawn(&[
                "worker",
                "--cluster-file",
                path,
                "--listen",
                "127.0.0.1:0",
            ])?);
        }
        let cluster = processes.cluster_file()?;
        wait_until(
            || {
                doreisa::net::client::fetch_status(&cluster)
                    .is_ok_and(|s| s.members.len() == workers)
            },
            "the workers to join",
        )?;
        Ok(processes)
    }

    fn cluster_file(&self) -> Result<doreisa::net::ClusterFile, String> {
        doreisa::net::ClusterFile::read(&self.file).map_err(|e| e.to_string())
    }
}

impl Drop for LocalProcesses {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Killed at once, the head left its file.
        let _ = std::fs::remove_file(&self.file);
    }
}

/// Makes the process of `command` end when this one ends, even killed with SIGKILL
/// (nothing runs in this process then): Linux sends it SIGTERM when its parent dies
/// (`PR_SET_PDEATHSIG`), which a node answers by stopping. The parent is the thread
/// that spawns it: spawn from a thread that lives as long as the processes.
fn ends_with_this_process(command: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: between fork and exec the closure only makes async-signal-safe
        // system calls (prctl, getppid) and allocates nothing.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // Dead before the line above: nobody would send the signal.
                if libc::getppid() != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
    }
}

fn wait_until(mut condition: impl FnMut() -> bool, what: &str) -> Result<(), String> {
    let start = Instant::now();
    while !condition() {
        if start.elapsed() > Duration::from_secs(30) {
            return Err(format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Writes `report` as JSON to `path`.
pub fn write(report: &ScalingReport, path: &Path) -> Result<(), String> {
    let text = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
