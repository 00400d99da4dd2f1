//! The node's state machine driven by hand: no threads, no transport.

use super::memory::MemoryHost;
use super::*;
use crate::ids::{ActorId, TaskId};
use crate::task::{Placement, TaskKind, TaskSpec};

type Node = NodeState<MemoryHost>;

fn node(id: u64, nodes: &[NodeId]) -> Node {
    NodeState::new(NodeId(id), MemoryHost::default(), nodes)
}

fn from(node: u64, message: NodeMessage) -> EventOf<MemoryHost> {
    NodeEvent::Remote(Envelope {
        from: NodeId(node),
        epoch: 0,
        message,
    })
}

fn spec(caller: WorkerId, seq: u64, kind: TaskKind, here: NodeId) -> TaskSpec {
    TaskSpec {
        task: TaskId {
            submitter: caller,
            seq,
        },
        caller,
        kind,
        args: Vec::new(),
        num_returns: 1,
        retries: 0,
        placement: Placement::Node(here),
    }
}

fn failures(state: &mut Node) -> usize {
    std::mem::take(&mut state.out.messages)
        .into_iter()
        .filter(|(_, m)| matches!(m, NodeMessage::Reply(r) if r.outcome.is_err()))
        .count()
}

/// A call from a third node can overtake the actor's creation (another connection):
/// it waits for the creation instead of failing.
#[test]
fn calls_that_overtake_their_actors_creation_wait_for_it() {
    let nodes = [NodeId(0), NodeId(1), NodeId(2)];
    let mut state = node(2, &nodes);
    let (creator, other) = (WorkerId::new(NodeId(0), 1), WorkerId::new(NodeId(1), 0));
    let actor = ActorId { creator, seq: 1 };
    let call = spec(
        other,
        7,
        TaskKind::Method {
            actor,
            method: "m".into(),
        },
        NodeId(2),
    );
    state.handle(from(1, NodeMessage::Task(call)));
    assert_eq!(
        failures(&mut state),
        0,
        "no ActorDied for an actor on its way"
    );
    assert!(state.out.jobs.is_empty());
    let create = spec(
        creator,
        1,
        TaskKind::CreateActor {
            actor,
            class: "C".into(),
        },
        NodeId(2),
    );
    state.handle(from(0, NodeMessage::Task(create)));
    assert_eq!(failures(&mut state), 0);
    assert_eq!(state.out.jobs.len(), 1, "the creation runs");
    assert_eq!(
        state.task_counts().1,
        1,
        "the early call waits for the instance"
    );
}

/// Calls to an actor that ended here, or whose creator's node died, fail at once.
#[test]
fn calls_to_ended_or_orphaned_actors_fail() {
    let nodes = [NodeId(0), NodeId(1), NodeId(2)];
    let mut state = node(2, &nodes);
    let creator = WorkerId::new(NodeId(0), 1);
    let ended = ActorId { creator, seq: 1 };
    state.handle(from(0, NodeMessage::KillActor { actor: ended }));
    let call = |actor, seq| {
        spec(
            WorkerId::new(NodeId(1), 0),
            seq,
            TaskKind::Method {
                actor,
                method: "m".into(),
            },
            NodeId(2),
        )
    };
    state.handle(from(1, NodeMessage::Task(call(ended, 1))));
    assert_eq!(failures(&mut state), 1);
    // A call waiting for an actor whose creator's node then dies.
    let orphan = ActorId { creator, seq: 2 };
    state.handle(from(1, NodeMessage::Task(call(orphan, 2))));
    assert_eq!(failures(&mut state), 0);
    state.handle(NodeEvent::NodeLeft {
        node: NodeId(0),
        workers: vec![WorkerId::new(NodeId(0), 0), creator],
    });
    assert_eq!(failures(&mut state), 1);
}

/// Runs the node's pending jobs as if the compute pool did: each task returns an empty
/// value, and an actor's instance (or a new one, for a creation) comes back with it.
fn run_jobs(state: &mut Node) {
    for job in std::mem::take(&mut state.out.jobs) {
        let actor = job.actor.or_else(|| {
            job.tasks.iter().find_map(|(spec, _)| match &spec.kind {
                TaskKind::CreateActor { actor, .. } => Some((*actor, 1)),
                _ => None,
            })
        });
        let results = job
            .tasks
            .into_iter()
            .map(|(spec, _)| (spec, Ok(vec![TaskOutput::default()])))
            .collect();
        state.handle(NodeEvent::Computed(Box::new(Computed {
            results,
            keep: Vec::new(),
            actor,
        })));
    }
}

