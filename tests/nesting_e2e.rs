//! End-to-end nested, returned and borrowed refs (Ray's end-to-end scenarios 59–69 of
//! ownership.md) on an embedded cluster.

mod support;

use doreisa::core::{ObjectRef, TaskOptions};
use support::*;

/// 59: a five-level chain built by a task on another node; every level reachable.
#[test]
fn recursively_nest_ids() {
    let cluster = chain_cluster(3);
    let driver = cluster.driver();
    let chain =
        build_chain::remote_with(driver, TaskOptions::on(cluster.nodes()[2]), 5, 99).unwrap();
    let top = driver.get(&chain).unwrap();
    assert_eq!(walk(driver, top).unwrap(), (5, 99));
    drop(chain);
    assert_drained(&cluster);
}

/// 60/61/62: a task returns a ref it created; the ref is passed on to further tasks.
#[test]
fn return_and_pass_returned_object_ref() {
    let cluster = chain_cluster(3);
    let driver = cluster.driver();
    let nodes = cluster.nodes();
    let outer = put_inside::remote_with(driver, TaskOptions::on(nodes[1]), 10).unwrap();
    let inner = driver.get(&outer).unwrap();
    drop(outer);
    assert_eq!(driver.get(&inner).unwrap(), 10);
    let mut total = add::remote_with(driver, TaskOptions::on(nodes[2]), &inner, 1).unwrap();
    for node in [nodes[0], nodes[1], nodes[2]] {
        total = add::remote_with(driver, TaskOptions::on(node), &total, &inner).unwrap();
    }
    assert_eq!(driver.get(&total).unwrap(), 41);
    drop((inner, total));
    assert_drained(&cluster);
}

/// 66: refs nested in small inline arguments and passed by ref behave alike.
#[test]
fn inlined_nested_refs() {
    let cluster = chain_cluster(2);
    let driver = cluster.driver();
    let values: Vec<ObjectRef<i64>> = (1..=4).map(|v| driver.put(&v).unwrap()).collect();
    let inline =
        sum_refs::remote_with(driver, TaskOptions::on(cluster.nodes()[1]), values.clone()).unwrap();
    let boxed = driver.put(&values).unwrap();
    let by_ref =
        sum_refs::remote_with(driver, TaskOptions::on(cluster.nodes()[1]), &boxed).unwrap();
    drop((values, boxed));
    assert_eq!(driver.get(&inline).unwrap(), 10);
    assert_eq!(driver.get(&by_ref).unwrap(), 10);
    drop((inline, by_ref));
    assert_drained(&cluster);
}

/// 67: a task returns its argument nested in its return value.
#[test]
fn return_nested_ids() {
    let cluster = chain_cluster(2);
    let driver = cluster.driver();
    let x = driver.put(&8i64).unwrap();
    let wrapped =
        wrap::remote_with(driver, TaskOptions::on(cluster.nodes()[1]), x.clone()).unwrap();
    drop(x);
    let inner = driver.get(&wrapped).unwrap();
    drop(wrapped);
    assert_eq!(driver.get(&inner[0]).unwrap(), 8);
    drop(inner);
    assert_drained(&cluster);
}

/// 68: an actor's constructor gets refs nested in its arguments and keeps them.
#[test]
fn actor_constructor_borrowed_refs() {
    let cluster = chain_cluster(2);
    let driver = cluster.driver();
    let refs: Vec<ObjectRef<i64>> = (1..=3).map(|v| driver.put(&v).unwrap()).collect();
    let holder = Holder::create(driver, TaskOptions::on(cluster.nodes()[1]), refs).unwrap();
    let total = holder.total(driver).unwrap();
    assert_eq!(driver.get(&total).unwrap(), 6);
    drop((total, holder));
    assert_drained(&cluster);
}

/// 69: a chain of 200 nested refs, built by the driver and followed to its end.
#[test]
fn deep_nested_refs() {
    let cluster = chain_cluster(2);
    let driver = cluster.driver();
    let mut level = Chain::End(-1);
    for _ in 0..200 {
        level = Chain::Link(driver.put(&level).unwrap());
    }
    assert_eq!(walk(driver, level).unwrap(), (200, -1));
    assert_drained(&cluster);
}

/// A chain built remotely and walked after every local handle on the levels is gone.
#[test]
fn remote_chain_survives_while_its_top_lives() {
    let cluster = chain_cluster(2);
    let driver = cluster.driver();
    let chain =
        build_chain::remote_with(driver, TaskOptions::on(cluster.nodes()[1]), 30, 7).unwrap();
    let top = driver.get(&chain).unwrap();
    drop(chain);
    assert_eq!(walk(driver, top).unwrap(), (30, 7));
    assert_drained(&cluster);
}
