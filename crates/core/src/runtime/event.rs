//! The node's events and jobs as this runtime instantiates the protocol's: waiters are
//! pending gets ([`GetRequest`]), actor instances are registered classes' instances.

use crate::error::CoreError;
use crate::registry::ActorInstance;
use crate::runtime::get::GetRequest;
use doreisa_proto::ProtoError;
use doreisa_proto::node::Fill;

pub use doreisa_proto::node::{Envelope, NodeCounters, NodeMessage, TaskOutput};

/// An actor instance as the node keeps it.
pub type Instance = Box<dyn ActorInstance>;
/// A command from a thread of this node.
pub type Command = doreisa_proto::node::Command<GetRequest>;
/// Finished task bodies.
pub type Computed = doreisa_proto::node::Computed<Instance>;
/// Task bodies to run on the compute pool.
pub type Job = doreisa_proto::node::Job<Instance>;
/// Everything a node's inbox carries.
pub type NodeEvent = doreisa_proto::node::NodeEvent<GetRequest, Instance>;

/// Fills waiters with what the node decided (waking the threads that wait).
pub fn fill_all(fills: impl IntoIterator<Item = Fill<GetRequest>>) {
    for (request, index, value) in fills {
        request.fill(index, value.map_err(CoreError::from));
    }
}

/// Fills the waiters of a node that stopped: they are told `stopped` (why it stopped).
pub fn fill_all_stopped(fills: impl IntoIterator<Item = Fill<GetRequest>>, stopped: &CoreError) {
    for (request, index, value) in fills {
        request.fill(
            index,
            value.map_err(|e| match e {
                ProtoError::Stopped => stopped.clone(),
                e => CoreError::from(e),
            }),
        );
    }
}
