//! The node scheduler driven by hand: node plans cut from real plans, a fake runtime
//! that records what the logic asks for, pushes delivered by the test.

use super::*;
use crate::graph::{Input, TaskGraph};
use crate::partition::{greedy, random_balanced};
use crate::plan::Plan;

/// A fake runtime: refs are names; records what the logic asked for.
#[derive(Default)]
struct Recorder {
    me: u64,
    submitted: Vec<(usize, Vec<String>)>,
    pushes: Vec<(NodeId, RunKey, Push<String>)>,
    delivered: Vec<(i64, Vec<u32>, Vec<String>)>,
}

impl SchedulerRuntime<String> for Recorder {
    fn submit_fragment(
        &mut self,
        plan: &NodePlan,
        fragment: usize,
        inputs: Vec<String>,
    ) -> Vec<String> {
        let index = plan.fragments[fragment].index;
        self.submitted.push((index, inputs.clone()));
        (0..plan.fragments[fragment].outputs.len())
            .map(|slot| format!("n{}f{index}s{slot}[{}]", self.me, inputs.join("+")))
            .collect()
    }
    fn push(&mut self, node: NodeId, _plan: u64, run: RunKey, push: Push<String>) {
        self.pushes.push((node, run, push));
    }
    fn deliver(
        &mut self,
        _node: NodeId,
        _mailbox: u64,
        timestep: i64,
        positions: Vec<u32>,
        refs: Vec<String>,
    ) {
        self.delivered.push((timestep, positions, refs));
    }
}

fn key(chunk: u32, timestep: i64) -> SourceKey {
    SourceKey {
        array: "x".into(),
        timestep,
        chunk: vec![chunk],
    }
}

/// Sum of 8 chunks, 4 per node: a partial per node, then one to combine on node 0.
fn two_node_plan(random: bool) -> Plan {
    let mut graph = TaskGraph::default();
    let leaves: Vec<Input> = (0..8)
        .map(|c| {
            let s = graph.source(key(c, 10));
            graph.task("leaf", vec![], vec![s])
        })
        .collect();
    let a = graph.task("sum", vec![], leaves[..4].to_vec());
    let b = graph.task("sum", vec![], leaves[4..].to_vec());
    let root = graph.task("sum", vec![], vec![a, b]);
    let Input::Task(root) = root else {
        unreachable!()
    };
    graph.outputs = vec![root];
    let nodes = vec![NodeId(0), NodeId(1)];
    let sources: Vec<NodeId> = (0..8).map(|c| nodes[c / 4]).collect();
    let assignment = if random {
        random_balanced(&graph, &nodes, 3)
    } else {
        greedy(&graph, &sources, &nodes)
    };
    Plan::new(7, Arc::new(graph), &assignment, sources)
}

/// Two schedulers with their parts of `plan`, and their recorders.
fn cluster(plan: &Plan) -> (Vec<NodeScheduler<String>>, Vec<Recorder>) {
    let mut schedulers: Vec<NodeScheduler<String>> =
        (0..2).map(|n| NodeScheduler::new(NodeId(n))).collect();
    for part in plan.node_plans() {
        schedulers[part.node.0 as usize].install(Arc::new(part));
    }
    let recorders = (0..2)
        .map(|me| Recorder {
            me,
            ..Default::default()
        })
        .collect();
    (schedulers, recorders)
}

/// Delivers pushes until nothing moves.
fn settle(schedulers: &mut [NodeScheduler<String>], recorders: &mut [Recorder]) {
    loop {
        let pending: Vec<(usize, RunKey, Push<String>)> = recorders
            .iter_mut()
            .flat_map(|r| std::mem::take(&mut r.pushes))
            .map(|(node, run, push)| (node.0 as usize, run, push))
            .collect();
        if pending.is_empty() {
            return;
        }
        for (to, run, push) in pending {
            schedulers[to].pushed(7, run, push, &mut recorders[to]);
        }
    }
}

fn publish(schedulers: &mut [NodeScheduler<String>], recorders: &mut [Recorder], timestep: i64) {
    for c in 0..8u32 {
        let holder = (c / 4) as usize;
        schedulers[holder].publish(
            key(c, timestep),
            format!("c{c}t{timestep}"),
            &mut recorders[holder],
        );
    }
}

fn arm(from: i64) -> Standing {
    Standing {
        plan: 7,
        from,
        deliver: (NodeId(0), 99),
        keep: None,
    }
}

