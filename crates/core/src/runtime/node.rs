//! The node state machine (`doreisa_proto::node`) over this runtime's object store.

use crate::ObjectStore;
use crate::ids::ObjectId;
use crate::registry::ActorInstance;
use crate::runtime::get::GetRequest;
use bytes::Bytes;
use doreisa_objstore::CopyKind;
use doreisa_proto::ProtoError;
use doreisa_proto::node::Host;
use std::sync::Arc;

/// The node state machine of this runtime.
pub type NodeState = doreisa_proto::node::NodeState<StoreHost>;

/// A node's object store, as the state machine sees it.
pub struct StoreHost {
    pub store: Arc<ObjectStore>,
}

impl Host for StoreHost {
    type Waiter = GetRequest;
    type Instance = Box<dyn ActorInstance>;

    fn contains(&self, id: ObjectId) -> bool {
        self.store.contains(id)
    }

    fn get(&self, id: ObjectId) -> Result<Option<Bytes>, ProtoError> {
        self.store
            .get(id)
            .map_err(|e| ProtoError::Store(e.to_string()))
    }

    fn put(&mut self, id: ObjectId, bytes: Bytes, primary: bool) -> Result<(), ProtoError> {
        let kind = if primary {
            CopyKind::Primary
        } else {
            CopyKind::Secondary
        };
        self.store
            .put(id, bytes, kind)
            .map_err(|e| ProtoError::Store(e.to_string()))
    }

    fn delete(&mut self, id: ObjectId) {
        self.store.delete(id);
    }
}
