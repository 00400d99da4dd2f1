//! Borrowing scenarios of Ray's reference counter (ownership.md, scenarios 8–28), on the
//! deterministic simulator. Each test asserts when values are freed (never early) and
//! that every table ends empty.

mod common;

use common::*;
use doreisa_proto::ObjectId;
use doreisa_proto::ownership::ProtocolMessage;
use doreisa_proto::ownership::sim::{Execution, Payload, Sim, TaskReply};

/// 8: the borrower waits for its own sub-task before returning; nothing is borrowed
/// past the task, so the owner frees both objects when the reply arrives.
#[test]
fn no_borrow() {
    let mut sim = Sim::new(3);
    let (owner, borrower, other) = (w(0), w(1), w(2));
    let (inner, outer, task) = owner_passes_wrapped_ref(&mut sim, owner);

    let exec = sim.start(borrower, &task);
    assert_eq!(sim.get(borrower, outer), Ok(vec![inner]));
    let sub = sim.submit(borrower, &[inner], 1);
    sim.drop_handle(borrower, inner);
    assert!(sim.table(borrower).has(inner));
    run_elsewhere(&mut sim, other, &sub);
    let reply = sim.finish(exec);
    assert!(!sim.table(borrower).has(inner) && !sim.table(borrower).has(outer));
    assert!(!sim.freed(inner) && !sim.freed(outer));

    sim.deliver_reply(reply);
    sim.flush();
    assert!(sim.freed(outer) && sim.freed(inner));
    assert!(!sim.table(owner).has(inner) && !sim.table(owner).has(outer));
    assert_winds_down_clean(&mut sim);
}

/// 9: the borrower returns while its sub-task still uses the ref; the owner learns the
/// borrower from the reply and frees only when the sub-task is done.
#[test]
fn simple_borrower() {
    let mut sim = Sim::new(3);
    let (owner, borrower, other) = (w(0), w(1), w(2));
    let (inner, outer, task) = owner_passes_wrapped_ref(&mut sim, owner);

    let exec = sim.start(borrower, &task);
    sim.get(borrower, outer).unwrap();
    let sub = sim.submit(borrower, &[inner], 1);
    sim.drop_handle(borrower, inner);
    let reply = sim.finish(exec);
    assert!(sim.table(borrower).has(inner));

    sim.deliver_reply(reply);
    sim.flush();
    assert!(sim.freed(outer), "outer is no longer used by anyone");
    assert!(!sim.freed(inner) && sim.table(owner).borrowers(inner) == vec![borrower]);

    run_elsewhere(&mut sim, other, &sub);
    assert!(!sim.table(borrower).has(inner));
    assert!(
        !sim.freed(inner),
        "the owner has not heard from the borrower yet"
    );
    sim.flush();
    assert!(sim.freed(inner));
    assert_winds_down_clean(&mut sim);
}

/// 10: as 9, but the borrower dies: the owner frees once the death is acknowledged.
#[test]
fn simple_borrower_failure() {
    let mut sim = Sim::new(3);
    let (owner, borrower) = (w(0), w(1));
    let (inner, outer, task) = owner_passes_wrapped_ref(&mut sim, owner);

    let exec = sim.start(borrower, &task);
    sim.get(borrower, outer).unwrap();
    let _sub = sim.submit(borrower, &[inner], 1);
    sim.drop_handle(borrower, inner);
    let reply = sim.finish(exec);
    sim.deliver_reply(reply);
    sim.flush();
    assert!(sim.table(owner).has(inner) && !sim.freed(inner));

    sim.kill(borrower);
    // The owner applies the death first: it holds frees until the survivors answer.
    let notice = sim.queue().iter().position(|env| env.to == owner).unwrap();
    sim.deliver_at(notice);
    assert!(sim.table(owner).holding_frees() && !sim.freed(inner));
    sim.flush();
    assert!(sim.freed(inner) && !sim.table(owner).has(inner));
    assert_winds_down_clean(&mut sim);
}

