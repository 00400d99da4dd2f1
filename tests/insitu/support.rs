//! A simulation for the in situ tests: ranks are threads spread over the nodes of a
//! cluster, each publishing through the bridge of its node. The test file including
//! this module says which cluster with `start_cluster`: an embedded one (ranks publish
//! beside their node, by reference) or a cluster of processes (ranks publish from the
//! test's process, streaming their chunks to the worker processes: in transit).

use bytes::Bytes;
use doreisa::array::{Chunk, DType};
use doreisa::core::{Cluster, NodeId, Registry};
use doreisa::insitu::{
    Analytics, ArrayMeta, Bridge, BridgeOptions, Client, Communicator, Context, Delivery,
    Published, Session, ThreadGroup, Trigger,
};
use ndarray::{ArrayD, IxDyn};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// doreisa's registry, plus kernel `test.times_ten` (for preprocessing).
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    let mut kernels = doreisa::array::kernels();
    kernels.register("test.times_ten", times_ten);
    doreisa::sched::cluster::register(&mut registry, kernels);
    doreisa::insitu::register(&mut registry);
    registry
}

fn times_ten(_params: &[u8], inputs: &[Bytes]) -> Result<Bytes, String> {
    let chunk = Chunk::decode(&inputs[0]).map_err(|e| e.to_string())?;
    Ok(Chunk::from(chunk.to_array::<i32>() * 10).encode())
}

/// A small object store that spills to `spill_dir` under pressure.
pub struct StoreLimit {
    pub capacity: u64,
    pub spill_dir: PathBuf,
}

/// A cluster for one test, and how its ranks deliver their chunks.
pub struct Sim {
    /// Dropped first: the program leaves its cluster before anything else stops.
    pub cluster: Cluster,
    pub delivery: Delivery,
    /// What else lives as long as the cluster (its processes).
    pub _alive: Option<Box<dyn Send>>,
}

impl std::ops::Deref for Sim {
    type Target = Cluster;
    fn deref(&self) -> &Cluster {
        &self.cluster
    }
}

/// A cluster of `nodes` task nodes (with `store` on each, if given).
pub fn cluster(nodes: usize, store: Option<&StoreLimit>) -> Sim {
    crate::start_cluster(nodes, store)
}

/// A cluster and a session over all its task nodes.
pub fn session(nodes: usize) -> (Sim, Arc<Session>) {
    session_with(nodes, None)
}

pub fn session_with(nodes: usize, store: Option<&StoreLimit>) -> (Sim, Arc<Session>) {
    let sim = cluster(nodes, store);
    let task_nodes = sim.task_nodes();
    assert_eq!(task_nodes.len(), nodes, "the cluster's task nodes");
    let session = Session::start(sim.driver(), &task_nodes).unwrap();
    (sim, session)
}

/// The peers' test array: a 2x2 grid of 1x1 int32 chunks, one per rank.
pub fn grid_meta(name: &str) -> ArrayMeta {
    ArrayMeta::new(name, &[2, 2], &[1, 1], DType::I32)
}

pub fn position(rank: usize) -> [u32; 2] {
    [(rank / 2) as u32, (rank % 2) as u32]
}

/// Rank `rank`'s value at `timestep`: `(rank + 1) * timestep`, so a sum over the four
/// ranks is `10 * timestep`.
pub fn value(rank: usize, timestep: i64) -> Chunk {
    let v = (rank as i32 + 1) * timestep as i32;
    Chunk::from(ArrayD::from_elem(IxDyn(&[1, 1]), v))
}

/// One rank: its number, its bridge, its communicator.
pub struct Rank {
    pub rank: usize,
    pub bridge: Arc<Bridge>,
    pub comm: Arc<dyn Communicator>,
}

impl Rank {
    /// This rank's client publishing `arrays`, with collective steering reads.
    pub fn client(&self, arrays: Vec<Published>) -> Client {
        Client::new(self.bridge.clone(), arrays)
            .unwrap()
            .with_communicator(self.comm.clone())
    }
}

