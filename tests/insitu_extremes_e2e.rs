//! Timesteps at the ends of `i64` publish, pace and close like any other: the
//! arithmetic on them is checked, never wrapping or panicking.

#[path = "insitu/support.rs"]
#[allow(dead_code)] // the parts these tests do not use
mod sim;

use doreisa::array::{Array, Chunk};
use doreisa::core::{Cluster, ClusterConfig};
use doreisa::insitu::{
    Analytics, AnalyticsOptions, BridgeOptions, Delivery, Published, Trigger, Window,
};
use ndarray::{ArrayD, IxDyn};
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

/// Runs `body` on a thread of its own, which must end within 60 s: a hang fails the
/// test instead of blocking CI.
fn within_a_minute<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(body());
    });
    match result.recv_timeout(Duration::from_secs(60)) {
        Ok(value) => value,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("still running after 60 s"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("the run failed"),
    }
}

/// Four ranks publish `timesteps` (each rank the value rank + 1); returns the
/// timesteps and sums the analytics saw.
fn run(timesteps: Vec<i64>, options: BridgeOptions) -> Vec<(i64, f64)> {
    within_a_minute(move || run_unbounded(timesteps, options, false))
}

/// [`run`], the sums computed from graphs prepared 2 timesteps ahead on windows of 2
/// if `prepared`.
fn run_unbounded(timesteps: Vec<i64>, options: BridgeOptions, prepared: bool) -> Vec<(i64, f64)> {
    let (cluster, session) = sim::session(2);
    let steps = timesteps.clone();
    let ranks = sim::simulate(&cluster, &session, 4, options, move |rank| {
        let published = Published::new(sim::grid_meta("a"), &sim::position(rank.rank)).unwrap();
        let mut client = rank.client(vec![published]);
        let value = Chunk::from(ArrayD::from_elem(IxDyn(&[1, 1]), rank.rank as i32 + 1));
        for &t in &steps {
            assert!(client.publish_chunk("a", t, value.clone()).unwrap());
        }
        let last = *steps.last().unwrap();
        let finished = client.close_and_wait(last, Duration::from_secs(60));
        assert!(finished.unwrap(), "the analytics finished timestep {last}");
    });
    let mut analytics = Analytics::new(&session, AnalyticsOptions::default()).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = seen.clone();
    if prepared {
        analytics.prepare(2, vec![Window::new("a", 2)], |ctx| {
            let newest = ctx.window("a")?.last().cloned().ok_or("an empty window")?;
            Ok(ctx.persist(&newest.sum()?)?)
        });
    }
    analytics.register("sum", vec!["a".into()], Trigger::All, move |ctx| {
        let sum = match ctx.take_prepared::<Array>() {
            Some(sum) => sim::total(&ctx.compute(&sum)?),
            None if prepared => return Err("no preparation for this timestep".into()),
            None => sim::sum_of(ctx, "a")?,
        };
        out.lock().unwrap().push((ctx.timestep(), sum));
        Ok(())
    });
    let report = analytics.run().unwrap();
    sim::join(ranks);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.closed_at, timesteps.last().copied());
    seen.lock().unwrap().clone()
}

#[test]
fn the_smallest_timesteps_publish_and_close() {
    let steps: Vec<i64> = (0..4).map(|k| i64::MIN + k).collect();
    let expected: Vec<(i64, f64)> = steps.iter().map(|&t| (t, 10.0)).collect();
    assert_eq!(run(steps, BridgeOptions::default()), expected);
}

#[test]
fn the_largest_timesteps_publish_and_close() {
    let steps: Vec<i64> = (0..4).rev().map(|k| i64::MAX - k).collect();
    let expected: Vec<(i64, f64)> = steps.iter().map(|&t| (t, 10.0)).collect();
    assert_eq!(run(steps, BridgeOptions::default()), expected);
}

#[test]
fn back_pressure_paces_timesteps_that_span_the_whole_range() {
    // The distance from the first timestep to the last overflows i64.
    let steps = vec![i64::MIN, -1, 0, i64::MAX];
    let expected: Vec<(i64, f64)> = steps.iter().map(|&t| (t, 10.0)).collect();
    let options = BridgeOptions {
        max_ahead: 1,
        ..BridgeOptions::default()
    };
    assert_eq!(run(steps, options), expected);
}

#[test]
fn back_pressure_counts_timesteps_not_their_numbers() {
    // A simulation that publishes every 10th iteration, 2 timesteps ahead at most.
    let steps = vec![0, 10, 20, 30, 40];
    let expected: Vec<(i64, f64)> = steps.iter().map(|&t| (t, 10.0)).collect();
    assert_eq!(run(steps, BridgeOptions::default()), expected);
}

#[test]
fn preparation_ahead_works_at_both_ends_of_the_timesteps() {
    for steps in [
        (0..4).map(|k| i64::MIN + k).collect::<Vec<i64>>(),
        (0..4).rev().map(|k| i64::MAX - k).collect(),
    ] {
        let expected: Vec<(i64, f64)> = steps.iter().map(|&t| (t, 10.0)).collect();
        let seen = within_a_minute(move || run_unbounded(steps, BridgeOptions::default(), true));
        assert_eq!(seen, expected);
    }
}