/// 11: the borrower keeps the ref past its task and drops it before the owner's
/// subscription arrives: it answers at once.
#[test]
fn simple_borrower_reference_removed() {
    let mut sim = Sim::new(2);
    let (owner, borrower) = (w(0), w(1));
    let (inner, outer, task) = owner_passes_wrapped_ref(&mut sim, owner);

    let exec = sim.start(borrower, &task);
    sim.get(borrower, outer).unwrap();
    let reply = sim.finish(exec);
    assert!(sim.table(borrower).has(inner) && !sim.table(borrower).has(outer));
    sim.deliver_reply(reply);
    assert!(sim.freed(outer) && !sim.freed(inner));

    sim.drop_handle(borrower, inner);
    assert!(!sim.table(borrower).has(inner));
    assert!(
        !sim.freed(inner),
        "the subscription has not reached the borrower"
    );
    sim.flush();
    assert!(sim.freed(inner));
    assert_winds_down_clean(&mut sim);
}

/// 12: the borrower re-wraps the ref and passes it to a second borrower; the owner
/// learns of the second one through the first one's answer.
#[test]
fn borrower_tree() {
    let mut sim = Sim::new(3);
    let (owner, b1, b2) = (w(0), w(1), w(2));
    let (inner, outer, task) = owner_passes_wrapped_ref(&mut sim, owner);

    let exec1 = sim.start(b1, &task);
    sim.get(b1, outer).unwrap();
    let outer2 = sim.put(b1, &[inner]);
    let task2 = sim.submit(b1, &[outer2], 1);
    sim.drop_handle(b1, inner);
    sim.drop_handle(b1, outer2);
    assert!(sim.table(b1).has(inner) && sim.table(b1).has(outer2));
    let reply1 = sim.finish(exec1);
    assert!(sim.table(b1).has(inner) && !sim.table(b1).has(outer));
    sim.deliver_reply(reply1);
    sim.flush();
    assert!(sim.freed(outer) && !sim.freed(inner));

    let exec2 = sim.start(b2, &task2);
    assert_eq!(sim.get(b2, outer2), Ok(vec![inner]));
    let reply2 = sim.finish(exec2);
    assert!(sim.table(b2).has(inner) && !sim.table(b2).has(outer2));
    sim.deliver_reply(reply2);
    sim.flush();
    assert!(!sim.table(b1).has(inner) && sim.freed(outer2));
    assert_eq!(sim.table(owner).borrowers(inner), vec![b2]);
    assert!(!sim.freed(inner));

    sim.drop_handle(b2, inner);
    sim.flush();
    assert!(sim.freed(inner));
    assert_winds_down_clean(&mut sim);
}

/// 13: three levels of nesting; the borrower unwraps the innermost and drops it.
#[test]
fn nested_object_no_borrow() {
    let mut sim = Sim::new(2);
    let (owner, borrower) = (w(0), w(1));
    let (inner, mid, outer) = nested_three(&mut sim, owner);
    let task = sim.submit(owner, &[outer], 1);
    for id in [outer, mid, inner] {
        sim.drop_handle(owner, id);
    }

    let exec = sim.start(borrower, &task);
    assert_eq!(sim.get(borrower, outer), Ok(vec![mid]));
    assert!(sim.table(borrower).has(mid) && !sim.table(borrower).has(inner));
    assert_eq!(sim.get(borrower, mid), Ok(vec![inner]));
    sim.drop_handle(borrower, mid);
    assert!(sim.table(borrower).has(inner));
    sim.drop_handle(borrower, inner);
    let reply = sim.finish(exec);
    for id in [outer, mid, inner] {
        assert!(!sim.table(borrower).has(id) && !sim.freed(id));
    }
    sim.deliver_reply(reply);
    for id in [outer, mid, inner] {
        assert!(sim.freed(id) && !sim.table(owner).has(id));
    }
    assert_winds_down_clean(&mut sim);
}

