//! Task bodies that block on other tasks' values (a `get` inside a task) never
//! deadlock a node, even with as many compute threads as nodes (the pool is shared by
//! the nodes): a blocked thread hands its queue to a stand-in. A body that blocks
//! outside the runtime, in a sleep or I/O, holds only its own thread: the other
//! threads take the jobs queued behind it.

mod support;

use doreisa::core::{Cluster, ClusterConfig, TaskOptions, Worker};
use support::*;

doreisa::core::remote! {
    /// Sums a binary tree of tasks of `depth` levels: each level submits its two
    /// children where it runs and waits for them.
    pub fn tree_sum(depth: u32) -> u64 {
        if depth == 0 {
            return 1;
        }
        let worker = Worker::current().expect("in a task");
        let left = tree_sum::remote(&worker, depth - 1).unwrap();
        let right = tree_sum::remote(&worker, depth - 1).unwrap();
        worker.get(&left).unwrap() + worker.get(&right).unwrap()
    }
}

doreisa::core::remote! {
    /// Holds its compute thread until `gate` opens, without telling the runtime.
    pub fn hold_thread(gate: u64) -> i64 { poll_gate(gate); 1 }
}

fn one_thread_cluster(nodes: usize) -> Cluster {
    let mut registry = registry();
    tree_sum::register(&mut registry);
    hold_thread::register(&mut registry);
    Cluster::start(
        ClusterConfig::default().nodes(nodes).compute_threads(nodes),
        registry,
    )
    .unwrap()
}

#[test]
fn a_task_waiting_for_tasks_queued_behind_it_does_not_deadlock() {
    let cluster = one_thread_cluster(1);
    let driver = cluster.driver().clone();
    let total = tree_sum::remote(&driver, 6).unwrap();
    assert_eq!(driver.get(&total).unwrap(), 64);
    drop(total);
    assert_drained(&cluster);
}

#[test]
fn blocked_tasks_on_several_nodes_all_finish() {
    let cluster = one_thread_cluster(3);
    let driver = cluster.driver().clone();
    let totals: Vec<_> = cluster
        .nodes()
        .iter()
        .map(|&node| tree_sum::remote_with(&driver, TaskOptions::on(node), 4).unwrap())
        .collect();
    assert_eq!(driver.get_all(&totals).unwrap(), vec![16, 16, 16]);
    // The node keeps working normally afterwards, on its usual threads.
    let sum = add::remote(&driver, 2, 3).unwrap();
    assert_eq!(driver.get(&sum).unwrap(), 5);
    drop((totals, sum));
    assert_drained(&cluster);
}

/// A blocked actor method does not hold up plain tasks queued on the same thread.
#[test]
fn a_blocked_actor_method_lets_other_tasks_run() {
    let cluster = one_thread_cluster(2);
    let driver = cluster.driver().clone();
    let (here, there) = (cluster.nodes()[0], cluster.nodes()[1]);
    let gate = new_gate();
    // Made on the other node, once the gate opens.
    let waiting = gated::remote_with(&driver, TaskOptions::on(there), gate, 5).unwrap();
    let holder = Holder::create(&driver, TaskOptions::on(here), vec![waiting.clone()]).unwrap();
    // `total` blocks on `waiting`; meanwhile other work runs on its node's one thread.
    let total = holder.total(&driver).unwrap();
    let sum = add::remote_with(&driver, TaskOptions::on(here), 1, 1).unwrap();
    assert_eq!(driver.get(&sum).unwrap(), 2);
    open_gate(gate);
    assert_eq!(driver.get(&total).unwrap(), 5);
    drop((waiting, holder, total, sum));
    assert_drained(&cluster);
}

/// A body stuck outside the runtime holds up neither its node nor the others: the
/// jobs queued on its thread are taken by the pool's other thread.
#[test]
fn a_body_stuck_outside_the_runtime_holds_only_its_own_thread() {
    let cluster = one_thread_cluster(2);
    let driver = cluster.driver().clone();
    let nodes = cluster.nodes();
    let gate = new_gate();
    let stuck = hold_thread::remote_with(&driver, TaskOptions::on(nodes[0]), gate).unwrap();
    // Many small tasks on both nodes, queued on both threads of the pool.
    let sums: Vec<_> = (0..64)
        .map(|i| add::remote_with(&driver, TaskOptions::on(nodes[i % 2]), i as i64, 1).unwrap())
        .collect();
    for (i, sum) in sums.iter().enumerate() {
        let value = driver
            .get_timeout(sum, Some(std::time::Duration::from_secs(10)))
            .unwrap_or_else(|e| panic!("task {i} waited behind the stuck body: {e}"));
        assert_eq!(value, i as i64 + 1);
    }
    open_gate(gate);
    assert_eq!(driver.get(&stuck).unwrap(), 1);
    drop((stuck, sums));
    assert_drained(&cluster);
}
