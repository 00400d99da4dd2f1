use super::*;
use crate::stall::RankName;
use doreisa_array::DType;

fn meta() -> ArrayMeta {
    ArrayMeta::new("t", &[4, 4], &[2, 2], DType::I32)
}

#[test]
fn progress_is_past_a_timestep_once_finished_or_stopped() {
    let at = |done, running| Progress {
        done,
        running,
        ..Default::default()
    };
    assert!(!at(None, false).past(0), "not started yet: it will read it");
    assert!(!at(Some(4), true).past(5));
    assert!(at(Some(5), true).past(5));
    assert!(at(Some(2), false).past(5), "ran and stopped");
    let failed_early = Progress {
        stopped: true,
        ..Default::default()
    };
    assert!(
        failed_early.past(0),
        "stopped before finishing any timestep"
    );
}

/// Bridge 1 (node 0) has ranks 0 and 2, bridge 2 (node 1) ranks 1 and 3; rank `i`
/// declares the `i`th chunk of "t".
fn declare_all(state: &mut CoordinatorState) -> [u64; 2] {
    let bridges = [
        state.register_bridge(NodeId(0), 2, true, false).id,
        state.register_bridge(NodeId(1), 2, true, false).id,
    ];
    for (i, position) in [[0, 0], [0, 1], [1, 0], [1, 1]].iter().enumerate() {
        let decl = ChunkDecl::new(meta(), position).unwrap();
        let (bridge, rank) = (bridges[i % 2], i as u64 / 2);
        let events = state.declare(bridge, rank, decl, NodeId(i as u64 % 2));
        assert!(matches!(events[..], [Event::Declared { .. }]));
    }
    bridges
}

fn all() -> Vec<Vec<u32>> {
    vec![vec![0, 0], vec![0, 1], vec![1, 0], vec![1, 1]]
}

#[test]
fn a_timestep_completes_when_every_chunk_arrived() {
    let mut state = CoordinatorState::new(8);
    declare_all(&mut state);
    assert!(state.announce("t", 3, all()[..2].to_vec()).is_empty());
    let events = state.announce("t", 3, all()[2..].to_vec());
    assert_eq!(
        events,
        vec![Event::Complete {
            array: "t".into(),
            timestep: 3
        }]
    );
}

#[test]
fn going_back_duplicates_and_undeclared_arrays_are_errors() {
    let mut state = CoordinatorState::new(8);
    declare_all(&mut state);
    state.announce("t", 2, all());
    assert!(matches!(
        state.announce("t", 1, all())[..],
        [Event::Error(InsituError::OutOfOrder {
            timestep: 1,
            last: 2,
            ..
        })]
    ));
    assert!(matches!(
        state.announce("t", 5, vec![vec![0, 0], vec![0, 0]])[..],
        [Event::Error(InsituError::Duplicate { .. })]
    ));
    assert!(matches!(
        state.announce("u", 5, all())[..],
        [Event::Error(InsituError::Undeclared(_))]
    ));
    // Timestep 5 is left incomplete when 6 completes: reported, not kept forever.
    let events = state.announce("t", 6, all());
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Error(InsituError::OutOfOrder {
            timestep: 5,
            last: 6,
            ..
        })
    )));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Complete { timestep: 6, .. }))
    );
}

#[test]
fn conflicting_declarations_are_refused() {
    let mut state = CoordinatorState::new(8);
    declare_all(&mut state);
    let other = ArrayMeta::new("t", &[4, 8], &[2, 2], DType::I32);
    let events = state.declare(1, 0, ChunkDecl::new(other, &[0, 0]).unwrap(), NodeId(0));
    assert!(matches!(
        events[..],
        [Event::Error(InsituError::BadDeclaration { .. })]
    ));
    let events = state.declare(2, 0, ChunkDecl::new(meta(), &[0, 0]).unwrap(), NodeId(1));
    assert!(matches!(
        events[..],
        [Event::Error(InsituError::BadDeclaration { .. })]
    ));
}

#[test]
fn the_session_closes_when_every_bridge_did() {
    let mut state = CoordinatorState::new(8);
    let [a, b] = declare_all(&mut state);
    assert!(state.close(a, Some(9)).is_empty());
    assert_eq!(
        state.close(b, Some(10)),
        vec![Event::Closed { timestep: Some(10) }]
    );
}

