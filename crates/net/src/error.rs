//! The error type of doreisa-net.

use doreisa_core::CoreError;
use doreisa_proto::ProtoError;
use std::path::PathBuf;

/// What can go wrong between processes: a connection, a handshake, a cluster file, or
/// the runtime of the node this process runs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NetError {
    /// A connection or handshake failed, and why.
    #[error("network: {0}")]
    Network(String),
    /// A cluster file cannot be read, written or used, and why.
    #[error("cluster file {}: {reason}", path.display())]
    ClusterFile { path: PathBuf, reason: String },
    #[error(transparent)]
    Runtime(#[from] CoreError),
}

impl From<ProtoError> for NetError {
    fn from(e: ProtoError) -> Self {
        NetError::Runtime(e.into())
    }
}

impl From<NetError> for CoreError {
    /// The runtime's view of a failure between processes: the runtime's own error as
    /// it was, the others by their message.
    fn from(e: NetError) -> Self {
        match e {
            NetError::Runtime(e) => e,
            other => CoreError::Failed(other.to_string()),
        }
    }
}

/// Result with [`NetError`].
pub type Result<T, E = NetError> = std::result::Result<T, E>;
