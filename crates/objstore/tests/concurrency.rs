//! Several threads putting, reading and deleting at once keep the accounting consistent.

use std::fs;
use std::sync::Arc;
use std::thread;

use bytes::Bytes;
use doreisa_objstore::{CopyKind, ObjectStore, StoreConfig};

const THREADS: u32 = 8;
const PER_THREAD: u32 = 200;
const CAPACITY: u64 = 4096;

/// Deterministic contents and size for a key.
fn data(key: u32) -> Bytes {
    let len = 16 + (key as usize * 7) % 200;
    (0..len).map(|i| (key as usize + i) as u8).collect()
}

fn kind(key: u32) -> CopyKind {
    if key.is_multiple_of(3) {
        CopyKind::Secondary
    } else {
        CopyKind::Primary
    }
}

#[test]
fn concurrent_puts_gets_and_deletes_keep_accounting_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(CAPACITY).with_spill_dir(dir.path());
    let store = Arc::new(ObjectStore::<u32>::new(config));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let key = t * PER_THREAD + i;
                    store.put(key, data(key), kind(key)).unwrap();
                    assert!(store.stats().used_bytes <= CAPACITY);
                    // Read a key of any thread: absent, evicted, or with the right bytes.
                    let other = (key * 7919) % (THREADS * PER_THREAD);
                    if let Some(bytes) = store.get(other).unwrap() {
                        assert_eq!(bytes, data(other));
                    }
                    if i % 5 == 0 {
                        store.delete(key);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }

    let stats = store.stats();
    assert!(stats.used_bytes <= CAPACITY);
    assert!(stats.spills > 0 && stats.evictions > 0, "{stats:?}");
    let keys = store.keys();
    assert_eq!(keys.len(), stats.objects);
    let total: u64 = keys.iter().map(|&key| store.size_of(key).unwrap()).sum();
    assert_eq!(stats.used_bytes + stats.spilled_bytes, total);
    // Every primary survived (unless deleted); every stored object reads back intact.
    for key in 0..THREADS * PER_THREAD {
        let deleted = (key % PER_THREAD).is_multiple_of(5);
        if kind(key) == CopyKind::Primary && !deleted {
            assert!(store.contains(key), "primary {key} lost");
        }
    }
    // Reading spilled primaries back may evict secondaries listed later.
    for key in keys {
        match store.get(key).unwrap() {
            Some(bytes) => assert_eq!(bytes, data(key)),
            None => assert_eq!(kind(key), CopyKind::Secondary, "primary {key} lost"),
        }
    }
    assert!(store.stats().used_bytes <= CAPACITY);

    for key in store.keys() {
        assert!(store.delete(key));
    }
    let stats = store.stats();
    assert_eq!(
        (stats.used_bytes, stats.spilled_bytes, stats.objects),
        (0, 0, 0)
    );
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}
