//! MPI ranks (rsmpi) as the in situ layer's [`Communicator`]: one rank asks the
//! analytics for a steering value and every rank gets the same answer. Feature `mpi`.

use crate::insitu::Communicator;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator as _, Root as _};
use std::thread::ThreadId;

/// `MPI_COMM_WORLD` of an initialized MPI, used from the thread that made it (MPI's
/// `FUNNELED` level: the runtime's own threads never call MPI).
pub struct MpiWorld {
    rank: usize,
    size: usize,
    thread: ThreadId,
}

impl MpiWorld {
    /// The world of the MPI initialized in this process (`mpi::initialize()` first).
    pub fn new() -> Self {
        let world = SimpleCommunicator::world();
        MpiWorld {
            rank: world.rank() as usize,
            size: world.size() as usize,
            thread: std::thread::current().id(),
        }
    }
}

impl Default for MpiWorld {
    fn default() -> Self {
        Self::new()
    }
}

impl Communicator for MpiWorld {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn broadcast(&self, root: usize, data: Vec<u8>) -> Vec<u8> {
        assert_eq!(
            std::thread::current().id(),
            self.thread,
            "an MpiWorld is used only from the thread that made it"
        );
        let world = SimpleCommunicator::world();
        let root_process = world.process_at_rank(root as i32);
        let mut len = data.len() as u64;
        root_process.broadcast_into(&mut len);
        let mut buffer = if self.rank == root {
            data
        } else {
            vec![0u8; len as usize]
        };
        root_process.broadcast_into(&mut buffer[..]);
        buffer
    }
}
