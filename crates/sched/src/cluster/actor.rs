//! The scheduling actor: the runtime shell around a [`NodeScheduler`]. Fragments
//! become runtime tasks on this node, pushes become calls to the other nodes' actors,
//! deliveries become tasks on the driver's node.

use crate::cluster::shared::{DELIVER_FN, FRAGMENT_FN, SchedShared};
use crate::cluster::state::{NodeScheduler, Push, RunKey, RunRequest, SchedulerRuntime, Standing};
use crate::graph::SourceKey;
use crate::plan::NodePlan;
use doreisa_core::{Arg, Blob, NodeId, ObjectRef, TaskOptions, Worker};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What an actor reports about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulerStats {
    pub sources: usize,
    pub active_runs: usize,
    pub plans: usize,
    /// Plans this node runs on its own as its chunks arrive.
    pub standing: usize,
    /// What unfinished runs wait for.
    pub waiting: Vec<String>,
}

doreisa_core::actor! {
    /// One node's scheduler (see the module).
    pub struct SchedulingActor handle SchedulingActorHandle address SchedulingActorAddress {
        scheduler: NodeScheduler<ObjectRef<Blob>>,
        peers: FxHashMap<NodeId, SchedulingActorAddress>,
    }
    impl {
        fn new(node: NodeId) -> Self {
            SchedulingActor {
                scheduler: NodeScheduler::new(node),
                peers: FxHashMap::default(),
            }
        }
        // This node's part of a plan, and the actors of the nodes it pushes to.
        fn install(&mut self, plan: NodePlan, peers: Vec<(NodeId, SchedulingActorAddress)>) -> u64 {
            let plan = Arc::new(plan);
            if let Some(shared) = shared() {
                shared.install(plan.clone());
            }
            self.peers.extend(peers);
            let id = plan.plan;
            self.scheduler.install(plan);
            id
        }
        // Installs this node's part of a plan (when `plan` is given) and keeps it
        // standing: one message per node for as long as the analysis does not change.
        fn stand(
            &mut self,
            plan: Option<NodePlan>,
            peers: Vec<(NodeId, SchedulingActorAddress)>,
            arm: Standing
        ) -> u64 {
            if let Some(plan) = plan {
                self.install(plan, peers);
            }
            let id = arm.plan;
            let mut runtime = Shell::new(&self.peers);
            self.scheduler.stand(arm, &mut runtime);
            id
        }
        fn sit(&mut self, plan: u64) -> u64 {
            self.scheduler.sit(plan);
            plan
        }
        fn run(&mut self, request: RunRequest) -> u64 {
            let run = request.run;
            let mut runtime = Shell::new(&self.peers);
            self.scheduler.run(request, &mut runtime);
            run
        }
        fn inputs(&mut self, plan: u64, run: RunKey, push: Push<ObjectRef<Blob>>) -> u64 {
            let mut runtime = Shell::new(&self.peers);
            self.scheduler.pushed(plan, run, push, &mut runtime);
            plan
        }
        fn publish(&mut self, key: SourceKey, chunk: ObjectRef<Blob>) -> usize {
            let mut runtime = Shell::new(&self.peers);
            self.scheduler.publish(key, chunk, &mut runtime);
            self.scheduler.source_count()
        }
        fn publish_many(&mut self, chunks: Vec<(SourceKey, ObjectRef<Blob>)>) -> usize {
            let mut runtime = Shell::new(&self.peers);
            self.scheduler.publish_all(chunks, &mut runtime);
            self.scheduler.source_count()
        }
        // A value sent in the call (tests, synthetic producers): stored on this node,
        // owned here, and published.
        fn publish_value(&mut self, key: SourceKey, chunk: Blob) -> usize {
            let worker = Worker::current().expect("in an actor call");
            match worker.put(&chunk) {
                Ok(chunk) => self.publish(key, chunk),
                Err(e) => {
                    tracing::error!(%key, error = %e, "cannot store a published value");
                    self.scheduler.source_count()
                }
            }
        }
        fn release(&mut self, keys: Vec<SourceKey>) -> usize {
            self.scheduler.release(&keys)
        }
        fn release_arrays_before(&mut self, marks: Vec<(String, i64)>) -> usize {
            marks.iter().map(|(array, t)| self.scheduler.release_array_before(array, *t)).sum()
        }
        fn release_before(&mut self, timestep: i64) -> usize {
            self.scheduler.release_before(timestep)
        }
        fn forget(&mut self, plan: u64) -> u64 {
            self.scheduler.forget(plan);
            if let Some(shared) = shared() {
                shared.forget(plan, Worker::current().expect("in an actor call").node());
            }
            plan
        }
        fn stats(&mut self) -> SchedulerStats {
            SchedulerStats {
                sources: self.scheduler.source_count(),
                active_runs: self.scheduler.active_runs(),
                plans: self.scheduler.plan_count(),
                standing: self.scheduler.standing_count(),
                waiting: self.scheduler.describe_runs(),
            }
        }
    }
}

