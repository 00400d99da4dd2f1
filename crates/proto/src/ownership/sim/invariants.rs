//! The properties the protocol must keep, checked against the simulator's ground truth.

use super::{Payload, Sim};
use crate::ids::{ObjectId, WorkerId};
use crate::ownership::LossReason;
use rustc_hash::FxHashSet;

impl Sim {
    /// Ids a live worker uses directly: handles it holds, arguments of tasks it submitted
    /// that have not finished, arguments of tasks it is running, arguments of tasks in
    /// flight to it from live callers.
    fn roots(&self, w: WorkerId) -> Vec<ObjectId> {
        let worker = self.worker(w);
        let mut roots: Vec<ObjectId> = worker.handles.keys().copied().collect();
        for (spec, _) in &worker.outstanding {
            roots.extend(spec.args.iter().map(|&(id, _)| id));
        }
        for exec in &worker.running {
            roots.extend(exec.spec.args.iter().map(|&(id, _)| id));
        }
        roots
    }

    /// Everything reachable from `w`'s roots through the refs nested in values.
    fn reachable(&self, w: WorkerId) -> FxHashSet<ObjectId> {
        let mut seen = FxHashSet::default();
        let mut stack = self.roots(w);
        while let Some(id) = stack.pop() {
            if seen.insert(id)
                && let Some(nested) = self.values.get(&id)
            {
                stack.extend(nested.nested.iter().map(|&(inner, _)| inner));
            }
        }
        seen
    }

    /// Storing `id` in the value of `target` would close a cycle: `id` already reaches
    /// `target` through values, return values being built or in flight, or lineage (a
    /// task return depends on its task's arguments while the task may be re-run).
    /// Reference counting (Ray's included) cannot collect cycles, and Ray's API makes
    /// them hard to build; random programs must not build them.
    pub fn would_cycle(&self, id: ObjectId, target: ObjectId) -> bool {
        let mut edges: rustc_hash::FxHashMap<ObjectId, Vec<ObjectId>> =
            rustc_hash::FxHashMap::default();
        for (outer, value) in &self.values {
            edges
                .entry(*outer)
                .or_default()
                .extend(value.nested.iter().map(|&(i, _)| i));
        }
        let pending = self
            .workers
            .iter()
            .flat_map(|w| w.running.iter().flat_map(|e| e.returns.iter()))
            .chain(self.queue.iter().flat_map(|env| match &env.payload {
                Payload::Reply(reply) => reply.returns.iter(),
                _ => [].iter(),
            }));
        for (outer, inners) in pending {
            edges
                .entry(*outer)
                .or_default()
                .extend(inners.iter().map(|&(i, _)| i));
        }
        for (task, args) in &self.task_args {
            for index in 1..=8 {
                edges
                    .entry(task.return_id(index))
                    .or_default()
                    .extend_from_slice(args);
            }
        }
        let mut seen = FxHashSet::default();
        let mut stack = vec![id];
        while let Some(x) = stack.pop() {
            if x == target {
                return true;
            }
            if seen.insert(x)
                && let Some(next) = edges.get(&x)
            {
                stack.extend_from_slice(next);
            }
        }
        false
    }

    /// The workers still alive.
    pub fn live_workers(&self) -> Vec<WorkerId> {
        (0..self.len() as u64)
            .map(WorkerId)
            .filter(|&w| self.alive(w))
            .collect()
    }

    /// A live worker that still uses `id` (directly or through nested refs), if any.
    pub(super) fn live_user_of(&self, id: ObjectId) -> Option<WorkerId> {
        self.live_workers()
            .into_iter()
            .find(|&w| self.reachable(w).contains(&id))
    }

    /// Safety: no value a live worker uses was freed by its (live) owner.
    pub fn check_safety(&self) -> Result<(), String> {
        if let Some(v) = self.violations.first() {
            return Err(v.clone());
        }
        for w in self.live_workers() {
            for id in self.reachable(w) {
                if self.freed.get(&id).is_some_and(|&owner| self.alive(owner)) {
                    return Err(format!("{w:?} uses {id:?}, whose value was freed"));
                }
            }
        }
        Ok(())
    }

    /// Every live worker holding a ref whose owner died has learnt it (`OwnerDied`), and
    /// no get is left waiting. Call once all messages are delivered.
    pub fn check_owner_death_answers(&self) -> Result<(), String> {
        for w in self.live_workers() {
            let worker = self.worker(w);
            if let Some(id) = worker.waiting_gets.keys().next() {
                return Err(format!("{w:?} still waits on a get of {id:?}"));
            }
            for &id in worker.handles.keys() {
                let owner = worker.table.owner_of(id);
                let Some(owner) = owner.filter(|&o| !self.alive(o)) else {
                    continue;
                };
                let told = worker.lost.contains(&(id, LossReason::OwnerDied));
                if !told || !worker.table.owner_died(id) {
                    return Err(format!(
                        "{w:?} holds {id:?} owned by dead {owner:?} but was not told OwnerDied"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Liveness: with no handle held, no task running and no message in flight, every
    /// live table is empty and every value whose owner lives was freed.
    pub fn check_clean(&self) -> Result<(), String> {
        if let Some(env) = self.queue.front() {
            return Err(format!("message still in flight: {env:?}"));
        }
        let mut leaks = Vec::new();
        for w in self.live_workers() {
            let worker = self.worker(w);
            if !worker.handles.is_empty()
                || !worker.running.is_empty()
                || !worker.outstanding.is_empty()
            {
                return Err(format!("{w:?} still holds handles or tasks"));
            }
            for id in worker.table.ids() {
                leaks.push(format!(
                    "{w:?} leaks {id:?}: {}",
                    worker.table.describe(id).unwrap_or_default()
                ));
            }
        }
        if !leaks.is_empty() {
            return Err(format!("records left:\n  {}", leaks.join("\n  ")));
        }
        let mut leaked: Vec<_> = self
            .values
            .iter()
            .filter(|(_, value)| self.alive(value.owner))
            .map(|(id, _)| id)
            .collect();
        leaked.sort();
        if let Some(id) = leaked.first() {
            return Err(format!("value {id:?} was never freed"));
        }
        Ok(())
    }

    /// Ends a program: every live worker finishes what it runs and drops every handle,
    /// then all messages are delivered, until nothing moves.
    pub fn wind_down(&mut self) {
        loop {
            let mut moved = self.flush() > 0;
            for w in self.live_workers() {
                for exec in std::mem::take(&mut self.workers[w.0 as usize].running) {
                    let reply = self.finish(exec);
                    self.send_reply(reply);
                    moved = true;
                }
                for id in self.held(w) {
                    for _ in 0..self.handles(w, id) {
                        self.drop_handle(w, id);
                    }
                    moved = true;
                }
            }
            let pending_submissions = self
                .queue
                .iter()
                .any(|env| matches!(env.payload, Payload::Submit(_)));
            if !moved && !pending_submissions {
                break;
            }
        }
    }
}
