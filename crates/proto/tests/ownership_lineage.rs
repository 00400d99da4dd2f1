//! Lineage, locations and explicit frees (ownership.md, scenarios 29–35).

mod common;

use common::*;
use doreisa_proto::ownership::sim::{Sim, TaskReply, TaskSpec};
use doreisa_proto::ownership::{BorrowReport, FinishedTask, LossReason, TableConfig};
use doreisa_proto::{NodeId, ObjectId};

/// Runs `task` on `executor` and delivers the reply to its caller.
fn complete(sim: &mut Sim, executor: doreisa_proto::WorkerId, task: &TaskSpec) {
    run_elsewhere(sim, executor, task);
}

/// The caller processes a reply with an explicit lineage decision.
fn finish_with_lineage(sim: &mut Sim, task: &TaskSpec, keep_lineage: bool) {
    let args = task.arg_ids();
    let report = BorrowReport::default();
    sim.table_mut(task.caller).task_finished(FinishedTask {
        task: task.task,
        num_returns: task.num_returns,
        args: &args,
        executor: w(1),
        report: &report,
        nested_in_returns: &[],
        keep_lineage,
    });
    sim.pump(task.caller);
}

/// 29 (lineage pinning off): a put value goes out of scope with its last use; a
/// retryable task does not keep it.
#[test]
fn unreconstructable_object_out_of_scope() {
    let mut sim = Sim::with_config(
        2,
        TableConfig {
            lineage_pinning: false,
        },
    );
    let (owner, executor) = (w(0), w(1));
    let id = sim.put(owner, &[]);
    sim.drop_handle(owner, id);
    assert!(sim.freed(id));

    let id = sim.put(owner, &[]);
    let task = sim.submit_with(owner, &[id], 1, true);
    sim.drop_handle(owner, id);
    assert!(!sim.freed(id));
    complete(&mut sim, executor, &task);
    assert!(
        sim.freed(id),
        "without lineage pinning the finished task does not pin it"
    );
    assert_winds_down_clean(&mut sim);
}

/// 29 (lineage pinning on): a put value an retryable task depends on stays while the
/// task may be re-run, because it cannot be rebuilt; the resubmission path pins it again.
#[test]
fn unreconstructable_object_out_of_scope_lineage_pinned() {
    let mut sim = Sim::new(2);
    let (owner, executor) = (w(0), w(1));
    let id = sim.put(owner, &[]);
    sim.drop_handle(owner, id);
    assert!(sim.freed(id));

    let id = sim.put(owner, &[]);
    let task = sim.submit_with(owner, &[id], 1, true);
    sim.drop_handle(owner, id);
    assert!(sim.table(owner).pending_creation(task.ret(1)));
    complete(&mut sim, executor, &task);
    assert!(!sim.table(owner).pending_creation(task.ret(1)));
    assert!(
        !sim.freed(id),
        "kept in scope by the lineage of a retryable task"
    );

    assert!(sim.table_mut(owner).resubmit_task(task.task));
    sim.pump(owner);
    assert!(sim.table(owner).pending_creation(task.ret(1)));
    assert_eq!(
        sim.table(owner).counts(id),
        Some((0, 1, 1)),
        "resubmission pins without new lineage"
    );
    finish_with_lineage(&mut sim, &task, false);
    assert!(!sim.table(owner).pending_creation(task.ret(1)));
    assert!(sim.freed(id));
    assert_winds_down_clean(&mut sim);
}

/// 30: lineage is kept for owned objects only.
#[test]
fn basic_lineage() {
    let mut sim = Sim::new(2);
    let (owner, other) = (w(0), w(1));
    let task = sim.submit_with(owner, &[], 1, true);
    complete(&mut sim, other, &task);
    let ret = task.ret(1);

    // A borrower's record carries no lineage.
    sim.deserialize(other, ret, owner, None);
    sim.drop_handle(other, ret);
    assert!(sim.worker(other).lineage_released.is_empty());

    assert!(sim.table(owner).holds_lineage(task.task));
    sim.drop_handle(owner, ret);
    assert_eq!(sim.worker(owner).lineage_released, vec![task.task]);
    assert!(!sim.table(owner).holds_lineage(task.task));
    assert_winds_down_clean(&mut sim);
}

