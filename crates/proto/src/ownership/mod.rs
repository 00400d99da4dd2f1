//! Ray's ownership protocol (distributed reference counting) as a sans-IO state machine.
//!
//! Each worker has one [`RefTable`]. The owner of an object is the worker that created
//! its ref (by `put` or by submitting the task that returns it), not the one that
//! computes it. The owner keeps the object's metadata: local and submitted-task counts,
//! the borrowers it knows of, containment in other objects, and lineage (the tasks
//! needed to rebuild it). Borrowers account for the refs they pass on and report them
//! upward (to their caller in a task reply, or to the owner when asked), so the owner
//! never needs a global counter and nothing is freed while a live worker uses it.
//!
//! The table holds no sockets, clocks, threads or actors. Inputs are method calls
//! (local events such as handle drops and task replies) and
//! [`RefTable::handle_message`]; outputs are [`Effect`]s: messages to send, values to
//! release, values lost, tasks to re-run. `sim` (feature `sim`) drives several tables in one
//! deterministic simulation with reordering, drops and worker deaths.

mod borrow;
mod failure;
mod message;
mod reference;
#[cfg(feature = "sim")]
pub mod sim;
mod table;

pub use message::{BorrowReport, Effect, LossReason, ProtocolMessage, ReportedRef};
pub use table::{FinishedTask, RefTable, SubmittedTask, TableConfig};
