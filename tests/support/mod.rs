//! Shared by the end-to-end tests: a cluster with the test functions, gates that hold a
//! task until the test opens them, and checks that everything drains.
#![allow(dead_code)]

use doreisa::core::{Cluster, ClusterConfig, ObjectRef, Registry};
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static OPEN_GATES: Mutex<Option<HashSet<u64>>> = Mutex::new(None);
static NEXT_GATE: Mutex<u64> = Mutex::new(1);

/// A fresh gate number (unique within the test binary).
pub fn new_gate() -> u64 {
    let mut next = NEXT_GATE.lock().unwrap();
    *next += 1;
    *next
}

pub fn open_gate(gate: u64) {
    OPEN_GATES
        .lock()
        .unwrap()
        .get_or_insert_with(HashSet::new)
        .insert(gate);
}

/// Waits (as a task body) until `gate` opens. A task that waits on something other
/// than an object says so with `blocking`, so that the jobs queued behind it on its
/// compute thread (which the cluster's nodes share) run meanwhile.
fn wait_gate(gate: u64) {
    doreisa::core::blocking(|| poll_gate(gate))
}

fn poll_gate(gate: u64) {
    let start = Instant::now();
    loop {
        if OPEN_GATES
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(|g| g.contains(&gate))
        {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "gate {gate} never opened"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

doreisa::core::remote! {
    /// Returns `value` once gate `gate` is open.
    pub fn gated(gate: u64, value: i64) -> i64 { wait_gate(gate); value }
}

doreisa::core::remote! {
    pub fn add(a: i64, b: i64) -> i64 { a + b }
}

doreisa::core::remote! {
    /// Fails.
    pub fn fail(value: i64) -> i64 { panic!("failing on purpose with {value}") }
}

doreisa::core::remote! {
    /// Waits for `gate`, then fails: its arguments are held meanwhile.
    pub fn gated_fail(gate: u64, value: i64) -> i64 {
        wait_gate(gate);
        panic!("failing on purpose with {value}")
    }
}

doreisa::core::remote! {
    /// Puts `value` from inside the task (the executing worker owns it) and returns it.
    pub fn put_inside(value: i64) -> ObjectRef<i64> {
        doreisa::core::Worker::current().expect("in a task").put(&value).unwrap()
    }
}

doreisa::core::remote! {
    /// Returns the refs it was given, nested in its return value.
    pub fn pass_through(refs: Vec<ObjectRef<i64>>) -> Vec<ObjectRef<i64>> { refs }
}

doreisa::core::remote! {
    /// Sums the values behind the refs it was given (a nested `get`).
    pub fn sum_refs(refs: Vec<ObjectRef<i64>>) -> i64 {
        let worker = doreisa::core::Worker::current().expect("in a task");
        refs.iter().map(|r| worker.get(r).unwrap()).sum()
    }
}

doreisa::core::remote! {
    /// Hands `refs` to a sub-task that waits for `gate`, and returns at once.
    pub fn spawn_holder(gate: u64, refs: Vec<ObjectRef<i64>>) -> u8 {
        let worker = doreisa::core::Worker::current().expect("in a task");
        let held = hold::remote(&worker, gate, refs).unwrap();
        drop(held);
        0
    }
}

doreisa::core::remote! {
    /// Keeps `refs` until `gate` opens.
    pub fn hold(gate: u64, refs: Vec<ObjectRef<i64>>) -> usize { wait_gate(gate); refs.len() }
}

doreisa::core::remote! {
    /// A large value (stored on the executing node, not inlined in the reply).
    pub fn big(seed: u8) -> Vec<u8> { vec![seed; 256 * 1024] }
}

doreisa::core::actor! {
    /// Holds refs until asked to let them go.
    pub struct Holder handle HolderHandle address HolderAddress { refs: Vec<ObjectRef<i64>> }
    impl {
        fn new(refs: Vec<ObjectRef<i64>>) -> Self { Holder { refs } }
        fn keep(&mut self, refs: Vec<ObjectRef<i64>>) -> usize { self.refs.extend(refs); self.refs.len() }
        fn clear(&mut self) -> usize { let n = self.refs.len(); self.refs.clear(); n }
        fn total(&mut self) -> i64 {
            let worker = doreisa::core::Worker::current().expect("in a task");
            self.refs.iter().map(|r| worker.get(r).unwrap()).sum()
        }
    }
}

pub fn registry() -> Registry {
    let mut registry = Registry::new();
    gated::register(&mut registry);
    add::register(&mut registry);
    fail::register(&mut registry);
    gated_fail::register(&mut registry);
    put_inside::register(&mut registry);
    pass_through::register(&mut registry);
    sum_refs::register(&mut registry);
    spawn_holder::register(&mut registry);
    hold::register(&mut registry);
    big::register(&mut registry);
    Holder::register(&mut registry);
    registry
}

pub fn cluster(nodes: usize) -> Cluster {
    Cluster::start(
        ClusterConfig::default().nodes(nodes).compute_threads(2),
        registry(),
    )
    .unwrap()
}

/// Polls `condition` for up to 10 s.
pub fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never happened: {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Every value freed, every reference-table record gone, on every live node.
#[track_caller]
pub fn assert_drained(cluster: &Cluster) {
    let drained =
        || cluster.store_objects() == 0 && cluster.status().iter().all(|s| s.records == 0);
    let start = Instant::now();
    while !drained() {
        if start.elapsed() > Duration::from_secs(10) {
            let records = cluster.describe_records().join("\n");
            panic!(
                "stores and reference tables never drained: {} objects stored, records:\n{records}",
                cluster.store_objects()
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(cluster.store_bytes(), 0);
}

/// A chain of refs, each level nested in the value of the next.
#[derive(serde::Serialize, serde::Deserialize)]
pub enum Chain {
    End(i64),
    Link(ObjectRef<Chain>),
}

doreisa::core::remote! {
    /// Builds a chain of `depth` levels inside the task (the executing worker owns it).
    pub fn build_chain(depth: u32, value: i64) -> Chain {
        let worker = doreisa::core::Worker::current().expect("in a task");
        let mut level = Chain::End(value);
        for _ in 0..depth {
            level = Chain::Link(worker.put(&level).unwrap());
        }
        level
    }
}

doreisa::core::remote! {
    /// Puts `value` on this node on behalf of worker `owner` and returns the ref.
    pub fn put_for(owner: u64, value: i64) -> ObjectRef<i64> {
        let worker = doreisa::core::Worker::current().expect("in a task");
        worker.put_owned_by(&value, doreisa::core::WorkerId(owner)).unwrap()
    }
}

doreisa::core::remote! {
    /// Returns `x` nested in its return value.
    pub fn wrap(x: ObjectRef<i64>) -> Vec<ObjectRef<i64>> { vec![x] }
}

/// Follows a chain to its end.
pub fn walk(worker: &doreisa::core::Worker, chain: Chain) -> doreisa::core::Result<(u32, i64)> {
    let mut depth = 0;
    let mut level = chain;
    loop {
        match level {
            Chain::End(value) => return Ok((depth, value)),
            Chain::Link(next) => {
                level = worker.get(&next)?;
                depth += 1;
            }
        }
    }
}

pub fn registry_with_chains() -> Registry {
    let mut registry = registry();
    build_chain::register(&mut registry);
    put_for::register(&mut registry);
    wrap::register(&mut registry);
    registry
}

pub fn chain_cluster(nodes: usize) -> Cluster {
    Cluster::start(
        ClusterConfig::default().nodes(nodes).compute_threads(2),
        registry_with_chains(),
    )
    .unwrap()
}

/// A cluster with every test function, configured by the test (store size, spilling).
pub fn cluster_with(config: ClusterConfig) -> Cluster {
    Cluster::start(config, registry_with_chains()).unwrap()
}
