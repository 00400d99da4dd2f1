//! Worker deaths: owners (fate sharing, `OwnerDied` for every holder, never a hang) and
//! borrowers (the death barrier keeps values that survivors still use).

mod common;

use common::*;
use doreisa_proto::WorkerId;
use doreisa_proto::ownership::LossReason;
use doreisa_proto::ownership::sim::{GetError, Payload, Sim};

/// Index in the queue of the membership notice addressed to `to`.
fn notice_for(sim: &Sim, to: WorkerId) -> usize {
    sim.queue()
        .iter()
        .position(|env| env.to == to && matches!(env.payload, Payload::Deaths { .. }))
        .expect("no membership notice queued")
}

#[test]
fn owner_death_fails_every_holder() {
    let mut sim = Sim::new(4);
    let (owner, b1, b2, bystander) = (w(0), w(1), w(2), w(3));
    let inner = sim.put(owner, &[]);
    let outer = sim.put(owner, &[inner]);
    let task = sim.submit(owner, &[outer], 1);
    let exec = sim.start(b1, &task);
    sim.get(b1, outer).unwrap();
    let reply = sim.finish(exec);
    sim.deliver_reply(reply);
    sim.deserialize(b2, outer, owner, None);
    sim.flush();

    sim.kill(owner);
    sim.flush();
    assert_eq!(sim.worker(b1).lost, vec![(inner, LossReason::OwnerDied)]);
    assert_eq!(sim.worker(b2).lost, vec![(outer, LossReason::OwnerDied)]);
    assert!(sim.worker(bystander).lost.is_empty());
    assert_eq!(sim.get(b1, inner), Err(GetError::OwnerDied));
    assert_eq!(sim.get(b2, outer), Err(GetError::OwnerDied));
    sim.check_owner_death_answers().unwrap();

    // A ref to a dead owner's object received later fails at once.
    sim.deserialize(bystander, inner, owner, None);
    assert_eq!(
        sim.worker(bystander).lost,
        vec![(inner, LossReason::OwnerDied)]
    );
    assert_winds_down_clean(&mut sim);
}

#[test]
fn get_on_a_dead_owner_waits_only_until_the_death_is_known() {
    let mut sim = Sim::new(2);
    let (owner, holder) = (w(0), w(1));
    let id = sim.put(owner, &[]);
    sim.deserialize(holder, id, owner, None);
    sim.kill(owner);
    assert_eq!(sim.get(holder, id), Err(GetError::Waiting));
    assert!(
        sim.check_owner_death_answers().is_err(),
        "the get is still waiting"
    );
    sim.flush();
    sim.check_owner_death_answers().unwrap();
    assert_eq!(sim.get(holder, id), Err(GetError::OwnerDied));
    assert_winds_down_clean(&mut sim);
}

/// In Ray, a caller that drops the reply of a dead executor loses the borrowers the
/// executor had reported to it, and the owner may free a value a live worker holds.
/// The death barrier closes this: the caller's later message carries the death, the
/// owner holds its frees, and the survivor holding the value registers itself.
#[test]
fn dropped_reply_of_a_dead_executor_does_not_free_early() {
    let mut sim = Sim::new(4);
    let (owner, caller, dead, survivor) = (w(0), w(1), w(2), w(3));
    let r = sim.put(owner, &[]);
    let t1 = sim.submit(owner, &[r], 1);
    sim.drop_handle(owner, r);
    let exec1 = sim.start(caller, &t1);
    let t2 = sim.submit(caller, &[r], 1);
    sim.send_task(&t2, dead);
    sim.flush();
    let t3 = sim.submit(dead, &[r], 1);
    sim.send_task(&t3, survivor);
    sim.flush();
    // The survivor keeps r and replies; the dead worker merges it and replies too.
    sim.deserialize(survivor, r, owner, None);
    let exec3 = sim.take_execution(survivor, t3.task).unwrap();
    let reply3 = sim.finish(exec3);
    sim.deliver_reply(reply3);
    let exec2 = sim.take_execution(dead, t2.task).unwrap();
    let reply2 = sim.finish(exec2);
    sim.send_reply(reply2);

    sim.kill(dead);
    // The caller learns of the death before the reply: it drops it.
    let notice = notice_for(&sim, caller);
    sim.deliver_at(notice);
    sim.flush_to(caller);
    assert!(sim.table(caller).is_dead(dead));
    let reply1 = sim.finish(exec1);
    sim.send_reply(reply1);
    let reply = sim
        .queue()
        .iter()
        .position(|env| env.to == owner && matches!(env.payload, Payload::Reply(_)))
        .unwrap();
    sim.deliver_at(reply);
    assert!(
        sim.table(owner).is_dead(dead),
        "the reply carried the death"
    );
    assert!(
        !sim.freed(r),
        "the owner holds frees until survivors answer"
    );
    sim.flush();
    assert!(!sim.freed(r));
    assert!(sim.table(owner).borrowers(r).contains(&survivor));
    sim.drop_handle(survivor, r);
    sim.flush();
    assert!(sim.freed(r));
    assert_winds_down_clean(&mut sim);
}

