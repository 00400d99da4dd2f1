//! End-to-end reference counting on an embedded cluster (Ray's end-to-end scenarios
//! 46–58 of ownership.md): handles, task dependencies, pinning, serialized and nested
//! refs, actors holding refs. Every test ends with every value freed and every record
//! gone.

mod support;

use doreisa::core::{CoreError, ObjectRef, TaskOptions};
use support::*;

/// 46: clones of a handle share it; the value lives while any clone does.
#[test]
fn local_refcounts() {
    let cluster = cluster(2);
    let driver = cluster.driver();
    let x = driver.put(&7i64).unwrap();
    let copies: Vec<ObjectRef<i64>> = (0..5).map(|_| x.clone()).collect();
    drop(x);
    for c in &copies {
        assert_eq!(driver.get(c).unwrap(), 7);
    }
    assert_eq!(cluster.store_objects(), 1);
    drop(copies);
    assert_drained(&cluster);
}

/// 47: a ref argument lives until its task ends, even with no handle left; also when
/// the task fails.
#[test]
fn dependency_refcounts() {
    let cluster = cluster(2);
    let driver = cluster.driver();
    let remote = TaskOptions::on(cluster.nodes()[1]);
    for failing in [false, true] {
        let gate = new_gate();
        let x = driver.put(&5i64).unwrap();
        let id = x.id();
        let task = if failing {
            gated_fail::remote_with(driver, remote, gate, &x).unwrap()
        } else {
            gated::remote_with(driver, remote, gate, &x).unwrap()
        };
        drop(x);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(
            !cluster.holders(id).is_empty(),
            "the argument is pinned by the pending task"
        );
        open_gate(gate);
        let outcome = driver.get(&task);
        assert_eq!(outcome.is_err(), failing);
        if failing {
            assert!(matches!(outcome, Err(CoreError::TaskFailed { .. })));
        }
        drop(task);
        assert_drained(&cluster);
    }
}

/// 48: the arguments of an actor's constructor are held until the actor is built, and
/// what the actor keeps stays alive with it.
#[test]
fn actor_creation_task() {
    let cluster = cluster(2);
    let driver = cluster.driver();
    let x = driver.put(&11i64).unwrap();
    let holder =
        Holder::create(driver, TaskOptions::on(cluster.nodes()[1]), vec![x.clone()]).unwrap();
    drop(x);
    let total = holder.total(driver).unwrap();
    assert_eq!(
        driver.get(&total).unwrap(),
        11,
        "the actor kept the ref it was built with"
    );
    drop(total);
    let cleared = holder.clear(driver).unwrap();
    assert_eq!(driver.get(&cleared).unwrap(), 1);
    drop((cleared, holder));
    assert_drained(&cluster);
}

/// 49: a value an actor holds survives memory pressure (primary copies are never
/// evicted) and is still readable.
#[test]
fn basic_pinning() {
    let registry = registry();
    let config = doreisa::core::ClusterConfig::default()
        .nodes(2)
        .store_capacity(4 << 20);
    let cluster = doreisa::core::Cluster::start(config, registry).unwrap();
    let driver = cluster.driver();
    let x = driver.put(&42i64).unwrap();
    let holder =
        Holder::create(driver, TaskOptions::on(cluster.nodes()[1]), vec![x.clone()]).unwrap();
    drop(x);
    // Fill the stores with values that come and go.
    for seed in 0..40u8 {
        let b = big::remote_with(driver, TaskOptions::spread(), seed).unwrap();
        assert_eq!(driver.get(&b).unwrap().len(), 256 * 1024);
    }
    let total = holder.total(driver).unwrap();
    assert_eq!(driver.get(&total).unwrap(), 42);
    drop((total, holder));
    assert_drained(&cluster);
}

/// 50: a pending task's argument stays alive while the task waits for another one.
#[test]
fn pending_task_dependency_pinning() {
    let cluster = cluster(2);
    let driver = cluster.driver();
    let gate = new_gate();
    let slow = gated::remote_with(driver, TaskOptions::on(cluster.nodes()[1]), gate, 1).unwrap();
    let x = driver.put(&2i64).unwrap();
    let sum = add::remote(driver, &slow, &x).unwrap();
    drop(x);
    std::thread::sleep(std::time::Duration::from_millis(20));
    open_gate(gate);
    assert_eq!(driver.get(&sum).unwrap(), 3);
    drop((slow, sum));
    assert_drained(&cluster);
}

/// 51: refs cannot be serialized out of band (they would pin their value forever).
#[test]
fn out_of_band_serialized_object_ref() {
    let cluster = cluster(1);
    let driver = cluster.driver();
    let x = driver.put(&1i64).unwrap();
    let out_of_band = doreisa::core::codec::encode(&x);
    assert!(
        out_of_band.is_err(),
        "serializing a ref outside the runtime is refused"
    );
    drop(x);
    assert_drained(&cluster);
}

/// 52/53: a ref nested in an inline argument (Ray: captured in a closure, or serialized
/// in an argument) lives while the task uses it.
#[test]
fn basic_serialized_reference() {
    let cluster = cluster(2);
    let driver = cluster.driver();
    let refs: Vec<ObjectRef<i64>> = (1..=3).map(|v| driver.put(&v).unwrap()).collect();
    let sum = sum_refs::remote_with(driver, TaskOptions::on(cluster.nodes()[1]), refs).unwrap();
    assert_eq!(driver.get(&sum).unwrap(), 6);
    drop(sum);
    assert_drained(&cluster);
}