#[test]
fn a_node_holds_only_its_own_part() {
    let plan = two_node_plan(false);
    let parts = plan.node_plans();
    assert_eq!(parts.len(), 2);
    for part in &parts {
        let tasks: usize = part.fragments.iter().map(|f| f.tasks.len()).sum();
        let sources: Vec<u32> = part.sources.iter().map(|(_, k)| k.chunk[0]).collect();
        match part.node.0 {
            0 => {
                assert_eq!(tasks, 6, "4 leaves, a partial, the root");
                assert_eq!(sources, vec![0, 1, 2, 3]);
            }
            _ => {
                assert_eq!(tasks, 5, "4 leaves, a partial");
                assert_eq!(sources, vec![4, 5, 6, 7]);
            }
        }
    }
}

#[test]
fn a_standing_plan_runs_every_timestep_as_its_chunks_land_without_requests() {
    let plan = two_node_plan(false);
    let (mut schedulers, mut recorders) = cluster(&plan);
    for (s, r) in schedulers.iter_mut().zip(recorders.iter_mut()) {
        s.stand(arm(10), r);
    }
    for timestep in 10..13 {
        publish(&mut schedulers, &mut recorders, timestep);
        settle(&mut schedulers, &mut recorders);
    }
    let delivered: Vec<i64> = recorders[0].delivered.iter().map(|d| d.0).collect();
    assert_eq!(delivered, vec![10, 11, 12], "one delivery per timestep");
    assert!(recorders[1].delivered.is_empty());
    assert!(recorders[0].delivered[2].2[0].contains("c0t12"));
    assert_eq!(schedulers[0].active_runs() + schedulers[1].active_runs(), 0);
    // A chunk sent again changes nothing: the run of its timestep started already.
    schedulers[1].publish(key(4, 12), "again".into(), &mut recorders[1]);
    settle(&mut schedulers, &mut recorders);
    assert_eq!(recorders[0].delivered.len(), 3);
}

#[test]
fn timesteps_before_the_standing_and_incomplete_ones_do_not_run() {
    let plan = two_node_plan(false);
    let (mut schedulers, mut recorders) = cluster(&plan);
    publish(&mut schedulers, &mut recorders, 9);
    for (s, r) in schedulers.iter_mut().zip(recorders.iter_mut()) {
        s.stand(arm(10), r);
    }
    // Timestep 10 on node 1 only: node 0 has not all its chunks.
    for c in 4..8 {
        schedulers[1].publish(key(c, 10), format!("c{c}"), &mut recorders[1]);
    }
    settle(&mut schedulers, &mut recorders);
    assert!(recorders[0].delivered.is_empty());
    assert_eq!(
        recorders[0].submitted.len(),
        0,
        "nothing of timestep 9, nor of 10 yet"
    );
    assert_eq!(
        schedulers[0].active_runs(),
        1,
        "node 0 holds node 1's partial"
    );
    for c in 0..4 {
        schedulers[0].publish(key(c, 10), format!("c{c}"), &mut recorders[0]);
    }
    assert_eq!(recorders[0].delivered.len(), 1);
}

#[test]
fn standing_after_the_chunks_arrived_starts_at_once() {
    let plan = two_node_plan(false);
    let (mut schedulers, mut recorders) = cluster(&plan);
    publish(&mut schedulers, &mut recorders, 10);
    for (s, r) in schedulers.iter_mut().zip(recorders.iter_mut()) {
        s.stand(arm(10), r);
    }
    settle(&mut schedulers, &mut recorders);
    assert_eq!(recorders[0].delivered.len(), 1);
}

#[test]
fn sources_read_on_another_node_are_pushed_there() {
    let plan = two_node_plan(true);
    let (mut schedulers, mut recorders) = cluster(&plan);
    for (s, r) in schedulers.iter_mut().zip(recorders.iter_mut()) {
        s.stand(arm(10), r);
    }
    publish(&mut schedulers, &mut recorders, 10);
    settle(&mut schedulers, &mut recorders);
    let submitted: usize = recorders.iter().map(|r| r.submitted.len()).sum();
    assert_eq!(submitted, plan.fragments.len(), "every fragment ran once");
    let delivered: usize = recorders.iter().map(|r| r.delivered.len()).sum();
    assert_eq!(delivered, 1);
    assert!(schedulers.iter().all(|s| s.active_runs() == 0));
}

#[test]
fn a_run_asked_for_waits_for_its_chunks_then_pushes_and_delivers() {
    let plan = two_node_plan(false);
    let (mut schedulers, mut recorders) = cluster(&plan);
    let request = RunRequest {
        plan: 7,
        run: 1,
        timestep: 11,
        deliver: Some((NodeId(0), 99)),
        persist: None,
        release_before: None,
    };
    for (s, r) in schedulers.iter_mut().zip(recorders.iter_mut()) {
        s.run(request.clone(), r);
    }
    assert!(recorders.iter().all(|r| r.submitted.is_empty()));
    publish(&mut schedulers, &mut recorders, 11);
    settle(&mut schedulers, &mut recorders);
    assert_eq!(recorders[0].delivered.len(), 1);
    assert_eq!(recorders[0].delivered[0].0, 11);
    // Nothing stands: the next timestep's chunks start nothing.
    publish(&mut schedulers, &mut recorders, 12);
    assert_eq!(recorders[0].delivered.len(), 1);
}

