//! A node leaving the cluster: its workers die (owners' objects fail, borrowers are
//! swept by the death barrier), values whose primary copy it held are rebuilt or lost,
//! tasks it was running are re-sent or failed, fetches from it are redirected.

use super::event::task_failed;
use super::{Host, NodeState};
use crate::error::ProtoError;
use crate::ids::{ActorId, NodeId, ObjectId, TaskId, WorkerId};
use crate::task::Placement;

impl<H: Host> NodeState<H> {
    pub(super) fn on_node_joined(
        &mut self,
        node: NodeId,
        workers: Vec<WorkerId>,
        takes_tasks: bool,
    ) {
        if node == self.id || self.dead_nodes.contains(&node) || self.live_nodes.contains(&node) {
            return;
        }
        tracing::info!(?node, "node joined the cluster");
        self.live_nodes.push(node);
        for worker in workers {
            self.add_peer(worker);
        }
        self.out.spread.push((node, takes_tasks));
    }

    pub(super) fn on_node_left(&mut self, node: NodeId, workers: Vec<WorkerId>) {
        if node == self.id || !self.dead_nodes.insert(node) {
            return;
        }
        tracing::info!(?node, "node left the cluster");
        self.live_nodes.retain(|&n| n != node);
        self.out.spread.push((node, false));
        for worker in workers {
            self.epoch += 1;
            for table in self.tables.values_mut() {
                table.worker_died(worker);
            }
        }
        for table in self.tables.values_mut() {
            table.node_removed(node);
        }
        self.primary_elsewhere.retain(|_, n| *n != node);
        // Copies kept here for owners that died: their objects share their fate.
        let orphaned_copies: Vec<ObjectId> = self
            .held_for_remote
            .iter()
            .filter(|(_, owner)| owner.node() == node)
            .map(|(&id, _)| id)
            .collect();
        for id in orphaned_copies {
            self.held_for_remote.remove(&id);
            self.host.delete(id);
        }
        // Puts on behalf of owners that died: they will never answer.
        let orphaned: Vec<ObjectId> = self
            .assignments
            .iter()
            .filter(|(_, (owner, _))| owner.node() == node)
            .map(|(&id, _)| id)
            .collect();
        for id in orphaned {
            if let Some((_, done)) = self.assignments.remove(&id) {
                self.out
                    .fills
                    .push((done, 0, Err(ProtoError::OwnerDied(id))));
            }
        }
        self.actor_objects.retain(|_, (_, n)| *n != node);
        // Actors living here that a worker of the dead node created: their owner died,
        // so nobody can release their handles any more. They share its fate (as Ray's
        // non-detached actors do) and drop what they hold, or they would live forever.
        let mut fate_shared: Vec<ActorId> = self
            .actors
            .keys()
            .filter(|a| a.creator.node() == node)
            .copied()
            .collect();
        fate_shared.sort();
        for actor in fate_shared {
            tracing::debug!(?actor, "its creator died: the actor ends");
            self.kill_actor(actor);
        }
        // Calls waiting for an actor whose creator died: it will never be created.
        let orphans: Vec<ActorId> = self
            .unborn_calls
            .keys()
            .filter(|a| a.creator.node() == node)
            .copied()
            .collect();
        for actor in orphans {
            self.ended_actors.insert(actor);
            for call in self.unborn_calls.remove(&actor).unwrap_or_default() {
                self.reply_failure(call, ProtoError::ActorDied(actor));
            }
        }

        // Tasks we submitted that it was running: run them elsewhere, or fail them.
        let lost: Vec<TaskId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.executor == node)
            .map(|(&t, _)| t)
            .collect();
        for task in lost {
            let pending = self.pending.remove(&task).expect("pending");
            let spec = self.lineage.get(&task).cloned();
            match (pending.actor, spec) {
                (None, Some(mut spec)) if spec.retries > 0 => {
                    spec.retries -= 1;
                    if matches!(spec.placement, Placement::Node(n) if n == node) {
                        spec.placement = Placement::Locality;
                    }
                    tracing::debug!(?task, "retrying after node death");
                    self.lineage.insert(task, spec.clone());
                    // Its arguments are still pinned by the first submission.
                    self.send_task(pending.referenced, spec);
                }
                (actor, _) => {
                    let error = match actor {
                        Some(actor) => ProtoError::ActorDied(actor),
                        None => task_failed(task, format!("its node {node:?} died")),
                    };
                    self.fail_pending(task, pending, error);
                }
            }
        }

        // Tasks waiting here for a caller that died: drop them.
        self.waiting.retain(|_, w| w.spec.caller.node() != node);

        // Fetches in flight: ask again through the owner, who knows what became of
        // them. Every one, not only those sent to the dead node: an owner may have
        // forwarded a request there, which died with it. (A value that arrives twice
        // is taken once.)
        let redirect: Vec<ObjectId> = self.fetching.keys().copied().collect();
        for id in redirect {
            self.fetching.remove(&id);
            let owner = self
                .tables
                .values()
                .find_map(|t| t.owner_of(id))
                .unwrap_or(id.creator);
            if owner.node() == node {
                self.fail_object(id, ProtoError::OwnerDied(id));
            } else {
                self.ensure_fetch(id, owner);
            }
        }
    }
}
