//! The object stores as the runtime uses them: capacity, spilling and restoring,
//! eviction of fetched copies, waiting on many refs, and (65) memory accounting that
//! returns to zero as refs are dropped, also when nodes die.

mod support;

use doreisa::core::{Blob, ClusterConfig, CoreError, ObjectRef, TaskOptions};
use std::time::Duration;
use support::*;

const KIB: u64 = 1024;

fn blob_of(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
}

fn small_store(
    nodes: usize,
    capacity: u64,
    spill: Option<&std::path::Path>,
) -> doreisa::core::Cluster {
    let mut config = ClusterConfig::default()
        .nodes(nodes)
        .compute_threads(2)
        .store_capacity(capacity);
    if let Some(dir) = spill {
        config = config.spill_dir(dir);
    }
    cluster_with(config)
}

#[test]
fn values_beyond_capacity_spill_and_come_back_on_get() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = small_store(2, 1024 * KIB, Some(dir.path()));
    let driver = cluster.driver().clone();
    let refs: Vec<ObjectRef<Blob>> = (0..8u8)
        .map(|seed| driver.put_slice(&blob_of(seed, 256 * 1024)).unwrap())
        .collect();
    let here = cluster.store_stats(driver.node()).unwrap();
    assert!(here.spilled_objects >= 4, "{here:?}");
    assert!(here.used_bytes <= 1024 * KIB);
    for (seed, r) in refs.iter().enumerate() {
        let value = driver.get(r).unwrap();
        assert_eq!(
            &value.0[..],
            &blob_of(seed as u8, 256 * 1024)[..],
            "object {seed}"
        );
    }
    assert!(cluster.store_stats(driver.node()).unwrap().restores >= 4);
    drop(refs);
    assert_drained(&cluster);
    let left = files_under(dir.path());
    assert!(left.is_empty(), "spill files left: {left:?}");
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn a_value_larger_than_the_store_is_refused_clearly() {
    let cluster = small_store(2, 512 * KIB, None);
    let driver = cluster.driver().clone();
    let error = driver.put_slice(&vec![1u8; 1024 * 1024]).unwrap_err();
    let CoreError::Store(message) = error else {
        panic!("{error:?}")
    };
    assert!(
        message.contains("larger than the object store capacity"),
        "{message}"
    );
    // Nothing was lost, and the cluster goes on.
    let small = driver.put(&5i64).unwrap();
    assert_eq!(driver.get(&small).unwrap(), 5);
    drop(small);
    assert_drained(&cluster);
}

#[test]
fn a_full_store_without_spilling_refuses_and_keeps_what_it_has() {
    let cluster = small_store(2, 1024 * KIB, None);
    let driver = cluster.driver().clone();
    let first = driver.put_slice(&blob_of(1, 400 * 1024)).unwrap();
    let second = driver.put_slice(&blob_of(2, 400 * 1024)).unwrap();
    let error = driver.put_slice(&blob_of(3, 400 * 1024)).unwrap_err();
    assert!(
        matches!(&error, CoreError::Store(m) if m.contains("full")),
        "{error:?}"
    );
    assert_eq!(
        &driver.get(&first).unwrap().0[..],
        &blob_of(1, 400 * 1024)[..]
    );
    assert_eq!(
        &driver.get(&second).unwrap().0[..],
        &blob_of(2, 400 * 1024)[..]
    );
    drop((first, second));
    assert_drained(&cluster);
}

#[test]
fn a_task_output_that_cannot_be_stored_fails_the_task() {
    let cluster = small_store(2, 128 * KIB, None);
    let driver = cluster.driver().clone();
    let remote = cluster.nodes()[1];
    let output = big::remote_with(&driver, TaskOptions::on(remote).retries(0), 4).unwrap();
    let error = driver
        .get_timeout(&output, Some(Duration::from_secs(10)))
        .unwrap_err();
    assert!(
        matches!(&error, CoreError::TaskFailed { message, .. } if message.contains("capacity")),
        "{error:?}"
    );
    drop(output);
    assert_drained(&cluster);
}