#[test]
fn pushes_may_arrive_before_the_run_request() {
    let plan = two_node_plan(false);
    let (mut schedulers, mut recorders) = cluster(&plan);
    for c in 0..4 {
        schedulers[0].publish(key(c, 10), format!("c{c}"), &mut recorders[0]);
    }
    let partial_of_node_1 = plan.node_plans()[1].fragments[0].index;
    let push = Push::Outputs {
        fragment: partial_of_node_1,
        refs: vec!["partial".to_string()],
    };
    schedulers[0].pushed(7, RunKey::Asked(1), push, &mut recorders[0]);
    assert!(
        recorders[0].submitted.is_empty(),
        "nothing before the driver asks"
    );
    let request = RunRequest {
        plan: 7,
        run: 1,
        timestep: 10,
        deliver: Some((NodeId(0), 99)),
        persist: None,
        release_before: None,
    };
    schedulers[0].run(request, &mut recorders[0]);
    assert_eq!(recorders[0].delivered.len(), 1);
}

#[test]
fn persisted_outputs_become_sources_and_release_drops_them() {
    let plan = two_node_plan(false);
    let (mut schedulers, mut recorders) = cluster(&plan);
    let kept = key(0, 0);
    let request = RunRequest {
        plan: 7,
        run: 1,
        timestep: 10,
        deliver: None,
        persist: Some(vec![kept.clone()]),
        release_before: None,
    };
    for (s, r) in schedulers.iter_mut().zip(recorders.iter_mut()) {
        s.run(request.clone(), r);
    }
    publish(&mut schedulers, &mut recorders, 10);
    settle(&mut schedulers, &mut recorders);
    assert!(recorders[0].delivered.is_empty());
    assert_eq!(schedulers[0].source_count(), 5);
    assert_eq!(
        schedulers[0].release_before(11),
        4,
        "published sources go, not the persisted one"
    );
    assert_eq!(schedulers[0].release(std::slice::from_ref(&kept)), 1);
    assert_eq!(schedulers[0].source_count(), 0);
}

#[test]
fn retention_never_drops_what_an_unfinished_run_reads() {
    let plan = two_node_plan(false);
    let (mut schedulers, mut recorders) = cluster(&plan);
    let keep_one = Standing {
        keep: Some(1),
        ..arm(10)
    };
    for (s, r) in schedulers.iter_mut().zip(recorders.iter_mut()) {
        s.stand(keep_one.clone(), r);
    }
    // Node 0 runs 10 and 11 but never gets node 1's partials: both stay unfinished.
    for timestep in [10, 11] {
        for c in 0..4 {
            schedulers[0].publish(
                key(c, timestep),
                format!("c{c}t{timestep}"),
                &mut recorders[0],
            );
        }
    }
    assert_eq!(schedulers[0].active_runs(), 2);
    // Each run's chunks were handed to its fragment when it started: nothing is lost.
    assert_eq!(recorders[0].submitted.len(), 2);
    // Sitting stops new runs; forgetting drops the plan and its unfinished runs.
    schedulers[0].sit(7);
    for c in 0..4 {
        schedulers[0].publish(key(c, 12), "late".into(), &mut recorders[0]);
    }
    assert_eq!(recorders[0].submitted.len(), 2);
    schedulers[0].forget(7);
    assert_eq!(
        (schedulers[0].active_runs(), schedulers[0].plan_count()),
        (0, 0)
    );
}

#[test]
fn a_run_begun_by_a_push_runs_once_when_its_chunks_come() {
    let plan = two_node_plan(false);
    let (mut schedulers, mut recorders) = cluster(&plan);
    for (s, r) in schedulers.iter_mut().zip(recorders.iter_mut()) {
        s.stand(arm(10), r);
    }
    // Node 1 is first: its partial reaches node 0 before node 0's chunks.
    for c in 4..8 {
        schedulers[1].publish(key(c, 10), format!("c{c}"), &mut recorders[1]);
    }
    settle(&mut schedulers, &mut recorders);
    assert_eq!(schedulers[0].active_runs(), 1);
    for c in 0..4 {
        schedulers[0].publish(key(c, 10), format!("c{c}"), &mut recorders[0]);
    }
    settle(&mut schedulers, &mut recorders);
    assert_eq!(recorders[0].delivered.len(), 1);
    assert_eq!(
        recorders[0].submitted.len(),
        2,
        "the partial and the root, once each"
    );
    assert_eq!(schedulers[0].active_runs(), 0, "nothing left waiting");
}