/// 14: as 13, but the borrower keeps the innermost ref past its task.
#[test]
fn nested_object() {
    let mut sim = Sim::new(2);
    let (owner, borrower) = (w(0), w(1));
    let (inner, mid, outer) = nested_three(&mut sim, owner);
    let task = sim.submit(owner, &[outer], 1);
    for id in [outer, mid, inner] {
        sim.drop_handle(owner, id);
    }

    let exec = sim.start(borrower, &task);
    sim.get(borrower, outer).unwrap();
    sim.get(borrower, mid).unwrap();
    sim.drop_handle(borrower, mid);
    let reply = sim.finish(exec);
    assert!(sim.table(borrower).has(inner) && !sim.table(borrower).has(mid));
    sim.deliver_reply(reply);
    assert!(sim.freed(outer) && sim.freed(mid) && !sim.freed(inner));
    sim.flush();
    assert!(sim.table(owner).has(inner) && !sim.freed(inner));

    sim.drop_handle(borrower, inner);
    sim.flush();
    assert!(sim.freed(inner));
    assert_winds_down_clean(&mut sim);
}

/// Objects of scenarios 15 and 16.
struct DifferentOwners {
    id1: ObjectId,
    id2: ObjectId,
    id3: ObjectId,
    b1_object: ObjectId,
    b1_exec: Execution,
}

/// Shared by 15 and 16: the owner nests id1 in id2 in id3 and passes id3 to b1; b1
/// unwraps id2, re-wraps it in its own object and passes that to b2, which unwraps down
/// to id1, keeps it, and replies to b1.
fn different_owners_prologue(sim: &mut Sim) -> DifferentOwners {
    let (owner, b1, b2) = (w(0), w(1), w(2));
    let (id1, id2, id3) = nested_three(sim, owner);
    let owner_task = sim.submit(owner, &[id3], 1);
    for id in [id1, id2, id3] {
        sim.drop_handle(owner, id);
    }
    let b1_exec = sim.start(b1, &owner_task);
    assert_eq!(sim.get(b1, id3), Ok(vec![id2]));
    assert!(sim.table(b1).has(id2) && !sim.table(b1).has(id1));
    let b1_object = sim.put(b1, &[id2]);
    sim.drop_handle(b1, id2);
    let b1_task = sim.submit(b1, &[b1_object], 1);

    let b2_exec = sim.start(b2, &b1_task);
    assert_eq!(sim.get(b2, b1_object), Ok(vec![id2]));
    assert_eq!(sim.get(b2, id2), Ok(vec![id1]));
    sim.drop_handle(b2, id2);
    let b2_reply = sim.finish(b2_exec);
    assert!(sim.table(b2).has(id1) && !sim.table(b2).has(id2));
    sim.deliver_reply(b2_reply);
    assert!(sim.table(b1).has(id1), "b1 now answers for b2's use of id1");
    DifferentOwners {
        id1,
        id2,
        id3,
        b1_object,
        b1_exec,
    }
}

/// 15: b1 waits for b2's task before returning; everything it learnt travels in its
/// reply to the owner.
#[test]
fn nested_object_different_owners() {
    let mut sim = Sim::new(3);
    let (owner, b1, b2) = (w(0), w(1), w(2));
    let DifferentOwners {
        id1,
        id2,
        id3,
        b1_object,
        b1_exec: exec1,
    } = different_owners_prologue(&mut sim);
    sim.drop_handle(b1, b1_object);
    assert!(sim.freed(b1_object));

    let reply1 = sim.finish(exec1);
    sim.deliver_reply(reply1);
    assert!(sim.freed(id3) && sim.freed(id2) && !sim.freed(id1));
    sim.flush();
    for id in [id1, id2, id3, b1_object] {
        assert!(
            !sim.table(b1).has(id),
            "b1 forwarded b2's use to the owner, which acknowledged it"
        );
    }
    assert_eq!(sim.table(owner).borrowers(id1), vec![b2]);
    assert!(!sim.freed(id1));
    sim.drop_handle(b2, id1);
    sim.flush();
    assert!(sim.freed(id1));
    assert_winds_down_clean(&mut sim);
}

