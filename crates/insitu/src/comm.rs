//! Collective operations among a simulation's ranks, for answers that every rank must
//! see alike (steering values). MPI communicators implement it behind the `mpi`
//! feature; [`ThreadGroup`] serves ranks that are threads of one process.

use std::sync::{Arc, Barrier, Mutex};

/// What the in situ layer needs of a communicator.
pub trait Communicator: Send + Sync {
    fn rank(&self) -> usize;
    fn size(&self) -> usize;
    /// Every rank gets `root`'s bytes (`data` is only read on `root`).
    fn broadcast(&self, root: usize, data: Vec<u8>) -> Vec<u8>;
}

/// Ranks that are threads of one process.
pub struct ThreadGroup {
    size: usize,
    barrier: Barrier,
    slot: Mutex<Vec<u8>>,
}

impl ThreadGroup {
    /// A group of `size` ranks; hand [`ThreadGroup::rank`] to each.
    pub fn new(size: usize) -> Arc<ThreadGroup> {
        Arc::new(ThreadGroup {
            size,
            barrier: Barrier::new(size),
            slot: Mutex::new(Vec::new()),
        })
    }

    pub fn rank(self: &Arc<Self>, rank: usize) -> Arc<dyn Communicator> {
        Arc::new(ThreadRank {
            rank,
            group: self.clone(),
        })
    }
}

struct ThreadRank {
    rank: usize,
    group: Arc<ThreadGroup>,
}

impl Communicator for ThreadRank {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.group.size
    }

    fn broadcast(&self, root: usize, data: Vec<u8>) -> Vec<u8> {
        if self.rank == root {
            *self.group.slot.lock().unwrap_or_else(|e| e.into_inner()) = data;
        }
        self.group.barrier.wait();
        let value = self
            .group
            .slot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        self.group.barrier.wait();
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rank_gets_the_roots_bytes() {
        let group = ThreadGroup::new(4);
        let got: Vec<Vec<u8>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|r| {
                    let comm = group.rank(r);
                    s.spawn(move || comm.broadcast(2, vec![r as u8; 3]))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(got.iter().all(|v| v == &vec![2u8; 3]));
    }
}
