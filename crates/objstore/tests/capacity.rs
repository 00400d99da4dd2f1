//! Memory accounting, eviction of secondary copies, and the put/delete rules, without a
//! spill directory.

use bytes::Bytes;
use doreisa_objstore::{CopyKind, ObjectStore, StoreConfig, StoreError};

use CopyKind::{Primary, Secondary};

fn store(capacity: u64) -> ObjectStore<u32> {
    ObjectStore::new(StoreConfig::new(capacity))
}

fn bytes(len: usize, fill: u8) -> Bytes {
    Bytes::from(vec![fill; len])
}

#[test]
fn put_and_get_share_the_buffer() {
    let store = store(100);
    let data = bytes(10, 7);
    store.put(1, data.clone(), Primary).unwrap();
    let got = store.get(1).unwrap().unwrap();
    assert_eq!(got, data);
    assert_eq!(got.as_ptr(), data.as_ptr(), "no copy on put or get");
    assert!(store.contains(1));
    assert_eq!(store.size_of(1), Some(10));
    assert!(store.is_primary(1));
    assert_eq!(store.get(2).unwrap(), None);
    assert!(!store.contains(2));
    assert_eq!(store.size_of(2), None);
}

#[test]
fn object_larger_than_capacity_is_too_large() {
    let store = store(100);
    let err = store.put(9, bytes(101, 0), Primary).unwrap_err();
    assert!(matches!(
        err,
        StoreError::TooLarge {
            size: 101,
            capacity: 100,
            ..
        }
    ));
    let message = err.to_string();
    assert!(
        message.contains("101") && message.contains("100"),
        "{message}"
    );
    assert!(!store.contains(9));
    // Exactly the capacity fits.
    store.put(9, bytes(100, 0), Primary).unwrap();
    assert_eq!(store.stats().used_bytes, 100);
}

#[test]
fn full_without_spill_dir_leaves_the_store_unchanged() {
    let store = store(100);
    store.put(1, bytes(60, 1), Primary).unwrap();
    store.put(2, bytes(30, 2), Secondary).unwrap();
    let before = store.stats();
    let err = store.put(3, bytes(80, 3), Primary).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Full {
                ref key,
                needed: 80,
                capacity: 100,
                used: 90,
                available: 40
            } if key == "3"
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "full: object 3 of 80 bytes does not fit: 90 of its 100 bytes are in use, and at \
         most 40 can be made free (primary copies are pinned and no spill directory is \
         configured)"
    );
    // The secondary copy that could have been evicted was kept: nothing changed.
    assert_eq!(store.stats(), before);
    assert!(store.contains(2));
    assert!(!store.contains(3));
}

#[test]
fn secondaries_are_evicted_least_recently_used_first() {
    let store = store(100);
    for key in 1..=4 {
        store.put(key, bytes(25, key as u8), Secondary).unwrap();
    }
    // Use 1 and 3: 2 is now the least recently used, then 4.
    store.get(1).unwrap().unwrap();
    store.get(3).unwrap().unwrap();
    store.put(5, bytes(25, 5), Secondary).unwrap();
    assert!(!store.contains(2));
    store.put(6, bytes(25, 6), Secondary).unwrap();
    assert!(!store.contains(4));
    for key in [1, 3, 5, 6] {
        assert!(store.contains(key), "{key} kept");
    }
    let stats = store.stats();
    assert_eq!(stats.evictions, 2);
    assert_eq!(stats.used_bytes, 100);
    assert_eq!(stats.objects, 4);
}

#[test]
fn eviction_frees_only_what_is_needed() {
    let store = store(100);
    for key in 1..=5 {
        store.put(key, bytes(20, 0), Secondary).unwrap();
    }
    store.put(6, bytes(30, 0), Primary).unwrap();
    // 30 bytes needed: the two oldest secondaries go, the rest stay.
    assert_eq!(store.keys().len(), 4);
    assert!(!store.contains(1) && !store.contains(2));
    assert_eq!(store.stats().evictions, 2);
    assert_eq!(store.stats().used_bytes, 90);
}

#[test]
fn primaries_are_never_evicted() {
    let store = store(100);
    store.put(1, bytes(50, 1), Primary).unwrap();
    store.put(2, bytes(50, 2), Secondary).unwrap();
    // Only the secondary can go, even though the primary is older.
    store.put(3, bytes(50, 3), Secondary).unwrap();
    assert!(store.contains(1) && !store.contains(2) && store.contains(3));
    store.put(4, bytes(50, 4), Primary).unwrap();
    assert!(store.contains(1) && !store.contains(3) && store.contains(4));
    // Now only primaries: nothing more fits.
    let err = store.put(5, bytes(1, 5), Secondary).unwrap_err();
    assert!(matches!(err, StoreError::Full { .. }), "{err}");
    assert_eq!(store.get(1).unwrap().unwrap(), bytes(50, 1));
    assert_eq!(store.stats().primary_objects, 2);
}

#[test]
fn put_of_an_existing_key() {
    let store = store(100);
    store.put(1, bytes(10, 1), Secondary).unwrap();
    // Secondary over secondary: no-op.
    store.put(1, bytes(10, 1), Secondary).unwrap();
    assert!(!store.is_primary(1));
    // Primary over secondary: upgrade, and it is no longer evictable.
    store.put(1, bytes(10, 1), Primary).unwrap();
    assert!(store.is_primary(1));
    // Secondary over primary: no-op, still primary.
    store.put(1, bytes(10, 1), Secondary).unwrap();
    assert!(store.is_primary(1));
    // Primary over primary: duplicate.
    let err = store.put(1, bytes(10, 1), Primary).unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate(ref key) if key == "1"),
        "{err}"
    );
    let stats = store.stats();
    assert_eq!((stats.objects, stats.primary_objects), (1, 1));
    assert_eq!(stats.used_bytes, 10);
    let err = store.put(2, bytes(95, 2), Secondary).unwrap_err();
    assert!(matches!(err, StoreError::Full { .. }), "{err}");
}

#[test]
fn memory_returns_to_zero_after_deleting_everything() {
    let store = store(1000);
    for key in 0..30 {
        let kind = if key % 2 == 0 { Primary } else { Secondary };
        store.put(key, bytes(key as usize + 1, 0), kind).unwrap();
    }
    assert_eq!(store.stats().used_bytes, (1..=30).sum::<u64>());
    let mut keys = store.keys();
    keys.sort_unstable();
    assert_eq!(keys, (0..30).collect::<Vec<_>>());
    for key in keys {
        assert!(store.delete(key));
        assert!(!store.delete(key), "second delete finds nothing");
    }
    let stats = store.stats();
    assert_eq!(stats.used_bytes, 0);
    assert_eq!((stats.objects, stats.primary_objects), (0, 0));
    assert!(store.keys().is_empty());
}