/// 16: as 15, but b1 keeps its own object (which contains id2) and does not wait.
#[test]
fn nested_object_different_owners2() {
    let mut sim = Sim::new(3);
    let (owner, b1, b2) = (w(0), w(1), w(2));
    let DifferentOwners {
        id1,
        id2,
        id3,
        b1_object,
        b1_exec: exec1,
    } = different_owners_prologue(&mut sim);
    assert!(sim.table(b1).has(id1) && sim.table(b1).has(id2));

    let reply1 = sim.finish(exec1);
    assert!(sim.table(b1).has(id2) && !sim.table(b1).has(id3));
    sim.deliver_reply(reply1);
    assert!(sim.freed(id3) && !sim.freed(id2) && !sim.freed(id1));
    sim.flush();
    sim.drop_handle(b2, id1);
    sim.flush();
    assert!(!sim.freed(id1), "id2 is alive and contains id1");
    assert!(!sim.freed(id2));

    sim.drop_handle(b1, b1_object);
    sim.flush();
    assert!(sim.freed(b1_object) && sim.freed(id2) && sim.freed(id1));
    assert!(!sim.table(owner).has(id1) && !sim.table(owner).has(id2));
    assert_winds_down_clean(&mut sim);
}

/// 17: the ref comes back to a task executing on its owner.
#[test]
fn borrower_ping_pong() {
    let mut sim = Sim::new(2);
    let (owner, borrower) = (w(0), w(1));
    let (inner, outer, task) = owner_passes_wrapped_ref(&mut sim, owner);

    let exec = sim.start(borrower, &task);
    sim.get(borrower, outer).unwrap();
    let outer2 = sim.put(borrower, &[inner]);
    let task2 = sim.submit(borrower, &[outer2], 1);
    sim.drop_handle(borrower, inner);
    sim.drop_handle(borrower, outer2);
    let reply = sim.finish(exec);
    assert!(sim.table(borrower).has(inner) && sim.table(borrower).has(outer2));
    sim.deliver_reply(reply);
    sim.flush();
    assert!(sim.freed(outer) && !sim.freed(inner));

    let exec2 = sim.start(owner, &task2);
    assert_eq!(sim.get(owner, outer2), Ok(vec![inner]));
    let reply2 = sim.finish(exec2);
    sim.deliver_reply(reply2);
    sim.flush();
    assert!(!sim.table(borrower).has(inner) && !sim.table(borrower).has(outer2));
    assert!(
        sim.freed(outer2) && !sim.freed(inner),
        "the owner itself still holds it"
    );

    sim.drop_handle(owner, inner);
    assert!(sim.freed(inner));
    assert_winds_down_clean(&mut sim);
}

/// 18: one worker receives the same ref twice (two tasks); the owner counts it once.
#[test]
fn duplicate_borrower() {
    let mut sim = Sim::new(3);
    let (owner, borrower, other) = (w(0), w(1), w(2));
    let inner = sim.put(owner, &[]);
    let outer = sim.put(owner, &[inner]);
    let task1 = sim.submit(owner, &[outer], 1);
    sim.drop_handle(owner, inner);

    let exec1 = sim.start(borrower, &task1);
    sim.get(borrower, outer).unwrap();
    let sub = sim.submit(borrower, &[inner], 1);
    sim.drop_handle(borrower, inner);
    let reply1 = sim.finish(exec1);

    let task3 = sim.submit(owner, &[outer], 1);
    sim.drop_handle(owner, outer);
    let exec3 = sim.start(borrower, &task3);
    sim.get(borrower, outer).unwrap();
    let reply3 = sim.finish(exec3);

    sim.deliver_reply(reply1);
    sim.deliver_reply(reply3);
    let subscriptions = sim
        .queue()
        .iter()
        .filter(|env| {
            matches!(&env.payload, Payload::Protocol(ProtocolMessage::WaitForRefRemoved { id, .. }) if *id == inner)
        })
        .count();
    // Unlike Ray, the second report renews the request: an answer to the first one could
    // have left before the use the second report describes.
    assert_eq!(subscriptions, 2);
    assert_eq!(
        sim.table(owner).borrowers(inner),
        vec![borrower],
        "counted once"
    );
    sim.flush();
    assert!(sim.freed(outer) && !sim.freed(inner));

    run_elsewhere(&mut sim, other, &sub);
    sim.flush();
    assert!(
        !sim.freed(inner),
        "the borrower still holds its second handle"
    );
    sim.drop_handle(borrower, inner);
    sim.flush();
    assert!(sim.freed(inner));
    assert_winds_down_clean(&mut sim);
}