/// Node 0's part of a one-node plan `id`: one task over `sources`.
fn one_task_plan(id: u64, sources: &[SourceKey]) -> Arc<NodePlan> {
    let mut graph = TaskGraph::default();
    let inputs = sources.iter().map(|k| graph.source(k.clone())).collect();
    let Input::Task(t) = graph.task("leaf", vec![], inputs) else {
        unreachable!()
    };
    graph.outputs = vec![t];
    let nodes = vec![NodeId(0)];
    let holders = vec![NodeId(0); sources.len()];
    let assignment = greedy(&graph, &holders, &nodes);
    let plan = Plan::new(id, Arc::new(graph), &assignment, holders);
    Arc::new(plan.node_plans().into_iter().next().unwrap())
}

fn kept_key() -> SourceKey {
    SourceKey {
        array: "kept".into(),
        timestep: 0,
        chunk: vec![0],
    }
}

/// A request for run `run` of plan `plan` at `timestep`: delivered, or persisted as
/// `persist`.
fn asked(plan: u64, run: u64, timestep: i64, persist: Option<Vec<SourceKey>>) -> RunRequest {
    RunRequest {
        plan,
        run,
        timestep,
        deliver: persist.is_none().then_some((NodeId(0), 1)),
        persist,
        release_before: None,
    }
}

#[test]
fn a_run_waiting_for_a_persisted_output_goes_on_when_it_is_computed() {
    let kept = kept_key();
    let mut n0 = NodeScheduler::new(NodeId(0));
    n0.install(one_task_plan(1, &[key(0, 5)]));
    n0.install(one_task_plan(2, std::slice::from_ref(&kept)));
    let mut r0 = Recorder::default();
    // The reader asks first: its source is not there yet.
    n0.run(asked(2, 20, 0, None), &mut r0);
    n0.run(asked(1, 10, 5, Some(vec![kept])), &mut r0);
    assert!(r0.delivered.is_empty());
    n0.publish(key(0, 5), "chunk".to_string(), &mut r0);
    assert_eq!(r0.submitted.len(), 2, "the producer, then the reader");
    assert_eq!(r0.submitted[1].1, vec!["n0f0s0[chunk]".to_string()]);
    assert_eq!(r0.delivered.len(), 1);
    assert_eq!(n0.active_runs(), 0);
}

#[test]
fn a_persisted_output_released_while_a_run_reads_it_stays_until_read() {
    let kept = kept_key();
    let mut n0 = NodeScheduler::new(NodeId(0));
    n0.install(one_task_plan(1, &[key(0, 5)]));
    n0.install(one_task_plan(3, &[kept.clone(), key(0, 0)]));
    let mut r0 = Recorder::default();
    n0.run(asked(1, 1, 5, Some(vec![kept.clone()])), &mut r0);
    n0.publish(key(0, 5), "chunk5".to_string(), &mut r0);
    n0.run(asked(3, 2, 0, None), &mut r0);
    // The array over the persisted output is dropped before the run could read it.
    let released = n0.release(std::slice::from_ref(&kept));
    assert_eq!(released, 0, "kept for the run");
    assert_eq!(n0.release_before(1), 0, "still a persisted output");
    n0.publish(key(0, 0), "chunk0".to_string(), &mut r0);
    assert_eq!(
        r0.submitted[1].1,
        vec!["n0f0s0[chunk5]".to_string(), "chunk0".to_string()]
    );
    assert_eq!(
        n0.source_count(),
        2,
        "read, then dropped: the chunks are left"
    );
    assert_eq!(n0.release(std::slice::from_ref(&kept)), 0, "once only");
}

#[test]
fn a_persisted_output_released_before_it_is_computed_is_dropped_once_computed() {
    let kept = kept_key();
    let mut n0 = NodeScheduler::new(NodeId(0));
    n0.install(one_task_plan(1, &[key(0, 5)]));
    let mut r0 = Recorder::default();
    n0.run(asked(1, 1, 5, Some(vec![kept.clone()])), &mut r0);
    assert_eq!(n0.release(std::slice::from_ref(&kept)), 0);
    n0.publish(key(0, 5), "chunk".to_string(), &mut r0);
    assert_eq!(r0.submitted.len(), 1, "the producer ran");
    assert_eq!(
        n0.source_count(),
        1,
        "its output did not outlive its release"
    );
    assert_eq!(n0.active_runs(), 0);
}
