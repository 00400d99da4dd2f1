//! A node leaving the cluster: its workers die (owners' objects fail, borrowers are
//! swept by the death barrier), values whose primary copy it held are rebuilt or lost,
//! tasks it was running are re-sent or failed, fetches from it are redirected.

use super::NodeState;
use crate::error::CoreError;
use crate::ids::{NodeId, ObjectId, TaskId, WorkerId};
use crate::runtime::event::task_failed;
use crate::task::{Placement, TaskKind};

impl NodeState {
    pub(super) fn on_node_left(&mut self, node: NodeId, workers: Vec<WorkerId>) {
        if node == self.id || !self.dead_nodes.insert(node) {
            return;
        }
        tracing::info!(?node, "node left the cluster");
        self.live_nodes.retain(|&n| n != node);
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
        self.actor_objects.retain(|_, (_, n)| *n != node);

        // Tasks we submitted that it was running: run them elsewhere, or fail them.
        let lost: Vec<TaskId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.executor == node)
            .map(|(&t, _)| t)
            .collect();
        for task in lost {
            let pending = self.pending.remove(&task).expect("pending");
            let mut spec = pending.spec;
            let is_actor_task = !matches!(spec.kind, TaskKind::Function(_));
            if spec.retries == 0 || is_actor_task {
                let error = match spec.kind {
                    TaskKind::Method { actor, .. } | TaskKind::CreateActor { actor, .. } => {
                        CoreError::ActorDied(actor)
                    }
                    TaskKind::Function(_) => {
                        task_failed(spec.task, format!("its node {node:?} died"))
                    }
                };
                let referenced: Vec<ObjectId> =
                    spec.referenced().into_iter().map(|(id, _)| id).collect();
                let caller = spec.caller;
                self.table(caller)
                    .task_failed(spec.task, spec.num_returns, &referenced);
                for index in 1..=spec.num_returns {
                    self.fail_object(spec.return_id(index), error.clone());
                }
                continue;
            }
            spec.retries -= 1;
            if matches!(spec.placement, Placement::Node(n) if n == node) {
                spec.placement = Placement::Locality;
            }
            tracing::debug!(task = ?spec.task, "retrying after node death");
            let caller = spec.caller;
            self.lineage.insert(spec.task, spec.clone());
            self.send_task_again(caller, spec);
        }

        // Tasks waiting here for a caller that died: drop them.
        self.waiting.retain(|_, w| w.spec.caller.node() != node);

        // Fetches from it: ask again through the owner, who knows what became of them.
        let redirect: Vec<ObjectId> = self
            .fetching
            .iter()
            .filter(|&(_, &n)| n == node)
            .map(|(&id, _)| id)
            .collect();
        for id in redirect {
            self.fetching.remove(&id);
            let owner = self
                .tables
                .values()
                .find_map(|t| t.owner_of(id))
                .unwrap_or(id.creator);
            if owner.node() == node {
                self.fail_object(id, CoreError::OwnerDied(id));
            } else {
                self.ensure_fetch(id, owner);
            }
        }
    }

    fn send_task_again(&mut self, caller: WorkerId, spec: crate::task::TaskSpec) {
        // The arguments are still pinned by the first submission.
        let _ = caller;
        let executor = match spec.placement {
            Placement::Node(n) if !self.dead_nodes.contains(&n) => n,
            _ => self.id,
        };
        self.pending.insert(
            spec.task,
            super::PendingTask {
                spec: spec.clone(),
                executor,
            },
        );
        self.send(executor, crate::runtime::event::NodeMessage::Task(spec));
    }
}
