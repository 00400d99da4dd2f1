use super::*;
use crate::decl::ArrayMeta;
use doreisa_array::DType;

/// A state holding chunks as the name of their rank, for `expected` ranks.
fn state(expected: usize, max_ahead: i64, policy: AheadPolicy) -> BridgeState<&'static str> {
    BridgeState::new(expected, Pacing { max_ahead, policy })
}

fn decl(rank: u32) -> ChunkDecl {
    let meta = ArrayMeta::new("a", &[1, 4], &[1, 1], DType::I32);
    ChunkDecl::new(meta, &[0, rank]).unwrap()
}

fn key(rank: u32, timestep: i64) -> SourceKey {
    SourceKey {
        array: "a".into(),
        timestep,
        chunk: vec![0, rank],
    }
}

const NAMES: [&str; 4] = ["r0", "r1", "r2", "r3"];

/// Rank `rank` begins `timestep` and publishes its chunk.
fn publish(state: &mut BridgeState<&'static str>, rank: u64, timestep: i64) {
    state.begin(rank, timestep);
    state.published(rank, key(rank as u32, timestep), Some(NAMES[rank as usize]));
}

/// What the state queued, as (kind, timestep or rank) pairs, emptying its queue.
fn sent(state: &mut BridgeState<&'static str>) -> Vec<String> {
    std::mem::take(&mut state.out)
        .into_iter()
        .map(|action| match action {
            Action::Declare { rank, .. } => format!("declare {rank}"),
            Action::Label { rank, label } => format!("label {rank} {label}"),
            Action::HandOver(chunks) => {
                let chunks: Vec<String> = chunks
                    .iter()
                    .map(|(key, held)| format!("{held}@{}", key.timestep))
                    .collect();
                format!("hand over {}", chunks.join(" "))
            }
            Action::Report { through, announced } => {
                let steps: Vec<i64> = announced.iter().map(|a| a.timestep).collect();
                format!("report {through} {steps:?}")
            }
            Action::RankClosed { rank, last } => format!("closed {rank} {last:?}"),
            Action::Leave { last } => format!("leave {last:?}"),
            Action::SkipBelow(t) => format!("skip below {t}"),
            Action::WatchFeedback { key, timestep } => format!("watch {key} {timestep}"),
        })
        .collect()
}

fn running(done: Option<i64>) -> Progress {
    Progress {
        done,
        running: true,
        ..Default::default()
    }
}

#[test]
fn an_iteration_leaves_once_every_rank_is_done_with_it() {
    let mut s = state(2, 2, AheadPolicy::Block);
    s.attach(vec![decl(0)]).unwrap();
    s.attach(vec![decl(1)]).unwrap();
    assert_eq!(sent(&mut s), ["declare 0", "declare 1"]);
    publish(&mut s, 0, 0);
    assert!(sent(&mut s).is_empty(), "rank 1 is not done with 0");
    publish(&mut s, 1, 0);
    assert_eq!(
        sent(&mut s),
        ["report -1 []", "hand over r0@0 r1@0", "report 0 [0]"],
        "both began 0, then both published it"
    );
}

#[test]
fn ranks_joining_late_hold_the_first_iterations_back_then_they_leave_in_order() {
    let mut s = state(2, 2, AheadPolicy::Block);
    s.attach(vec![decl(0)]).unwrap();
    for t in 0..3 {
        publish(&mut s, 0, t);
    }
    assert_eq!(sent(&mut s), ["declare 0"], "rank 1 may still publish them");
    s.attach(vec![decl(1)]).unwrap();
    publish(&mut s, 1, 0);
    assert_eq!(
        sent(&mut s),
        [
            "declare 1",
            "report -1 []",
            "hand over r0@0 r1@0",
            "report 0 [0]"
        ]
    );
    publish(&mut s, 1, 1);
    publish(&mut s, 1, 2);
    assert_eq!(
        sent(&mut s),
        [
            "hand over r0@1 r1@1",
            "report 1 [1]",
            "hand over r0@2 r1@2",
            "report 2 [2]"
        ]
    );
}