/// A bridge for `ranks` ranks publishing on `node`, as this cluster's ranks deliver.
pub fn bridge(
    sim: &Sim,
    session: &Arc<Session>,
    node: NodeId,
    ranks: usize,
    options: BridgeOptions,
) -> Arc<Bridge> {
    let options = BridgeOptions {
        delivery: sim.delivery,
        ..options
    };
    match sim.delivery {
        Delivery::Reference => {
            let beside = sim.worker_on(node).unwrap();
            session.bridge(&beside, ranks, options).unwrap()
        }
        Delivery::Shared | Delivery::Stream => {
            Bridge::start_for(sim.driver(), node, &session.info(), ranks, options).unwrap()
        }
    }
}

/// Starts `ranks` ranks (rank `r` on node `r % nodes`, through one bridge per node),
/// each running `body`.
pub fn simulate<F>(
    sim: &Sim,
    session: &Arc<Session>,
    ranks: usize,
    options: BridgeOptions,
    body: F,
) -> Vec<JoinHandle<()>>
where
    F: Fn(Rank) + Send + Sync + 'static,
{
    let nodes: Vec<NodeId> = session.nodes();
    let bridges: Vec<Arc<Bridge>> = nodes
        .iter()
        .enumerate()
        .map(|(i, &node)| {
            let on_node = (0..ranks).filter(|r| r % nodes.len() == i).count();
            bridge(sim, session, node, on_node, options)
        })
        .collect();
    let ranks: Vec<Arc<Bridge>> = (0..ranks)
        .map(|r| bridges[r % bridges.len()].clone())
        .collect();
    run_ranks(ranks, body)
}

/// Like [`simulate`], but every rank has a bridge of its own, as ranks in processes
/// of their own do.
pub fn simulate_apart<F>(
    sim: &Sim,
    session: &Arc<Session>,
    ranks: usize,
    options: BridgeOptions,
    body: F,
) -> Vec<JoinHandle<()>>
where
    F: Fn(Rank) + Send + Sync + 'static,
{
    let nodes: Vec<NodeId> = session.nodes();
    let bridges = (0..ranks)
        .map(|r| bridge(sim, session, nodes[r % nodes.len()], 1, options))
        .collect();
    run_ranks(bridges, body)
}

/// Runs one thread per rank, rank `r` publishing through `bridges[r]`.
fn run_ranks<F>(bridges: Vec<Arc<Bridge>>, body: F) -> Vec<JoinHandle<()>>
where
    F: Fn(Rank) + Send + Sync + 'static,
{
    let group = ThreadGroup::new(bridges.len());
    let body = Arc::new(body);
    bridges
        .into_iter()
        .enumerate()
        .map(|(rank, bridge)| {
            let rank = Rank {
                rank,
                bridge,
                comm: group.rank(rank),
            };
            let body = body.clone();
            std::thread::spawn(move || body(rank))
        })
        .collect()
}

/// The sum of `chunk` as an f64, whatever its dtype.
pub fn total(chunk: &Chunk) -> f64 {
    chunk.cast(DType::F64).to_array::<f64>().sum()
}

/// The sum of the newest timestep of `array` in `ctx`.
pub fn sum_of(ctx: &Context<'_>, array: &str) -> doreisa::insitu::Result<f64> {
    Ok(total(&ctx.compute(&ctx.array(array)?.sum()?)?))
}

/// Registers a callback recording `(timestep, sum of array)` at every timestep.
pub fn record_sums(analytics: &mut Analytics, array: &'static str) -> Arc<Mutex<Vec<(i64, f64)>>> {
    let sums = Arc::new(Mutex::new(Vec::new()));
    let out = sums.clone();
    analytics.register("sum", vec![array.into()], Trigger::All, move |ctx| {
        let sum = sum_of(ctx, array)?;
        out.lock().unwrap().push((ctx.timestep(), sum));
        Ok(())
    });
    sums
}

pub fn join(ranks: Vec<JoinHandle<()>>) {
    for rank in ranks {
        rank.join().expect("a rank failed");
    }
}
