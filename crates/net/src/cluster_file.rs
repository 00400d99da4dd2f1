//! The cluster file the head writes and workers, drivers and `status` read: where the
//! head listens, the cluster token, the head certificate's fingerprint, and the wire
//! version the head speaks. It holds a secret: it is written readable by its owner only.
//!
//! Writing it is safe against the usual file races. The contents go to a temporary
//! file with a random name, created exclusively in the same folder (never through a
//! symbolic link), mode 0600, and locked (`flock`) before it takes the final name: the
//! file is locked by its head from the moment it appears until the head stops. A file
//! whose lock is held belongs to a live head and is never replaced; a file nobody
//! locks was left by a head that died, and is. A head removes the file only while it
//! is still its own.

use crate::error::NetError;
use doreisa_core::CoreError;
use doreisa_proto::wire::PROTOCOL_VERSION;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The environment variable naming the cluster file when no flag does.
pub const CLUSTER_FILE_ENV: &str = "DOREISA_CLUSTER_FILE";

/// How many times a write looks again when another process changed the file meanwhile.
const WRITE_ATTEMPTS: usize = 8;

/// How to reach and join a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterFile {
    /// The wire version the head speaks (files written before versions were recorded
    /// came from version 1).
    #[serde(default = "first_version")]
    pub version: u32,
    /// The head's QUIC address.
    pub head: SocketAddr,
    /// The cluster token, hex.
    pub token: String,
    /// SHA-256 of the head's certificate, hex.
    pub fingerprint: String,
}

fn first_version() -> u32 {
    1
}

fn file_error(path: &Path, reason: impl Into<String>) -> NetError {
    NetError::ClusterFile {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

impl ClusterFile {
    /// The file of a head of this version at `head`.
    pub fn new(head: SocketAddr, token: &[u8], fingerprint: &[u8]) -> Self {
        ClusterFile {
            version: PROTOCOL_VERSION,
            head,
            token: hex(token),
            fingerprint: hex(fingerprint),
        }
    }

    pub fn token_bytes(&self) -> Result<Vec<u8>, NetError> {
        unhex(&self.token).ok_or_else(|| invalid("token"))
    }

    pub fn fingerprint_bytes(&self) -> Result<Vec<u8>, NetError> {
        unhex(&self.fingerprint).ok_or_else(|| invalid("fingerprint"))
    }

    /// Whether a process of this version can join the head that wrote the file; the
    /// reason names both versions when not.
    pub fn check_version(&self) -> Result<(), String> {
        if self.version == PROTOCOL_VERSION {
            return Ok(());
        }
        Err(format!(
            "written by a head speaking wire version {}, and this doreisa-rs speaks version \
             {PROTOCOL_VERSION}: run the same release on every node",
            self.version
        ))
    }

    /// Reads the file at `path`; a file of another wire version is refused.
    pub fn read(path: &Path) -> Result<ClusterFile, NetError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| file_error(path, format!("cannot read it: {e}")))?;
        let file: ClusterFile =
            serde_json::from_str(&text).map_err(|e| file_error(path, format!("not valid: {e}")))?;
        file.check_version().map_err(|e| file_error(path, e))?;
        Ok(file)
    }

    /// Writes the file at `path` for a running head and locks it for as long as the
    /// returned hold lives (dropping it removes the file, if still this one). Refused,
    /// with the reason, when `path` is the file of a live head or a symbolic link.
    pub fn write(&self, path: &Path) -> Result<HeldClusterFile, NetError> {
        let text = serde_json::to_string_pretty(self).expect("plain fields");
        for _ in 0..WRITE_ATTEMPTS {
            // Whoever holds the lock of the file in place is a live head.
            let previous = open_existing(path)?;
            if let Some(previous) = &previous {
                match previous.try_lock() {
                    Ok(()) => {}
                    Err(std::fs::TryLockError::WouldBlock) => {
                        return Err(file_error(path, live_head(previous)));
                    }
                    Err(std::fs::TryLockError::Error(e)) => {
                        return Err(file_error(path, format!("cannot lock it: {e}")));
                    }
                }
                if !same_file(previous, path) {
                    continue; // replaced meanwhile: look again
                }
            }
            let (temporary, file) = create_temporary(path)?;
            match place(&file, &temporary, path, text.as_bytes(), previous.is_some()) {
                Ok(true) => {
                    return Ok(HeldClusterFile {
                        path: path.to_path_buf(),
                        file,
                    });
                }
                Ok(false) => {
                    let _ = std::fs::remove_file(&temporary);
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&temporary);
                    return Err(file_error(path, format!("cannot write it: {e}")));
                }
            }
        }
        Err(file_error(
            path,
            "other processes keep replacing it: give this head a cluster file of its own",
        ))
    }
}