#[test]
fn a_rank_that_dies_is_told_and_holds_nothing_back() {
    let mut s = state(2, 2, AheadPolicy::Block);
    s.attach(vec![decl(0)]).unwrap();
    s.attach(vec![decl(1)]).unwrap();
    sent(&mut s);
    publish(&mut s, 0, 0);
    publish(&mut s, 0, 1);
    publish(&mut s, 1, 0);
    sent(&mut s);
    // Rank 1 dies after timestep 0 (its client closes as it goes).
    s.rank_closed(1, 0, Some(0));
    assert_eq!(
        sent(&mut s),
        ["closed 1 Some(0)", "hand over r0@1", "report 1 [1]"]
    );
    publish(&mut s, 0, 2);
    assert_eq!(sent(&mut s), ["hand over r0@2", "report 2 [2]"]);
    s.rank_closed(0, 2, Some(2));
    assert_eq!(
        sent(&mut s),
        [
            "closed 0 Some(2)",
            "report 9223372036854775807 []",
            "leave Some(2)"
        ]
    );
    s.rank_closed(0, 2, Some(2));
    assert!(sent(&mut s).is_empty(), "closed once");
}

#[test]
fn a_bridge_for_no_rank_leaves_at_once_and_takes_none() {
    let mut s = state(0, 2, AheadPolicy::Block);
    assert_eq!(sent(&mut s), ["leave None"]);
    let refused = s.attach(vec![decl(0)]).unwrap_err();
    assert_eq!(refused, InsituError::BridgeLeft { ranks: 0 });
}

#[test]
fn block_waits_while_the_analytics_is_too_far_behind() {
    let mut s = state(1, 2, AheadPolicy::Block);
    s.attach(vec![decl(0)]).unwrap();
    assert_eq!(s.room(0), Room::Go, "the analytics is not running yet");
    s.on_progress(1, running(None));
    assert_eq!(s.room(1), Room::Go);
    assert_eq!(s.room(2), Room::Wait, "0, 1 and 2 are not done");
    s.on_progress(2, running(Some(0)));
    assert_eq!(s.room(2), Room::Go);
    assert_eq!(s.room(3), Room::Wait);
    // Older news changes nothing.
    s.on_progress(1, running(None));
    assert_eq!(s.progress().done, Some(0));
}

#[test]
fn drop_newest_drops_and_drop_oldest_has_the_analytics_skip() {
    let mut s = state(1, 1, AheadPolicy::DropNewest);
    s.on_progress(1, running(None));
    assert_eq!(s.room(0), Room::Go);
    assert_eq!(s.room(1), Room::Drop);
    let mut s = state(1, 1, AheadPolicy::DropOldest);
    s.on_progress(1, running(None));
    assert_eq!(s.room(0), Room::Go);
    assert_eq!(s.room(1), Room::Go);
    assert_eq!(s.room(2), Room::Go);
    assert_eq!(
        sent(&mut s),
        ["skip below 0", "skip below 1"],
        "the newest max_ahead + 1 are kept"
    );
    assert_eq!(s.room(2), Room::Go);
    assert!(sent(&mut s).is_empty(), "asked once");
}

#[test]
fn a_wait_in_vain_names_the_ranks_missing_and_the_others_do_not_wait_again() {
    let mut s = state(3, 1, AheadPolicy::Block);
    s.attach(vec![decl(0)]).unwrap();
    s.attach(vec![decl(1)]).unwrap();
    s.label(1, 7);
    s.on_progress(1, running(None));
    assert_eq!(s.room(0), Room::Go);
    publish(&mut s, 0, 0);
    assert_eq!(s.room(1), Room::Wait);
    let error = s.waited_in_vain(1, Duration::from_secs(3));
    let InsituError::AnalyticsBehind {
        timestep,
        done,
        holding,
        ..
    } = &error
    else {
        panic!("{error}")
    };
    assert_eq!((*timestep, *done), (1, None));
    assert_eq!(
        holding,
        &[
            "1 of the bridge's 3 ranks never created its client",
            "rank 7 has not published timestep 0"
        ]
    );
    assert!(error.to_string().contains("waited 3.0 s"), "{error}");
    assert_eq!(s.room(1), Room::Drop, "stalled: no second wait");
    s.on_progress(2, running(Some(0)));
    assert_eq!(s.room(2), Room::Wait, "it moved: ranks wait again");
}

