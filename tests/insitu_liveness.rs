//! Liveness of a simulation and its analytics (issue 17, items 1 to 5): idle nodes,
//! ranks that never come or leave early, arrays no rank declares, an analytics that
//! waits for a timestep that never comes, uneven steering reads. Every case ends
//! within a bound, with an error that names what is missing; each runs on a thread of
//! its own under a hard limit, so that a regression fails instead of hanging CI.

#[path = "insitu/support.rs"]
#[allow(dead_code)] // the parts these tests do not use
mod sim;

use doreisa::core::{Cluster, ClusterConfig};
use doreisa::insitu::{
    Analytics, AnalyticsOptions, ArrayMeta, BridgeOptions, Delivery, InsituError, Published,
    Report, Session, Stall, Trigger,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn start_cluster(nodes: usize, _store: Option<&sim::StoreLimit>) -> sim::Sim {
    let config = ClusterConfig::default().nodes(nodes).compute_threads(1);
    sim::Sim {
        cluster: Cluster::start(config, sim::registry()).unwrap(),
        delivery: Delivery::Reference,
        _alive: None,
    }
}

/// Runs `body` on a thread of its own, which must end within `limit`.
fn within<T: Send + 'static>(limit: Duration, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(body());
    });
    match result.recv_timeout(limit) {
        Ok(value) => value,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("still running after {limit:?}"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("the run failed"),
    }
}

const LIMIT: Duration = Duration::from_secs(30);

/// How long these tests' analytics wait for their simulation (and their ranks for the
/// analytics): short, so that each failure shows in a second or two.
const PATIENCE: Duration = Duration::from_millis(1500);

fn analytics_options() -> AnalyticsOptions {
    AnalyticsOptions {
        simulation_timeout: PATIENCE,
        ..Default::default()
    }
}

fn bridge_options() -> BridgeOptions {
    BridgeOptions {
        timeout: 2 * PATIENCE,
        ..Default::default()
    }
}

/// Array "a": a row of `ranks` chunks, one per rank.
fn row(ranks: usize) -> ArrayMeta {
    ArrayMeta::new("a", &[1, ranks], &[1, 1], doreisa::array::DType::I32)
}

/// Runs `analytics` on a thread of its own, once it runs (the ranks started after it
/// wait for it, as back-pressure says).
fn run_first(
    session: &Arc<Session>,
    mut analytics: Analytics,
) -> std::thread::JoinHandle<doreisa::insitu::Result<Report>> {
    let running = std::thread::spawn(move || analytics.run());
    while !session.progress().unwrap().running {
        std::thread::sleep(Duration::from_millis(1));
    }
    running
}

/// The stall an error reports.
fn stall_of(error: &InsituError) -> &Stall {
    match error {
        InsituError::Stalled(stall) => stall,
        other => panic!("not a stall: {other}"),
    }
}

/// `ranks` ranks over `nodes` nodes publish "a" (a 1 x ranks grid) for 0..steps;
/// returns the sums the analytics saw.
fn sums_over(nodes: usize, ranks: usize, steps: i64) -> Vec<(i64, f64)> {
    let (cluster, session) = sim::session(nodes);
    let meta = row(ranks);
    let simulation = sim::simulate(
        &cluster,
        &session,
        ranks,
        BridgeOptions::default(),
        move |rank| {
            let published = Published::new(meta.clone(), &[0, rank.rank as u32]).unwrap();
            let mut client = rank.client(vec![published]);
            for t in 0..steps {
                assert!(
                    client
                        .publish_chunk("a", t, sim::value(rank.rank, t))
                        .unwrap()
                );
            }
            client.close(steps - 1).unwrap();
        },
    );
    let mut analytics = Analytics::new(&session, AnalyticsOptions::default()).unwrap();
    let sums = sim::record_sums(&mut analytics, "a");
    let report = analytics.run().unwrap();
    sim::join(simulation);
    assert_eq!(report.closed_at, Some(steps - 1));
    sums.lock().unwrap().clone()
}

#[test]
fn more_nodes_than_ranks_end_with_the_right_sums() {
    for (nodes, ranks) in [(3, 2), (4, 1)] {
        let seen = within(LIMIT, move || sums_over(nodes, ranks, 4));
        // Rank r publishes (r + 1) * t.
        let per_step: f64 = (1..=ranks).map(|r| r as f64).sum();
        let expected: Vec<(i64, f64)> = (0..4).map(|t| (t, per_step * t as f64)).collect();
        assert_eq!(seen, expected, "{nodes} nodes, {ranks} ranks");
    }
}