/// A head's hold on its cluster file: while it lives the file stays locked and no
/// other head replaces it; dropped, it removes the file if the file is still this one.
#[must_use = "the cluster file is removed when its hold is dropped"]
#[derive(Debug)]
pub struct HeldClusterFile {
    path: PathBuf,
    file: File,
}

impl HeldClusterFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for HeldClusterFile {
    fn drop(&mut self) {
        // Still locked by us: no other head can have replaced it since the check.
        if same_file(&self.file, &self.path)
            && let Err(e) = std::fs::remove_file(&self.path)
        {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove the cluster file");
        }
    }
}

/// The file now at `path`, opened without following a symbolic link or blocking on a
/// FIFO; `None` if there is none.
fn open_existing(path: &Path) -> Result<Option<File>, NetError> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    match options.open(path) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Err(file_error(
            path,
            "it is a symbolic link, which a head does not follow: give the real path",
        )),
        Err(e) => Err(file_error(path, format!("cannot open it: {e}"))),
    }
}

/// Why a locked file is not replaced, with the address of the head that holds it.
fn live_head(mut file: &File) -> String {
    let mut text = String::new();
    let head = file
        .read_to_string(&mut text)
        .ok()
        .and_then(|_| serde_json::from_str::<ClusterFile>(&text).ok())
        .map(|f| format!(" (listening on {})", f.head))
        .unwrap_or_default();
    format!(
        "it belongs to a running head{head}: stop that head first, or give this one another \
         cluster file"
    )
}

/// A new, empty file with a random name next to `path`, readable by its owner only.
fn create_temporary(path: &Path) -> Result<(PathBuf, File), NetError> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| file_error(path, "it names no file"))?
        .to_string_lossy();
    let mut last = None;
    for _ in 0..WRITE_ATTEMPTS {
        let mut random = [0u8; 12];
        {
            use ring::rand::SecureRandom;
            ring::rand::SystemRandom::new()
                .fill(&mut random)
                .map_err(|_| file_error(path, "no system randomness for a temporary name"))?;
        }
        let temporary = folder.join(format!(".{name}.{}.tmp", hex(&random)));
        let mut options = OpenOptions::new();
        // create_new: O_EXCL, which never follows a symbolic link.
        options.read(true).write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
        }
        match options.open(&temporary) {
            Ok(file) => return Ok((temporary, file)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => {
                return Err(file_error(
                    path,
                    format!("cannot create {}: {e}", temporary.display()),
                ));
            }
        }
    }
    Err(file_error(
        path,
        format!("cannot create a temporary file next to it: {last:?}"),
    ))
}

/// Locks and fills the `temporary` file, then gives it the name `path`: replacing the
/// stale file we locked, or only if there is still no file at all. `Ok(false)`: another
/// file appeared meanwhile.
fn place(
    mut file: &File,
    temporary: &Path,
    path: &Path,
    text: &[u8],
    replace: bool,
) -> std::io::Result<bool> {
    // Nobody else knows this file yet: the lock cannot be held.
    file.try_lock().map_err(std::io::Error::from)?;
    file.write_all(text)?;
    file.sync_all()?;
    if replace {
        std::fs::rename(temporary, path)?;
        return Ok(true);
    }
    match std::fs::hard_link(temporary, path) {
        Ok(()) => {
            std::fs::remove_file(temporary)?;
            Ok(true)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether `path` names the open `file` (and not another file put there since).
fn same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::symlink_metadata(path)) {
            (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

fn invalid(what: &str) -> NetError {
    CoreError::Invalid(format!("the cluster file's {what} is not hex")).into()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests;
