//! An embedded cluster: N virtual nodes in this process, each with its own thread (an
//! actix system running the node actor), compute pool and object store, connected by
//! the in-memory transport.

use crate::ObjectStore;
use crate::error::{CoreError, Result};
use crate::ids::{NodeId, WorkerId};
use crate::registry::Registry;
use crate::runtime::actor::{GetRecords, GetStatus, NodeActor, NodeStatus};
use crate::runtime::boot::NodeParts;
use crate::runtime::event::NodeEvent;
use crate::runtime::inbox::Inbox;
use crate::runtime::transport::InMemoryTransport;
use crate::runtime::worker::Worker;
use actix::Addr;
use doreisa_objstore::{StoreConfig, StoreStats};
use rustc_hash::FxHashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Settings of an embedded cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub nodes: usize,
    /// Threads running task bodies, per node.
    pub compute_threads: usize,
    /// Object store capacity, per node.
    pub store_capacity: u64,
    /// Where nodes spill primary copies under memory pressure (a folder per node).
    pub spill_dir: Option<PathBuf>,
    /// How long an idle thread polls for work before parking.
    pub spin: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            nodes: 2,
            compute_threads: 1,
            store_capacity: 2 << 30,
            spill_dir: None,
            spin: default_spin(),
        }
    }
}

/// How long idle threads of an embedded cluster poll before parking:
/// `DOREISA_SPIN_US` microseconds, else 200. Parking and waking a thread costs 8–35 µs
/// on virtual machines like ours; polling a little longer keeps request/reply chains on
/// running CPUs (see `runtime::spin` for how polling is bounded).
pub fn default_spin() -> Duration {
    spin_from_env(200)
}

/// `DOREISA_SPIN_US` microseconds, else `default`.
pub fn spin_from_env(default: u64) -> Duration {
    let micros = std::env::var("DOREISA_SPIN_US")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Duration::from_micros(micros)
}

impl ClusterConfig {
    pub fn nodes(mut self, nodes: usize) -> Self {
        self.nodes = nodes;
        self
    }

    pub fn store_capacity(mut self, bytes: u64) -> Self {
        self.store_capacity = bytes;
        self
    }

    pub fn spill_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spill_dir = Some(dir.into());
        self
    }

    pub fn compute_threads(mut self, threads: usize) -> Self {
        self.compute_threads = threads;
        self
    }
}

use crate::runtime::transport::InMemoryPeers as Peers;

struct NodeRuntime {
    id: NodeId,
    inbox: Arc<Inbox<NodeEvent>>,
    store: Arc<ObjectStore>,
    alive: Arc<AtomicBool>,
    addr: Addr<NodeActor>,
    thread: Option<JoinHandle<()>>,
    workers: Vec<WorkerId>,
    /// The worker that runs tasks on this node (what `worker_on` hands out).
    executor: Worker,
}

/// N virtual nodes in this process, and a driver worker on the first one.
pub struct EmbeddedCluster {
    nodes: Vec<NodeRuntime>,
    driver: Worker,
    peers: Peers,
}

