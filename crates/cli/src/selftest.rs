//! `doreisa-rs selftest`: end-to-end checks against a running cluster (an operator's
//! smoke test after deployment, and what the multi-process tests run): tasks on every
//! node, actors in order, refs nested in values, returned and borrowed across nodes,
//! large transfers, and stores back to empty afterwards.

use doreisa::array::{Array, Chunk, DType, Grid, encode_chunks};
use doreisa::core::{
    Blob, Cluster, CoreError, NodeId, ObjectId, ObjectRef, Registry, TaskOptions, Worker,
};
use doreisa::net::ClusterFile;
use doreisa::sched::{ClusterRunner, LocalRunner, Strategy};
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

doreisa::core::remote! {
    pub fn st_add(a: i64, b: i64) -> i64 { a + b }
}

doreisa::core::remote! {
    /// The node that ran it.
    pub fn st_node() -> u64 { Worker::current().expect("in a task").node().0 }
}

doreisa::core::remote! {
    /// Returns `value` after `ms` milliseconds.
    pub fn st_sleep(ms: u64, value: i64) -> i64 {
        std::thread::sleep(Duration::from_millis(ms));
        value
    }
}

doreisa::core::remote! {
    /// Puts `value` where it runs (that node's worker owns it) and returns the ref.
    pub fn st_put_inside(value: i64) -> ObjectRef<i64> {
        Worker::current().expect("in a task").put(&value).expect("a put")
    }
}

doreisa::core::remote! {
    /// Sums the values behind refs (gets inside a task).
    pub fn st_sum_refs(refs: Vec<ObjectRef<i64>>) -> i64 {
        let worker = Worker::current().expect("in a task");
        refs.iter().map(|r| worker.get(r).expect("a value")).sum()
    }
}

doreisa::core::remote! {
    /// `len` bytes made where it runs (stored there: too large to travel inline).
    pub fn st_blob(len: u64, seed: u8) -> Blob {
        Blob((0..len).map(|i| seed.wrapping_add(i as u8)).collect::<Vec<u8>>().into())
    }
}

doreisa::core::remote! {
    pub fn st_blob_len(blob: Blob) -> u64 { blob.0.len() as u64 }
}

/// A chain of refs, each level nested in the value of the next.
#[derive(Serialize, Deserialize)]
pub enum Chain {
    End(i64),
    Link(ObjectRef<Chain>),
}

doreisa::core::remote! {
    /// Builds a chain of `depth` levels where it runs.
    pub fn st_chain(depth: u32, value: i64) -> Chain {
        let worker = Worker::current().expect("in a task");
        let mut level = Chain::End(value);
        for _ in 0..depth {
            level = Chain::Link(worker.put(&level).expect("a put"));
        }
        level
    }
}

doreisa::core::actor! {
    /// Holds refs; counts calls.
    pub struct StHolder handle StHolderHandle address StHolderAddress { refs: Vec<ObjectRef<i64>>, calls: u64 }
    impl {
        fn new() -> Self { StHolder { refs: Vec::new(), calls: 0 } }
        fn keep(&mut self, refs: Vec<ObjectRef<i64>>) -> usize { self.refs.extend(refs); self.refs.len() }
        fn total(&mut self) -> i64 {
            let worker = Worker::current().expect("in a task");
            self.refs.iter().map(|r| worker.get(r).expect("a value")).sum()
        }
        // Each kept ref's value, or why it cannot be read (`OwnerDied` once its owner died).
        fn values(&mut self) -> Vec<(ObjectId, Result<i64, CoreError>)> {
            let worker = Worker::current().expect("in a task");
            self.refs.iter().map(|r| (r.id(), worker.get(r))).collect()
        }
        fn clear(&mut self) -> usize { let n = self.refs.len(); self.refs.clear(); n }
        fn tick(&mut self) -> u64 { self.calls += 1; self.calls }
    }
}

/// The self-test's functions and actor classes.
pub fn register(registry: &mut Registry) {
    st_add::register(registry);
    st_node::register(registry);
    st_sleep::register(registry);
    st_put_inside::register(registry);
    st_sum_refs::register(registry);
    st_blob::register(registry);
    st_blob_len::register(registry);
    st_chain::register(registry);
    StHolder::register(registry);
    crate::selftest_insitu::register(registry);
}