/// 19: a task puts an object on behalf of another owner and returns it; the foreign
/// owner learns of the caller through the putter, not through the caller's reply.
#[test]
fn foreign_owner() {
    let mut sim = Sim::new(3);
    let (caller, putter, foreign) = (w(0), w(1), w(2));
    let task = sim.submit(caller, &[], 1);
    let mut exec = sim.start(putter, &task);
    let inner = sim.put_with_owner(putter, foreign);
    sim.return_refs(&mut exec, 1, &[inner]);
    let reply = sim.finish(exec);
    assert!(sim.table(putter).has(inner) && !sim.table(caller).has(inner));
    sim.deliver_reply(reply);
    assert!(sim.table(caller).has(inner));

    // The caller passes the return value back to the putter.
    let ret = task.ret(1);
    let task2 = sim.submit(caller, &[ret], 1);
    sim.drop_handle(caller, ret);
    let exec2 = sim.start(putter, &task2);
    assert_eq!(sim.get(putter, ret), Ok(vec![inner]));
    let reply2 = sim.finish(exec2);
    sim.deliver_reply(reply2);
    assert!(!sim.table(caller).has(inner) && !sim.table(caller).has(ret));
    assert!(sim.table(putter).has(inner));

    // The foreign owner adopts the object and subscribes to the putter.
    sim.flush();
    assert!(sim.table(foreign).is_owned(inner) && !sim.freed(inner));
    sim.drop_handle(putter, inner);
    sim.drop_handle(putter, inner);
    sim.flush();
    assert!(sim.freed(inner));
    for x in [caller, putter, foreign] {
        assert!(!sim.table(x).has(inner));
    }
    assert_winds_down_clean(&mut sim);
}

/// 20: the same inner id reaches one worker through two different outer objects.
#[test]
fn duplicate_nested_object() {
    let mut sim = Sim::new(3);
    let (owner, b1, b2) = (w(0), w(1), w(2));
    let (id1, id2, id3) = nested_three(&mut sim, owner);
    let task1 = sim.submit(owner, &[id3], 1);
    let task2 = sim.submit(owner, &[id2], 1);
    for id in [id1, id2, id3] {
        sim.drop_handle(owner, id);
    }

    let exec = sim.start(b2, &task1);
    sim.get(b2, id3).unwrap();
    sim.get(b2, id2).unwrap();
    sim.drop_handle(b2, id2);
    let reply = sim.finish(exec);
    sim.deliver_reply(reply);
    assert!(sim.flush_to(b2) > 0);

    let exec1 = sim.start(b1, &task2);
    sim.get(b1, id2).unwrap();
    let b1_object = sim.put(b1, &[id1]);
    sim.drop_handle(b1, id1);
    let b1_task = sim.submit(b1, &[b1_object], 1);
    sim.drop_handle(b1, b1_object);
    let exec2 = sim.start(b2, &b1_task);
    sim.get(b2, b1_object).unwrap();
    assert_eq!(sim.handles(b2, id1), 2);
    let reply2 = sim.finish(exec2);
    sim.deliver_reply(reply2);
    let reply1 = sim.finish(exec1);
    for id in [id1, id2, id3, b1_object] {
        assert!(!sim.table(b1).has(id));
    }
    sim.deliver_reply(reply1);
    sim.flush();
    assert!(sim.freed(id3) && sim.freed(id2) && !sim.freed(id1));
    sim.drop_handle(b2, id1);
    sim.flush();
    assert!(!sim.freed(id1));
    sim.drop_handle(b2, id1);
    sim.flush();
    assert!(sim.freed(id1));
    assert_winds_down_clean(&mut sim);
}

