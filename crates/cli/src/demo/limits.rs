//! The demo's sizes, checked against this host before anything starts: an absurd
//! `--nodes`, `--ranks` or `--grid` is a clear error instead of an abort (or hours of
//! work) halfway through.

use super::DemoConfig;
use doreisa::core::host;

/// Copies of the whole field the demo holds at once: each rank's block and its next
/// step, the published chunks, and the analytics' window of 2.
const FIELD_COPIES: u64 = 5;

/// Whether this host can run the demo of `config`.
pub fn check(config: &DemoConfig) -> Result<(), String> {
    let (ranks, nodes, grid) = (config.ranks as u64, config.nodes as u64, config.grid as u64);
    // A thread per rank, and per node its own thread and a compute thread.
    let threads = nodes.saturating_mul(2).saturating_add(ranks);
    host::check_threads(
        &format!("the demo with {ranks} ranks on {nodes} nodes"),
        threads,
    )?;
    let bytes = grid
        .checked_mul(grid)
        .and_then(|cells| cells.checked_mul(FIELD_COPIES * size_of::<f64>() as u64))
        .unwrap_or(u64::MAX);
    host::check_memory(&format!("a {grid}x{grid} grid"), bytes)
}
