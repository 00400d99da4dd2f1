//! Spilling primary copies to disk under pressure, and restoring them on `get`.

use std::fs;
use std::path::Path;

use bytes::Bytes;
use doreisa_objstore::{CopyKind, ObjectStore, StoreConfig, StoreError};

use CopyKind::{Primary, Secondary};

fn spilling_store(capacity: u64, dir: &Path) -> ObjectStore<u32> {
    ObjectStore::new(StoreConfig::new(capacity).with_spill_dir(dir))
}

/// Distinct contents per key, so that a restore of the wrong file would show.
fn data(key: u32, len: usize) -> Bytes {
    (0..len).map(|i| (key as usize * 31 + i) as u8).collect()
}

fn files_in(dir: &Path) -> usize {
    fs::read_dir(dir).map_or(0, |entries| entries.count())
}

#[test]
fn primaries_spill_least_recently_used_first_and_restore_transparently() {
    let dir = tempfile::tempdir().unwrap();
    let store = spilling_store(100, dir.path());
    for key in 1..=4 {
        store.put(key, data(key, 25), Primary).unwrap();
    }
    store.get(1).unwrap().unwrap(); // 2 is now the least recently used
    store.put(5, data(5, 25), Primary).unwrap();

    let stats = store.stats();
    assert_eq!(stats.spills, 1);
    assert_eq!((stats.spilled_objects, stats.spilled_bytes), (1, 25));
    assert_eq!((stats.used_bytes, stats.objects), (100, 5));
    assert_eq!(files_in(dir.path()), 1);
    // Spilled objects are still stored.
    assert!(store.contains(2) && store.is_primary(2));
    assert_eq!(store.size_of(2), Some(25));

    // Reading 2 back makes room by spilling the least recently used, 3.
    assert_eq!(store.get(2).unwrap().unwrap(), data(2, 25));
    let stats = store.stats();
    assert_eq!((stats.restores, stats.spills), (1, 2));
    assert_eq!((stats.spilled_objects, stats.used_bytes), (1, 100));
    assert_eq!(
        files_in(dir.path()),
        1,
        "the restored object's file is removed"
    );
    for key in 1..=5 {
        assert_eq!(store.get(key).unwrap().unwrap(), data(key, 25), "key {key}");
    }
    assert!(store.stats().used_bytes <= 100);
}

#[test]
fn secondaries_are_evicted_before_primaries_spill() {
    let dir = tempfile::tempdir().unwrap();
    let store = spilling_store(100, dir.path());
    store.put(1, data(1, 40), Primary).unwrap();
    store.put(2, data(2, 40), Secondary).unwrap();
    store.put(3, data(3, 40), Primary).unwrap();
    let stats = store.stats();
    assert_eq!((stats.evictions, stats.spills), (1, 0));
    assert!(!store.contains(2));
    store.put(4, data(4, 40), Secondary).unwrap();
    let stats = store.stats();
    assert_eq!((stats.evictions, stats.spills), (1, 1));
    assert_eq!(stats.spilled_objects, 1);
    assert_eq!(store.get(1).unwrap().unwrap(), data(1, 40));
}

#[test]
fn spill_files_are_removed_on_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = spilling_store(50, dir.path());
    for key in 1..=5 {
        store.put(key, data(key, 20), Primary).unwrap();
    }
    assert_eq!(store.stats().spilled_objects, 3);
    assert_eq!(files_in(dir.path()), 3);
    for key in 1..=5 {
        assert!(store.delete(key));
    }
    let stats = store.stats();
    assert_eq!((stats.used_bytes, stats.spilled_bytes), (0, 0));
    assert_eq!((stats.objects, stats.spilled_objects), (0, 0));
    assert_eq!(files_in(dir.path()), 0);
}

#[test]
fn spill_files_are_removed_when_the_store_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    // A file the store did not create survives.
    fs::write(dir.path().join("other.txt"), b"not ours").unwrap();
    let spill_dir = dir.path().join("created-on-first-spill");
    let store = spilling_store(50, &spill_dir);
    for key in 1..=5 {
        store.put(key, data(key, 20), Primary).unwrap();
    }
    assert_eq!(files_in(&spill_dir), 3);
    drop(store);
    assert_eq!(files_in(&spill_dir), 0);
    assert!(dir.path().join("other.txt").exists());
}

#[test]
fn two_stores_can_share_a_spill_dir() {
    let dir = tempfile::tempdir().unwrap();
    let a = spilling_store(10, dir.path());
    let b = spilling_store(10, dir.path());
    for key in 1..=3 {
        a.put(key, data(key, 10), Primary).unwrap();
        b.put(key, data(key + 100, 10), Primary).unwrap();
    }
    assert_eq!(files_in(dir.path()), 4);
    for key in 1..=3 {
        assert_eq!(a.get(key).unwrap().unwrap(), data(key, 10));
        assert_eq!(b.get(key).unwrap().unwrap(), data(key + 100, 10));
    }
    drop(a);
    drop(b);
    assert_eq!(files_in(dir.path()), 0);
}

#[test]
fn a_spill_failure_fails_the_put_and_evicts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // The spill "directory" is a file: creating it fails.
    let not_a_dir = dir.path().join("file");
    fs::write(&not_a_dir, b"").unwrap();
    let store = spilling_store(100, &not_a_dir);
    store.put(1, data(1, 50), Primary).unwrap();
    store.put(2, data(2, 30), Secondary).unwrap();
    let before = store.stats();
    // 60 bytes need the secondary evicted and the primary spilled.
    let err = store.put(3, data(3, 60), Primary).unwrap_err();
    assert!(matches!(err, StoreError::Io(_)), "{err}");
    assert!(err.to_string().contains("file"), "names the path: {err}");
    assert_eq!(store.stats(), before);
    assert_eq!(store.get(2).unwrap().unwrap(), data(2, 30));
}