#[test]
fn fetched_copies_are_evicted_before_anything_is_refused() {
    let cluster = small_store(2, 1024 * KIB, None);
    let driver = cluster.driver().clone();
    let remote = cluster.nodes()[1];
    // Three 256 KiB values made on the other node, read here: cached copies fill most
    // of the store.
    let made: Vec<_> = (0..3u8)
        .map(|seed| big::remote_with(&driver, TaskOptions::on(remote), seed).unwrap())
        .collect();
    for (seed, r) in made.iter().enumerate() {
        assert_eq!(driver.get(r).unwrap(), vec![seed as u8; 256 * 1024]);
    }
    // Own values still fit: the cached copies make room.
    let own = driver.put_slice(&blob_of(9, 512 * 1024)).unwrap();
    let here = cluster.store_stats(driver.node()).unwrap();
    assert!(here.evictions >= 2, "{here:?}");
    // An evicted copy is fetched again on demand.
    assert_eq!(driver.get(&made[0]).unwrap(), vec![0u8; 256 * 1024]);
    drop((made, own));
    assert_drained(&cluster);
}

#[test]
fn wait_returns_the_ready_refs_by_the_timeout() {
    let cluster = cluster(2);
    let driver = cluster.driver().clone();
    let gate = new_gate();
    let mut refs = vec![
        driver.put(&1i64).unwrap(),
        gated::remote(&driver, gate, 2).unwrap(),
        driver.put(&3i64).unwrap(),
        gated::remote(&driver, gate, 4).unwrap(),
    ];
    {
        let (ready, pending) = driver.wait(&refs, 4, Duration::from_millis(50)).unwrap();
        let ready_ids: Vec<_> = ready.iter().map(ObjectRef::id).collect();
        assert_eq!(ready_ids, vec![refs[0].id(), refs[2].id()]);
        assert_eq!(pending.len(), 2);
    }
    {
        // Asking for only as many as are ready returns at once.
        let (ready, _) = driver.wait(&refs, 2, Duration::from_secs(3600)).unwrap();
        assert_eq!(ready.len(), 2);
    }
    open_gate(gate);
    {
        let (ready, pending) = driver.wait(&refs, 4, Duration::from_secs(10)).unwrap();
        assert_eq!((ready.len(), pending.len()), (4, 0));
    }
    assert_eq!(driver.get_all(&refs).unwrap(), vec![1, 2, 3, 4]);
    refs.clear();
    assert_drained(&cluster);
}

/// 65: values are unpinned, and memory accounted back, as their refs go; a removed
/// node's share goes with it.
#[test]
fn object_unpin() {
    let mut cluster = cluster(3);
    let driver = cluster.driver().clone();
    let nodes = cluster.nodes();
    let mut held: Vec<ObjectRef<Vec<u8>>> = Vec::new();
    for (i, node) in nodes.iter().cycle().take(9).enumerate() {
        held.push(big::remote_with(&driver, TaskOptions::on(*node), i as u8).unwrap());
    }
    let _ = driver.get_all(&held).unwrap();
    let bytes_with_all = cluster.store_bytes();
    assert!(bytes_with_all >= 9 * 256 * KIB, "{bytes_with_all}");
    held.truncate(3);
    eventually("six values unpinned", || {
        cluster.store_bytes() < bytes_with_all - 5 * 256 * KIB
    });
    cluster.kill_node(nodes[2]).unwrap();
    held.clear();
    assert_drained(&cluster);
}

/// 65 (stress): rounds of making, reading and dropping values all over the cluster.
#[test]
fn object_unpin_stress() {
    let cluster = cluster(3);
    let driver = cluster.driver().clone();
    let nodes = cluster.nodes();
    for round in 0..20u8 {
        let refs: Vec<_> = nodes
            .iter()
            .map(|node| big::remote_with(&driver, TaskOptions::on(*node), round).unwrap())
            .collect();
        let puts: Vec<_> = (0..10)
            .map(|i| driver.put(&(i * round as i64)).unwrap())
            .collect();
        let summed = sum_refs::remote_with(
            &driver,
            TaskOptions::on(nodes[round as usize % 3]),
            puts.clone(),
        )
        .unwrap();
        assert_eq!(driver.get(&summed).unwrap(), 45 * round as i64);
        for r in &refs {
            assert_eq!(driver.get(r).unwrap()[0], round);
        }
    }
    assert_drained(&cluster);
}