/// 21: a task returns an id its executor owns; the caller drops the return before the
/// owner's subscription arrives.
#[test]
fn return_object_id_no_borrow() {
    let mut sim = Sim::new(2);
    let (caller, owner) = (w(0), w(1));
    let (task, inner, reply) = task_returns_owned_ref(&mut sim, caller, owner);
    assert!(reply.report.is_empty() && sim.table(owner).has(inner));

    sim.deliver_reply(reply);
    sim.drop_handle(caller, task.ret(1));
    assert!(!sim.table(caller).has(task.ret(1)) && !sim.table(caller).has(inner));
    assert!(!sim.freed(inner));
    sim.flush();
    assert!(sim.freed(inner));
    assert_winds_down_clean(&mut sim);
}

/// 22: as 21, but the caller keeps the return value, which keeps the inner id alive.
#[test]
fn return_object_id_borrow() {
    let mut sim = Sim::new(2);
    let (caller, owner) = (w(0), w(1));
    let (task, inner, reply) = task_returns_owned_ref(&mut sim, caller, owner);
    sim.deliver_reply(reply);
    sim.flush();
    assert!(sim.table(owner).has(inner) && !sim.freed(inner));

    sim.drop_handle(caller, task.ret(1));
    assert!(!sim.table(caller).has(inner));
    sim.flush();
    assert!(sim.freed(inner));
    assert_winds_down_clean(&mut sim);
}

/// 23: the caller passes the returned object on to a task that keeps borrowing the
/// inner id.
#[test]
fn return_object_id_borrow_chain() {
    let mut sim = Sim::new(3);
    let (caller, owner, borrower) = (w(0), w(1), w(2));
    let (task, inner, reply) = task_returns_owned_ref(&mut sim, caller, owner);
    sim.deliver_reply(reply);
    let ret = task.ret(1);
    let task2 = sim.submit(caller, &[ret], 1);
    sim.drop_handle(caller, ret);
    assert!(sim.flush() > 0);
    assert!(!sim.freed(inner));

    let exec2 = sim.start(borrower, &task2);
    assert_eq!(sim.get(borrower, ret), Ok(vec![inner]));
    let reply2 = sim.finish(exec2);
    assert!(sim.table(borrower).has(inner));
    sim.deliver_reply(reply2);
    assert!(!sim.table(caller).has(ret));
    assert!(
        sim.table(caller).has(inner),
        "until the owner acknowledges the news"
    );
    sim.flush();
    assert!(!sim.table(caller).has(inner));
    assert_eq!(sim.table(owner).borrowers(inner), vec![borrower]);
    assert!(!sim.freed(inner));

    sim.drop_handle(borrower, inner);
    sim.flush();
    assert!(sim.freed(inner));
    assert_winds_down_clean(&mut sim);
}

/// Shared by 24 and 25: the owner returns `inner` to the caller inside `ret`; the
/// caller passes `ret` to the borrower, which returns `inner` inside its own return.
fn return_borrowed_prologue(sim: &mut Sim, flush_early: bool) -> (ObjectId, ObjectId) {
    let (caller, owner, borrower) = (w(0), w(1), w(2));
    let (task, inner, reply) = task_returns_owned_ref(sim, caller, owner);
    sim.deliver_reply(reply);
    let ret = task.ret(1);
    let task2 = sim.submit(caller, &[ret], 1);
    sim.drop_handle(caller, ret);
    if flush_early {
        assert!(sim.flush() > 0);
    }
    assert!(!sim.freed(inner));

    let mut exec2 = sim.start(borrower, &task2);
    assert_eq!(sim.get(borrower, ret), Ok(vec![inner]));
    sim.return_refs(&mut exec2, 1, &[inner]);
    let reply2 = sim.finish(exec2);
    assert!(sim.table(borrower).has(inner));
    sim.deliver_reply(reply2);
    assert!(!sim.table(caller).has(ret));
    assert!(sim.table(caller).has(task2.ret(1)) && sim.table(caller).has(inner));
    (inner, task2.ret(1))
}

