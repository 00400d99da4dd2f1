//! The self-test's in situ check: simulation ranks run as tasks on the cluster's nodes
//! (in the worker processes of a process cluster), each publishing through a bridge
//! beside its node; the analytics runs in the driver and checks every timestep's sum
//! and the steering values the ranks read back.

use doreisa::array::{Chunk, DType};
use doreisa::core::{Cluster, ObjectRef, Registry, TaskOptions, Worker};
use doreisa::insitu::{
    Analytics, AnalyticsOptions, ArrayMeta, BridgeOptions, Client, Published, Session, SessionInfo,
    Trigger,
};
use ndarray::{ArrayD, IxDyn};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const STEPS: i64 = 20;

doreisa::core::remote! {
    /// Rank `rank` of a 2x2 grid: publishes `(rank + 1) * t` for `STEPS` timesteps, reads
    /// the analytics' answer for each, and returns how many answers were right.
    pub fn st_insitu_rank(info: SessionInfo, rank: u64) -> Result<u64, String> {
        let worker = Worker::current().ok_or("not in a task")?;
        let bridge = doreisa::insitu::Bridge::start(&worker, &info, 1, BridgeOptions::default())
            .map_err(|e| e.to_string())?;
        let meta = ArrayMeta::new("st", &[2, 2], &[1, 1], DType::I64);
        let at = [(rank / 2) as u32, (rank % 2) as u32];
        let published = Published::new(meta, &at).map_err(|e| e.to_string())?;
        let mut client = Client::new(bridge, vec![published]).map_err(|e| e.to_string())?;
        let mut right = 0;
        for t in 0..STEPS {
            let value = (rank as i64 + 1) * t;
            client
                .publish_chunk("st", t, Chunk::from(ArrayD::from_elem(IxDyn(&[1, 1]), value)))
                .map_err(|e| e.to_string())?;
            let answer: i64 = client
                .get_at("sum", t, Duration::from_secs(60), -1)
                .map_err(|e| e.to_string())?;
            right += u64::from(answer == 10 * t);
        }
        client.close(STEPS - 1).map_err(|e| e.to_string())?;
        Ok(right)
    }
}

pub fn register(registry: &mut Registry) {
    st_insitu_rank::register(registry);
}

/// Four ranks over the task nodes; the analytics sums each timestep and sends it back.
pub fn insitu_sums(cluster: &Cluster) -> Result<(), String> {
    let driver = cluster.driver();
    let nodes = cluster.task_nodes();
    let session = Session::start(driver, &nodes).map_err(|e| e.to_string())?;
    let info = session.info();
    let ranks: Vec<ObjectRef<Result<u64, String>>> = (0..4u64)
        .map(|rank| {
            let node = nodes[rank as usize % nodes.len()];
            st_insitu_rank::remote_with(driver, TaskOptions::on(node), info.clone(), rank)
        })
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let mut analytics =
        Analytics::new(&session, AnalyticsOptions::default()).map_err(|e| e.to_string())?;
    let sums = Arc::new(Mutex::new(Vec::new()));
    let out = sums.clone();
    analytics.register("sum", vec!["st".into()], Trigger::All, move |ctx| {
        let sum: i64 = ctx.compute(&ctx.array("st")?.sum()?)?.scalar()?;
        ctx.set("sum", &sum)?;
        out.lock()
            .map_err(|_| "poisoned")?
            .push((ctx.timestep(), sum));
        Ok(())
    });
    let report = analytics.run().map_err(|e| e.to_string())?;
    if let Some(error) = report.errors.first() {
        return Err(error.to_string());
    }
    for rank in &ranks {
        let right = driver.get(rank).map_err(|e| e.to_string())??;
        if right != STEPS as u64 {
            return Err(format!("a rank read {right} right answers of {STEPS}"));
        }
    }
    let sums = sums.lock().map_err(|_| "poisoned")?.clone();
    let expected: Vec<(i64, i64)> = (0..STEPS).map(|t| (t, 10 * t)).collect();
    if sums != expected {
        return Err(format!("sums {sums:?}"));
    }
    Ok(())
}
