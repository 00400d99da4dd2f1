//! First end-to-end checks of the embedded runtime.

use doreisa_core::{
    ClusterConfig, EmbeddedCluster as Cluster, ObjectRef, Registry, TaskOptions, Worker,
};
use std::time::Duration;

doreisa_core::remote! {
    fn add(a: i64, b: i64) -> i64 { a + b }
}

doreisa_core::remote! {
    fn sum_all(values: Vec<i64>) -> i64 { values.iter().sum() }
}

doreisa_core::remote! {
    fn split(v: Vec<i64>) -> [Vec<i64>, Vec<i64>] {
        let half = v.len() / 2;
        (v[..half].to_vec(), v[half..].to_vec())
    }
}

doreisa_core::actor! {
    struct Counter handle CounterHandle address CounterAddress { count: i64 }
    impl {
        fn new(start: i64) -> Self { Counter { count: start } }
        fn add(&mut self, by: i64) -> i64 { self.count += by; self.count }
    }
}

fn cluster(nodes: usize) -> Cluster {
    let mut registry = Registry::new();
    add::register(&mut registry);
    sum_all::register(&mut registry);
    split::register(&mut registry);
    Counter::register(&mut registry);
    Cluster::start(ClusterConfig::default().nodes(nodes), registry).unwrap()
}

fn settle(cluster: &Cluster) {
    for _ in 0..200 {
        if cluster.store_objects() == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn put_get_and_tasks_across_nodes() {
    let cluster = cluster(2);
    let driver: &Worker = cluster.driver();
    let x = driver.put(&40i64).unwrap();
    assert_eq!(driver.get(&x).unwrap(), 40);
    let nodes = cluster.nodes();
    let local = add::remote(driver, &x, 2).unwrap();
    let remote = add::remote_with(driver, TaskOptions::on(nodes[1]), &x, 3).unwrap();
    assert_eq!(driver.get(&local).unwrap(), 42);
    assert_eq!(driver.get(&remote).unwrap(), 43);
    let chained = add::remote_with(driver, TaskOptions::on(nodes[1]), &local, &remote).unwrap();
    assert_eq!(driver.get(&chained).unwrap(), 85);
    let (a, b) = split::remote(driver, vec![1, 2, 3, 4, 5]).unwrap();
    assert_eq!(driver.get(&a).unwrap(), vec![1, 2]);
    assert_eq!(driver.get(&b).unwrap(), vec![3, 4, 5]);
    drop((x, local, remote, chained, a, b));
    settle(&cluster);
    assert_eq!(
        cluster.store_objects(),
        0,
        "every value is freed once its refs are gone"
    );
}

#[test]
fn actors_keep_state_and_order() {
    let cluster = cluster(2);
    let driver = cluster.driver();
    let counter = Counter::create(driver, TaskOptions::on(cluster.nodes()[1]), 10).unwrap();
    let results: Vec<ObjectRef<i64>> = (0..20).map(|_| counter.add(driver, 1).unwrap()).collect();
    let values = driver.get_all(&results).unwrap();
    assert_eq!(values, (11..=30).collect::<Vec<_>>());
}

doreisa_core::remote! {
    fn sum_refs(refs: Vec<ObjectRef<i64>>) -> i64 {
        let worker = doreisa_core::Worker::current().expect("in a task");
        refs.iter().map(|r| worker.get(r).unwrap()).sum()
    }
}

#[test]
fn a_task_gets_refs_nested_in_its_argument() {
    let mut registry = Registry::new();
    sum_refs::register(&mut registry);
    let cluster = Cluster::start(ClusterConfig::default().nodes(2), registry).unwrap();
    let driver = cluster.driver();
    let refs: Vec<ObjectRef<i64>> = (1..=3).map(|v| driver.put(&v).unwrap()).collect();
    let sum = sum_refs::remote_with(driver, TaskOptions::on(cluster.nodes()[1]), refs).unwrap();
    assert_eq!(
        driver
            .get_timeout(&sum, Some(Duration::from_secs(5)))
            .unwrap(),
        6
    );
}