/// 31: a chain of retryable tasks keeps its records (not its values) until the last
/// object dies, then releases the lineage recursively.
#[test]
fn pin_lineage_recursive() {
    let mut sim = Sim::new(2);
    let (owner, executor) = (w(0), w(1));
    let t0 = sim.submit_with(owner, &[], 1, true);
    complete(&mut sim, executor, &t0);
    let t1 = sim.submit_with(owner, &[t0.ret(1)], 1, true);
    complete(&mut sim, executor, &t1);
    let t2 = sim.submit_with(owner, &[t1.ret(1)], 1, true);
    complete(&mut sim, executor, &t2);

    for task in [&t0, &t1] {
        sim.drop_handle(owner, task.ret(1));
        assert!(
            sim.freed(task.ret(1)),
            "a reconstructable value is released"
        );
        assert!(
            sim.table(owner).has(task.ret(1)),
            "its record is pinned by lineage"
        );
        assert!(!sim.table(owner).in_scope(task.ret(1)));
    }
    assert!(sim.worker(owner).lineage_released.is_empty());

    sim.drop_handle(owner, t2.ret(1));
    assert_eq!(
        sim.worker(owner).lineage_released,
        vec![t2.task, t1.task, t0.task]
    );
    assert!(sim.table(owner).is_empty());
    assert_winds_down_clean(&mut sim);
}

/// 32: lineage evicted under a byte budget, oldest first; evicted objects are no
/// longer reconstructable and are reported lost when their node goes.
#[test]
fn evict_lineage() {
    let mut sim = Sim::new(2);
    let (owner, executor) = (w(0), w(1));
    let t0 = sim.submit_with(owner, &[], 1, true);
    complete(&mut sim, executor, &t0);
    let t1 = sim.submit_with(owner, &[t0.ret(1)], 1, true);
    complete(&mut sim, executor, &t1);
    let t2 = sim.submit_with(owner, &[], 1, true);
    complete(&mut sim, executor, &t2);
    sim.drop_handle(owner, t0.ret(1));
    for task in [&t0, &t1, &t2] {
        assert!(sim.table(owner).is_reconstructable(task.ret(1)));
        assert!(!sim.table(owner).lineage_evicted(task.ret(1)));
    }

    // Each spec is charged 100 bytes by the simulator.
    assert_eq!(sim.table_mut(owner).evict_lineage(150), 200);
    sim.pump(owner);
    assert!(
        !sim.table(owner).has(t0.ret(1)),
        "released with t1's lineage"
    );
    assert!(sim.table(owner).lineage_evicted(t1.ret(1)));
    assert!(!sim.table(owner).is_reconstructable(t1.ret(1)));
    assert!(sim.table(owner).is_reconstructable(t2.ret(1)));

    let node = NodeId(7);
    sim.table_mut(owner).object_pinned_at(t1.ret(1), node);
    sim.table_mut(owner).object_pinned_at(t2.ret(1), node);
    sim.table_mut(owner).node_removed(node);
    sim.pump(owner);
    assert_eq!(
        sim.worker(owner).lost,
        vec![(t1.ret(1), LossReason::LineageEvicted)]
    );
    assert_eq!(sim.worker(owner).reconstruct, vec![(t2.ret(1), t2.task)]);
    assert_winds_down_clean(&mut sim);
}

