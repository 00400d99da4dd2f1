//! The in situ tests, mirroring the tests of the Python peers (Doreisa 0.3, deisa-ray
//! 0.1.8; see the parity list): a simulation of ranks as threads publishes, an
//! analytics runs callbacks over windows and steers it. Included by a test file that
//! says on which cluster (`start_cluster`): `tests/insitu_e2e.rs` (embedded) and
//! `crates/cli/tests/insitu_processes.rs` (processes, in transit).

use crate::sim::{self, grid_meta, position, simulate, sum_of, total, value};
use doreisa::array::{Array, Chunk, DType};
use doreisa::insitu::{
    AheadPolicy, Analytics, AnalyticsOptions, ArrayMeta, BridgeOptions, BridgeStats, Delivery,
    InsituError, Preprocess, Published, Trigger, Window,
};
use doreisa::sched::Strategy;
use ndarray::{ArrayD, IxDyn};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Four ranks publish array "a" for `timesteps`; returns the sums the analytics saw.
fn sums(nodes: usize, strategy: Strategy, timesteps: std::ops::Range<i64>) -> Vec<(i64, f64)> {
    let (cluster, session) = sim::session(nodes);
    assert_eq!(
        session.nodes().len(),
        nodes,
        "one scheduling actor per node"
    );
    let steps = timesteps.clone();
    let ranks = simulate(
        &cluster,
        &session,
        4,
        BridgeOptions::default(),
        move |rank| {
            let published = Published::new(grid_meta("a"), &position(rank.rank)).unwrap();
            let mut client = rank.client(vec![published]);
            for t in steps.clone() {
                assert!(client.publish_chunk("a", t, value(rank.rank, t)).unwrap());
            }
            let finished = client.close_and_wait(steps.end - 1, Duration::from_secs(60));
            assert!(
                finished.unwrap(),
                "the analytics finished the last timestep"
            );
        },
    );
    let mut analytics = Analytics::new(
        &session,
        AnalyticsOptions {
            strategy,
            ..Default::default()
        },
    )
    .unwrap();
    let seen = sim::record_sums(&mut analytics, "a");
    let report = analytics.run().unwrap();
    sim::join(ranks);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.closed_at, Some(timesteps.end - 1));
    let seen = seen.lock().unwrap();
    seen.clone()
}

fn expected(timesteps: std::ops::Range<i64>) -> Vec<(i64, f64)> {
    timesteps.map(|t| (t, 10.0 * t as f64)).collect()
}