impl EmbeddedCluster {
    /// Starts `config.nodes` nodes that can run what `registry` holds.
    pub fn start(config: ClusterConfig, registry: Registry) -> Result<Self> {
        if config.nodes == 0 {
            return Err(CoreError::Invalid("a cluster has at least one node".into()));
        }
        check_size(&config).map_err(CoreError::Invalid)?;
        let registry = Arc::new(registry);
        let ids: Vec<NodeId> = (0..config.nodes as u64).map(NodeId).collect();
        let mut parts = Vec::new();
        let mut peers = FxHashMap::default();
        for &id in &ids {
            let inbox = Arc::new(Inbox::new());
            let mut store_config = StoreConfig::new(config.store_capacity);
            if let Some(dir) = &config.spill_dir {
                store_config = store_config.with_spill_dir(dir.join(format!("node-{}", id.0)));
            }
            let store = Arc::new(ObjectStore::new(store_config));
            let node = NodeParts::new(
                id,
                inbox.clone(),
                store.clone(),
                registry.clone(),
                &ids,
                ids.clone(),
                config.spin,
            );
            let alive = Arc::new(AtomicBool::new(true));
            peers.insert(id, (inbox.clone(), alive.clone()));
            parts.push((node, inbox, store, alive));
        }
        let driver_id = WorkerId::new(ids[0], 1);
        let driver = parts[0].0.add_worker(driver_id);
        for (node, ..) in parts.iter_mut().skip(1) {
            node.state.add_peer(driver_id);
        }
        let peers: Peers = Arc::new(peers);
        let mut nodes = Vec::new();
        for (node, inbox, store, alive) in parts {
            let id = node.state.id;
            let executor = node.executor_worker();
            let mut workers = vec![WorkerId::new(id, 0)];
            if id == ids[0] {
                workers.push(driver_id);
            }
            let (addr, thread) = spawn_node(node, peers.clone(), config.compute_threads)?;
            nodes.push(NodeRuntime {
                id,
                inbox,
                store,
                alive,
                addr,
                thread: Some(thread),
                workers,
                executor,
            });
        }
        Ok(EmbeddedCluster {
            nodes,
            driver,
            peers,
        })
    }

    /// A worker on `node`: the one that runs the tasks sent there, as a task body would
    /// see it. Code that lives beside a node (a simulation rank publishing its chunks)
    /// uses it to put values there, owned by that node.
    pub fn worker_on(&self, node: NodeId) -> Result<Worker> {
        self.nodes
            .iter()
            .find(|n| n.id == node && n.alive.load(Ordering::Acquire))
            .map(|n| n.executor.clone())
            .ok_or(CoreError::UnknownNode(node))
    }

    /// The driver: a worker on the first node, for the program that started the cluster.
    pub fn driver(&self) -> &Worker {
        &self.driver
    }

    /// The nodes, alive or not.
    pub fn nodes(&self) -> Vec<NodeId> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    fn node(&self, id: NodeId) -> Result<&NodeRuntime> {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .ok_or(CoreError::UnknownNode(id))
    }

    /// The object store figures of `node`.
    pub fn store_stats(&self, node: NodeId) -> Result<StoreStats> {
        Ok(self.node(node)?.store.stats())
    }

