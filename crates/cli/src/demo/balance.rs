//! The heat balance the analytics checks: between two iterations the total heat changes
//! by what the source injected minus what left through the outer boundary (`ALPHA` ×
//! the sum of the edge cells, the boundary being held at 0). Shared by the demo and
//! `examples/heat2d_mpi.rs`, which includes this file.

use doreisa::array::{Array, SliceArg};

/// The sum of the four edges of `u` (corner cells count twice: two faces).
pub fn edge_sum(u: &Array) -> doreisa::array::Result<Array> {
    let side = |args: &[SliceArg]| u.slice(args)?.sum();
    let full = SliceArg::FULL;
    let parts = [
        side(&[SliceArg::Index(0), full])?,
        side(&[SliceArg::Index(-1), full])?,
        side(&[full, SliceArg::Index(0)])?,
        side(&[full, SliceArg::Index(-1)])?,
    ];
    ((&parts[0] + &parts[1])? + &parts[2])? + &parts[3]
}

/// Heat in minus heat out, minus the change of the total (0 if conserved): `total` and
/// `injected` of this iteration, `before` the (total, edge sum) of the previous one.
pub fn imbalance(total: f64, injected: f64, before: (f64, f64), alpha: f64) -> f64 {
    let (total_before, edges_before) = before;
    total - (total_before - alpha * edges_before + injected)
}