/// Runs `analytics` on a thread of its own, returning once it runs: a simulation
/// started after it is paced by it from its first timestep (before, nobody holds it
/// back).
fn run_first(
    session: &Arc<doreisa::insitu::Session>,
    mut analytics: Analytics,
) -> std::thread::JoinHandle<doreisa::insitu::Result<doreisa::insitu::Report>> {
    let running = std::thread::spawn(move || analytics.run());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !session.progress().unwrap().running {
        assert!(
            std::time::Instant::now() < deadline,
            "the analytics never ran"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    running
}

#[test]
fn sums_per_timestep_over_one_two_and_four_nodes() {
    for nodes in [1, 2, 4] {
        assert_eq!(
            sums(nodes, Strategy::Greedy, 0..10),
            expected(0..10),
            "{nodes} nodes"
        );
    }
}

#[test]
fn both_partitioning_strategies_give_the_same_sums() {
    assert_eq!(
        sums(2, Strategy::RandomBalanced { seed: 3 }, 0..6),
        expected(0..6)
    );
    assert_eq!(sums(2, Strategy::Greedy, 0..6), expected(0..6));
}

#[test]
fn the_first_timestep_may_be_any_number() {
    assert_eq!(sums(2, Strategy::Greedy, 3..8), expected(3..8));
}

/// Runs 4 ranks publishing "a" (and whatever `extra` adds) for `steps`, with the
/// analytics built by `setup`; returns the analytics' report.
fn run_with(
    nodes: usize,
    steps: std::ops::Range<i64>,
    options: BridgeOptions,
    preprocess: Option<Preprocess>,
    setup: impl FnOnce(&mut Analytics),
) -> doreisa::insitu::Report {
    let (cluster, session) = sim::session(nodes);
    let ranks = simulate(&cluster, &session, 4, options, move |rank| {
        let mut published = Published::new(grid_meta("a"), &position(rank.rank)).unwrap();
        if let Some(p) = preprocess.clone() {
            published = published.preprocess(p);
        }
        let mut client = rank.client(vec![published]);
        for t in steps.clone() {
            client.publish_chunk("a", t, value(rank.rank, t)).unwrap();
        }
        client.close(steps.end - 1).unwrap();
    });
    let mut analytics = Analytics::new(&session, AnalyticsOptions::default()).unwrap();
    setup(&mut analytics);
    let report = analytics.run().unwrap();
    sim::join(ranks);
    report
}

#[test]
fn persisted_arrays_are_one_chunk_arrays_of_the_result() {
    let checked = Arc::new(Mutex::new(0));
    let count = checked.clone();
    let report = run_with(2, 0..5, BridgeOptions::default(), None, move |a| {
        a.register("persist", vec!["a".into()], Trigger::All, move |ctx| {
            let sum = ctx.array("a")?.sum()?;
            assert_eq!(
                sum.lower()?.tasks.len(),
                5,
                "4 partial sums and a total (chunks are sources)"
            );
            let kept = ctx.persist(&sum)?;
            assert_eq!(kept.num_chunks(), 1);
            assert_eq!(
                kept.lower()?.tasks.len(),
                1,
                "a one-task graph reading the kept result"
            );
            assert_eq!(total(&ctx.compute(&kept)?), 10.0 * ctx.timestep() as f64);
            *count.lock().unwrap() += 1;
            Ok(())
        });
    });
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(*checked.lock().unwrap(), 5);
}

#[test]
fn arrays_keep_their_declared_dtype() {
    for dtype in [DType::U8, DType::F32, DType::I64] {
        let (cluster, session) = sim::session(1);
        let ranks = simulate(
            &cluster,
            &session,
            1,
            BridgeOptions::default(),
            move |rank| {
                let meta = ArrayMeta::new("d", &[3], &[3], dtype);
                let mut client = rank.client(vec![Published::new(meta, &[0]).unwrap()]);
                let chunk = Chunk::from(ArrayD::from_elem(IxDyn(&[3]), 2.0f64)).cast(dtype);
                client.publish_chunk("d", 0, chunk).unwrap();
                // A chunk of another dtype is refused, and loses nothing.
                let wrong = Chunk::from(ArrayD::from_elem(IxDyn(&[3]), true));
                let refused = client.publish_chunk("d", 1, wrong).unwrap_err();
                assert!(matches!(refused, InsituError::BadChunk { .. }), "{refused}");
                client.close(0).unwrap();
            },
        );
        let mut analytics = Analytics::new(&session, AnalyticsOptions::default()).unwrap();
        let seen = Arc::new(Mutex::new(None));
        let out = seen.clone();
        analytics.register("dtype", vec!["d".into()], Trigger::All, move |ctx| {
            let array = ctx.array("d")?;
            let chunk = ctx.compute(array)?;
            *out.lock().unwrap() = Some((array.dtype(), chunk.dtype(), total(&chunk)));
            Ok(())
        });
        analytics.run().unwrap();
        sim::join(ranks);
        assert_eq!(*seen.lock().unwrap(), Some((dtype, dtype, 6.0)));
    }
}

#[test]
fn preprocessing_runs_in_the_simulation_before_publishing() {
    fn times_ten(a: &Array) -> doreisa::array::Result<Array> {
        a.mul(10)
    }
    for preprocess in [
        Preprocess::Expression(times_ten),
        Preprocess::Kernel {
            name: "test.times_ten".into(),
            params: Vec::new(),
        },
    ] {
        let factor = 100.0;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let out = seen.clone();
        run_with(
            2,
            1..4,
            BridgeOptions::default(),
            Some(preprocess),
            move |a| {
                a.register("sum", vec!["a".into()], Trigger::All, move |ctx| {
                    out.lock().unwrap().push(sim::sum_of(ctx, "a")?);
                    Ok(())
                });
            },
        );
        assert_eq!(
            *seen.lock().unwrap(),
            vec![factor, 2.0 * factor, 3.0 * factor]
        );
    }
}

#[test]
fn a_sliding_window_gives_the_last_timesteps_oldest_first() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = seen.clone();
    run_with(2, 0..4, BridgeOptions::default(), None, move |a| {
        a.register(
            "window",
            vec![Window::new("a", 2)],
            Trigger::All,
            move |ctx| {
                let window = ctx.window("a")?;
                let sums: Vec<f64> = window
                    .iter()
                    .map(|x| Ok(total(&ctx.compute(&x.sum()?)?)))
                    .collect::<doreisa::insitu::Result<_>>()?;
                let diff = match window {
                    [old, new] => Some(total(&ctx.compute(&(new - old)?.sum()?)?)),
                    _ => None,
                };
                out.lock().unwrap().push((ctx.timestep(), sums, diff));
                Ok(())
            },
        );
    });
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen[0],
        (0, vec![0.0], None),
        "the first call has one array"
    );
    for t in 1..4 {
        let (tf, prev) = (t as f64, (t - 1) as f64);
        assert_eq!(
            seen[t as usize],
            (t, vec![10.0 * prev, 10.0 * tf], Some(10.0))
        );
    }
}

