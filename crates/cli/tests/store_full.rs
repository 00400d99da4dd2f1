//! A node's object store full: whatever does not fit fails at once with an error that
//! names the sizes, and whoever waits for it learns it (no wait for a timeout).

mod common;

use common::Processes;
use doreisa::array::{Chunk, DType};
use doreisa::core::{Cluster, TaskOptions};
use doreisa::insitu::{
    Analytics, AnalyticsOptions, ArrayMeta, Bridge, BridgeOptions, Client, Delivery, Published,
    Session, Trigger,
};
use doreisa::net::{NodeOptions, NodeRole};
use doreisa_cli::selftest::{st_blob, st_blob_len};
use ndarray::{ArrayD, IxDyn};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Runs `body` on a thread of its own, which must end within `limit`.
fn within<T: Send + 'static>(limit: Duration, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(body());
    });
    match result.recv_timeout(limit) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("still running after {limit:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the test body failed"),
    }
}

/// One rank streams two arrays of one 4 MiB chunk each (in transit, or through shared
/// memory) to a worker whose store holds 6 MiB: one of them cannot be stored there.
/// The analytics' timestep fails at once with the store's reason, the run ends, and
/// the worker's store is empty afterwards.
fn a_chunk_the_node_cannot_store_fails_its_timestep_at_once(delivery: Delivery) {
    let capacity = 6u64 << 20;
    let (errors, took) = within(Duration::from_secs(100), move || {
        let processes = Processes::start_with(
            1,
            3_000,
            &["--object-store-memory".into(), capacity.to_string()],
        );
        let cluster = Cluster::connect(&processes.cluster_file(), doreisa_cli::registry()).unwrap();
        let worker = *cluster.task_nodes().iter().max().unwrap();
        let session = Session::start(cluster.driver(), &[worker]).unwrap();
        let options = BridgeOptions {
            delivery,
            ..BridgeOptions::default()
        };
        let bridge =
            Bridge::start_for(cluster.driver(), worker, &session.info(), 1, options).unwrap();
        let side = 1024; // 1024 x 512 f64: 4 MiB
        let arrays: Vec<Published> = ["a", "b"]
            .iter()
            .map(|name| {
                let meta = ArrayMeta::new(name, &[side, side / 2], &[side, side / 2], DType::F64);
                Published::new(meta, &[0, 0]).unwrap()
            })
            .collect();
        let rank = std::thread::spawn(move || {
            let mut client = Client::new(bridge, arrays).unwrap();
            for name in ["a", "b"] {
                let chunk = Chunk::from(ArrayD::from_elem(IxDyn(&[side, side / 2]), 1.0f64));
                client.publish_chunk(name, 0, chunk).unwrap();
            }
            client.close(0).unwrap();
        });
        let mut analytics = Analytics::new(&session, AnalyticsOptions::default()).unwrap();
        analytics.register("both", vec!["a".into(), "b".into()], Trigger::All, |ctx| {
            ctx.compute(&ctx.array("a")?.add(ctx.array("b")?)?.sum()?)?;
            Ok(())
        });
        let start = Instant::now();
        let report = analytics.run().unwrap();
        let took = start.elapsed();
        rank.join().unwrap();
        drop(analytics);
        drop(session);
        common::eventually("the worker's store empties", || {
            doreisa::net::client::fetch_status(&processes.cluster_file()).is_ok_and(|s| {
                s.members
                    .iter()
                    .filter_map(|m| m.status.as_ref())
                    .all(|s| s.store.objects == 0)
            })
        });
        let errors: Vec<String> = report.errors.iter().map(|e| e.to_string()).collect();
        (errors, took)
    });
    println!("{delivery:?}: the analytics ended in {took:?}: {errors:?}");
    assert_eq!(errors.len(), 1, "{errors:?}");
    let error = &errors[0];
    assert!(error.contains("at timestep 0"), "{error}");
    assert!(
        error.contains("@0[0, 0]") && error.contains("could not be stored"),
        "{error}"
    );
    assert!(error.contains("full: object"), "{error}");
    assert!(
        error.contains(&format!("of its {capacity} bytes")),
        "{error}"
    );
    // Long before the analytics' timeout (120 s), which it used to wait for.
    assert!(took < Duration::from_secs(60), "{took:?}");
}

