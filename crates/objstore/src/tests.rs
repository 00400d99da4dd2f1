//! Unit tests that check the store's internal accounting after each step.

use bytes::Bytes;

use crate::{CopyKind, ObjectStore, StoreConfig};

fn bytes(len: usize, fill: u8) -> Bytes {
    Bytes::from(vec![fill; len])
}

#[test]
fn accounting_stays_consistent_through_evictions_spills_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectStore::<u32>::new(StoreConfig::new(100).with_spill_dir(dir.path()));
    for key in 0..20u32 {
        let kind = if key % 3 == 0 {
            CopyKind::Secondary
        } else {
            CopyKind::Primary
        };
        store.put(key, bytes(30, key as u8), kind).unwrap();
        store.assert_consistent();
        if key % 4 == 0 {
            // Touch an older object, restoring it if spilled.
            let _ = store.get(key / 2).unwrap();
            store.assert_consistent();
        }
    }
    store.put(3, bytes(30, 3), CopyKind::Primary).ok();
    store.assert_consistent();
    for key in 0..20u32 {
        store.delete(key);
        store.assert_consistent();
    }
    assert_eq!(store.stats().used_bytes, 0);
}

#[test]
fn upgrading_a_secondary_moves_it_to_the_primary_lru() {
    let store = ObjectStore::<u32>::new(StoreConfig::new(100));
    store.put(1, bytes(40, 1), CopyKind::Secondary).unwrap();
    store.put(1, bytes(40, 1), CopyKind::Primary).unwrap();
    store.assert_consistent();
    assert!(store.is_primary(1));
    assert_eq!(store.stats().primary_objects, 1);
}