/// A named check.
pub type Check = (&'static str, fn(&Cluster) -> Result<(), String>);

/// Every check, in the order they run.
pub const CHECKS: &[Check] = &[
    ("tasks run on every node", tasks_on_every_node),
    (
        "in situ: ranks on the nodes publish, the analytics sums and steers",
        crate::selftest_insitu::insitu_sums,
    ),
    ("actor calls run in order", actor_calls_in_order),
    ("refs nested 50 deep across nodes", nested_chain),
    (
        "refs returned from one node, read on another",
        returned_refs,
    ),
    (
        "refs borrowed by an actor outlive the owner's handle",
        borrowed_refs,
    ),
    ("large values move between nodes", large_transfers),
    (
        "array expressions agree with the local runner (greedy)",
        arrays_greedy,
    ),
    (
        "array expressions agree with the local runner (random)",
        arrays_random,
    ),
    ("stores are empty afterwards", stores_drain),
];

/// Runs the checks against the cluster of `cluster_file`, printing each outcome.
pub fn run_file(cluster_file: &Path) -> Result<(), String> {
    let file = ClusterFile::read(cluster_file).map_err(|e| e.to_string())?;
    let cluster = Cluster::connect(&file, crate::registry()).map_err(|e| e.to_string())?;
    run_checks(&cluster)
}

/// Runs every check; fails with the failed checks' names and reasons.
pub fn run_checks(cluster: &Cluster) -> Result<(), String> {
    let mut failures = Vec::new();
    for (name, check) in CHECKS {
        let start = Instant::now();
        match check(cluster) {
            Ok(()) => println!(
                "ok    {name} ({:.0} ms)",
                start.elapsed().as_secs_f64() * 1e3
            ),
            Err(e) => {
                println!("FAIL  {name}: {e}");
                failures.push(format!("{name}: {e}"));
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

fn err(e: doreisa::core::CoreError) -> String {
    e.to_string()
}

fn check(condition: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(what()) }
}

fn task_nodes(cluster: &Cluster) -> Result<Vec<NodeId>, String> {
    let nodes = cluster.task_nodes();
    check(!nodes.is_empty(), || "no node takes tasks".into())?;
    Ok(nodes)
}

fn tasks_on_every_node(cluster: &Cluster) -> Result<(), String> {
    let driver = cluster.driver();
    let nodes = task_nodes(cluster)?;
    let sums: Vec<ObjectRef<i64>> = (0..200)
        .map(|i| st_add::remote_with(driver, TaskOptions::spread(), i, 1))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    let values = driver.get_all(&sums).map_err(err)?;
    check(values == (1..=200).collect::<Vec<i64>>(), || {
        "wrong sums".into()
    })?;
    let ran: BTreeSet<u64> = nodes
        .iter()
        .map(|&node| {
            let r = st_node::remote_with(driver, TaskOptions::on(node)).map_err(err)?;
            driver.get(&r).map_err(err)
        })
        .collect::<Result<_, _>>()?;
    let expected: BTreeSet<u64> = nodes.iter().map(|n| n.0).collect();
    check(ran == expected, || {
        format!("ran on {ran:?}, expected {expected:?}")
    })
}

fn actor_calls_in_order(cluster: &Cluster) -> Result<(), String> {
    let driver = cluster.driver();
    let nodes = task_nodes(cluster)?;
    let holder = StHolder::create(driver, TaskOptions::on(nodes[nodes.len() - 1])).map_err(err)?;
    let ticks: Vec<ObjectRef<u64>> = (0..100)
        .map(|_| holder.tick(driver))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    let values = driver.get_all(&ticks).map_err(err)?;
    check(values == (1..=100).collect::<Vec<u64>>(), || {
        format!("calls ran out of order: {values:?}")
    })
}

fn nested_chain(cluster: &Cluster) -> Result<(), String> {
    let driver = cluster.driver();
    let nodes = task_nodes(cluster)?;
    let top = st_chain::remote_with(driver, TaskOptions::on(nodes[0]), 50, 7).map_err(err)?;
    let mut level = driver.get(&top).map_err(err)?;
    drop(top);
    let mut depth = 0;
    let value = loop {
        match level {
            Chain::End(value) => break value,
            Chain::Link(next) => {
                level = driver.get(&next).map_err(err)?;
                depth += 1;
            }
        }
    };
    check((depth, value) == (50, 7), || {
        format!("walked {depth} levels to {value}")
    })
}

fn returned_refs(cluster: &Cluster) -> Result<(), String> {
    let driver = cluster.driver();
    let nodes = task_nodes(cluster)?;
    let (a, b) = (nodes[0], nodes[nodes.len() - 1]);
    let outer = st_put_inside::remote_with(driver, TaskOptions::on(a), 20).map_err(err)?;
    let inner = driver.get(&outer).map_err(err)?;
    check(inner.owner().node() == a, || {
        format!("owned by {:?}", inner.owner())
    })?;
    drop(outer);
    let sum = st_sum_refs::remote_with(driver, TaskOptions::on(b), vec![inner.clone(), inner])
        .map_err(err)?;
    let sum = driver.get(&sum).map_err(err)?;
    check(sum == 40, || format!("sum {sum}"))
}

fn borrowed_refs(cluster: &Cluster) -> Result<(), String> {
    let driver = cluster.driver();
    let nodes = task_nodes(cluster)?;
    let holder = StHolder::create(driver, TaskOptions::on(nodes[0])).map_err(err)?;
    let x = driver.put(&21i64).map_err(err)?;
    let kept = holder.keep(driver, vec![x.clone(), x]).map_err(err)?;
    check(driver.get(&kept).map_err(err)? == 2, || "not kept".into())?;
    let total = holder.total(driver).map_err(err)?;
    check(driver.get(&total).map_err(err)? == 42, || {
        "wrong total".into()
    })?;
    let cleared = holder.clear(driver).map_err(err)?;
    check(driver.get(&cleared).map_err(err)? == 2, || {
        "not cleared".into()
    })
}

fn large_transfers(cluster: &Cluster) -> Result<(), String> {
    let driver = cluster.driver();
    let nodes = task_nodes(cluster)?;
    let (a, b) = (nodes[0], nodes[nodes.len() - 1]);
    let len = 8u64 << 20;
    let blob = st_blob::remote_with(driver, TaskOptions::on(a), len, 3).map_err(err)?;
    let value = driver.get(&blob).map_err(err)?;
    let expected: Vec<u8> = (0..len).map(|i| 3u8.wrapping_add(i as u8)).collect();
    check(value.0[..] == expected[..], || {
        "the value changed on the way".into()
    })?;
    let measured = st_blob_len::remote_with(driver, TaskOptions::on(b), &blob).map_err(err)?;
    check(driver.get(&measured).map_err(err)? == len, || {
        "wrong length there".into()
    })?;
    let mine = driver.put_slice(&expected).map_err(err)?;
    let measured = st_blob_len::remote_with(driver, TaskOptions::on(b), &mine).map_err(err)?;
    check(driver.get(&measured).map_err(err)? == len, || {
        "wrong length of a put".into()
    })
}

fn stores_drain(cluster: &Cluster) -> Result<(), String> {
    // Figures come with heartbeats: allow a few.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (objects, records) = cluster
            .status()
            .iter()
            .fold((0, 0), |(o, r), s| (o + s.store.objects, r + s.records));
        if objects == 0 && records == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{objects} objects and {records} records left"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn arrays_greedy(cluster: &Cluster) -> Result<(), String> {
    arrays(cluster, Strategy::Greedy)
}

fn arrays_random(cluster: &Cluster) -> Result<(), String> {
    arrays(cluster, Strategy::RandomBalanced { seed: 11 })
}

/// Expressions over a 24x18 array in 6x6 tiles, rows of tiles spread over the nodes,
/// computed by the scheduling actors and by the in-thread runner.
fn arrays(cluster: &Cluster, strategy: Strategy) -> Result<(), String> {
    let nodes = task_nodes(cluster)?;
    let runner =
        ClusterRunner::start(cluster.driver(), &nodes, strategy).map_err(|e| e.to_string())?;
    let local = LocalRunner::new(doreisa::array::kernels());
    let grid = Grid::regular(&[24, 18], &[6, 6]).map_err(|e| e.to_string())?;
    let data = ArrayD::from_shape_fn(IxDyn(&[24, 18]), |i| {
        ((i[0] * 31 + i[1] * 7) % 23) as f64 - 11.0
    });
    for (key, bytes) in
        encode_chunks("selftest", 3, &Chunk::from(data), &grid).map_err(|e| e.to_string())?
    {
        let node = nodes[key.chunk[0] as usize % nodes.len()];
        runner
            .publish(key.clone(), node, bytes.clone())
            .map_err(|e| e.to_string())?;
        local.insert(key, bytes);
    }
    let x = Array::source("selftest", 3, &[24, 18], grid, DType::F64).map_err(|e| e.to_string())?;
    let e = |e: doreisa::array::ArrayError| e.to_string();
    let expressions = [
        x.sum().map_err(e)?,
        x.mean_axes(&[1]).map_err(e)?,
        (&x + &x.flip(0).map_err(e)?).map_err(e)?.sum().map_err(e)?,
        x.mul(0.5)
            .map_err(e)?
            .sin()
            .map_err(e)?
            .std_axes(&[0])
            .map_err(e)?,
        x.t().map_err(e)?.max().map_err(e)?,
    ];
    for (i, expression) in expressions.iter().enumerate() {
        let there = expression
            .compute(&runner)
            .map_err(|e| e.to_string())?
            .to_array::<f64>();
        let here = expression
            .compute(&local)
            .map_err(|e| e.to_string())?
            .to_array::<f64>();
        let close = there.shape() == here.shape()
            && there
                .iter()
                .zip(here.iter())
                .all(|(a, b)| (a - b).abs() <= 1e-9 * (1.0 + b.abs()));
        check(close, || {
            format!("expression {i}: {there} instead of {here}")
        })?;
    }
    runner.release_before(i64::MAX).map_err(|e| e.to_string())
}