#[test]
fn a_streamed_chunk_the_node_cannot_store_fails_its_timestep_at_once() {
    a_chunk_the_node_cannot_store_fails_its_timestep_at_once(Delivery::Stream);
}

#[test]
fn a_shared_chunk_the_node_cannot_store_fails_its_timestep_at_once() {
    a_chunk_the_node_cannot_store_fails_its_timestep_at_once(Delivery::Shared);
}

/// The runtime's own puts into a full store: a driver's put and a task's return value
/// on a worker each fail at once with the store's sizes; what was stored stays good,
/// and a task reading a value stored on its own node needs no room in the store of the
/// value's owner (the owner used to pull a copy of it first, here into a full store).
#[test]
fn puts_and_task_returns_into_a_full_store_fail_at_once_naming_the_sizes() {
    within(Duration::from_secs(100), || {
        let capacity = 6u64 << 20;
        let processes = Processes::start_with(
            1,
            3_000,
            &["--object-store-memory".into(), capacity.to_string()],
        );
        let options = NodeOptions {
            store_capacity: capacity,
            ..NodeOptions::new(NodeRole::Driver)
        };
        let cluster =
            Cluster::connect_with(options, &processes.cluster_file(), doreisa_cli::registry())
                .unwrap();
        let driver = cluster.driver();
        let worker = *cluster.task_nodes().iter().max().unwrap();

        let kept = driver.put_slice(&vec![7u8; 4 << 20]).unwrap();
        let start = Instant::now();
        let error = driver
            .put_slice(&vec![8u8; 4 << 20])
            .unwrap_err()
            .to_string();
        assert!(start.elapsed() < Duration::from_secs(5), "at once");
        assert!(error.contains("full: object"), "{error}");
        assert!(
            error.contains(&format!("of its {capacity} bytes")),
            "{error}"
        );
        assert_eq!(
            driver.get(&kept).unwrap().0.len(),
            4 << 20,
            "the first one stays"
        );

        // A 4 MiB value made and kept on the worker (too large to come back inline).
        let first = st_blob::remote_with(driver, TaskOptions::on(worker), 4 << 20, 1).unwrap();
        let measured = st_blob_len::remote_with(driver, TaskOptions::on(worker), &first).unwrap();
        assert_eq!(driver.get(&measured).unwrap(), 4 << 20);
        let second = st_blob::remote_with(driver, TaskOptions::on(worker), 4 << 20, 2).unwrap();
        let error = driver
            .get_timeout(&second, Some(Duration::from_secs(30)))
            .unwrap_err()
            .to_string();
        assert!(error.contains("cannot be stored"), "{error}");
        assert!(
            error.contains(&format!("of its {capacity} bytes")),
            "{error}"
        );

        // A value moving between processes into a full store (the driver's, which
        // still keeps its first 4 MiB): the same policy, at once, naming the sizes.
        let start = Instant::now();
        let error = driver
            .get_timeout(&first, Some(Duration::from_secs(30)))
            .unwrap_err()
            .to_string();
        assert!(start.elapsed() < Duration::from_secs(5), "at once");
        assert!(error.contains("full: object"), "{error}");
        assert!(
            error.contains("of 4194304 bytes does not fit")
                && error.contains(&format!("of its {capacity} bytes")),
            "{error}"
        );
        // Nothing was lost: with room made, the same value comes.
        drop(kept);
        let mut value = None;
        common::eventually("the value comes once the driver's store has room", || {
            value = driver
                .get_timeout(&first, Some(Duration::from_secs(30)))
                .ok();
            value.is_some()
        });
        let value = value.unwrap();
        assert_eq!(value.0.len(), 4 << 20);
        assert!(
            value
                .0
                .iter()
                .enumerate()
                .all(|(i, &b)| b == 1u8.wrapping_add(i as u8))
        );
    });
}