/// A borrower dies after passing the ref on, before reporting it: the owner keeps the
/// value for the second borrower.
#[test]
fn borrower_death_with_unreported_sub_borrower() {
    let mut sim = Sim::new(3);
    let (owner, b1, b2) = (w(0), w(1), w(2));
    let r = sim.put(owner, &[]);
    let task = sim.submit(owner, &[r], 1);
    sim.drop_handle(owner, r);
    let exec1 = sim.start(b1, &task);
    sim.deserialize(b1, r, owner, None);
    let reply1 = sim.finish(exec1);
    sim.deliver_reply(reply1);
    sim.flush();
    assert_eq!(sim.table(owner).borrowers(r), vec![b1]);

    let sub = sim.submit(b1, &[r], 1);
    let exec2 = sim.start(b2, &sub);
    sim.deserialize(b2, r, owner, None);
    let reply2 = sim.finish(exec2);
    sim.send_reply(reply2);
    sim.drop_handle(b1, r);
    sim.kill(b1);
    sim.flush();
    assert!(!sim.freed(r), "b2 still holds r");
    assert_eq!(sim.table(owner).borrowers(r), vec![b2]);
    sim.drop_handle(b2, r);
    sim.flush();
    assert!(sim.freed(r));
    assert_winds_down_clean(&mut sim);
}

/// A second death during a hold restarts it; the hold ends once every survivor has
/// acknowledged the latest death.
#[test]
fn death_during_a_hold_restarts_it() {
    let mut sim = Sim::new(4);
    let (owner, b1, b2, b3) = (w(0), w(1), w(2), w(3));
    let r = sim.put(owner, &[]);
    sim.kill(b1);
    let notice = notice_for(&sim, owner);
    sim.deliver_at(notice);
    assert!(sim.table(owner).holding_frees());
    sim.drop_handle(owner, r);
    assert!(!sim.freed(r), "held");
    sim.kill(b2);
    sim.flush();
    assert!(!sim.table(owner).holding_frees());
    assert!(sim.freed(r));
    assert!(sim.table(b3).is_dead(b1) && sim.table(b3).is_dead(b2));
    assert_winds_down_clean(&mut sim);
}

/// Messages carry their sender's death epoch: a receiver applies the deaths first,
/// even if its own membership notice is still in flight.
#[test]
fn messages_carry_deaths_to_their_receiver() {
    let mut sim = Sim::new(3);
    let (owner, borrower, dead) = (w(0), w(1), w(2));
    let r = sim.put(owner, &[]);
    sim.deserialize(borrower, r, owner, None);
    sim.kill(dead);
    let notice = notice_for(&sim, borrower);
    sim.deliver_at(notice);
    // The borrower's ack (epoch 1) reaches the owner before the owner's own notice.
    let ack = sim
        .queue()
        .iter()
        .position(|env| env.to == owner && env.from == borrower)
        .expect("the borrower acknowledges the death");
    sim.deliver_at(ack);
    assert!(sim.table(owner).is_dead(dead));
    sim.flush();
    assert_winds_down_clean(&mut sim);
}

/// A registration (the ref is stored in an object of `holder`) must go to the owner
/// only: here the executor would otherwise hand it to a caller that dies before passing
/// it on, while the ref is still on its way to the holder in another reply.
#[test]
fn registration_news_goes_only_to_the_owner() {
    let mut sim = Sim::new(4);
    let (owner, caller, executor, holder) = (w(0), w(1), w(2), w(3));
    let r = sim.put(owner, &[]);
    let lend = sim.submit(owner, &[r], 0);
    let exec = sim.start(caller, &lend);
    sim.deserialize(caller, r, owner, None);
    let reply = sim.finish(exec);
    sim.deliver_reply(reply);
    sim.drop_handle(owner, r);
    sim.flush();

    let via_caller = sim.submit(caller, &[r], 0);
    let for_holder = sim.submit(holder, &[], 1);
    let exec_caller = sim.start(executor, &via_caller);
    let mut exec_holder = sim.start(executor, &for_holder);
    sim.return_refs(&mut exec_holder, 1, &[r]);
    let reply_caller = sim.finish(exec_caller);
    assert!(
        reply_caller
            .report
            .get(r)
            .is_some_and(|x| x.stored_in.is_empty() && x.in_use),
        "the registration stays with the executor, which reports itself a user"
    );
    sim.send_reply(reply_caller);
    sim.drop_handle(caller, r);
    sim.kill(caller);
    let reply_holder = sim.finish(exec_holder);
    sim.send_reply(reply_holder);
    sim.flush();
    assert_safe(&sim);
    assert!(!sim.freed(r), "the holder keeps it in its return value");
    assert_eq!(sim.get(holder, for_holder.ret(1)), Ok(vec![r]));
    assert_winds_down_clean(&mut sim);
}
