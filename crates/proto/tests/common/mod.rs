//! Helpers shared by the ownership protocol tests.
#![allow(dead_code)]

use doreisa_proto::ownership::sim::{Sim, TaskReply, TaskSpec};
use doreisa_proto::{ObjectId, WorkerId};

pub fn w(i: u64) -> WorkerId {
    WorkerId(i)
}

/// The opening of many of Ray's scenarios: `owner` puts `inner`, puts `outer = [inner]`,
/// submits a task taking `outer`, and drops both handles.
pub fn owner_passes_wrapped_ref(sim: &mut Sim, owner: WorkerId) -> (ObjectId, ObjectId, TaskSpec) {
    let inner = sim.put(owner, &[]);
    let outer = sim.put(owner, &[inner]);
    let task = sim.submit(owner, &[outer], 1);
    sim.drop_handle(owner, outer);
    sim.drop_handle(owner, inner);
    assert!(sim.table(owner).has(inner) && sim.table(owner).has(outer));
    assert!(!sim.freed(inner) && !sim.freed(outer));
    (inner, outer, task)
}

/// `executor` runs `task` without keeping anything, and the caller gets the reply.
pub fn run_elsewhere(sim: &mut Sim, executor: WorkerId, task: &TaskSpec) {
    let exec = sim.start(executor, task);
    let reply = sim.finish(exec);
    sim.deliver_reply(reply);
}

/// No value a live worker uses has been freed.
#[track_caller]
pub fn assert_safe(sim: &Sim) {
    if let Err(e) = sim.check_safety() {
        panic!("safety violated: {e}");
    }
}

/// Drops everything left, delivers everything, and checks nothing leaked.
#[track_caller]
pub fn assert_winds_down_clean(sim: &mut Sim) {
    assert_safe(sim);
    sim.wind_down();
    assert_safe(sim);
    if let Err(e) = sim.check_clean() {
        panic!("leak: {e}");
    }
}

/// `caller` submits a task that `owner` runs: it puts `inner`, returns it inside the
/// task's return value and drops its own handle. Returns the task, `inner` and the
/// reply (not delivered yet).
pub fn task_returns_owned_ref(
    sim: &mut Sim,
    caller: WorkerId,
    owner: WorkerId,
) -> (TaskSpec, ObjectId, TaskReply) {
    let task = sim.submit(caller, &[], 1);
    let mut exec = sim.start(owner, &task);
    let inner = sim.put(owner, &[]);
    sim.return_refs(&mut exec, 1, &[inner]);
    sim.drop_handle(owner, inner);
    let reply = sim.finish(exec);
    (task, inner, reply)
}

/// `owner` puts `inner`, `middle = [inner]` and `outer = [middle]`, keeping one handle
/// on each. Returns (inner, middle, outer).
pub fn nested_three(sim: &mut Sim, owner: WorkerId) -> (ObjectId, ObjectId, ObjectId) {
    let inner = sim.put(owner, &[]);
    let middle = sim.put(owner, &[inner]);
    let outer = sim.put(owner, &[middle]);
    (inner, middle, outer)
}