#[test]
fn a_bridge_for_no_rank_closes_without_a_timestep_and_holds_nothing_back() {
    let mut state = CoordinatorState::new(8);
    let idle = state.register_bridge(NodeId(2), 0, true, false).id;
    assert!(state.close(idle, None).is_empty(), "nothing declared yet");
    let [a, b] = declare_all(&mut state);
    state.close(a, Some(4));
    assert_eq!(
        state.close(b, Some(4)),
        vec![Event::Closed { timestep: Some(4) }]
    );
}

#[test]
fn the_session_stays_open_while_a_chunk_has_no_publisher_yet() {
    let mut state = CoordinatorState::new(8);
    let early = state.register_bridge(NodeId(0), 1, true, false).id;
    state.declare(
        early,
        0,
        ChunkDecl::new(meta(), &[0, 0]).unwrap(),
        NodeId(0),
    );
    // The only bridge so far closes, but three chunks have no publisher yet.
    assert!(state.close(early, Some(3)).is_empty());
    let late = state.register_bridge(NodeId(1), 3, true, false).id;
    for (rank, position) in [[0, 1], [1, 0], [1, 1]].iter().enumerate() {
        let decl = ChunkDecl::new(meta(), position).unwrap();
        state.declare(late, rank as u64, decl, NodeId(1));
    }
    assert_eq!(
        state.close(late, Some(3)),
        vec![Event::Closed { timestep: Some(3) }]
    );
}

