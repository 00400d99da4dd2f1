//! An embedded cluster: N virtual nodes in this process, each with its own state
//! machine and object store, connected by the in-memory transport, and all running on
//! a fixed number of threads whatever N: a few host threads run the node actors (a
//! share each), one compute pool runs every node's task bodies.

mod config;
mod hosts;

pub use config::{ClusterConfig, cores, default_spin, spin_from_env};

use crate::ObjectStore;
use crate::error::{CoreError, Result};
use crate::ids::{NodeId, WorkerId};
use crate::registry::Registry;
use crate::runtime::actor::{GetRecords, GetStatus, NodeActor, NodeStatus};
use crate::runtime::boot::NodeParts;
use crate::runtime::compute::ComputePool;
use crate::runtime::event::NodeEvent;
use crate::runtime::inbox::Inbox;
use crate::runtime::transport::InMemoryTransport;
use crate::runtime::worker::Worker;
use actix::Addr;
use doreisa_objstore::{StoreConfig, StoreStats};
use hosts::Hosts;
use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// How long stopping waits for a node to tell everyone waiting on it.
const STOP_WAIT: Duration = Duration::from_secs(5);

use crate::runtime::transport::InMemoryPeers as Peers;

struct NodeRuntime {
    id: NodeId,
    inbox: Arc<Inbox<NodeEvent>>,
    store: Arc<ObjectStore>,
    alive: Arc<AtomicBool>,
    addr: Addr<NodeActor>,
    /// Signalled once the node's actor has stopped.
    stopped: Receiver<()>,
    workers: Vec<WorkerId>,
    /// The worker that runs tasks on this node (what `worker_on` hands out).
    executor: Worker,
}

/// N virtual nodes in this process, and a driver worker on the first one.
pub struct EmbeddedCluster {
    nodes: Vec<NodeRuntime>,
    driver: Worker,
    hosts: Hosts,
    /// Runs every node's task bodies (dropped, and stopped, with the cluster).
    _pool: Arc<ComputePool>,
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
        let hosts = Hosts::start(config.node_threads.clamp(1, config.nodes))?;
        let pool = ComputePool::start("cluster", config.compute_threads, config.spin)
            .map_err(|e| CoreError::Invalid(format!("cannot start the compute pool: {e}")))?;
        // A node alone on its thread may poll its inbox; nodes sharing one must not.
        let inbox_spin = if config.nodes <= hosts.len() {
            config.spin
        } else {
            Duration::ZERO
        };
        let mut nodes = Vec::new();
        for (index, (node, inbox, store, alive)) in parts.into_iter().enumerate() {
            let id = node.state.id;
            let executor = node.executor_worker();
            let mut workers = vec![WorkerId::new(id, 0)];
            if id == ids[0] {
                workers.push(driver_id);
            }
            let (stop_tx, stopped) = std::sync::mpsc::channel();
            let (peers, pool) = (peers.clone(), pool.clone());
            let addr = hosts.start_actor(index, move || {
                let transport = Box::new(InMemoryTransport::new(id, peers.clone()));
                node.actor(pool, transport)
                    .inbox_spin(inbox_spin)
                    .on_crash(crash_hook(peers))
                    .on_stop(Box::new(move || {
                        let _ = stop_tx.send(());
                    }))
            })?;
            nodes.push(NodeRuntime {
                id,
                inbox,
                store,
                alive,
                addr,
                stopped,
                workers,
                executor,
            });
        }
        Ok(EmbeddedCluster {
            nodes,
            driver,
            hosts,
            _pool: pool,
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
        if self.nodes[index].stopped.recv_timeout(STOP_WAIT).is_err() {
            tracing::warn!(?node, "a killed node did not stop within {STOP_WAIT:?}");
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
        let mut running = Vec::new();
        for node in &self.nodes {
            if node.alive.swap(false, Ordering::AcqRel) {
                running.push(node);
            }
            node.inbox.push(NodeEvent::Stop);
            node.inbox.close();
        }
        // Each node tells whoever waits on it before its thread goes.
        let deadline = Instant::now() + STOP_WAIT;
        for node in running {
            let left = deadline.saturating_duration_since(Instant::now());
            if node.stopped.recv_timeout(left).is_err() {
                tracing::warn!(node = ?node.id, "a node did not stop within {STOP_WAIT:?}");
            }
        }
        self.hosts.stop();
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

/// Memory a virtual node takes before it runs anything (about 12 KiB measured, from
/// the resident memory of 1024 to 4096 nodes), with a margin.
const NODE_BYTES: u64 = 64 << 10;

/// Memory a virtual node takes per other node of the cluster (about 32 bytes
/// measured), with a margin.
const NODE_PEER_BYTES: u64 = 64;

/// Whether this host can start the cluster of `config`: its threads and the memory its
/// nodes take before they run anything (1024 nodes need about 128 MiB).
fn check_size(config: &ClusterConfig) -> std::result::Result<(), String> {
    let nodes = config.nodes as u64;
    let what = format!("an embedded cluster of {nodes} nodes");
    let node_threads = config.node_threads.clamp(1, config.nodes.max(1)) as u64;
    let threads = node_threads.saturating_add(config.compute_threads.max(1) as u64);
    crate::host::check_threads(&what, threads)?;
    let bytes = nodes
        .checked_mul(NODE_PEER_BYTES)
        .and_then(|peers| peers.checked_add(NODE_BYTES))
        .and_then(|per_node| per_node.checked_mul(nodes))
        .unwrap_or(u64::MAX);
    crate::host::check_memory(&what, bytes)
}
