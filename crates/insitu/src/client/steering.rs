//! A rank's steering reads: a value tagged with a timestep is the rank's own read (it
//! never changes once set, so ranks need not read together); the latest value is
//! read collectively when the client has a communicator.

use super::Client;
use crate::error::{InsituError, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

impl Client {
    /// The steering value of `key` set for `timestep`, or `default` when there is none
    /// now; with `None`, the latest value set (collective with a communicator: every
    /// rank must call it at the same point, and all get rank 0's answer). A value set
    /// for a timestep never changes, and a read of it is this rank's alone: ranks may
    /// read at different timesteps, or not at all. To read a value the analytics may
    /// not have set yet, use [`Client::get_at`].
    pub fn get<V: Serialize + DeserializeOwned>(
        &self,
        key: &str,
        timestep: Option<i64>,
        default: V,
    ) -> Result<V> {
        self.read(key, timestep, None, default)
    }

    /// The steering value of `key` set for `timestep`, waiting (up to `wait`) until the
    /// analytics set it, or set a later timestep without it, or stopped (`default`
    /// then, or when the time runs out): deterministic steering. Each rank reads for
    /// itself, when it likes; the ranks of a bridge share one question to the
    /// coordinator, which answers as soon as it knows.
    pub fn get_at<V: Serialize + DeserializeOwned>(
        &self,
        key: &str,
        timestep: i64,
        wait: Duration,
        default: V,
    ) -> Result<V> {
        self.read(key, Some(timestep), Some(wait), default)
    }

    fn read<V: Serialize + DeserializeOwned>(
        &self,
        key: &str,
        timestep: Option<i64>,
        wait: Option<Duration>,
        default: V,
    ) -> Result<V> {
        let ask = || -> Result<Option<Vec<u8>>> { self.bridge.feedback(key, timestep, wait) };
        let found = match (&self.comm, timestep) {
            (Some(comm), None) => {
                // Rank 0 asks; a failure there is everyone's default, never a hang.
                let mine = if comm.rank() == 0 {
                    encode_value(&ask().unwrap_or(None))?
                } else {
                    Vec::new()
                };
                let shared = comm.broadcast(0, mine);
                doreisa_core::codec::decode::<Option<Vec<u8>>>(&shared)
                    .map_err(|e| InsituError::Runtime(e.into()))?
            }
            _ => ask()?,
        };
        match found {
            Some(bytes) => {
                doreisa_core::codec::decode(&bytes).map_err(|e| InsituError::Runtime(e.into()))
            }
            None => Ok(default),
        }
    }
}

/// A typed steering value, encoded as the coordinator keeps it.
pub(crate) fn encode_value<V: Serialize>(value: &V) -> Result<Vec<u8>> {
    doreisa_core::codec::encode(value).map_err(|e| InsituError::Runtime(e.into()))
}
