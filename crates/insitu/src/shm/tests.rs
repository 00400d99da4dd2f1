use super::*;

fn handed(pool: &mut SegmentPool, len: usize, byte: u8) -> SharedChunk {
    let mut lease = pool.lease(len).unwrap().unwrap();
    lease.as_mut_slice().fill(byte);
    lease.hand()
}

#[test]
fn an_object_crosses_by_name_and_its_segment_is_reused_once_the_node_drops_it() {
    let dir = SharedDir::create().unwrap().expect("/dev/shm on Linux");
    let mut pool = SegmentPool::attach(dir.path(), 1 << 20).unwrap();
    let chunk = handed(&mut pool, 10_000, 7);
    let bytes = dir.adopt(&chunk).unwrap();
    assert_eq!(bytes.len(), 10_000);
    assert!(bytes.iter().all(|&b| b == 7));
    assert_eq!(bytes.as_ptr() as usize % 64, 0, "payloads are 64-aligned");

    // Still held by the node: the next object needs another segment.
    let second = handed(&mut pool, 10_000, 8);
    assert_ne!(second.segment, chunk.segment);
    let held_bytes = pool.bytes();

    // Once the node's copy is gone its segment is free: no new pages.
    let slice = bytes.slice(10..20);
    drop(bytes);
    let still = handed(&mut pool, 10_000, 9);
    assert_ne!(still.segment, chunk.segment, "a slice keeps the segment");
    assert!(slice.iter().all(|&b| b == 7));
    drop(slice);
    let reused = handed(&mut pool, 9_000, 10);
    assert_eq!(reused.segment, chunk.segment);
    assert_eq!(
        pool.bytes(),
        held_bytes + 12_288,
        "one segment added for `still`"
    );
    let again = dir.adopt(&reused).unwrap();
    assert_eq!(again.len(), 9_000);
    assert!(again.iter().all(|&b| b == 10));
}

#[test]
fn the_pool_stops_at_its_bound_and_an_abandoned_lease_frees_its_segment() {
    let dir = SharedDir::create().unwrap().unwrap();
    let mut pool = SegmentPool::attach(dir.path(), 8192).unwrap();
    let _a = handed(&mut pool, 4096, 1);
    let mut abandoned = pool.lease(4096).unwrap().unwrap();
    abandoned.as_mut_slice()[0] = 9;
    drop(abandoned);
    let b = handed(&mut pool, 4096, 2);
    assert!(pool.lease(100).unwrap().is_none(), "at the bound");
    let adopted = dir.adopt(&b).unwrap();
    drop(adopted);
    assert!(pool.lease(4000).unwrap().is_some());
}

#[test]
fn the_node_refuses_what_was_not_handed_to_it() {
    let dir = SharedDir::create().unwrap().unwrap();
    let mut pool = SegmentPool::attach(dir.path(), 1 << 20).unwrap();
    let chunk = handed(&mut pool, 100, 1);
    for segment in ["", "../etc/passwd", "a/b", ".hidden", "missing"] {
        let bad = SharedChunk {
            segment: segment.to_string(),
            len: 1,
        };
        assert!(
            matches!(dir.adopt(&bad), Err(InsituError::SharedMemory(_))),
            "{segment:?}"
        );
    }
    let long = SharedChunk {
        len: 1 << 30,
        ..chunk.clone()
    };
    assert!(dir.adopt(&long).is_err(), "longer than its segment");
    let kept = dir.adopt(&chunk).unwrap();
    assert!(dir.adopt(&chunk).is_err(), "adopted twice");
    drop(kept);
    assert!(dir.adopt(&chunk).is_err(), "freed, not handed again");
}

#[test]
fn directories_are_removed_with_their_node_and_unseen_elsewhere() {
    let dir = SharedDir::create().unwrap().unwrap();
    let path = dir.path().to_path_buf();
    let mut pool = SegmentPool::attach(&path, 1 << 20).unwrap();
    let chunk = handed(&mut pool, 100, 5);
    let kept = dir.adopt(&chunk).unwrap();
    drop(pool);
    assert!(
        !path.join(&chunk.segment).exists(),
        "the producer unlinks its pool"
    );
    assert!(
        kept.iter().all(|&b| b == 5),
        "the node keeps what it adopted"
    );
    drop(dir);
    assert!(!path.exists());
    assert!(SegmentPool::attach(&path, 1 << 20).is_none());
}

