//! Killing a virtual node: owned objects fail with `OwnerDied` for their holders
//! elsewhere, lost task outputs owned elsewhere are rebuilt from lineage, lost put
//! values say they cannot be, tasks it ran are retried, and nothing waits forever.

mod support;

use doreisa::core::ownership::LossReason;
use doreisa::core::{CoreError, ObjectRef, TaskOptions};
use std::time::Duration;
use support::*;

/// 59/63: objects owned by a worker of the killed node fail for holders elsewhere.
#[test]
fn owner_death_fails_holders_elsewhere() {
    let mut cluster = chain_cluster(3);
    let driver = cluster.driver().clone();
    let victim = cluster.nodes()[2];
    let outer = put_inside::remote_with(&driver, TaskOptions::on(victim), 5).unwrap();
    let inner: ObjectRef<i64> = driver.get(&outer).unwrap();
    let chain = build_chain::remote_with(&driver, TaskOptions::on(victim), 3, 1).unwrap();
    let top = driver.get(&chain).unwrap();
    cluster.kill_node(victim).unwrap();
    let error = driver
        .get_timeout(&inner, Some(Duration::from_secs(10)))
        .unwrap_err();
    assert_eq!(error, CoreError::OwnerDied(inner.id()));
    let walked = walk(&driver, top);
    assert!(matches!(walked, Err(CoreError::OwnerDied(_))), "{walked:?}");
    drop((outer, inner, chain));
    assert_drained(&cluster);
}