#[test]
fn once_the_analytics_stopped_nothing_is_held_or_handed_over() {
    let mut s = state(2, 2, AheadPolicy::Block);
    s.attach(vec![decl(0)]).unwrap();
    s.attach(vec![decl(1)]).unwrap();
    sent(&mut s);
    publish(&mut s, 0, 0);
    let stopped = Progress {
        stopped: true,
        ..Default::default()
    };
    s.on_progress(1, stopped);
    assert_eq!(s.room(1), Room::Drop);
    publish(&mut s, 1, 0);
    s.rank_closed(0, 0, Some(0));
    s.rank_closed(1, 0, Some(0));
    assert_eq!(
        sent(&mut s),
        ["closed 0 Some(0)", "closed 1 Some(0)", "leave Some(0)"]
    );
}

#[test]
fn the_ranks_of_a_bridge_share_one_steering_question() {
    let mut s = state(2, 2, AheadPolicy::Block);
    assert_eq!(s.watch_feedback("k", 4), Answer::Pending);
    assert_eq!(s.watch_feedback("k", 4), Answer::Pending);
    assert_eq!(s.watch_feedback("k", 5), Answer::Pending);
    assert_eq!(sent(&mut s), ["watch k 4", "watch k 5"]);
    s.on_feedback("k".into(), 4, Some(vec![4]));
    assert_eq!(s.watch_feedback("k", 4), Answer::Known(Some(vec![4])));
    assert_eq!(s.feedback_known("k", 5), None);
    // Once the analytics stopped, only the coordinator knows what was set before:
    // questions still go to it (it answers at once).
    let stopped = Progress {
        stopped: true,
        ..Default::default()
    };
    s.on_progress(1, stopped);
    assert_eq!(s.watch_feedback("k", 5), Answer::Pending, "asked already");
    assert_eq!(s.watch_feedback("k", 6), Answer::Pending);
    assert_eq!(sent(&mut s), ["watch k 6"]);
    s.on_feedback("k".into(), 5, None);
    assert_eq!(s.watch_feedback("k", 5), Answer::Known(None));
}

#[test]
fn once_the_analytics_is_lost_nothing_waits_for_it_and_its_late_news_is_ignored() {
    let mut s = state(2, 1, AheadPolicy::Block);
    s.attach(vec![decl(0)]).unwrap();
    s.attach(vec![decl(1)]).unwrap();
    s.on_progress(1, running(None));
    s.on_feedback("k".into(), 0, Some(vec![7]));
    sent(&mut s);
    publish(&mut s, 0, 0);
    assert_eq!(s.room(1), Room::Go);
    assert_eq!(s.room(2), Room::Wait);
    assert_eq!(s.check_analytics(), Ok(()));
    s.on_analytics_lost(NodeId(5));
    assert_eq!(
        s.check_analytics(),
        Err(InsituError::AnalyticsLost { node: NodeId(5) })
    );
    assert_eq!(s.room(2), Room::Drop, "nobody reads it any more");
    assert!(
        s.progress().past(0),
        "the ranks' chunks are not needed any more"
    );
    // What was said before stays true; nobody is asked what was not.
    assert_eq!(s.watch_feedback("k", 0), Answer::Known(Some(vec![7])));
    assert_eq!(s.watch_feedback("k", 1), Answer::Pending);
    // A notice that was on its way changes nothing.
    s.on_progress(2, running(Some(0)));
    assert!(s.progress().stopped);
    // Nothing goes to the node for an analytics that is gone.
    s.rank_closed(0, 0, Some(0));
    s.rank_closed(1, 0, None);
    assert_eq!(
        sent(&mut s),
        ["closed 0 Some(0)", "closed 1 None", "leave Some(0)"]
    );
}