/// 24: a borrower returns the borrowed id inside its own return value.
#[test]
fn return_borrowed_id() {
    let mut sim = Sim::new(3);
    let (caller, borrower) = (w(0), w(2));
    let (inner, borrower_ret) = return_borrowed_prologue(&mut sim, true);
    sim.drop_handle(borrower, inner);
    // Unlike Ray, the borrower keeps the registration of the caller (which holds `inner`
    // in its return value) until the owner asks for it: only the owner may receive it.
    assert_eq!(
        sim.table(borrower).stored_in(inner),
        vec![(borrower_ret, caller)]
    );
    sim.drop_handle(caller, borrower_ret);
    assert!(!sim.table(caller).has(borrower_ret));
    assert!(
        !sim.freed(inner),
        "the owner has not heard of the borrower nor of the caller's return value"
    );
    sim.flush();
    assert!(sim.freed(inner));
    assert!(!sim.table(borrower).has(inner) && !sim.table(caller).has(inner));
    assert_winds_down_clean(&mut sim);
}

/// 25: as 24, and the caller deserializes the inner id from the second return value.
#[test]
fn return_borrowed_id_deserialize() {
    let mut sim = Sim::new(3);
    let (caller, borrower) = (w(0), w(2));
    let (inner, borrower_ret) = return_borrowed_prologue(&mut sim, false);
    assert_eq!(sim.get(caller, borrower_ret), Ok(vec![inner]));
    sim.drop_handle(caller, borrower_ret);
    sim.flush();
    sim.drop_handle(caller, inner);
    assert!(!sim.table(caller).has(inner) && !sim.freed(inner));
    sim.flush();
    assert!(!sim.freed(inner), "the borrower still holds it");
    sim.drop_handle(borrower, inner);
    sim.flush();
    assert!(sim.freed(inner));
    assert_winds_down_clean(&mut sim);
}

/// 26: return ids returned recursively across three workers.
#[test]
fn return_id_chain() {
    let mut sim = Sim::new(3);
    let (root, worker, nested) = (w(0), w(1), w(2));
    let task = sim.submit(root, &[], 1);
    let mut exec = sim.start(worker, &task);
    let nested_task = sim.submit(worker, &[], 1);
    sim.return_refs(&mut exec, 1, &[nested_task.ret(1)]);
    let reply = sim.finish(exec);

    let mut nested_exec = sim.start(nested, &nested_task);
    let inner = sim.put(nested, &[]);
    sim.return_refs(&mut nested_exec, 1, &[inner]);
    sim.drop_handle(nested, inner);
    let nested_reply = sim.finish(nested_exec);

    sim.deliver_reply(reply);
    sim.deliver_reply(nested_reply);
    sim.flush();
    assert!(sim.table(nested).has(inner) && !sim.freed(inner));
    sim.drop_handle(worker, nested_task.ret(1));
    sim.flush();
    assert!(!sim.freed(inner) && !sim.freed(nested_task.ret(1)));
    sim.drop_handle(root, task.ret(1));
    sim.flush();
    assert!(sim.freed(nested_task.ret(1)) && sim.freed(inner));
    assert!(!sim.table(nested).has(inner));
    assert_winds_down_clean(&mut sim);
}