/// A task output stored on the killed node, owned by the driver, is rebuilt by
/// running its task again elsewhere.
#[test]
fn lost_task_outputs_are_rebuilt_from_lineage() {
    let mut cluster = chain_cluster(3);
    let driver = cluster.driver().clone();
    let victim = cluster.nodes()[2];
    let value = big::remote_with(&driver, TaskOptions::on(victim), 9).unwrap();
    eventually("the task ran", || !cluster.holders(value.id()).is_empty());
    assert_eq!(
        cluster.holders(value.id()),
        vec![victim],
        "stored where it ran"
    );
    cluster.kill_node(victim).unwrap();
    let rebuilt = driver
        .get_timeout(&value, Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(rebuilt, vec![9u8; 256 * 1024]);
    assert!(!cluster.holders(value.id()).is_empty());
    drop(value);
    assert_drained(&cluster);
}

/// A put value whose only copy was on the killed node (its owner lives) cannot be
/// rebuilt, and `get` says so.
#[test]
fn lost_put_values_say_they_cannot_be_rebuilt() {
    let mut cluster = chain_cluster(3);
    let driver = cluster.driver().clone();
    let victim = cluster.nodes()[2];
    let outer = put_for::remote_with(&driver, TaskOptions::on(victim), driver.id().0, 77).unwrap();
    let inner: ObjectRef<i64> = driver.get(&outer).unwrap();
    assert_eq!(inner.owner(), driver.id(), "the driver owns it");
    assert_eq!(
        cluster.holders(inner.id()),
        vec![victim],
        "its only copy is there"
    );
    cluster.kill_node(victim).unwrap();
    let error = driver
        .get_timeout(&inner, Some(Duration::from_secs(10)))
        .unwrap_err();
    assert_eq!(
        error,
        CoreError::ObjectLost {
            id: inner.id(),
            reason: LossReason::NotReconstructable
        }
    );
    drop((outer, inner));
    assert_drained(&cluster);
}

/// A task running on the killed node is retried on another one.
#[test]
fn tasks_of_a_killed_node_are_retried() {
    let mut cluster = chain_cluster(3);
    let driver = cluster.driver().clone();
    let victim = cluster.nodes()[2];
    let gate = new_gate();
    let pending = gated::remote_with(&driver, TaskOptions::on(victim), gate, 3).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    cluster.kill_node(victim).unwrap();
    open_gate(gate);
    assert_eq!(
        driver
            .get_timeout(&pending, Some(Duration::from_secs(10)))
            .unwrap(),
        3
    );
    drop(pending);
    assert_drained(&cluster);
}

/// Without retries, the task fails clearly instead.
#[test]
fn tasks_without_retries_fail_when_their_node_dies() {
    let mut cluster = chain_cluster(2);
    let driver = cluster.driver().clone();
    let victim = cluster.nodes()[1];
    let gate = new_gate();
    let pending = gated::remote_with(&driver, TaskOptions::on(victim).retries(0), gate, 3).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    cluster.kill_node(victim).unwrap();
    let error = driver
        .get_timeout(&pending, Some(Duration::from_secs(10)))
        .unwrap_err();
    assert!(matches!(error, CoreError::TaskFailed { .. }), "{error:?}");
    open_gate(gate);
    drop(pending);
    assert_drained(&cluster);
}

/// 64: a borrower dies after handing the ref on: the value stays for the survivor.
#[test]
fn borrowed_id_failure() {
    let mut cluster = chain_cluster(3);
    let driver = cluster.driver().clone();
    let (middle, last) = (cluster.nodes()[1], cluster.nodes()[2]);
    let gate = new_gate();
    let x = driver.put(&12i64).unwrap();
    let id = x.id();
    // A task on `middle` hands x to a sub-task (which may run anywhere) and returns.
    let spawned =
        spawn_holder::remote_with(&driver, TaskOptions::on(middle), gate, vec![x.clone()]).unwrap();
    assert_eq!(driver.get(&spawned).unwrap(), 0);
    drop((x, spawned));
    let _ = last;
    cluster.kill_node(middle).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    open_gate(gate);
    assert_drained(&cluster);
    assert!(cluster.holders(id).is_empty());
}

/// Actor calls on an actor of the killed node fail with `ActorDied`.
#[test]
fn actors_of_a_killed_node_die() {
    let mut cluster = chain_cluster(2);
    let driver = cluster.driver().clone();
    let victim = cluster.nodes()[1];
    let holder = Holder::create(
        &driver,
        TaskOptions::on(victim),
        Vec::<ObjectRef<i64>>::new(),
    )
    .unwrap();
    let before = holder.clear(&driver).unwrap();
    assert_eq!(driver.get(&before).unwrap(), 0);
    cluster.kill_node(victim).unwrap();
    let after = holder.clear(&driver).unwrap();
    let error = driver
        .get_timeout(&after, Some(Duration::from_secs(10)))
        .unwrap_err();
    assert!(matches!(error, CoreError::ActorDied(_)), "{error:?}");
    drop((before, after, holder));
    assert_drained(&cluster);
}

/// A watch on an actor runs once its node is killed, with that node; one on an actor
/// elsewhere does not, nor does a dropped one. A watch set afterwards runs at once.
#[test]
fn a_watch_on_an_actor_runs_when_its_node_dies() {
    let mut cluster = chain_cluster(3);
    let driver = cluster.driver().clone();
    let (elsewhere, victim) = (cluster.nodes()[1], cluster.nodes()[2]);
    let empty = Vec::<ObjectRef<i64>>::new;
    let doomed = Holder::create(&driver, TaskOptions::on(victim), empty()).unwrap();
    let spared = Holder::create(&driver, TaskOptions::on(elsewhere), empty()).unwrap();
    let (told, heard) = std::sync::mpsc::channel();
    let watch = |holder: &HolderHandle, name: &'static str| {
        let told = told.clone();
        driver.watch_actor(holder.address().address, move |node| {
            let _ = told.send((name, node));
        })
    };
    let _doomed_watch = watch(&doomed, "doomed");
    let _spared_watch = watch(&spared, "spared");
    drop(watch(&doomed, "dropped"));
    cluster.kill_node(victim).unwrap();
    let first = heard.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(first, ("doomed", victim));
    let _late_watch = watch(&doomed, "late");
    assert_eq!(heard.try_recv(), Ok(("late", victim)), "at once");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(heard.try_recv(), Err(std::sync::mpsc::TryRecvError::Empty));
}

/// Waiting on a cluster that shuts down ends with `Stopped`, never a hang; so does
/// anything asked of it afterwards.
#[test]
fn waits_end_when_the_cluster_stops() {
    let cluster = chain_cluster(2);
    let driver = cluster.driver().clone();
    let gate = new_gate();
    let pending = gated::remote(&driver, gate, 1).unwrap();
    let waiter = {
        let (driver, pending) = (driver.clone(), pending.clone());
        std::thread::spawn(move || driver.get_timeout(&pending, Some(Duration::from_secs(20))))
    };
    std::thread::sleep(Duration::from_millis(50));
    cluster.shutdown();
    assert_eq!(waiter.join().unwrap(), Err(CoreError::Stopped));
    assert_eq!(driver.get(&pending), Err(CoreError::Stopped));
    open_gate(gate);
}