#[test]
fn a_window_on_an_array_no_rank_declares_fails_naming_it() {
    let outcome = within(LIMIT, || {
        let (cluster, session) = sim::session(2);
        let ranks = sim::simulate(&cluster, &session, 4, bridge_options(), |rank| {
            let at = sim::position(rank.rank);
            let mut client = rank.client(vec![Published::new(sim::grid_meta("a"), &at).unwrap()]);
            for t in 0..20 {
                // The analytics fails early: what is published after that is dropped.
                let _ = client.publish_chunk("a", t, sim::value(rank.rank, t));
            }
            client.close(19).unwrap();
        });
        let mut analytics = Analytics::new(&session, analytics_options()).unwrap();
        let windows = vec!["a".into(), "nope".into()];
        analytics.register("both", windows, Trigger::All, |_| Ok(()));
        let outcome = analytics.run();
        sim::join(ranks);
        outcome
    });
    let err = outcome.unwrap_err();
    assert_eq!(
        err,
        InsituError::UndeclaredWindow {
            callback: "both".into(),
            array: "nope".into(),
            timestep: 0
        }
    );
    assert!(err.to_string().contains("\"nope\""), "{err}");
}

#[test]
fn uneven_tagged_steering_reads_get_their_own_timesteps_values() {
    let read = within(LIMIT, || {
        let (cluster, session) = sim::session(2);
        let read = Arc::new(Mutex::new(Vec::new()));
        let out = read.clone();
        let ranks = sim::simulate(
            &cluster,
            &session,
            4,
            BridgeOptions::default(),
            move |rank| {
                let at = sim::position(rank.rank);
                let mut client =
                    rank.client(vec![Published::new(sim::grid_meta("a"), &at).unwrap()]);
                for t in 0..12 {
                    client
                        .publish_chunk("a", t, sim::value(rank.rank, t))
                        .unwrap();
                    // Rank r reads every (r + 1)th timestep: the ranks' reads do not pair up.
                    if t % (rank.rank as i64 + 1) == 0 {
                        let scale: i64 = client
                            .get_at("scale", t, Duration::from_secs(20), -1)
                            .unwrap();
                        out.lock().unwrap().push((rank.rank, t, scale));
                    }
                }
                client.close(11).unwrap();
            },
        );
        let mut analytics = Analytics::new(&session, AnalyticsOptions::default()).unwrap();
        analytics.register("steer", vec!["a".into()], Trigger::All, |ctx| {
            Ok(ctx.set("scale", &(100 * ctx.timestep() + 1))?)
        });
        let report = analytics.run().unwrap();
        sim::join(ranks);
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        let read = read.lock().unwrap();
        read.clone()
    });
    let expected_reads: usize = (0..4)
        .map(|r| (0..12).filter(|t| t % (r + 1) == 0).count())
        .sum();
    assert_eq!(read.len(), expected_reads);
    for (rank, t, scale) in read {
        assert_eq!(scale, 100 * t + 1, "rank {rank} at timestep {t}");
    }
}

#[test]
fn a_rank_that_fails_before_creating_its_client_is_named_and_the_other_goes_on() {
    let (err, outcomes) = within(LIMIT, || {
        let (cluster, session) = sim::session(1);
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let out = outcomes.clone();
        let mut analytics = Analytics::new(&session, analytics_options()).unwrap();
        analytics.register("a", vec!["a".into()], Trigger::All, |_| Ok(()));
        let running = run_first(&session, analytics);
        let ranks = sim::simulate(&cluster, &session, 2, bridge_options(), move |rank| {
            if rank.rank == 1 {
                return; // fails before creating its client
            }
            let mut client = rank.client(vec![Published::new(row(2), &[0, 0]).unwrap()]);
            for t in 0..6 {
                let outcome = client.publish_chunk("a", t, sim::value(0, t));
                out.lock().unwrap().push(outcome.map_err(|e| e.to_string()));
            }
            client.close(5).unwrap();
        });
        let err = running.join().unwrap().unwrap_err();
        sim::join(ranks);
        let outcomes = outcomes.lock().unwrap().clone();
        (err, outcomes)
    });
    let stall = stall_of(&err);
    assert_eq!(stall.unattached.len(), 1, "{err}");
    let bridge = &stall.unattached[0];
    assert_eq!((bridge.expected, bridge.attached), (2, 1));
    assert!(
        err.to_string()
            .contains("1 of its 2 ranks never created its client"),
        "{err}"
    );
    // The rank that runs went on to its end: waited for the analytics (max_ahead 2),
    // then, once it failed, its chunks were dropped.
    assert_eq!(outcomes.len(), 6);
    assert_eq!(outcomes[..2], [Ok(true), Ok(true)]);
    assert!(
        outcomes[2..].iter().all(|o| *o == Ok(false)),
        "{outcomes:?}"
    );
}

