use super::*;
use std::os::unix::fs::{PermissionsExt, symlink};

fn sample() -> ClusterFile {
    ClusterFile::new("127.0.0.1:7070".parse().unwrap(), &[0xab; 32], &[1, 2, 255])
}

fn other() -> ClusterFile {
    ClusterFile::new("127.0.0.1:9090".parse().unwrap(), &[0xcd; 32], &[3])
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn reason(error: NetError) -> String {
    match error {
        NetError::ClusterFile { reason, .. } => reason,
        other => panic!("not a cluster file error: {other:?}"),
    }
}

#[test]
fn round_trips_through_a_file_readable_by_its_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.json");
    let held = sample().write(&path).unwrap();
    let read = ClusterFile::read(&path).unwrap();
    assert_eq!(read, sample());
    assert_eq!(read.version, PROTOCOL_VERSION);
    assert_eq!(read.token_bytes().unwrap(), vec![0xab; 32]);
    assert_eq!(read.fingerprint_bytes().unwrap(), vec![1, 2, 255]);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        names(dir.path()),
        ["cluster.json"],
        "no temporary file left"
    );
    assert_eq!(held.path(), path);
    drop(held);
    assert!(!path.exists(), "the head removes its file");
}

#[test]
fn the_temporary_file_is_not_a_predictable_name_that_a_symlink_can_redirect() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    // The names an attacker would guess for the temporary file.
    symlink(&victim, dir.path().join("cluster.tmp")).unwrap();
    symlink(&victim, dir.path().join("cluster.json.tmp")).unwrap();
    let path = dir.path().join("cluster.json");
    let _held = sample().write(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(ClusterFile::read(&path).unwrap(), sample());
    assert_eq!(
        names(dir.path()),
        ["cluster.json", "cluster.json.tmp", "cluster.tmp", "victim"]
    );
}

#[test]
fn the_file_is_owner_only_even_where_a_readable_file_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.json");
    for leftover in [path.clone(), dir.path().join("cluster.tmp")] {
        std::fs::write(&leftover, "old").unwrap();
        std::fs::set_permissions(&leftover, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let _held = sample().write(&path).unwrap();
    assert_eq!(mode(&path), 0o600, "the token is not readable by others");
    assert_eq!(ClusterFile::read(&path).unwrap(), sample());
}

#[test]
fn a_symbolic_link_in_place_of_the_file_is_refused_and_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let path = dir.path().join("cluster.json");
    symlink(&victim, &path).unwrap();
    let error = reason(sample().write(&path).unwrap_err());
    assert!(error.contains("symbolic link"), "{error}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(std::fs::symlink_metadata(&path).unwrap().is_symlink());
}

#[test]
fn a_failed_rename_leaves_no_temporary_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.json");
    // A directory in the way: the rename over it fails.
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("inside"), "x").unwrap();
    let error = reason(sample().write(&path).unwrap_err());
    assert!(error.contains("cannot write it"), "{error}");
    assert_eq!(names(dir.path()), ["cluster.json"]);
}

#[test]
fn the_file_of_a_live_head_is_not_replaced_and_the_refusal_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.json");
    let first = sample().write(&path).unwrap();
    let error = reason(other().write(&path).unwrap_err());
    assert!(error.contains("running head"), "{error}");
    assert!(
        error.contains("127.0.0.1:7070"),
        "names the live head: {error}"
    );
    assert_eq!(ClusterFile::read(&path).unwrap(), sample(), "untouched");
    assert_eq!(names(dir.path()), ["cluster.json"]);
    drop(first);
    let _second = other().write(&path).unwrap();
    assert_eq!(ClusterFile::read(&path).unwrap(), other());
}

#[test]
fn the_file_of_a_dead_head_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.json");
    // Written and not locked: its head is gone.
    std::fs::write(&path, serde_json::to_string(&other()).unwrap()).unwrap();
    let _held = sample().write(&path).unwrap();
    assert_eq!(ClusterFile::read(&path).unwrap(), sample());
}

#[test]
fn heads_racing_for_one_file_leave_exactly_one_owner() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.json");
    let barrier = std::sync::Barrier::new(8);
    let outcomes: Vec<Result<HeldClusterFile, NetError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8u16)
            .map(|i| {
                let (path, barrier) = (&path, &barrier);
                scope.spawn(move || {
                    let file = ClusterFile::new(
                        SocketAddr::from(([127, 0, 0, 1], 8000 + i)),
                        &[i as u8; 32],
                        &[1],
                    );
                    barrier.wait();
                    file.write(path)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<&HeldClusterFile> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let written = ClusterFile::read(&path).unwrap();
    for outcome in &outcomes {
        if let Err(e) = outcome {
            assert!(e.to_string().contains("running head"), "{e}");
        }
    }
    assert_eq!(names(dir.path()), ["cluster.json"]);
    assert!(written.head.port() >= 8000);
}

#[test]
fn a_head_removes_only_its_own_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.json");
    let held = sample().write(&path).unwrap();
    // Someone replaced it behind the head's back.
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, "someone else's").unwrap();
    drop(held);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "someone else's");
}

#[test]
fn a_file_of_another_version_is_refused_naming_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.json");
    let future = ClusterFile {
        version: 99,
        ..sample()
    };
    std::fs::write(&path, serde_json::to_string(&future).unwrap()).unwrap();
    let error = ClusterFile::read(&path).unwrap_err().to_string();
    assert!(error.contains("version 99"), "{error}");
    assert!(
        error.contains(&format!("version {PROTOCOL_VERSION}")),
        "{error}"
    );
    assert!(
        error.starts_with("cluster file "),
        "not a network error: {error}"
    );
    // Files from before versions were recorded came from version 1.
    let mut old = serde_json::to_value(sample()).unwrap();
    old.as_object_mut().unwrap().remove("version");
    let old: ClusterFile = serde_json::from_value(old).unwrap();
    assert_eq!(old.version, 1);
}

#[test]
fn missing_or_unreadable_files_are_file_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.json");
    let error = ClusterFile::read(&path).unwrap_err().to_string();
    assert!(error.starts_with("cluster file "), "{error}");
    assert!(!error.contains("network"), "{error}");
}

#[test]
fn bad_hex_is_an_error() {
    let mut file = ClusterFile::new("127.0.0.1:1".parse().unwrap(), &[1], &[2]);
    file.token = "zz".into();
    assert!(file.token_bytes().is_err());
    file.fingerprint = "abc".into();
    assert!(file.fingerprint_bytes().is_err());
}