/// 54: a task returns the refs it was given; they outlive the caller's own handles.
#[test]
fn recursive_serialized_reference() {
    let cluster = cluster(2);
    let driver = cluster.driver();
    let x = driver.put(&9i64).unwrap();
    let returned =
        pass_through::remote_with(driver, TaskOptions::on(cluster.nodes()[1]), vec![x.clone()])
            .unwrap();
    drop(x);
    let inner = driver.get(&returned).unwrap();
    drop(returned);
    assert_eq!(driver.get(&inner[0]).unwrap(), 9);
    drop(inner);
    assert_drained(&cluster);
}

/// 55: an actor keeps refs past the call that gave them; they are freed when it lets
/// them go, and when the actor itself goes.
#[test]
fn actor_holding_serialized_reference() {
    let cluster = cluster(2);
    let driver = cluster.driver();
    let holder = Holder::create(
        driver,
        TaskOptions::on(cluster.nodes()[1]),
        Vec::<ObjectRef<i64>>::new(),
    )
    .unwrap();
    let x = driver.put(&3i64).unwrap();
    let id = x.id();
    let kept = holder.keep(driver, vec![x.clone(), x.clone()]).unwrap();
    assert_eq!(driver.get(&kept).unwrap(), 2);
    drop((x, kept));
    let total = holder.total(driver).unwrap();
    assert_eq!(driver.get(&total).unwrap(), 6);
    drop(total);
    assert!(!cluster.holders(id).is_empty(), "the actor still holds it");
    // Dropping the last handle on the actor stops it and frees what it held.
    drop(holder);
    assert_drained(&cluster);
}

/// 56: a task hands refs to a sub-task and returns at once; the sub-task keeps them.
#[test]
fn worker_holding_serialized_reference() {
    let cluster = cluster(2);
    let driver = cluster.driver();
    let gate = new_gate();
    let x = driver.put(&4i64).unwrap();
    let id = x.id();
    let spawned = spawn_holder::remote_with(
        driver,
        TaskOptions::on(cluster.nodes()[1]),
        gate,
        vec![x.clone()],
    )
    .unwrap();
    assert_eq!(driver.get(&spawned).unwrap(), 0);
    drop((x, spawned));
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(
        !cluster.holders(id).is_empty(),
        "the sub-task still holds it"
    );
    open_gate(gate);
    assert_drained(&cluster);
}

/// 57: refs nested in a value: the inner value lives while the outer one does.
#[test]
fn basic_nested_ids() {
    let cluster = cluster(2);
    let driver = cluster.driver();
    let inner = driver.put(&21i64).unwrap();
    let outer = driver.put(&vec![inner.clone()]).unwrap();
    drop(inner);
    let nested = driver.get(&outer).unwrap();
    assert_eq!(driver.get(&nested[0]).unwrap(), 21);
    drop(nested);
    drop(outer);
    assert_drained(&cluster);
}

/// 58: an actor whose last handle goes right after creation is stopped, nothing leaks.
#[test]
fn remove_actor_immediately_after_creation() {
    let cluster = cluster(2);
    let driver = cluster.driver();
    for _ in 0..10 {
        let holder = Holder::create(
            driver,
            TaskOptions::on(cluster.nodes()[1]),
            Vec::<ObjectRef<i64>>::new(),
        )
        .unwrap();
        drop(holder);
    }
    eventually("actors stopped", || {
        cluster.status().iter().all(|s| s.actors == 0)
    });
    assert_drained(&cluster);
}

/// A handle belongs to the worker that made it: another worker of the process cannot
/// use it directly (its table does not know the ref) and is told how to hand it over;
/// handing it over through an actor call works.
#[test]
fn refs_move_between_workers_only_through_the_runtime() {
    let cluster = cluster(2);
    let driver = cluster.driver();
    let beside = cluster.worker_on(cluster.nodes()[1]).unwrap();
    let theirs = beside.put(&8i64).unwrap();
    let foreign = CoreError::ForeignRef {
        id: theirs.id(),
        holder: beside.id(),
        user: driver.id(),
    };
    assert_eq!(driver.get(&theirs).unwrap_err(), foreign);
    assert_eq!(driver.put(&vec![theirs.clone()]).unwrap_err(), foreign);
    assert_eq!(add::remote(driver, &theirs, 1).unwrap_err(), foreign);
    assert_eq!(
        driver.free(std::slice::from_ref(&theirs)).unwrap_err(),
        foreign
    );
    // The way across: the holder passes it in an actor call, the other side reads it back.
    let holder = Holder::create(
        driver,
        TaskOptions::on(cluster.nodes()[0]),
        Vec::<ObjectRef<i64>>::new(),
    )
    .unwrap();
    let kept = holder.keep(&beside, vec![theirs.clone()]).unwrap();
    assert_eq!(beside.get(&kept).unwrap(), 1);
    drop(theirs);
    assert_eq!(driver.get(&holder.total(driver).unwrap()).unwrap(), 8);
    drop((kept, holder, beside));
    assert_drained(&cluster);
}