#[test]
fn a_bridge_expecting_more_clients_than_ever_connect_is_named() {
    let err = within(LIMIT, || {
        let (cluster, session) = sim::session(1);
        let node = session.nodes()[0];
        let bridge = sim::bridge(&cluster, &session, node, 3, bridge_options());
        let ranks: Vec<_> = (0..2)
            .map(|rank| {
                let bridge = bridge.clone();
                std::thread::spawn(move || {
                    let published = Published::new(row(2), &[0, rank]).unwrap();
                    let mut client = doreisa::insitu::Client::new(bridge, vec![published]).unwrap();
                    for t in 0..6 {
                        let _ = client.publish_chunk("a", t, sim::value(rank as usize, t));
                    }
                    client.close(5).unwrap();
                })
            })
            .collect();
        let mut analytics = Analytics::new(&session, analytics_options()).unwrap();
        analytics.register("a", vec!["a".into()], Trigger::All, |_| Ok(()));
        let err = analytics.run().unwrap_err();
        sim::join(ranks);
        err
    });
    let stall = stall_of(&err);
    assert_eq!(stall.unattached.len(), 1, "{err}");
    assert_eq!(
        stall.unattached[0].expected - stall.unattached[0].attached,
        1
    );
}

#[test]
fn a_rank_that_returns_early_is_named_for_the_timestep_it_misses() {
    let err = within(LIMIT, || {
        let (cluster, session) = sim::session(2);
        let ranks = sim::simulate(&cluster, &session, 4, bridge_options(), |rank| {
            let at = sim::position(rank.rank);
            let mut client = rank.client(vec![Published::new(sim::grid_meta("a"), &at).unwrap()]);
            let last = if rank.rank == 3 { 2 } else { 9 };
            for t in 0..=last {
                let _ = client.publish_chunk("a", t, sim::value(rank.rank, t));
            }
            // Rank 3 returns after timestep 2: its client goes, closing it.
        });
        let mut analytics = Analytics::new(&session, analytics_options()).unwrap();
        analytics.register("a", vec!["a".into()], Trigger::All, |_| Ok(()));
        let err = analytics.run().unwrap_err();
        sim::join(ranks);
        err
    });
    let InsituError::RankGone {
        array,
        timestep,
        chunk,
        rank,
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(
        (array.as_str(), *timestep, chunk.as_slice()),
        ("a", 3, &[1, 1][..])
    );
    assert_eq!((rank.rank, rank.closed), (Some(3), Some(Some(2))));
    let message = err.to_string();
    assert!(message.contains("rank 3"), "{message}");
    assert!(message.contains("timestep 3"), "{message}");
}

#[test]
fn no_timestep_within_the_timeout_names_the_ranks_and_arrays_that_did_not_publish() {
    let err = within(LIMIT, || {
        let (cluster, session) = sim::session(2);
        let mut analytics = Analytics::new(&session, analytics_options()).unwrap();
        analytics.register("ab", vec!["a".into(), "b".into()], Trigger::All, |_| Ok(()));
        let running = run_first(&session, analytics);
        let ranks = sim::simulate(&cluster, &session, 4, bridge_options(), |rank| {
            let at = sim::position(rank.rank);
            let a = Published::new(sim::grid_meta("a"), &at).unwrap();
            let b = Published::new(sim::grid_meta("b"), &at).unwrap();
            let mut client = rank.client(vec![a, b]);
            // "b" is declared, never published: the analytics waits for it.
            for t in 0..10 {
                let _ = client.publish_chunk("a", t, sim::value(rank.rank, t));
            }
            client.close(9).unwrap();
        });
        let err = running.join().unwrap().unwrap_err();
        sim::join(ranks);
        err
    });
    let stall = stall_of(&err);
    assert_eq!(stall.waited, PATIENCE);
    let [b] = stall.arrays.clone().try_into().expect("only b is behind");
    assert_eq!(
        (b.array.as_str(), b.timestep, b.ranks_missing),
        ("b", None, 4)
    );
    let mut ranks: Vec<Option<u64>> = b.ranks.iter().map(|r| r.rank).collect();
    ranks.sort();
    assert_eq!(ranks, [Some(0), Some(1), Some(2), Some(3)]);
    let message = err.to_string();
    assert!(
        message.contains("array \"b\": no chunk from rank"),
        "{message}"
    );
}

#[test]
fn an_analytics_without_a_simulation_ends_after_its_timeout() {
    let err = within(LIMIT, || {
        let (_cluster, session) = sim::session(1);
        let mut analytics = Analytics::new(&session, analytics_options()).unwrap();
        analytics.register("a", vec!["a".into()], Trigger::All, |_| Ok(()));
        analytics.run().unwrap_err()
    });
    let stall = stall_of(&err);
    assert_eq!(
        (stall.bridges, stall.undeclared.clone()),
        (0, vec!["a".to_string()])
    );
    assert!(
        err.to_string()
            .contains("no rank of the simulation started"),
        "{err}"
    );
}

#[test]
fn a_bridge_for_no_rank_alone_ends_with_a_clear_error() {
    let err = within(LIMIT, || {
        let (cluster, session) = sim::session(1);
        let node = session.nodes()[0];
        let _bridge = sim::bridge(&cluster, &session, node, 0, bridge_options());
        let mut analytics = Analytics::new(&session, analytics_options()).unwrap();
        analytics.register("a", vec!["a".into()], Trigger::All, |_| Ok(()));
        analytics.run().unwrap_err()
    });
    let stall = stall_of(&err);
    assert_eq!((stall.bridges, stall.declared), (1, 0));
    assert!(
        err.to_string().contains("no rank declared an array"),
        "{err}"
    );
}

/// The analytics' node dies (its process killed) while ranks wait for a steering value
/// it would have set: the coordinator sends nothing any more, and each rank's wait ends
/// with the loss instead of running to its bound (far beyond this test's limit). The
/// ranks' next chunks are dropped, as once the analytics stopped.
#[test]
fn ranks_waiting_for_an_analytics_whose_node_died_are_told_it_is_gone() {
    let outcomes = within(LIMIT, || {
        let mut sim = sim::cluster(3, None);
        let nodes = sim.task_nodes();
        let (ranks_on, analytics_on) = (nodes[..2].to_vec(), nodes[2]);
        let analytics_worker = sim.worker_on(analytics_on).unwrap();
        let session = Session::start(&analytics_worker, &ranks_on).unwrap();
        let (waiting, waited) = std::sync::mpsc::channel();
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let out = outcomes.clone();
        let ranks = sim::simulate(
            &sim,
            &session,
            2,
            BridgeOptions {
                timeout: Duration::from_secs(600),
                ..Default::default()
            },
            move |rank| {
                let meta = row(2);
                let published = Published::new(meta, &[0, rank.rank as u32]).unwrap();
                let mut client = rank.client(vec![published]);
                client
                    .publish_chunk("a", 0, sim::value(rank.rank, 0))
                    .unwrap();
                waiting.send(()).unwrap();
                let read = client.get_at::<i64>("scale", 0, Duration::from_secs(600), -1);
                let published = client.publish_chunk("a", 1, sim::value(rank.rank, 1));
                out.lock().unwrap().push((read, published));
            },
        );
        for _ in 0..2 {
            waited.recv().unwrap();
        }
        sim.cluster.kill_node(analytics_on).unwrap();
        sim::join(ranks);
        let outcomes = outcomes.lock().unwrap().clone();
        (analytics_on, outcomes)
    });
    let (analytics_on, outcomes) = outcomes;
    assert_eq!(outcomes.len(), 2);
    for (read, published) in outcomes {
        assert_eq!(read, Err(InsituError::AnalyticsLost { node: analytics_on }));
        assert_eq!(published, Ok(false), "the chunk after the loss is dropped");
    }
}
