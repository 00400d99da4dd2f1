//! Object values on a node: gets, fetches, arrivals, failures and frees.
//!
//! A value missing here is fetched through its owner: the owner's node sends it if it
//! holds it, forwards the request to the node holding the primary copy, or parks the
//! request while the value is being computed. Copies are dropped when the reference
//! tables release them.

use super::NodeMessage;
use super::{Host, NodeState, ObjectWaiter, Waiter};
use crate::error::ProtoError;
use crate::ids::{NodeId, ObjectId, WorkerId};
use bytes::Bytes;

impl<H: Host> NodeState<H> {
    /// `worker` wants the values of `request.ids`.
    pub(super) fn get(&mut self, worker: WorkerId, request: H::Waiter) {
        for (index, &id) in request.ids().iter().enumerate() {
            if let Some(value) = self.local_value(id) {
                self.out.fills.push((request.clone(), index, value));
                continue;
            }
            let owner = self.tables[&worker].owner_of(id).unwrap_or(id.creator);
            self.waiters
                .entry(id)
                .or_default()
                .push(ObjectWaiter::Get(request.clone(), index));
            self.ensure_fetch(id, owner);
        }
    }

    /// The value of `id` if it can be answered here now: the bytes, or why never.
    pub(super) fn local_value(&self, id: ObjectId) -> Option<Result<Bytes, ProtoError>> {
        if let Some(error) = self.failed.get(&id) {
            return Some(Err(error.clone()));
        }
        match self.host.get(id) {
            Ok(Some(bytes)) => Some(Ok(bytes)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }

    /// Makes sure a request for `id` (owned by `owner`) is on its way.
    pub(super) fn ensure_fetch(&mut self, id: ObjectId, owner: WorkerId) {
        if self.fetching.contains_key(&id) || self.host.contains(id) {
            return;
        }
        let source = if owner.node() == self.id {
            // We own it: it is being computed, or its primary copy is elsewhere.
            let table = &self.tables[&owner];
            if table.pending_creation(id) {
                return;
            }
            match self.primary_elsewhere.get(&id) {
                Some(&node) => node,
                None => {
                    self.fail_waiters(id, unavailable(table, id));
                    return;
                }
            }
        } else {
            owner.node()
        };
        if self.dead_nodes.contains(&source) {
            return;
        }
        self.fetching.insert(id, source);
        let requester = self.id;
        self.send(source, NodeMessage::Fetch { id, requester });
    }

    /// A node asks for the value of `id`.
    pub(super) fn on_fetch(&mut self, id: ObjectId, requester: NodeId) {
        if let Ok(Some(data)) = self.host.get(id) {
            let span =
                tracing::debug_span!("object.send", ?id, to = ?requester, bytes = data.len());
            let _entered = span.enter();
            self.send(requester, NodeMessage::Object { id, data });
            return;
        }
        if let Some(error) = self.failed.get(&id).cloned() {
            self.send(requester, NodeMessage::ObjectFailed { id, error });
            return;
        }
        let owner = self
            .tables
            .iter()
            .find(|(_, t)| t.is_owned(id))
            .map(|(&w, _)| w);
        let Some(owner) = owner else {
            let error = ProtoError::ObjectFreed(id);
            self.send(requester, NodeMessage::ObjectFailed { id, error });
            return;
        };
        let table = &self.tables[&owner];
        if table.pending_creation(id) {
            self.waiters
                .entry(id)
                .or_default()
                .push(ObjectWaiter::Fetch(requester));
        } else if let Some(&node) = self.primary_elsewhere.get(&id) {
            self.send(node, NodeMessage::Fetch { id, requester });
        } else {
            let error = unavailable(table, id);
            self.send(requester, NodeMessage::ObjectFailed { id, error });
        }
    }

    /// The value of `id` arrived from another node.
    pub(super) fn on_object(&mut self, id: ObjectId, data: Bytes) {
        self.fetching.remove(&id);
        if !self.waiters.contains_key(&id) {
            return;
        }
        self.counters.objects_fetched += 1;
        self.counters.bytes_fetched += data.len() as u64;
        let span = tracing::debug_span!("object.receive", ?id, bytes = data.len());
        let _entered = span.enter();
        if let Err(e) = self.host.put(id, data, false) {
            self.fail_waiters(id, e);
            return;
        }
        self.object_arrived(id);
        // Those it was fetched for may have gone meanwhile (a task that failed on
        // another argument): a copy nobody here needs would stay forever.
        self.release_copy(id);
    }

    /// Requests from other nodes for `id`, parked here while it was computed: its value
    /// is on `node` now, so they are asked there (as [`Self::on_fetch`] does), rather
    /// than this node pulling a copy into its own store to pass on.
    pub(super) fn forward_parked_fetches(&mut self, id: ObjectId, node: NodeId) {
        let Some(waiters) = self.waiters.get_mut(&id) else {
            return;
        };
        let mut requesters = Vec::new();
        waiters.retain(|waiter| match waiter {
            ObjectWaiter::Fetch(requester) => {
                requesters.push(*requester);
                false
            }
            _ => true,
        });
        if waiters.is_empty() {
            self.waiters.remove(&id);
        }
        for requester in requesters {
            self.send(node, NodeMessage::Fetch { id, requester });
        }
    }

    pub(super) fn on_object_failed(&mut self, id: ObjectId, error: ProtoError) {
        self.fetching.remove(&id);
        self.fail_waiters(id, error);
    }

    /// `id` is now in the local store: serve what waits for it.
    pub(super) fn object_arrived(&mut self, id: ObjectId) {
        let Some(waiters) = self.waiters.remove(&id) else {
            return;
        };
        let Some(value) = self.local_value(id) else {
            self.waiters.insert(id, waiters);
            return;
        };
        for waiter in waiters {
            match waiter {
                ObjectWaiter::Get(request, index) => {
                    self.out.fills.push((request, index, value.clone()))
                }
                ObjectWaiter::Arg(task, index) => {
                    self.argument_ready(task, index, id, value.clone())
                }
                ObjectWaiter::Fetch(requester) => match &value {
                    Ok(data) => self.send(
                        requester,
                        NodeMessage::Object {
                            id,
                            data: data.clone(),
                        },
                    ),
                    Err(error) => self.send(
                        requester,
                        NodeMessage::ObjectFailed {
                            id,
                            error: error.clone(),
                        },
                    ),
                },
            }
        }
    }

    /// `id` can never be obtained: remember why, and tell what waits for it.
    pub(super) fn fail_object(&mut self, id: ObjectId, error: ProtoError) {
        self.failed.insert(id, error.clone());
        self.fail_waiters(id, error);
    }

    fn fail_waiters(&mut self, id: ObjectId, error: ProtoError) {
        let Some(waiters) = self.waiters.remove(&id) else {
            return;
        };
        for waiter in waiters {
            match waiter {
                ObjectWaiter::Get(request, index) => {
                    self.out.fills.push((request, index, Err(error.clone())))
                }
                ObjectWaiter::Arg(task, index) => {
                    self.argument_ready(task, index, id, Err(error.clone()))
                }
                ObjectWaiter::Fetch(requester) => self.send(
                    requester,
                    NodeMessage::ObjectFailed {
                        id,
                        error: error.clone(),
                    },
                ),
            }
        }
    }

    /// The owner released the value of `id`: drop every copy of it.
    pub(super) fn release_owned(&mut self, id: ObjectId) {
        self.host.delete(id);
        if let Some(node) = self.primary_elsewhere.remove(&id) {
            self.send(node, NodeMessage::Free { ids: vec![id] });
        }
        if let Some((actor, node)) = self.actor_objects.remove(&id) {
            self.send(node, NodeMessage::KillActor { actor });
        }
    }

    /// A borrower released `id`: drop the local copy unless someone here still needs it.
    pub(super) fn release_copy(&mut self, id: ObjectId) {
        if self.held_for_remote.contains_key(&id) || self.waiters.contains_key(&id) {
            return;
        }
        if self.tables.values().any(|t| t.in_scope(id)) {
            return;
        }
        self.host.delete(id);
    }

    /// Owners elsewhere released these values, whose primary copies are here.
    pub(super) fn on_free(&mut self, ids: &[ObjectId]) {
        for &id in ids {
            self.held_for_remote.remove(&id);
            if !self.tables.values().any(|t| t.in_scope(id)) {
                self.host.delete(id);
            }
        }
    }
}

/// Why object `id`, with no copy anywhere, cannot be had: lost while its owner still
/// uses it, freed otherwise.
fn unavailable(table: &crate::ownership::RefTable, id: ObjectId) -> ProtoError {
    if table.in_scope(id) {
        ProtoError::ObjectLost {
            id,
            reason: crate::ownership::LossReason::NotReconstructable,
        }
    } else {
        ProtoError::ObjectFreed(id)
    }
}
