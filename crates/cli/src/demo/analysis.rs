//! What the heat demo's analytics checks and decides, shared by the demo and
//! `examples/heat2d_mpi.rs` (which includes this file):
//! - the heat balance: between two iterations the total heat changes by what the source
//!   injected minus what left through the outer boundary (`ALPHA` × the sum of the edge
//!   cells, the boundary being held at 0);
//! - the hot-spot alert: a thermostat that switches the source off when too hot and on
//!   again when cool.

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

/// Above this maximum temperature the source is switched off; below `COOL`, on again.
pub const HOT: f64 = 70.0;
pub const COOL: f64 = 55.0;

/// What the thermostat does to the heat source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    Off,
    On,
}

impl Switch {
    /// The source scale the simulation is steered to.
    pub fn scale(self) -> f64 {
        match self {
            Switch::Off => 0.0,
            Switch::On => 1.0,
        }
    }
}

/// The hot-spot alert, with hysteresis between `HOT` and `COOL`.
#[derive(Debug, Default)]
pub struct Thermostat {
    off: bool,
}

impl Thermostat {
    /// The source scale it calls for now.
    pub fn scale(&self) -> f64 {
        if self.off {
            Switch::Off.scale()
        } else {
            Switch::On.scale()
        }
    }

    /// The switch a maximum temperature of `max` calls for, if the source changes.
    pub fn update(&mut self, max: f64) -> Option<Switch> {
        if max > HOT && !self.off {
            self.off = true;
            Some(Switch::Off)
        } else if max < COOL && self.off {
            self.off = false;
            Some(Switch::On)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thermostat_switches_once_each_way_with_hysteresis() {
        let mut thermostat = Thermostat::default();
        assert_eq!(thermostat.update(60.0), None, "below HOT, on already");
        assert_eq!(thermostat.update(71.0), Some(Switch::Off));
        assert_eq!(thermostat.update(75.0), None, "off already");
        assert_eq!(thermostat.update(60.0), None, "not yet below COOL");
        assert_eq!(thermostat.update(54.0), Some(Switch::On));
        assert_eq!(Switch::Off.scale(), 0.0);
    }
}