/// 33: a retried task keeps its arguments' lineage across resubmission, and releases
/// it once it may not run again.
#[test]
fn resubmitted_task() {
    let mut sim = Sim::new(2);
    let (owner, executor) = (w(0), w(1));
    let t0 = sim.submit_with(owner, &[], 1, true);
    complete(&mut sim, executor, &t0);
    let id = t0.ret(1);
    let once = sim.submit_with(owner, &[id], 1, false);
    let retryable = sim.submit_with(owner, &[id], 1, true);
    sim.drop_handle(owner, id);
    complete(&mut sim, executor, &once);
    assert!(!sim.freed(id));
    complete(&mut sim, executor, &retryable);
    assert!(
        sim.freed(id),
        "reconstructable: its value goes with its last use"
    );
    assert!(
        sim.table(owner).has(id),
        "its record is kept for the retryable task"
    );

    assert!(sim.table_mut(owner).resubmit_task(retryable.task));
    sim.pump(owner);
    assert!(sim.table(owner).in_scope(id), "the retry needs it again");
    finish_with_lineage(&mut sim, &retryable, false);
    assert!(!sim.table(owner).has(id));
    assert!(sim.worker(owner).lineage_released.contains(&t0.task));
    assert_winds_down_clean(&mut sim);
}

/// 34: the owner tracks the primary copy; losing its node asks for reconstruction
/// (task returns) or reports the loss (puts), without releasing the value.
#[test]
fn plasma_location() {
    let mut sim = Sim::new(2);
    let (owner, executor) = (w(0), w(1));
    let node = NodeId(3);
    let put = sim.put(owner, &[]);
    assert_eq!(sim.table(owner).pinned_at(put), None);
    sim.table_mut(owner).object_pinned_at(put, node);
    assert_eq!(sim.table(owner).pinned_at(put), Some(node));
    sim.drop_handle(owner, put);
    assert!(sim.freed(put) && !sim.table(owner).has(put));

    let put = sim.put(owner, &[]);
    let task = sim.submit_with(owner, &[], 1, true);
    complete(&mut sim, executor, &task);
    sim.table_mut(owner).object_pinned_at(put, node);
    sim.table_mut(owner).object_pinned_at(task.ret(1), node);
    sim.table_mut(owner).node_removed(node);
    sim.pump(owner);
    assert_eq!(
        sim.worker(owner).lost,
        vec![(put, LossReason::NotReconstructable)]
    );
    assert_eq!(
        sim.worker(owner).reconstruct,
        vec![(task.ret(1), task.task)]
    );
    assert_eq!(sim.table(owner).pinned_at(put), None);
    assert!(!sim.freed(put), "losing a node does not release the value");
    assert_winds_down_clean(&mut sim);
}

/// 35: an explicit free releases the value at once and keeps the record; pinning
/// after the free is ignored; dropping the last handle does not release it twice.
#[test]
fn free() {
    let mut sim = Sim::new(1);
    let owner = w(0);
    let node = NodeId(1);
    let id = sim.put(owner, &[]);
    sim.table_mut(owner).free(&[id]);
    sim.pump(owner);
    assert!(sim.freed(id) && sim.table(owner).has(id));
    sim.table_mut(owner).object_pinned_at(id, node);
    assert_eq!(sim.table(owner).pinned_at(id), None);
    sim.drop_handle(owner, id);
    assert!(!sim.table(owner).has(id));
    assert_eq!(sim.worker(owner).released, vec![id]);

    let id = sim.put(owner, &[]);
    sim.table_mut(owner).object_pinned_at(id, node);
    sim.table_mut(owner).free(&[id]);
    sim.pump(owner);
    assert_eq!(sim.table(owner).pinned_at(id), None);
    sim.drop_handle(owner, id);
    assert_eq!(
        sim.worker(owner)
            .released
            .iter()
            .filter(|&&x| x == id)
            .count(),
        1
    );
    assert_winds_down_clean(&mut sim);
}

/// A reply for a task whose returns the caller already dropped discards the values.
#[test]
fn returns_dropped_before_the_reply_are_discarded() {
    let mut sim = Sim::new(2);
    let (caller, executor) = (w(0), w(1));
    let task = sim.submit(caller, &[], 2);
    sim.drop_handle(caller, task.ret(1));
    sim.drop_handle(caller, task.ret(2));
    let exec = sim.start(executor, &task);
    let reply: TaskReply = sim.finish(exec);
    sim.deliver_reply(reply);
    let ids: Vec<ObjectId> = vec![task.ret(1), task.ret(2)];
    for id in ids {
        assert!(!sim.value_exists(id) && !sim.table(caller).has(id));
    }
    assert_winds_down_clean(&mut sim);
}
