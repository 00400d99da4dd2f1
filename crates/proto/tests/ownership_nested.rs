//! Nested refs reported late, deserialized twice, forwarded (ownership.md, scenarios
//! 36–39 and 42–45).

mod common;

use common::*;
use doreisa_proto::ownership::sim::{Payload, Sim};
use doreisa_proto::ownership::{Effect, ProtocolMessage, RefTable, TableConfig};
use doreisa_proto::{ObjectId, WorkerId};

/// The owner puts `value` and passes it to `borrower` in a task; the borrower keeps a
/// handle past the task (actor state), so the owner subscribes to it.
fn lend(sim: &mut Sim, owner: WorkerId, borrower: WorkerId, value: ObjectId) {
    let task = sim.submit(owner, &[value], 0);
    let exec = sim.start(borrower, &task);
    sim.deserialize(borrower, value, owner, None);
    let reply = sim.finish(exec);
    sim.deliver_reply(reply);
    assert_eq!(sim.table(owner).borrowers(value), vec![borrower]);
}

/// 36: nested-ref information arriving after its outer object was deleted must not
/// leave a record behind; arriving while the outer lives, it goes with the outer.
#[test]
fn get_object_status_reply_delayed() {
    let owner = WorkerId(0);
    let outer = ObjectId::put(owner, 1);
    let inner = ObjectId::put(owner, 2);
    let mut table = RefTable::new(WorkerId(1), TableConfig::default());

    table.begin_task(&[(outer, owner)]);
    let _ = table.end_task(&[outer], owner);
    assert!(!table.has(outer));
    table.add_borrowed(inner, owner, Some(outer));
    assert!(
        !table.has(inner),
        "late nested info for a deleted outer leaks nothing"
    );

    table.begin_task(&[(outer, owner)]);
    table.add_borrowed(inner, owner, Some(outer));
    assert!(table.has(inner), "kept while its borrowed outer lives");
    let report = table.end_task(&[outer], owner);
    assert!(!table.has(outer) && !table.has(inner));
    assert!(report.get(inner).is_some_and(|r| !r.in_use));
    assert!(table.is_empty());
}

/// 37: the owner's subscription arrives after the borrower dropped the outer object
/// while it still uses an inner one: the answer reports the inner one.
#[test]
fn delayed_wait_for_ref_removed() {
    let mut sim = Sim::new(2);
    let (owner, borrower) = (w(0), w(1));
    let inner = sim.put(owner, &[]);
    let outer = sim.put(owner, &[inner]);
    lend(&mut sim, owner, borrower, outer);
    assert_eq!(sim.get(borrower, outer), Ok(vec![inner]));
    sim.drop_handle(borrower, outer);
    assert!(
        sim.table(borrower).has(outer),
        "kept: it has a nested ref to report"
    );

    sim.drop_handle(owner, outer);
    sim.drop_handle(owner, inner);
    sim.flush();
    assert!(sim.freed(outer) && !sim.freed(inner));
    assert_eq!(sim.table(owner).borrowers(inner), vec![borrower]);
    sim.drop_handle(borrower, inner);
    assert!(!sim.freed(inner));
    sim.flush();
    assert!(sim.freed(inner));
    assert_winds_down_clean(&mut sim);
}

/// 38: the same nested ref is recorded without a handle, then deserialized; the
/// owner hears of it exactly when it matters.
#[test]
fn repeated_deserialization() {
    let mut sim = Sim::new(2);
    let (owner, borrower) = (w(0), w(1));
    let (inner, middle, outer) = nested_three(&mut sim, owner);
    lend(&mut sim, owner, borrower, outer);
    for id in [inner, middle, outer] {
        sim.drop_handle(owner, id);
    }
    sim.deserialize(borrower, middle, owner, Some(outer));
    sim.table_mut(borrower)
        .add_borrowed(inner, owner, Some(middle));
    sim.pump(borrower);

    sim.drop_handle(borrower, outer);
    sim.flush();
    assert!(sim.freed(outer) && !sim.freed(middle) && !sim.freed(inner));

    sim.deserialize(borrower, inner, owner, Some(middle));
    sim.drop_handle(borrower, middle);
    sim.flush();
    assert!(sim.freed(middle) && !sim.freed(inner));

    sim.drop_handle(borrower, inner);
    sim.flush();
    assert!(sim.freed(inner));
    assert_winds_down_clean(&mut sim);
}

/// 39: a borrower forwards the outer ref to a second borrower, which unwraps the inner
/// one; the owner must then subscribe to the second borrower for the inner one.
#[test]
fn forward_nested_refs() {
    let mut sim = Sim::new(3);
    let (owner, b1, b2) = (w(0), w(1), w(2));
    let (inner, middle, outer) = nested_three(&mut sim, owner);
    lend(&mut sim, owner, b1, outer);
    for id in [inner, middle, outer] {
        sim.drop_handle(owner, id);
    }
    let task = sim.submit(b1, &[outer], 0);
    let exec = sim.start(b2, &task);
    assert_eq!(sim.get(b2, outer), Ok(vec![middle]));
    assert_eq!(sim.get(b2, middle), Ok(vec![inner]));
    sim.drop_handle(b2, middle);
    let reply = sim.finish(exec);
    sim.deliver_reply(reply);
    sim.drop_handle(b1, outer);

    sim.flush_to(b1);
    sim.flush_to(owner);
    assert!(sim.freed(outer) && sim.freed(middle) && !sim.freed(inner));
    assert!(sim.table(owner).borrowers(inner).contains(&b2));
    sim.flush();
    assert_eq!(
        sim.table(owner).borrowers(inner),
        vec![b2],
        "b1 was only forwarding"
    );
    sim.drop_handle(b2, inner);
    sim.flush();
    assert!(sim.freed(inner));
    assert_winds_down_clean(&mut sim);
}

