//! What the analytics waits for in vain, as the coordinator sees it: per array, the
//! timestep it waits for and the ranks whose chunks of it did not come, the chunks no
//! rank declared, and the bridges whose ranks did not all attach.

use super::{ArrayState, CoordinatorState};
use crate::stall::{MissingArray, NAMED, Stall};

impl CoordinatorState {
    /// What the analytics waits for (its `waited` left at zero for the analytics).
    /// Arrays behind the others, or with chunks undeclared or some arrived, are named;
    /// when none is, every array is (the ranks all stopped publishing).
    pub fn stall(&self) -> Stall {
        let newest = self.arrays.values().filter_map(|a| a.last_complete).max();
        let behind = |a: &ArrayState| {
            a.last_complete.is_none()
                || a.last_complete < newest
                || !a.arrived.is_empty()
                || a.declared.len() < a.chunks
        };
        let any_behind = self.arrays.values().any(behind);
        let arrays = self
            .arrays
            .values()
            .filter(|a| behind(a) || !any_behind)
            .map(|a| self.missing(a))
            .collect();
        Stall {
            waited: std::time::Duration::ZERO,
            bridges: self.ranks.bridges(),
            declared: self.arrays.len(),
            arrays,
            unattached: self.ranks.unattached(),
            undeclared: Vec::new(),
        }
    }

    /// What is missing of one array at the timestep it waits for.
    fn missing(&self, array: &ArrayState) -> MissingArray {
        let (timestep, arrived) = match array.arrived.iter().next() {
            Some((&t, arrived)) => (Some(t), Some(arrived)),
            None => (array.last_complete.and_then(|t| t.checked_add(1)), None),
        };
        let absent: Vec<_> = array
            .declared
            .iter()
            .filter(|(position, _)| arrived.is_none_or(|a| !a.contains(*position)))
            .collect();
        let ranks = absent
            .iter()
            .take(NAMED)
            .map(|(_, p)| self.ranks.name(p.bridge, p.rank))
            .collect();
        let undeclared_count = array.chunks.saturating_sub(array.declared.len()) as u64;
        let undeclared = if undeclared_count == 0 {
            Vec::new()
        } else {
            undeclared_positions(array)
        };
        MissingArray {
            array: array.meta.name.to_string(),
            timestep,
            last_complete: array.last_complete,
            ranks,
            ranks_missing: absent.len(),
            undeclared,
            undeclared_count,
        }
    }
}

/// The first [`NAMED`] chunk positions of `array` that no rank declared, in C order.
fn undeclared_positions(array: &ArrayState) -> Vec<Vec<u32>> {
    let Ok(grid) = array.meta.grid() else {
        return Vec::new();
    };
    let counts = grid.grid_shape();
    let mut found = Vec::new();
    let mut position = vec![0usize; counts.len()];
    if counts.contains(&0) {
        return found;
    }
    loop {
        let at: Vec<u32> = position.iter().map(|&p| p as u32).collect();
        if !array.declared.contains_key(&at) {
            found.push(at);
            if found.len() == NAMED {
                return found;
            }
        }
        // The next position in C order, or the end.
        let mut axis = counts.len();
        loop {
            if axis == 0 {
                return found;
            }
            axis -= 1;
            position[axis] += 1;
            if position[axis] < counts[axis] {
                break;
            }
            position[axis] = 0;
        }
    }
}