fn gone(events: &[Event]) -> Vec<(i64, Vec<u32>, RankName)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Error(InsituError::RankGone {
                timestep,
                chunk,
                rank,
                ..
            }) => Some((*timestep, chunk.clone(), (**rank).clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_timestep_a_closed_rank_did_not_publish_can_never_complete() {
    let mut state = CoordinatorState::new(8);
    let [_, b] = declare_all(&mut state);
    state.label(b, 1, 3);
    // Rank 3 (rank #1 of bridge b, chunk [1, 1]) closes after timestep 2.
    assert!(state.rank_closed(b, 1, Some(2)).is_empty());
    state.announce("t", 2, all());
    let events = state.announce("t", 3, all()[..3].to_vec());
    let [(timestep, chunk, rank)] = gone(&events).try_into().unwrap();
    assert_eq!((timestep, chunk), (3, vec![1, 1]));
    assert_eq!((rank.rank, rank.bridge, rank.node), (Some(3), b, NodeId(1)));
    assert_eq!(rank.closed, Some(Some(2)));
    assert!(
        rank.to_string().contains("rank 3") && rank.to_string().contains("after timestep 2"),
        "{rank}"
    );
    // Said once.
    assert!(gone(&state.announce("t", 4, all()[..3].to_vec())).is_empty());
}

#[test]
fn a_rank_closing_after_others_published_on_is_found_at_its_close() {
    let mut state = CoordinatorState::new(8);
    let [a, _] = declare_all(&mut state);
    state.announce("t", 0, all());
    // Timestep 1 is there but for chunk [1, 0] (rank #1 of bridge a)...
    assert!(
        state
            .announce("t", 1, vec![vec![0, 0], vec![0, 1], vec![1, 1]])
            .is_empty()
    );
    // ...which closes having published timestep 0 only.
    let events = state.rank_closed(a, 1, Some(0));
    assert_eq!(gone(&events).len(), 1, "{events:?}");
    assert_eq!(gone(&events)[0].0, 1);
}

#[test]
fn a_stall_names_the_ranks_whose_chunks_did_not_come_and_the_ranks_that_never_started() {
    let mut state = CoordinatorState::new(8);
    let [a, b] = declare_all(&mut state);
    let absent = state.register_bridge(NodeId(2), 3, true, false).id;
    state.announce("t", 0, all());
    state.announce("t", 1, vec![vec![0, 0], vec![1, 1]]);
    let stall = state.stall();
    assert_eq!(stall.timestep(), Some(1));
    let [array] = stall.arrays.clone().try_into().unwrap();
    assert_eq!((array.array.as_str(), array.last_complete), ("t", Some(0)));
    let missing: Vec<(u64, u64)> = array.ranks.iter().map(|r| (r.bridge, r.index)).collect();
    assert_eq!(missing, vec![(b, 0), (a, 1)], "chunks [0, 1] and [1, 0]");
    assert_eq!(stall.unattached.len(), 1);
    assert_eq!(
        (stall.unattached[0].bridge, stall.unattached[0].attached),
        (absent, 0)
    );
    let message = stall.to_string();
    assert!(message.contains("timestep 1"), "{message}");
    assert!(
        message.contains("0 of its 3") || message.contains("3 of its 3"),
        "{message}"
    );
}

#[test]
fn a_stall_names_chunks_no_rank_declared_and_a_simulation_that_never_came() {
    let mut state = CoordinatorState::new(8);
    let stall = state.stall();
    assert!(
        stall
            .to_string()
            .contains("no rank of the simulation started")
    );
    let bridge = state.register_bridge(NodeId(0), 1, true, false).id;
    assert!(
        state
            .stall()
            .to_string()
            .contains("no rank declared an array")
    );
    state.declare(
        bridge,
        0,
        ChunkDecl::new(meta(), &[1, 0]).unwrap(),
        NodeId(0),
    );
    let [array] = state.stall().arrays.try_into().unwrap();
    assert_eq!(array.undeclared, vec![vec![0, 0], vec![0, 1], vec![1, 1]]);
    assert_eq!(array.undeclared_count, 3);
    assert_eq!(array.timestep, None, "nothing arrived yet");
}

#[test]
fn progress_is_pushed_to_the_bridges_when_it_changes() {
    let mut state = CoordinatorState::new(8);
    let plain = state.register_bridge(NodeId(0), 1, true, false).id;
    let by_contract = state.register_bridge(NodeId(1), 1, true, true);
    assert!(
        by_contract.contract.is_some(),
        "a bridge sending by contract gets it"
    );
    let running = Progress {
        running: true,
        ..Default::default()
    };
    let pushes = state.set_progress(running);
    let to: Vec<u64> = pushes.iter().map(|(b, _)| *b).collect();
    assert_eq!(to, vec![plain, by_contract.id]);
    assert!(matches!(pushes[0].1, Notice::Progress { seq: 1, .. }));
    assert!(
        state.set_progress(running).is_empty(),
        "no change, no notice"
    );
    let contract = Contract {
        version: 1,
        ..Default::default()
    };
    let pushes = state.set_contract(contract.clone());
    assert_eq!(pushes, vec![(by_contract.id, Notice::Contract(contract))]);
    let registered = state.register_bridge(NodeId(2), 1, true, false);
    assert_eq!((registered.seq, registered.progress.contract), (1, 1));
}

#[test]
fn steering_questions_are_answered_once_the_value_is_known() {
    let mut state = CoordinatorState::new(8);
    let value = |t: i64, v: Option<u8>| Notice::Feedback {
        key: "k".into(),
        timestep: t,
        value: v.map(|v| vec![v]),
    };
    assert!(state.watch_feedback(1, "k", 3).is_empty(), "not set yet");
    assert!(state.watch_feedback(2, "k", 5).is_empty());
    // 3 was skipped: set at 4 answers the question for 3 with "none".
    let pushes = state.set_feedback("k", 4, vec![4]).unwrap();
    assert_eq!(pushes, vec![(1, value(3, None))]);
    assert_eq!(
        state.watch_feedback(1, "k", 4),
        vec![(1, value(4, Some(4)))]
    );
    let pushes = state.set_feedback("k", 5, vec![5]).unwrap();
    assert_eq!(pushes, vec![(2, value(5, Some(5)))]);
    // Once the analytics stopped, every question pending is answered "none".
    assert!(state.watch_feedback(3, "k", 9).is_empty());
    let stopped = Progress {
        stopped: true,
        ..Default::default()
    };
    let pushes = state.set_progress(stopped);
    assert!(pushes.contains(&(3, value(9, None))), "{pushes:?}");
    assert_eq!(state.watch_feedback(3, "k", 10), vec![(3, value(10, None))]);
    // A value set before it stopped is still read after.
    assert_eq!(
        state.watch_feedback(3, "k", 5),
        vec![(3, value(5, Some(5)))]
    );
}

#[test]
fn steering_values_go_forward_and_old_ones_are_evicted() {
    let mut state = CoordinatorState::new(2);
    state.set_feedback("heat", 1, vec![1]).unwrap();
    assert!(state.set_feedback("heat", 1, vec![9]).is_err());
    state.set_feedback("heat", 2, vec![2]).unwrap();
    state.set_feedback("heat", 3, vec![3]).unwrap();
    assert_eq!(state.feedback("heat", Some(1)), None, "evicted");
    assert_eq!(state.feedback("heat", Some(2)), Some((2, vec![2])));
    assert_eq!(state.feedback("heat", None), Some((3, vec![3])));
    assert_eq!(state.feedback("other", None), None);
}