/// Shared by 27 and 28: `worker` gets `inner` from its nested task's return and
/// returns it to `root`; returns the reply for root and `inner`.
fn return_borrowed_id_chain_prologue(sim: &mut Sim) -> (TaskReply, ObjectId) {
    let (root, worker, nested) = (w(0), w(1), w(2));
    let task = sim.submit(root, &[], 1);
    let mut exec = sim.start(worker, &task);
    let nested_task = sim.submit(worker, &[], 1);
    let mut nested_exec = sim.start(nested, &nested_task);
    let inner = sim.put(nested, &[]);
    sim.return_refs(&mut nested_exec, 1, &[inner]);
    sim.drop_handle(nested, inner);
    let nested_reply = sim.finish(nested_exec);
    assert!(sim.table(nested).has(inner));
    sim.deliver_reply(nested_reply);
    sim.flush();

    assert_eq!(sim.get(worker, nested_task.ret(1)), Ok(vec![inner]));
    sim.return_refs(&mut exec, 1, &[inner]);
    let reply = sim.finish(exec);
    sim.drop_handle(worker, inner);
    assert!(
        sim.table(worker).has(inner),
        "stored in root's return value"
    );
    sim.drop_handle(worker, nested_task.ret(1));
    assert!(!sim.table(worker).has(inner));
    sim.flush_to(nested);
    assert!(sim.table(nested).has(inner) && !sim.freed(inner));
    (reply, inner)
}

/// 27: the middle worker gets the inner id and re-returns it.
#[test]
fn return_borrowed_id_chain() {
    let mut sim = Sim::new(3);
    let root = w(0);
    let (reply, inner) = return_borrowed_id_chain_prologue(&mut sim);
    sim.deliver_reply(reply);
    sim.flush();
    assert!(!sim.freed(inner));
    sim.drop_handle(root, reply_ret(&sim));
    sim.flush();
    assert!(sim.freed(inner));
    assert_winds_down_clean(&mut sim);
}

fn reply_ret(sim: &Sim) -> ObjectId {
    let root = w(0);
    let held = sim.held(root);
    assert_eq!(held.len(), 1);
    held[0]
}

/// 28: as 27, but the owner's subscription reaches the root before the task reply.
#[test]
fn return_borrowed_id_chain_out_of_order() {
    let mut sim = Sim::new(3);
    let root = w(0);
    let (reply, inner) = return_borrowed_id_chain_prologue(&mut sim);
    assert!(sim.flush_to(root) > 0, "the subscription arrives first");
    assert!(!sim.freed(inner));
    sim.deliver_reply(reply);
    sim.drop_handle(root, reply_ret(&sim));
    assert!(!sim.table(root).has(inner));
    sim.flush();
    assert!(sim.freed(inner));
    assert_winds_down_clean(&mut sim);
}

/// Beyond Ray's list: an executor that owns a ref stores it in two returns for the same
/// caller, which drops the first return before the owner's requests arrive. Each
/// containing object gets its own request, so the second one keeps the ref alive.
#[test]
fn owned_ref_returned_in_two_returns() {
    let mut sim = Sim::new(2);
    let (caller, owner) = (w(0), w(1));
    let task = sim.submit(caller, &[], 2);
    let mut exec = sim.start(owner, &task);
    let inner = sim.put(owner, &[]);
    sim.return_refs(&mut exec, 1, &[inner]);
    sim.return_refs(&mut exec, 2, &[inner]);
    sim.drop_handle(owner, inner);
    let requests = sim
        .queue()
        .iter()
        .filter(|env| {
            matches!(
                env.payload,
                Payload::Protocol(ProtocolMessage::WaitForRefRemoved { .. })
            )
        })
        .count();
    assert_eq!(requests, 2, "one request per containing object");
    let reply = sim.finish(exec);
    sim.drop_handle(caller, task.ret(1));
    sim.flush();
    assert!(
        !sim.freed(inner),
        "the request about the first return is answered at once"
    );
    sim.deliver_reply(reply);
    sim.flush();
    assert!(
        !sim.freed(inner),
        "the caller holds it in the second return"
    );
    sim.drop_handle(caller, task.ret(2));
    sim.flush();
    assert!(sim.freed(inner));
    assert_winds_down_clean(&mut sim);
}
