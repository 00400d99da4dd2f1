//! Kernels: the functions task-graph tasks run, registered under stable names so that
//! every node (every process) resolves a name to the same code.

use crate::SchedError;
use bytes::Bytes;
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// A kernel: its parameters and input chunks (as stored: bytes) to its output chunk.
/// Errors are messages; the scheduler adds the kernel's name.
pub type KernelFn = fn(params: &[u8], inputs: &[Bytes]) -> Result<Bytes, String>;

/// Kernels by name.
#[derive(Clone, Default)]
pub struct KernelRegistry {
    kernels: FxHashMap<Arc<str>, KernelFn>,
}

impl KernelRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `kernel` as `name` (a later registration of the same name wins).
    pub fn register(&mut self, name: &str, kernel: KernelFn) {
        self.kernels.insert(name.into(), kernel);
    }

    pub fn get(&self, name: &str) -> Result<KernelFn, SchedError> {
        self.kernels
            .get(name)
            .copied()
            .ok_or_else(|| SchedError::UnknownKernel(name.to_string()))
    }

    /// Runs kernel `name`.
    pub fn run(&self, name: &str, params: &[u8], inputs: &[Bytes]) -> Result<Bytes, SchedError> {
        let kernel = self.get(name)?;
        kernel(params, inputs).map_err(|message| SchedError::KernelFailed {
            kernel: name.to_string(),
            message,
        })
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<Arc<str>> {
        let mut names: Vec<_> = self.kernels.keys().cloned().collect();
        names.sort();
        names
    }
}

impl std::fmt::Debug for KernelRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelRegistry")
            .field("kernels", &self.names())
            .finish()
    }
}
