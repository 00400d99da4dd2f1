//! The demo's sizes, checked against this host before anything starts: an absurd
//! `--ranks` or `--grid` is a clear error instead of an abort (or hours of work)
//! halfway through (`--nodes` is checked by the embedded cluster).

use super::DemoConfig;
use doreisa::core::host;

/// Copies of the whole field the demo holds at once: each rank's block and its next
/// step, the published chunks, and the analytics' window of 2.
const FIELD_COPIES: u64 = 5;

/// Whether this host can run the demo of `config`.
pub fn check(config: &DemoConfig) -> Result<(), String> {
    let (ranks, grid) = (config.ranks as u64, config.grid as u64);
    // A thread per rank (the embedded cluster checks its own threads and nodes).
    host::check_threads(&format!("the demo with {ranks} ranks"), ranks)?;
    let bytes = grid
        .checked_mul(grid)
        .and_then(|cells| cells.checked_mul(FIELD_COPIES * size_of::<f64>() as u64))
        .unwrap_or(u64::MAX);
    host::check_memory(&format!("a {grid}x{grid} grid"), bytes)
}