#[test]
fn preparation_ten_ahead_hands_its_persisted_graph_to_the_callback() {
    let prepared = Arc::new(Mutex::new(Vec::new()));
    let checked = Arc::new(Mutex::new(Vec::new()));
    let (p, c) = (prepared.clone(), checked.clone());
    let report = run_with(
        2,
        0..100,
        BridgeOptions {
            max_ahead: 20,
            ..Default::default()
        },
        None,
        move |a| {
            a.prepare(10, vec!["a".into()], move |ctx| {
                p.lock().unwrap().push(ctx.timestep());
                // The chunks of this timestep do not exist yet: the graph waits for them.
                Ok(ctx.persist(&ctx.array("a")?.sum()?)?)
            });
            a.register("main", vec!["a".into()], Trigger::All, move |ctx| {
                let sum: Array = ctx
                    .take_prepared()
                    .ok_or("no preparation for this timestep")?;
                assert_eq!(sum.num_chunks(), 1);
                c.lock()
                    .unwrap()
                    .push((ctx.timestep(), total(&ctx.compute(&sum)?)));
                Ok(())
            });
        },
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(*checked.lock().unwrap(), expected(0..100));
    let prepared = prepared.lock().unwrap().clone();
    assert_eq!(
        &prepared[..11],
        &(0..=10).collect::<Vec<_>>()[..],
        "10 ahead at once"
    );
    assert!(
        prepared.windows(2).all(|w| w[1] == w[0] + 1),
        "each timestep once"
    );
}

#[test]
fn several_arrays_with_their_own_windows_and_preprocessing() {
    fn double(a: &Array) -> doreisa::array::Result<Array> {
        a.mul(2)
    }
    let (cluster, session) = sim::session(2);
    // 8 ranks: a 2x4 grid of 1x1 chunks for each of "a" and "b".
    let meta = |name: &str| ArrayMeta::new(name, &[2, 4], &[1, 1], DType::I32);
    let ranks = simulate(
        &cluster,
        &session,
        8,
        BridgeOptions::default(),
        move |rank| {
            let at = [(rank.rank / 4) as u32, (rank.rank % 4) as u32];
            let a = Published::new(meta("a"), &at).unwrap();
            let b = Published::new(meta("b"), &at)
                .unwrap()
                .preprocess(Preprocess::Expression(double));
            let mut client = rank.client(vec![a, b]);
            for t in 0..4 {
                let v = Chunk::from(ArrayD::from_elem(
                    IxDyn(&[1, 1]),
                    (rank.rank as i32 + 1) * t,
                ));
                client.publish_chunk("a", t as i64, v.clone()).unwrap();
                client.publish_chunk("b", t as i64, v).unwrap();
            }
            client.close(3).unwrap();
        },
    );
    let mut analytics = Analytics::new(&session, AnalyticsOptions::default()).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = seen.clone();
    let windows = vec![Window::new("a", 2), Window::new("b", 1)];
    analytics.register("both", windows, Trigger::All, move |ctx| {
        let (a, b) = (ctx.window("a")?, ctx.window("b")?);
        let b_sum = total(&ctx.compute(&b[0].sum()?)?);
        let a_diff = match a {
            [old, new] => Some(total(&ctx.compute(&(new - old)?.sum()?)?)),
            _ => None,
        };
        out.lock()
            .unwrap()
            .push((ctx.timestep(), a.len(), b.len(), b_sum, a_diff));
        Ok(())
    });
    analytics.run().unwrap();
    sim::join(ranks);
    // Ranks 1..=8 sum to 36: b is doubled, a's difference between steps is 36.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0], (0, 1, 1, 0.0, None));
    for t in 1..4 {
        assert_eq!(seen[t as usize], (t, 2, 1, 72.0 * t as f64, Some(36.0)));
    }
    // Both arrays of all four ranks of a node, in one message per iteration.
    assert_eq!(session.announce_messages().unwrap(), 2 * 4);
}

#[test]
fn a_node_announces_each_iteration_once_whatever_its_ranks_processes() {
    let (cluster, session) = sim::session(2);
    let ranks = sim::simulate_apart(&cluster, &session, 4, BridgeOptions::default(), |rank| {
        let at = sim::position(rank.rank);
        let a = Published::new(sim::grid_meta("a"), &at).unwrap();
        let b = Published::new(sim::grid_meta("b"), &at).unwrap();
        let mut client = rank.client(vec![a, b]);
        for t in 1..=3 {
            client
                .publish_chunk("a", t, sim::value(rank.rank, t))
                .unwrap();
            client
                .publish_chunk("b", t, sim::value(rank.rank, -t))
                .unwrap();
        }
        client.close(3).unwrap();
    });
    let mut analytics = Analytics::new(&session, AnalyticsOptions::default()).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = seen.clone();
    let arrays = vec![Window::new("a", 1), Window::new("b", 1)];
    analytics.register("both", arrays, Trigger::All, move |ctx| {
        let (a, b) = (sum_of(ctx, "a")?, sum_of(ctx, "b")?);
        out.lock().unwrap().push((ctx.timestep(), a, b));
        Ok(())
    });
    analytics.run().unwrap();
    sim::join(ranks);
    let expected: Vec<(i64, f64, f64)> = (1..=3)
        .map(|t| (t, 10.0 * t as f64, -10.0 * t as f64))
        .collect();
    assert_eq!(*seen.lock().unwrap(), expected);
    // Two ranks, each with a bridge of its own, on each of the two nodes: the node's
    // gate announces both bridges' chunks of an iteration together.
    assert_eq!(session.announce_messages().unwrap(), 2 * 3);
}

#[test]
fn several_callbacks_each_run_on_their_own_arrays() {
    let (cluster, session) = sim::session(2);
    let ranks = simulate(
        &cluster,
        &session,
        4,
        BridgeOptions::default(),
        move |rank| {
            let a = Published::new(grid_meta("a"), &position(rank.rank)).unwrap();
            let b = Published::new(grid_meta("b"), &position(rank.rank)).unwrap();
            let mut client = rank.client(vec![a, b]);
            for t in 0..6 {
                client.publish_chunk("a", t, value(rank.rank, t)).unwrap();
                // "b" only on even timesteps: AND on {a, b} waits for both, OR does not.
                if t % 2 == 0 {
                    client.publish_chunk("b", t, value(rank.rank, t)).unwrap();
                }
            }
            client.close(5).unwrap();
        },
    );
    let mut analytics = Analytics::new(&session, AnalyticsOptions::default()).unwrap();
    let calls = Arc::new(Mutex::new(Vec::new()));
    for (name, windows, trigger) in [
        ("a", vec!["a".into()], Trigger::All),
        ("and", vec!["a".into(), "b".into()], Trigger::All),
        ("or", vec!["a".into(), "b".into()], Trigger::Any),
    ] {
        let out = calls.clone();
        analytics.register(name, windows, trigger, move |ctx| {
            let b_step = ctx.window("b").ok().and_then(|w| w.last().map(|_| ()));
            let sum = sim::sum_of(ctx, "a")?;
            out.lock()
                .unwrap()
                .push((name, ctx.timestep(), sum, b_step.is_some()));
            Ok(())
        });
    }
    let report = analytics.run().unwrap();
    sim::join(ranks);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let calls = calls.lock().unwrap().clone();
    let count = |n: &str| calls.iter().filter(|c| c.0 == n).count();
    assert_eq!(count("a"), 6);
    assert_eq!(count("and"), 3, "timesteps 0, 2, 4");
    // OR: on every "a" (6) and every "b" (3), once both had a timestep: "a" at 0
    // completes before "b" at 0 (each rank publishes a first), so that one is skipped.
    assert_eq!(count("or"), 8);
    // "a" is never older than the timestep a call runs at.
    assert!(
        calls.iter().all(|(_, t, sum, _)| *sum == 10.0 * *t as f64),
        "{calls:?}"
    );
}

#[test]
fn callback_errors_are_reported_with_their_timestep_and_the_run_goes_on() {
    let report = run_with(1, 0..6, BridgeOptions::default(), None, |a| {
        a.register("flaky", vec!["a".into()], Trigger::All, |ctx| {
            match ctx.timestep() {
                2 => Err("refused at 2".into()),
                4 => panic!("boom at 4"),
                _ => Ok(()),
            }
        });
    });
    assert_eq!(report.calls, 6, "every timestep ran");
    let failed: Vec<i64> = report
        .errors
        .iter()
        .map(|e| match e {
            InsituError::Callback { timestep, .. } => *timestep,
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(failed, vec![2, 4]);
    assert!(report.errors[1].to_string().contains("boom at 4"));
}

#[test]
fn undeclared_arrays_and_timesteps_going_back_are_refused() {
    let (cluster, session) = sim::session(1);
    let ranks = simulate(&cluster, &session, 1, BridgeOptions::default(), |rank| {
        let meta = ArrayMeta::new("a", &[1, 1], &[1, 1], DType::I32);
        let mut client = rank.client(vec![Published::new(meta, &[0, 0]).unwrap()]);
        let err = client.publish_chunk("nope", 0, value(0, 0)).unwrap_err();
        assert_eq!(err, InsituError::Undeclared("nope".into()));
        client.publish_chunk("a", 2, value(0, 2)).unwrap();
        let err = client.publish_chunk("a", 1, value(0, 1)).unwrap_err();
        assert!(
            matches!(
                err,
                InsituError::OutOfOrder {
                    timestep: 1,
                    last: 2,
                    ..
                }
            ),
            "{err}"
        );
        client.close(2).unwrap();
    });
    let mut analytics = Analytics::new(&session, AnalyticsOptions::default()).unwrap();
    let steps = Arc::new(Mutex::new(Vec::new()));
    let out = steps.clone();
    analytics.register("a", vec!["a".into()], Trigger::All, move |ctx| {
        out.lock().unwrap().push(ctx.timestep());
        Ok(())
    });
    analytics.run().unwrap();
    sim::join(ranks);
    assert_eq!(
        *steps.lock().unwrap(),
        vec![2],
        "nothing refused reached the analytics"
    );
}

#[test]
fn a_timestep_left_incomplete_behind_a_later_one_fails_the_analytics() {
    let (cluster, session) = sim::session(2);
    let ranks = simulate(&cluster, &session, 2, BridgeOptions::default(), |rank| {
        let meta = ArrayMeta::new("a", &[1, 2], &[1, 1], DType::I32);
        let mut client = rank.client(vec![Published::new(meta, &[0, rank.rank as u32]).unwrap()]);
        // Rank 1 skips timestep 1: timestep 2 completes while 1 never can.
        for t in 0..3 {
            if rank.rank == 0 || t != 1 {
                client.publish_chunk("a", t, value(0, t)).unwrap();
            }
        }
        client.close(2).unwrap();
    });
    let mut analytics = Analytics::new(&session, AnalyticsOptions::default()).unwrap();
    analytics.register("a", vec!["a".into()], Trigger::All, |_| Ok(()));
    let err = analytics.run().unwrap_err();
    sim::join(ranks);
    assert!(
        matches!(
            err,
            InsituError::OutOfOrder {
                timestep: 1,
                last: 2,
                ..
            }
        ),
        "{err}"
    );
}

/// The peers' feedback loop: the analytics sets a value per timestep, every rank reads
/// the same one at the next iteration boundary (deterministically, waiting for it).
#[test]
fn steering_values_reach_every_rank_alike() {
    let (cluster, session) = sim::session(2);
    let read = Arc::new(Mutex::new(Vec::new()));
    let out = read.clone();
    let ranks = simulate(
        &cluster,
        &session,
        4,
        BridgeOptions::default(),
        move |rank| {
            let mut client = rank.client(vec![
                Published::new(grid_meta("a"), &position(rank.rank)).unwrap(),
            ]);
            // Nothing set yet: the default, on every rank.
            let before: i64 = client.get("scale", None, -1).unwrap();
            for t in 0..5 {
                client.publish_chunk("a", t, value(rank.rank, t)).unwrap();
                let scale: i64 = client
                    .get_at("scale", t, Duration::from_secs(30), -1)
                    .unwrap();
                out.lock().unwrap().push((rank.rank, t, scale));
            }
            let missing: String = client
                .get("absent", Some(3), "default".to_string())
                .unwrap();
            assert_eq!(missing, "default");
            assert_eq!(before, -1);
            client.close(4).unwrap();
        },
    );
    let mut analytics = Analytics::new(&session, AnalyticsOptions::default()).unwrap();
    analytics.register("steer", vec!["a".into()], Trigger::All, |ctx| {
        let sum = sim::sum_of(ctx, "a")? as i64;
        ctx.set("scale", &(sum + 1))?;
        // Setting the same key again for this timestep is refused.
        let again = ctx.set("scale", &0i64).unwrap_err();
        assert!(
            matches!(again, InsituError::SteeringOrder { .. }),
            "{again}"
        );
        Ok(())
    });
    let report = analytics.run().unwrap();
    sim::join(ranks);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let read = read.lock().unwrap().clone();
    assert_eq!(read.len(), 20);
    for (_, t, scale) in read {
        assert_eq!(scale, 10 * t + 1, "timestep {t}");
    }
}

#[test]
fn the_simulation_runs_ahead_of_a_slow_analytics_within_its_bound() {
    let published = Arc::new(Mutex::new(0i64));
    let (cluster, session) = sim::session(2);
    let counter = published.clone();
    let options = BridgeOptions {
        max_ahead: 5,
        policy: AheadPolicy::Block,
        ..Default::default()
    };
    let mut analytics = Analytics::new(&session, AnalyticsOptions::default()).unwrap();
    let ahead = Arc::new(Mutex::new(None));
    let (seen, out) = (published.clone(), ahead.clone());
    let sums = Arc::new(Mutex::new(Vec::new()));
    let sums_out = sums.clone();
    analytics.register("slow", vec!["a".into()], Trigger::All, move |ctx| {
        if ctx.timestep() == 0 {
            std::thread::sleep(Duration::from_millis(500));
            *out.lock().unwrap() = Some(*seen.lock().unwrap());
        }
        sums_out
            .lock()
            .unwrap()
            .push((ctx.timestep(), sim::sum_of(ctx, "a")?));
        Ok(())
    });
    let running = run_first(&session, analytics);
    let ranks = simulate(&cluster, &session, 4, options, move |rank| {
        let mut client = rank.client(vec![
            Published::new(grid_meta("a"), &position(rank.rank)).unwrap(),
        ]);
        for t in 0..20 {
            client.publish_chunk("a", t, value(rank.rank, t)).unwrap();
            if rank.rank == 0 {
                *counter.lock().unwrap() = t;
            }
        }
        client.close(19).unwrap();
    });
    running.join().unwrap().unwrap();
    sim::join(ranks);
    let ahead = ahead.lock().unwrap().expect("timestep 0 ran");
    assert!(
        ahead >= 1,
        "the simulation went on while the analytics slept ({ahead})"
    );
    assert!(ahead <= 5, "but not more than 5 timesteps ahead ({ahead})");
    assert_eq!(
        *sums.lock().unwrap(),
        expected(0..20),
        "results still right"
    );
}

#[test]
fn drop_newest_skips_timesteps_instead_of_waiting() {
    let (cluster, session) = sim::session(1);
    let dropped = Arc::new(Mutex::new(0));
    let counter = dropped.clone();
    let options = BridgeOptions {
        max_ahead: 1,
        policy: AheadPolicy::DropNewest,
        ..Default::default()
    };
    let mut analytics = Analytics::new(&session, AnalyticsOptions::default()).unwrap();
    let steps = Arc::new(Mutex::new(Vec::new()));
    let out = steps.clone();
    analytics.register("slow", vec!["a".into()], Trigger::All, move |ctx| {
        std::thread::sleep(Duration::from_millis(20));
        out.lock().unwrap().push(ctx.timestep());
        Ok(())
    });
    let running = run_first(&session, analytics);
    let ranks = simulate(&cluster, &session, 1, options, move |rank| {
        let meta = ArrayMeta::new("a", &[1, 1], &[1, 1], DType::I32);
        let mut client = rank.client(vec![Published::new(meta, &[0, 0]).unwrap()]);
        for t in 0..30 {
            if !client.publish_chunk("a", t, value(0, t)).unwrap() {
                *counter.lock().unwrap() += 1;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        client.close(29).unwrap();
    });
    running.join().unwrap().unwrap();
    sim::join(ranks);
    let dropped = *dropped.lock().unwrap();
    let steps = steps.lock().unwrap().clone();
    assert!(
        dropped > 0,
        "a 10x slower analytics makes the simulation drop timesteps"
    );
    assert_eq!(
        steps.len() + dropped,
        30,
        "every timestep either analysed or dropped"
    );
}

#[test]
fn drop_oldest_publishes_everything_and_the_analytics_skips_behind() {
    let (cluster, session) = sim::session(1);
    let options = BridgeOptions {
        max_ahead: 1,
        policy: AheadPolicy::DropOldest,
        ..Default::default()
    };
    let mut analytics = Analytics::new(&session, AnalyticsOptions::default()).unwrap();
    let steps = Arc::new(Mutex::new(Vec::new()));
    let out = steps.clone();
    analytics.register("slow", vec!["a".into()], Trigger::All, move |ctx| {
        std::thread::sleep(Duration::from_millis(20));
        let sum = sim::sum_of(ctx, "a")?;
        out.lock().unwrap().push((ctx.timestep(), sum));
        Ok(())
    });
    let running = run_first(&session, analytics);
    let ranks = simulate(&cluster, &session, 1, options, move |rank| {
        let meta = ArrayMeta::new("a", &[1, 1], &[1, 1], DType::I32);
        let mut client = rank.client(vec![Published::new(meta, &[0, 0]).unwrap()]);
        for t in 0..30 {
            assert!(client.publish_chunk("a", t, value(0, t)).unwrap());
            std::thread::sleep(Duration::from_millis(2));
        }
        let stats = client.stats();
        assert_eq!((stats.published, stats.dropped), (30, 0));
        client.close(29).unwrap();
    });
    let report = running.join().unwrap().unwrap();
    sim::join(ranks);
    let steps = steps.lock().unwrap().clone();
    assert!(
        report.skipped > 0,
        "a 10x slower analytics skips its oldest timesteps"
    );
    assert_eq!(steps.len() + report.skipped, 30, "analysed or skipped");
    assert_eq!(
        steps.last(),
        Some(&(29, 29.0)),
        "the newest is never skipped"
    );
    assert!(
        steps.windows(2).all(|w| w[0].0 < w[1].0),
        "in order: {steps:?}"
    );
}

/// Contracts: in transit, only the chunks the analytics' graphs read are streamed; the
/// rest stays with the ranks, by reference, so reading more later loses nothing.
#[test]
fn only_chunks_the_graphs_read_are_streamed_and_reading_more_later_loses_nothing() {
    let (cluster, session) = sim::session(2);
    let bridges = Arc::new(Mutex::new(Vec::<Arc<doreisa::insitu::Bridge>>::new()));
    let seen_bridges = bridges.clone();
    let mut analytics = Analytics::new(&session, AnalyticsOptions::default()).unwrap();
    let sums = Arc::new(Mutex::new(Vec::new()));
    let out = sums.clone();
    analytics.register("corner", vec!["a".into()], Trigger::All, move |ctx| {
        let a = ctx.array("a")?;
        // The first chunk only, then (from timestep 10) all of them.
        let read = if ctx.timestep() < 10 {
            let first = doreisa::array::SliceArg::Range {
                start: Some(0),
                stop: Some(1),
                step: 1,
            };
            a.slice(&[first, first])?
        } else {
            a.clone()
        };
        let sum = total(&ctx.compute(&read.sum()?)?);
        out.lock().unwrap().push((ctx.timestep(), sum));
        Ok(())
    });
    // The analytics runs first, so that its first contract (no window reads "unread")
    // is there before the first chunk: it is sent before the analytics says it runs.
    let running = std::thread::spawn(move || analytics.run());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !session.progress().unwrap().running {
        assert!(
            std::time::Instant::now() < deadline,
            "the analytics never ran"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let ranks = simulate(
        &cluster,
        &session,
        4,
        BridgeOptions::default(),
        move |rank| {
            let at = position(rank.rank);
            let mut client = rank.client(vec![
                Published::new(grid_meta("a"), &at).unwrap(),
                Published::new(grid_meta("unread"), &at).unwrap(),
            ]);
            for t in 0..20 {
                client.publish_chunk("a", t, value(rank.rank, t)).unwrap();
                client
                    .publish_chunk("unread", t, value(rank.rank, t))
                    .unwrap();
            }
            let released = client.close_and_wait(19, Duration::from_secs(60));
            assert!(released.unwrap());
            seen_bridges.lock().unwrap().push(rank.bridge.clone());
        },
    );
    let report = running.join().unwrap().unwrap();
    sim::join(ranks);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let expected: Vec<(i64, f64)> = (0..20)
        .map(|t| (t, if t < 10 { t as f64 } else { 10.0 * t as f64 }))
        .collect();
    assert_eq!(*sums.lock().unwrap(), expected);
    let mut bridges = bridges.lock().unwrap().clone();
    bridges.sort_by_key(|b| Arc::as_ptr(b) as usize);
    bridges.dedup_by(|a, b| Arc::ptr_eq(a, b));
    let stats = bridges.iter().fold(BridgeStats::default(), |sum, b| {
        let stats = b.stats();
        BridgeStats {
            streamed: sum.streamed + stats.streamed,
            shared: sum.shared + stats.shared,
            by_reference: sum.by_reference + stats.by_reference,
        }
    });
    assert_eq!(
        stats.streamed + stats.shared + stats.by_reference,
        4 * 2 * 20,
        "every chunk handed over once"
    );
    // "unread" is in no window: its 80 chunks stay with the ranks.
    let sent = match cluster.delivery {
        Delivery::Stream => stats.streamed,
        Delivery::Shared => stats.shared,
        Delivery::Reference => 0,
    };
    match cluster.delivery {
        Delivery::Reference => assert_eq!(stats.by_reference, 4 * 2 * 20),
        Delivery::Stream | Delivery::Shared => {
            assert!(sent > 0, "chunks the graphs read are sent: {stats:?}");
            assert_eq!(sent + stats.by_reference, 4 * 2 * 20, "{stats:?}");
            assert!(stats.by_reference >= 80, "{stats:?}");
        }
    }
}

#[test]
fn either_side_may_start_first() {
    for simulation_first in [true, false] {
        let (cluster, session) = sim::session(2);
        let start_ranks = |cluster: &sim::Sim| {
            simulate(cluster, &session, 4, BridgeOptions::default(), |rank| {
                let mut client = rank.client(vec![
                    Published::new(grid_meta("a"), &position(rank.rank)).unwrap(),
                ]);
                for t in 0..3 {
                    client.publish_chunk("a", t, value(rank.rank, t)).unwrap();
                }
                client.close(2).unwrap();
            })
        };
        let mut analytics = Analytics::new(&session, AnalyticsOptions::default()).unwrap();
        let sums = sim::record_sums(&mut analytics, "a");
        let ranks = if simulation_first {
            let ranks = start_ranks(&cluster);
            std::thread::sleep(Duration::from_millis(300));
            let report = analytics.run().unwrap();
            assert_eq!(report.closed_at, Some(2));
            ranks
        } else {
            let running = std::thread::spawn(move || analytics.run().map(|r| r.calls));
            std::thread::sleep(Duration::from_millis(300));
            let ranks = start_ranks(&cluster);
            assert_eq!(running.join().unwrap().unwrap(), 3);
            ranks
        };
        sim::join(ranks);
        assert_eq!(
            *sums.lock().unwrap(),
            expected(0..3),
            "simulation first: {simulation_first}"
        );
    }
}

/// The peers' memory test: 100 iterations of a 4 MiB chunk per rank through a store
/// far smaller than all of them, with a spill directory: nothing may be spilled.
#[test]
fn chunks_are_released_as_the_window_moves_with_nothing_spilled() {
    let spill = tempfile::tempdir().unwrap();
    let store = sim::StoreLimit {
        capacity: 48 << 20,
        spill_dir: spill.path().to_path_buf(),
    };
    let (cluster, session) = sim::session_with(2, Some(&store));
    let side = 1024;
    let ranks = simulate(
        &cluster,
        &session,
        2,
        BridgeOptions::default(),
        move |rank| {
            let meta = ArrayMeta::new("big", &[side, 2 * side], &[side, side], DType::I32);
            let mut client =
                rank.client(vec![Published::new(meta, &[0, rank.rank as u32]).unwrap()]);
            for t in 0..100 {
                let chunk = Chunk::from(ArrayD::from_elem(IxDyn(&[side, side]), t as i32));
                client.publish_chunk("big", t, chunk).unwrap();
            }
            client.close(99).unwrap();
        },
    );
    let mut analytics = Analytics::new(&session, AnalyticsOptions::default()).unwrap();
    let sums = Arc::new(Mutex::new(Vec::new()));
    let out = sums.clone();
    analytics.register("sum", vec!["big".into()], Trigger::All, move |ctx| {
        out.lock()
            .unwrap()
            .push(total(&ctx.compute(&ctx.array("big")?.sum()?)?));
        Ok(())
    });
    analytics.run().unwrap();
    sim::join(ranks);
    let sums = sums.lock().unwrap().clone();
    assert_eq!(sums.len(), 100);
    assert_eq!(sums[7], 7.0 * (2 * side * side) as f64);
    // The sum's graph stands on the nodes from its second timestep: what the analytics
    // sends the nodes after that is the releases, every few timesteps (one message per
    // node each time), not one message per node per timestep.
    let sent = analytics.runner().messages_sent();
    // (56 measured: 2 x 26 releases, 4 to install, run and stand the plan; 204 when it
    // released at every timestep.)
    assert!(sent <= 2 * (100 / 4 + 1) + 16, "{sent} messages to 2 nodes");
    let status = cluster.status();
    for node in session.nodes() {
        let store = &status.iter().find(|s| s.node == node).unwrap().store;
        assert_eq!(store.spilled_objects, 0, "node {node:?}: {store:?}");
        assert_eq!(store.spills, 0, "node {node:?}: {store:?}");
    }
}

#[test]
fn slices_and_buffers_publish_like_chunks_and_are_checked_alike() {
    let (cluster, session) = sim::session(1);
    let ranks = simulate(&cluster, &session, 1, BridgeOptions::default(), |rank| {
        let meta = ArrayMeta::new("s", &[2, 3], &[2, 3], DType::F64);
        let mut client = rank.client(vec![Published::new(meta, &[0, 0]).unwrap()]);
        let data: Vec<f64> = (0..6).map(f64::from).collect();
        assert!(client.publish_slice("s", 0, &data).unwrap());
        let short = client.publish_slice("s", 1, &data[..5]).unwrap_err();
        assert!(matches!(short, InsituError::BadChunk { .. }), "{short}");
        let ints = client.publish_slice("s", 1, &[1i32; 6]).unwrap_err();
        assert!(matches!(ints, InsituError::BadChunk { .. }), "{ints}");
        assert!(client.publish_slice("s", 1, &data).unwrap());
        // Written in place and handed over: a buffer of the declared chunk.
        let mut buffer = client.chunk_buffer::<f64>("s").unwrap();
        assert_eq!(buffer.shape(), [2, 3]);
        buffer.copy_from_slice(&data);
        buffer[5] = 50.0;
        assert!(client.publish_buffer("s", 2, buffer).unwrap());
        let ints = client.chunk_buffer::<i32>("s").unwrap_err();
        assert!(matches!(ints, InsituError::BadChunk { .. }), "{ints}");
        let unknown = client.chunk_buffer::<f64>("t").unwrap_err();
        assert!(matches!(unknown, InsituError::Undeclared(_)), "{unknown}");
        let late = client.chunk_buffer::<f64>("s").unwrap();
        let again = client.publish_buffer("s", 2, late).unwrap_err();
        assert!(
            matches!(again, InsituError::Duplicate { timestep: 2, .. }),
            "{again}"
        );
        let stats = client.stats();
        assert_eq!((stats.published, stats.dropped), (3, 0));
        client.close(2).unwrap();
    });
    let mut analytics = Analytics::new(&session, AnalyticsOptions::default()).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = seen.clone();
    analytics.register("s", vec!["s".into()], Trigger::All, move |ctx| {
        let chunk = ctx.compute(ctx.array("s")?)?;
        out.lock()
            .unwrap()
            .push((chunk.shape().to_vec(), total(&chunk)));
        Ok(())
    });
    analytics.run().unwrap();
    sim::join(ranks);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![(vec![2, 3], 15.0), (vec![2, 3], 15.0), (vec![2, 3], 60.0)]
    );
}

#[test]
fn a_rank_that_publishes_nothing_holds_no_iteration_back() {
    let (cluster, session) = sim::session(2);
    // Ranks 0..3 publish a 1x3 array; rank 3 (on node 1 with rank 1) only steers.
    let meta = ArrayMeta::new("a", &[1, 3], &[1, 1], DType::I32);
    let ranks = simulate(
        &cluster,
        &session,
        4,
        BridgeOptions::default(),
        move |rank| {
            if rank.rank == 3 {
                // Not collective: the other ranks read no steering value.
                let client = doreisa::insitu::Client::new(rank.bridge.clone(), Vec::new()).unwrap();
                let seen: i64 = client
                    .get_at("seen", 2, Duration::from_secs(30), -1)
                    .unwrap();
                assert_eq!(seen, 2, "the analytics reached timestep 2");
                return;
            }
            let at = [0, rank.rank as u32];
            let mut client = rank.client(vec![Published::new(meta.clone(), &at).unwrap()]);
            for t in 0..3 {
                client.publish_chunk("a", t, value(rank.rank, t)).unwrap();
            }
            client.close(2).unwrap();
        },
    );
    let mut analytics = Analytics::new(&session, AnalyticsOptions::default()).unwrap();
    analytics.register("seen", vec!["a".into()], Trigger::All, |ctx| {
        Ok(ctx.set("seen", &ctx.timestep())?)
    });
    let report = analytics.run().unwrap();
    sim::join(ranks);
    assert_eq!(report.timesteps, 3);
}