/// An actor whose creator's node dies ends with it, busy or idle: nobody can release
/// its handle any more, and what it holds must go. Its queued calls fail, and so does
/// every later one; actors created elsewhere live on.
#[test]
fn actors_share_the_fate_of_their_creators_node() {
    let nodes = [NodeId(0), NodeId(1), NodeId(2)];
    let mut state = node(2, &nodes);
    let creator = WorkerId::new(NodeId(0), 1);
    let caller = WorkerId::new(NodeId(1), 0);
    let (orphaned, other) = (
        ActorId { creator, seq: 1 },
        ActorId {
            creator: caller,
            seq: 1,
        },
    );
    let create = |actor: ActorId, seq| {
        spec(
            actor.creator,
            seq,
            TaskKind::CreateActor {
                actor,
                class: "C".into(),
            },
            NodeId(2),
        )
    };
    let call = |actor, seq| {
        spec(
            caller,
            seq,
            TaskKind::Method {
                actor,
                method: "m".into(),
            },
            NodeId(2),
        )
    };
    state.handle(from(0, NodeMessage::Task(create(orphaned, 1))));
    state.handle(from(1, NodeMessage::Task(create(other, 2))));
    run_jobs(&mut state);
    assert_eq!((state.actor_count(), failures(&mut state)), (2, 0));

    // One call runs (the instance is out on the compute pool), one waits its turn.
    state.handle(from(1, NodeMessage::Task(call(orphaned, 3))));
    state.handle(from(1, NodeMessage::Task(call(orphaned, 4))));
    let running = std::mem::take(&mut state.out.jobs);
    assert_eq!(running.len(), 1);

    state.handle(NodeEvent::NodeLeft {
        node: NodeId(0),
        workers: vec![WorkerId::new(NodeId(0), 0), creator],
    });
    assert_eq!(state.actor_count(), 1, "only the other actor lives on");
    assert_eq!(failures(&mut state), 1, "the waiting call fails");

    // The running call ends: its caller gets its answer, the instance is not kept.
    state.out.jobs = running;
    run_jobs(&mut state);
    assert_eq!(failures(&mut state), 0);
    assert_eq!(state.actor_count(), 1);
    state.handle(from(1, NodeMessage::Task(call(orphaned, 5))));
    assert_eq!(failures(&mut state), 1, "a later call fails at once");
    state.handle(from(1, NodeMessage::Task(call(other, 6))));
    assert_eq!(state.out.jobs.len(), 1, "the other actor still runs calls");
}

/// A value fetched from its owner while still being computed, and then stored by its
/// executor elsewhere: the owner sends the request on to where the value is, instead
/// of pulling a copy into its own store first (which costs a transfer, and fails the
/// reader when the owner's store is full).
#[test]
fn requests_parked_at_the_owner_go_to_where_the_value_was_stored() {
    let nodes = [NodeId(0), NodeId(1), NodeId(2)];
    let mut owner = node(0, &nodes);
    let caller = WorkerId::new(NodeId(0), 0);
    let task = spec(caller, 1, TaskKind::Function("f".into()), NodeId(1));
    let value = task.return_id(1);
    let (task_id, executor) = (task.task, WorkerId::new(NodeId(1), 0));
    owner.handle(NodeEvent::Command(Command::Submit {
        worker: caller,
        spec: task,
    }));
    owner.out.messages.clear();
    // Node 2 (a reader) and node 1 (the executor itself, for a later task) ask early.
    owner.handle(from(
        2,
        NodeMessage::Fetch {
            id: value,
            requester: NodeId(2),
        },
    ));
    owner.handle(from(
        1,
        NodeMessage::Fetch {
            id: value,
            requester: NodeId(1),
        },
    ));
    assert!(owner.out.messages.is_empty(), "parked while it is computed");

    let reply = crate::task::TaskReply {
        task: task_id,
        caller,
        executor,
        report: Default::default(),
        outcome: Ok(vec![crate::task::ReturnValue {
            id: value,
            data: crate::task::ReturnData::Stored {
                node: NodeId(1),
                size: 1 << 20,
            },
            nested: Vec::new(),
        }]),
    };
    owner.handle(from(1, NodeMessage::Reply(reply)));
    let mut sent: Vec<(NodeId, NodeId)> = std::mem::take(&mut owner.out.messages)
        .into_iter()
        .filter_map(|(to, message)| match message {
            NodeMessage::Fetch { id, requester } if id == value => Some((to, requester)),
            _ => None,
        })
        .collect();
    sent.sort();
    assert_eq!(
        sent,
        vec![(NodeId(1), NodeId(1)), (NodeId(1), NodeId(2))],
        "each request goes to the executor's node for its requester, none for the owner"
    );
    assert!(!owner.host.contains(value));
}
