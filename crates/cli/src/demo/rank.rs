//! One iteration of a heat-simulation rank: read the steering value every few
//! iterations (the one decided a few timesteps back, so that every run steers
//! alike), step the block, publish the field and the heat the source injected.
//! Shared by the demo (ranks as threads) and `examples/heat2d_mpi.rs` (MPI ranks),
//! which includes this file beside `heat.rs`.

use super::heat::{Block, Decomposition, Neighbours};
use doreisa::array::DType;
use doreisa::insitu::{ArrayMeta, Client, Published};
use std::time::Duration;

/// How often (iterations) a rank reads the steering value.
pub const STEER_EVERY: i64 = 5;

/// How many iterations back the steering value a rank reads was decided: the value
/// for timestep `t - STEER_LAG`, set by the analytics once it analysed that timestep.
/// A timestep-tagged read gives every rank the same value whatever the timing, so the
/// run is reproducible; one more than the bridges' `max_ahead` (3), it seldom waits.
pub const STEER_LAG: i64 = 4;

/// How long a rank waits for a steering value before it keeps its current one.
pub const STEER_WAIT: Duration = Duration::from_secs(60);

/// The timestep whose steering value a rank reads at iteration `t`, if it reads one.
pub fn steering_read_at(t: i64) -> Option<i64> {
    (t % STEER_EVERY == 0 && t >= STEER_LAG).then(|| t - STEER_LAG)
}

/// Whether the analytics sets the steering value at timestep `t` (a rank reads it).
pub fn steering_set_at(t: i64) -> bool {
    t.checked_add(STEER_LAG)
        .is_some_and(|read| read % STEER_EVERY == 0)
}

/// What rank `rank` publishes: its block of the field ("temperature") and the heat its
/// source injected ("injected", one value per rank).
pub fn published(decomposition: &Decomposition, rank: usize) -> Result<Vec<Published>, String> {
    let n = decomposition.n;
    let (rows, cols) = decomposition.block();
    let (br, bc) = decomposition.position(rank);
    let at = [br as u32, bc as u32];
    let field = ArrayMeta::new("temperature", &[n, n], &[rows, cols], DType::F64);
    let grid = [decomposition.px, decomposition.py];
    let power = ArrayMeta::new("injected", &grid, &[1, 1], DType::F64);
    Ok(vec![
        Published::new(field, &at).map_err(|e| e.to_string())?,
        Published::new(power, &at).map_err(|e| e.to_string())?,
    ])
}

/// Iteration `t` of rank `rank`; `scale` is the source's steered scale. The field is
/// written straight into a chunk buffer and handed over without a copy. Publishing
/// failures are logged, never returned: analytics failing never stops the simulation.
pub fn iterate<N: Neighbours>(
    rank: usize,
    t: i64,
    client: &mut Client,
    block: &mut Block<N>,
    scale: &mut f64,
) -> Result<(), String> {
    if let Some(at) = steering_read_at(t) {
        *scale = client
            .get_at("source_scale", at, STEER_WAIT, *scale)
            .unwrap_or(*scale);
    }
    let injected = block.step(*scale)?;
    let published = client
        .chunk_buffer::<f64>("temperature")
        .and_then(|mut field| {
            block.interior_to(&mut field);
            client.publish_buffer("temperature", t, field)?;
            client.publish_slice("injected", t, &[injected])
        });
    if let Err(e) = published {
        tracing::warn!(rank, timestep = t, error = %e, "publishing failed");
    }
    Ok(())
}
