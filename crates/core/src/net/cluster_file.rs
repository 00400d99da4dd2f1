//! The cluster file the head writes and workers, drivers and `status` read: where the
//! head listens, the cluster token, and the head certificate's fingerprint. It holds a
//! secret: it is written readable by its owner only.

use crate::error::CoreError;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::Path;

/// The environment variable naming the cluster file when no flag does.
pub const CLUSTER_FILE_ENV: &str = "DOREISA_CLUSTER_FILE";

/// How to reach and join a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterFile {
    /// The head's QUIC address.
    pub head: SocketAddr,
    /// The cluster token, hex.
    pub token: String,
    /// SHA-256 of the head's certificate, hex.
    pub fingerprint: String,
}

impl ClusterFile {
    pub fn new(head: SocketAddr, token: &[u8], fingerprint: &[u8]) -> Self {
        ClusterFile {
            head,
            token: hex(token),
            fingerprint: hex(fingerprint),
        }
    }

    pub fn token_bytes(&self) -> Result<Vec<u8>, CoreError> {
        unhex(&self.token).ok_or_else(|| invalid("token"))
    }

    pub fn fingerprint_bytes(&self) -> Result<Vec<u8>, CoreError> {
        unhex(&self.fingerprint).ok_or_else(|| invalid("fingerprint"))
    }

    pub fn read(path: &Path) -> Result<ClusterFile, CoreError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CoreError::Network(format!("cannot read cluster file {}: {e}", path.display()))
        })?;
        serde_json::from_str(&text).map_err(|e| {
            CoreError::Network(format!("cluster file {} is not valid: {e}", path.display()))
        })
    }

    /// Writes the file (owner read/write only), replacing any previous one.
    pub fn write(&self, path: &Path) -> Result<(), CoreError> {
        let text = serde_json::to_string_pretty(self).expect("plain fields");
        let error = |e: std::io::Error| {
            CoreError::Network(format!("cannot write cluster file {}: {e}", path.display()))
        };
        let temporary = path.with_extension("tmp");
        {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&temporary).map_err(error)?;
            file.write_all(text.as_bytes()).map_err(error)?;
        }
        std::fs::rename(&temporary, path).map_err(error)
    }
}

fn invalid(what: &str) -> CoreError {
    CoreError::Network(format!("the cluster file's {what} is not hex"))
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
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_a_file() {
        let dir = std::env::temp_dir().join(format!("doreisa-cf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cluster.json");
        let file = ClusterFile::new("127.0.0.1:7070".parse().unwrap(), &[0xab; 32], &[1, 2, 255]);
        file.write(&path).unwrap();
        let read = ClusterFile::read(&path).unwrap();
        assert_eq!(read, file);
        assert_eq!(read.token_bytes().unwrap(), vec![0xab; 32]);
        assert_eq!(read.fingerprint_bytes().unwrap(), vec![1, 2, 255]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "not readable by others");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_hex_is_an_error() {
        let mut file = ClusterFile::new("127.0.0.1:1".parse().unwrap(), &[1], &[2]);
        file.token = "zz".into();
        assert!(file.token_bytes().is_err());
        file.fingerprint = "abc".into();
        assert!(file.fingerprint_bytes().is_err());
    }
}