/// A node directory named `name` under `root`, as its node would leave it; with a
/// lock file if `lock_file`.
fn left_over(root: &Path, name: &str, lock_file: bool) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("p1-0-0"), b"a chunk").unwrap();
    if lock_file {
        std::fs::write(dir.join(LOCK_FILE), b"").unwrap();
    }
    dir
}

#[test]
fn directories_whose_node_is_gone_are_removed() {
    // Its name says nothing: what counts is that nobody holds its lock.
    let stale = left_over(
        Path::new(SHM_ROOT),
        &format!("{DIR_PREFIX}{}-dead", std::process::id()),
        true,
    );
    let _dir = SharedDir::create().unwrap().unwrap();
    assert!(!stale.exists());
}

#[test]
fn directories_and_segments_are_readable_by_their_user_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let dir = SharedDir::create().unwrap().unwrap();
    assert_eq!(mode(dir.path()), 0o700);
    let mut pool = SegmentPool::attach(dir.path(), 1 << 20).unwrap();
    let chunk = handed(&mut pool, 100, 1);
    assert_eq!(mode(&dir.path().join(&chunk.segment)), 0o600);
    assert_eq!(mode(&dir.path().join(LOCK_FILE)), 0o600);
}

#[test]
fn the_sweep_removes_only_this_users_directories_whose_node_is_provably_gone() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    // A live node in another PID namespace: its PID means nothing here, but it
    // holds its lock.
    let elsewhere = left_over(root, &format!("{DIR_PREFIX}4294967294-1"), true);
    let held = File::open(elsewhere.join(LOCK_FILE)).unwrap();
    held.try_lock().unwrap();
    // A dead node whose PID now belongs to a live process (ours).
    let reused = left_over(root, &format!("{DIR_PREFIX}{}-2", std::process::id()), true);
    // Written by an older release, or by something else: no proof either way.
    let unknown = left_over(root, &format!("{DIR_PREFIX}4294967293-3"), false);
    // A link to somebody's directory.
    let victim = left_over(root, "victim", true);
    std::os::unix::fs::symlink(&victim, root.join(format!("{DIR_PREFIX}4294967292-4"))).unwrap();

    // Another user's sweep touches none of them.
    remove_stale(root, effective_uid().wrapping_add(1));
    assert!(elsewhere.exists() && reused.exists() && unknown.exists());

    let dir = SharedDir::create_in(root).unwrap().unwrap();
    assert!(elsewhere.exists(), "its node still holds the lock");
    assert!(!reused.exists(), "its lock was free");
    assert!(unknown.exists());
    assert!(victim.join("p1-0-0").exists(), "links are not followed");

    // A second node's sweep leaves the first alone while it lives.
    let second = SharedDir::create_in(root).unwrap().unwrap();
    assert!(dir.path().exists());
    // The node in the other namespace dies without cleaning up: the next sweep
    // removes what it left, and only that.
    drop(held);
    let _third = SharedDir::create_in(root).unwrap().unwrap();
    assert!(!elsewhere.exists());
    assert!(dir.path().exists() && second.path().exists() && unknown.exists());
}

#[test]
fn a_lease_is_written_in_place_and_given_back_if_not_handed() {
    let dir = SharedDir::create().unwrap().unwrap();
    let mut pool = SegmentPool::attach(dir.path(), 1 << 20).unwrap();
    let mut lease = pool.lease(5000).unwrap().unwrap();
    lease.as_mut_slice().fill(3);
    let name = format!("{lease:?}");
    drop(lease);
    let mut again = pool.lease(5000).unwrap().unwrap();
    assert_eq!(format!("{again:?}"), name, "the unused segment came back");
    assert!(again.as_slice().iter().all(|&b| b == 3));
    again.as_mut_slice()[0] = 4;
    let chunk = again.hand();
    let bytes = dir.adopt(&chunk).unwrap();
    assert_eq!((bytes[0], bytes[1], bytes.len()), (4, 3, 5000));
    assert_eq!(pool.bytes(), 8192, "one segment all along");
}