    /// The live nodes whose store holds a copy of `id`.
    pub fn holders(&self, id: crate::ObjectId) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|n| n.alive.load(Ordering::Acquire) && n.store.contains(id))
            .map(|n| n.id)
            .collect()
    }

    /// Bytes used in all object stores.
    pub fn store_bytes(&self) -> u64 {
        self.nodes.iter().map(|n| n.store.stats().used_bytes).sum()
    }

    /// Objects held in all object stores.
    pub fn store_objects(&self) -> usize {
        self.nodes.iter().map(|n| n.store.stats().objects).sum()
    }

    /// Asks every live node for its status.
    pub fn status(&self) -> Vec<NodeStatus> {
        self.ask_live_nodes(|| GetStatus)
    }

    /// Sends `message()` to every live node actor and gathers the answers.
    fn ask_live_nodes<M>(&self, message: impl Fn() -> M) -> Vec<M::Result>
    where
        M: actix::Message + Send + 'static,
        M::Result: Send,
        NodeActor: actix::Handler<M>,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime");
        self.nodes
            .iter()
            .filter(|n| n.alive.load(Ordering::Acquire))
            .filter_map(|n| runtime.block_on(n.addr.send(message())).ok())
            .collect()
    }

    /// Every reference-table record on every live node, one readable line each
    /// (diagnostics: what still keeps values alive).
    pub fn describe_records(&self) -> Vec<String> {
        self.ask_live_nodes(|| GetRecords)
            .into_iter()
            .flatten()
            .collect()
    }

    /// Kills `node` as a crash would: it stops at once, its values and the objects its
    /// workers owned are gone, and the other nodes are told (in order).
    pub fn kill_node(&mut self, node: NodeId) -> Result<()> {
        let index = self
            .nodes
            .iter()
            .position(|n| n.id == node)
            .ok_or(CoreError::UnknownNode(node))?;
        if !self.nodes[index].alive.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        self.nodes[index].inbox.push(NodeEvent::Stop);
        self.nodes[index].inbox.close();
        if let Some(thread) = self.nodes[index].thread.take() {
            let _ = thread.join();
        }
        // A crash loses the node's memory: nothing it stored can be read any more.
        let store = &self.nodes[index].store;
        for key in store.keys() {
            store.delete(key);
        }
        let workers = self.nodes[index].workers.clone();
        for other in &self.nodes {
            if other.alive.load(Ordering::Acquire) {
                other.inbox.push(NodeEvent::NodeLeft {
                    node,
                    workers: workers.clone(),
                });
            }
        }
        Ok(())
    }

    fn stop_all(&mut self) {
        for node in &self.nodes {
            node.alive.store(false, Ordering::Release);
            node.inbox.push(NodeEvent::Stop);
            node.inbox.close();
        }
        for node in &mut self.nodes {
            if let Some(thread) = node.thread.take() {
                let _ = thread.join();
            }
        }
        let _ = &self.peers;
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// A crashed node (a panic in its state machine) leaves the cluster like a killed one.
fn crash_hook(peers: Peers) -> crate::runtime::actor::CrashHook {
    Box::new(move |node, workers| {
        if let Some((_, alive)) = peers.get(&node) {
            alive.store(false, Ordering::Release);
        }
        for (&other, (inbox, alive)) in peers.iter() {
            if other != node && alive.load(Ordering::Acquire) {
                inbox.push(NodeEvent::NodeLeft {
                    node,
                    workers: workers.clone(),
                });
            }
        }
    })
}

/// Memory a virtual node takes before it runs anything (about 150 KiB measured at 1024
/// nodes), with a margin.
const NODE_BYTES: u64 = 256 << 10;

/// Memory a virtual node takes per other node of the cluster (about 30 bytes
/// measured), with a margin.
const NODE_PEER_BYTES: u64 = 64;

/// Whether this host can start the cluster of `config`: its threads and the memory its
/// nodes take before they run anything (1024 nodes need about 320 MiB).
fn check_size(config: &ClusterConfig) -> std::result::Result<(), String> {
    let nodes = config.nodes as u64;
    let what = format!(
        "an embedded cluster of {nodes} nodes with {} compute threads each",
        config.compute_threads.max(1)
    );
    let threads = (config.compute_threads.max(1) as u64)
        .checked_add(1)
        .and_then(|per_node| per_node.checked_mul(nodes))
        .unwrap_or(u64::MAX);
    crate::host::check_threads(&what, threads)?;
    let bytes = nodes
        .checked_mul(NODE_PEER_BYTES)
        .and_then(|peers| peers.checked_add(NODE_BYTES))
        .and_then(|per_node| per_node.checked_mul(nodes))
        .unwrap_or(u64::MAX);
    crate::host::check_memory(&what, bytes)
}

fn spawn_node(
    node: NodeParts,
    peers: Peers,
    threads: usize,
) -> Result<(Addr<NodeActor>, JoinHandle<()>)> {
    let id = node.state.id;
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(format!("doreisa-{id:?}"))
        .spawn(move || {
            let system = actix::System::new();
            let transport = Box::new(InMemoryTransport::new(id, peers.clone()));
            let crash = crash_hook(peers);
            let started =
                system.block_on(async move { node.start(threads, transport, Some(crash)) });
            match started {
                Ok(addr) => {
                    let _ = tx.send(Ok(addr));
                    let _ = system.run();
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                }
            }
        })
        .map_err(|e| CoreError::Invalid(format!("cannot start a node thread: {e}")))?;
    let addr = rx
        .recv()
        .map_err(|_| CoreError::Invalid("a node thread died at start".into()))?
        .map_err(CoreError::Invalid)?;
    Ok((addr, thread))
}