fn shared() -> Option<Arc<SchedShared>> {
    let worker = Worker::current()?;
    SchedShared::of(worker.registry()).ok()
}

/// Carries out a scheduler's decisions with the runtime, from inside an actor call.
struct Shell<'a> {
    worker: Worker,
    peers: &'a FxHashMap<NodeId, SchedulingActorAddress>,
}

impl<'a> Shell<'a> {
    fn new(peers: &'a FxHashMap<NodeId, SchedulingActorAddress>) -> Self {
        Shell {
            worker: Worker::current().expect("in an actor call"),
            peers,
        }
    }
}

impl SchedulerRuntime<ObjectRef<Blob>> for Shell<'_> {
    fn submit_fragment(
        &mut self,
        plan: &NodePlan,
        fragment: usize,
        inputs: Vec<ObjectRef<Blob>>,
    ) -> Vec<ObjectRef<Blob>> {
        let outputs = plan.fragments[fragment].outputs.len() as u32;
        let submitted = (|| {
            let mut args = vec![
                self.worker.task_arg(Arg::Value(plan.plan))?,
                self.worker.task_arg(Arg::Value(fragment as u32))?,
            ];
            for input in inputs {
                args.push(self.worker.task_arg(Arg::Ref(input))?);
            }
            let options = TaskOptions::on(self.worker.node());
            self.worker
                .submit_function(FRAGMENT_FN, args, outputs, options)
        })();
        match submitted {
            Ok(refs) => refs.iter().map(|r| r.cast()).collect(),
            Err(e) => {
                // Nothing downstream can run; the driver's wait ends with its deadline.
                tracing::error!(plan = plan.plan, fragment, error = %e, "cannot submit a fragment");
                Vec::new()
            }
        }
    }

    fn push(&mut self, node: NodeId, plan: u64, run: RunKey, push: Push<ObjectRef<Blob>>) {
        let Some(&peer) = self.peers.get(&node) else {
            tracing::error!(?node, "no scheduling actor known there");
            return;
        };
        if let Err(e) = peer.inputs(&self.worker, plan, run, push) {
            tracing::error!(?node, error = %e, "cannot push refs to a scheduling actor");
        }
    }

    fn deliver(
        &mut self,
        node: NodeId,
        mailbox: u64,
        timestep: i64,
        positions: Vec<u32>,
        refs: Vec<ObjectRef<Blob>>,
    ) {
        let submitted = (|| {
            let args = vec![
                self.worker.task_arg(Arg::Value(mailbox))?,
                self.worker.task_arg(Arg::Value(timestep))?,
                self.worker.task_arg(Arg::Value(positions))?,
                self.worker.task_arg(Arg::Value(refs))?,
            ];
            self.worker
                .submit_function(DELIVER_FN, args, 1, TaskOptions::on(node).retries(0))
        })();
        if let Err(e) = submitted {
            tracing::error!(?node, error = %e, "cannot deliver outputs");
        }
    }
}