/// 42: deleting a borrowed object with a nested ref cleans the nested link once.
#[test]
fn delete_borrowed_object_with_nested_refs() {
    let mut sim = Sim::new(2);
    let (owner, borrower) = (w(0), w(1));
    let inner = sim.put(owner, &[]);
    let outer = sim.put(owner, &[inner]);
    sim.deserialize(borrower, outer, owner, None);
    sim.deserialize(borrower, inner, owner, Some(outer));
    sim.drop_handle(borrower, inner);
    assert!(
        sim.table(borrower).has(inner),
        "nested in a borrowed object"
    );
    sim.drop_handle(borrower, outer);
    assert!(!sim.table(borrower).has(outer) && !sim.table(borrower).has(inner));
    assert_winds_down_clean(&mut sim);
}

/// 43: a nested ref recorded with no handle is kept alive by containment alone.
#[test]
fn add_borrowed_object_with_zero_ref_count() {
    let mut sim = Sim::new(2);
    let (owner, borrower) = (w(0), w(1));
    let inner = sim.put(owner, &[]);
    let outer = sim.put(owner, &[inner]);
    sim.deserialize(borrower, outer, owner, None);
    sim.table_mut(borrower)
        .add_borrowed(inner, owner, Some(outer));
    assert!(sim.table(borrower).has(inner) && sim.table(borrower).has(outer));
    sim.drop_handle(borrower, outer);
    assert!(!sim.table(borrower).has(outer) && !sim.table(borrower).has(inner));
    assert_winds_down_clean(&mut sim);
}

/// 44: recording the same nesting three times is the same as once.
#[test]
fn add_borrowed_object_idempotent() {
    let mut sim = Sim::new(2);
    let (owner, borrower) = (w(0), w(1));
    let inner = sim.put(owner, &[]);
    let outer = sim.put(owner, &[inner]);
    sim.deserialize(borrower, outer, owner, None);
    sim.deserialize(borrower, inner, owner, None);
    for _ in 0..3 {
        sim.table_mut(borrower)
            .add_borrowed(inner, owner, Some(outer));
    }
    assert!(sim.table(borrower).has(inner) && sim.table(borrower).has(outer));
    sim.drop_handle(borrower, inner);
    sim.drop_handle(borrower, outer);
    assert!(!sim.table(borrower).has(outer) && !sim.table(borrower).has(inner));
    assert_winds_down_clean(&mut sim);
}

/// 45: storing the same refs in the same object twice registers them once, whether the
/// outer object is ours, or the caller's and the inner ref ours, or borrowed.
#[test]
fn add_nested_object_ids_idempotency() {
    let mut sim = Sim::new(2);
    let (caller, executor) = (w(0), w(1));

    // Case 1: a put of a nested object, outer owned by us.
    let id2 = sim.put(executor, &[]);
    let id1 = sim.put(executor, &[id2]);
    sim.table_mut(executor)
        .add_nested(id1, executor, &[(id2, executor)]);
    assert_eq!(sim.table(executor).contains_ids(id1), vec![id2]);
    sim.drop_handle(executor, id2);
    sim.drop_handle(executor, id1);
    assert!(!sim.table(executor).has(id1) && !sim.table(executor).has(id2));

    // Case 2: a return value owned by the caller contains an object we own.
    let task = sim.submit(caller, &[], 1);
    let mut exec = sim.start(executor, &task);
    let id3 = sim.put(executor, &[]);
    sim.return_refs(&mut exec, 1, &[id3]);
    sim.return_refs(&mut exec, 1, &[id3]);
    let subscriptions = sim
        .queue()
        .iter()
        .filter(|env| {
            matches!(
                env.payload,
                Payload::Protocol(ProtocolMessage::WaitForRefRemoved { .. })
            )
        })
        .count();
    assert_eq!(subscriptions, 1);
    sim.drop_handle(executor, id3);
    assert!(sim.table(executor).has(id3), "the caller borrows it");
    let reply = sim.finish(exec);
    sim.deliver_reply(reply);
    sim.drop_handle(caller, task.ret(1));
    sim.flush();
    assert!(!sim.table(executor).has(id3) && sim.freed(id3));

    // Case 3: a return value owned by the caller contains a ref we borrow.
    let id5 = sim.put(caller, &[]);
    let task = sim.submit(caller, &[id5], 1);
    let mut exec = sim.start(executor, &task);
    sim.return_refs(&mut exec, 1, &[id5]);
    sim.return_refs(&mut exec, 1, &[id5]);
    assert_eq!(
        sim.table(executor).stored_in(id5),
        vec![(task.ret(1), caller)]
    );
    let reply = sim.finish(exec);
    assert_eq!(
        reply.report.get(id5).map(|r| r.stored_in.clone()),
        Some(vec![(task.ret(1), caller)])
    );
    assert!(!sim.table(executor).has(id5));
    sim.deliver_reply(reply);
    assert_winds_down_clean(&mut sim);
}

/// Effects come out in the order they were decided, and taking them empties the list.
#[test]
fn effects_are_drained_in_order() {
    let mut table = RefTable::new(WorkerId(0), TableConfig::default());
    let a = ObjectId::put(WorkerId(0), 1);
    let b = ObjectId::put(WorkerId(0), 2);
    table.put(a, &[], None);
    table.put(b, &[(a, WorkerId(0))], None);
    table.remove_local(a);
    assert!(table.take_effects().is_empty(), "a is still contained in b");
    table.remove_local(b);
    let effects = table.take_effects();
    let released: Vec<_> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::ReleaseValue { id, owned: true } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(released, vec![b, a]);
    assert!(table.take_effects().is_empty() && table.is_empty());
}
