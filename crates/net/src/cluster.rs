//! A cluster as a program sees it: an embedded one (N virtual nodes in this process,
//! the default) or a cluster of processes joined through its cluster file. Either way
//! the program works through [`Cluster::driver`], with the same `Worker` API.

use crate::error::NetError;
use crate::{CLUSTER_FILE_ENV, ClusterFile, NodeOptions, NodeRole, ProcessNode};
use doreisa_core::cluster::{ClusterConfig, EmbeddedCluster};
use doreisa_core::error::{CoreError, Result};
use doreisa_core::ids::NodeId;
use doreisa_core::registry::Registry;
use doreisa_core::runtime::actor::{GetRecords, NodeStatus};
use doreisa_core::runtime::worker::Worker;
use doreisa_objstore::StoreStats;
use std::path::Path;

/// A running cluster and this program's driver worker in it.
pub struct Cluster {
    kind: Kind,
}

enum Kind {
    Embedded(EmbeddedCluster),
    /// This program's node in a cluster of processes.
    Connected {
        node: ProcessNode,
        driver: Worker,
    },
}

impl Cluster {
    /// Starts an embedded cluster of `config.nodes` virtual nodes in this process.
    pub fn start(config: ClusterConfig, registry: Registry) -> Result<Cluster, NetError> {
        Ok(Cluster {
            kind: Kind::Embedded(EmbeddedCluster::start(config, registry)?),
        })
    }

    /// Joins the cluster of `cluster` with a driver node in this process (default
    /// settings; see [`Cluster::connect_with`]).
    pub fn connect(cluster: &ClusterFile, registry: Registry) -> Result<Cluster, NetError> {
        Self::connect_with(NodeOptions::new(NodeRole::Driver), cluster, registry)
    }

    /// Joins the cluster of `cluster` with a driver node configured by `options`.
    pub fn connect_with(
        options: NodeOptions,
        cluster: &ClusterFile,
        registry: Registry,
    ) -> Result<Cluster, NetError> {
        let options = NodeOptions {
            role: NodeRole::Driver,
            ..options
        };
        let node = ProcessNode::join(options, cluster, registry)?;
        let driver = node
            .driver()
            .cloned()
            .expect("a driver node hosts a driver");
        Ok(Cluster {
            kind: Kind::Connected { node, driver },
        })
    }

    /// Joins the cluster whose file `DOREISA_CLUSTER_FILE` (or `cluster_file`) names,
    /// else starts an embedded one with `config`.
    pub fn connect_or_start(
        cluster_file: Option<&Path>,
        config: ClusterConfig,
        registry: Registry,
    ) -> Result<Cluster, NetError> {
        let from_env = std::env::var_os(CLUSTER_FILE_ENV).map(std::path::PathBuf::from);
        match cluster_file.map(Path::to_path_buf).or(from_env) {
            Some(path) => Self::connect(&ClusterFile::read(&path)?, registry),
            None => Self::start(config, registry),
        }
    }

    /// This program's worker.
    pub fn driver(&self) -> &Worker {
        match &self.kind {
            Kind::Embedded(cluster) => cluster.driver(),
            Kind::Connected { driver, .. } => driver,
        }
    }

    pub fn is_embedded(&self) -> bool {
        matches!(self.kind, Kind::Embedded(_))
    }

    /// The nodes of the cluster (an embedded cluster: alive or not; else the members
    /// this program knows of).
    pub fn nodes(&self) -> Vec<NodeId> {
        match &self.kind {
            Kind::Embedded(cluster) => cluster.nodes(),
            Kind::Connected { node, .. } => node.members().iter().map(|m| m.node).collect(),
        }
    }

    /// The nodes that take spread tasks (the driver's own node of a process cluster
    /// does not).
    pub fn task_nodes(&self) -> Vec<NodeId> {
        self.driver().nodes()
    }

    /// Every live node's figures (through the head, for a cluster of processes).
    pub fn status(&self) -> Vec<NodeStatus> {
        match &self.kind {
            Kind::Embedded(cluster) => cluster.status(),
            Kind::Connected { node, .. } => match crate::client::fetch_status(&node.cluster) {
                Ok(status) => status
                    .members
                    .into_iter()
                    .filter_map(|m| m.status)
                    .collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot get the cluster's status");
                    Vec::new()
                }
            },
        }
    }

    /// Bytes used in every object store.
    pub fn store_bytes(&self) -> u64 {
        match &self.kind {
            Kind::Embedded(cluster) => cluster.store_bytes(),
            Kind::Connected { .. } => self.status().iter().map(|s| s.store.used_bytes).sum(),
        }
    }

    /// Objects held in every object store.
    pub fn store_objects(&self) -> usize {
        match &self.kind {
            Kind::Embedded(cluster) => cluster.store_objects(),
            Kind::Connected { .. } => self.status().iter().map(|s| s.store.objects).sum(),
        }
    }

    /// The object store figures of `node` (an embedded cluster's, or this program's
    /// own node).
    pub fn store_stats(&self, node: NodeId) -> Result<StoreStats> {
        match &self.kind {
            Kind::Embedded(cluster) => cluster.store_stats(node),
            Kind::Connected { node: local, .. } if local.id == node => Ok(local.store().stats()),
            Kind::Connected { .. } => Err(CoreError::Invalid(format!(
                "the store of {node:?} is in another process: see Cluster::status"
            ))),
        }
    }

    /// The nodes whose store holds a copy of `id` (this program's own node only, for
    /// a cluster of processes).
    pub fn holders(&self, id: doreisa_core::ObjectId) -> Vec<NodeId> {
        match &self.kind {
            Kind::Embedded(cluster) => cluster.holders(id),
            Kind::Connected { node, .. } => {
                if node.store().contains(id) {
                    vec![node.id]
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// Reference-table records, one readable line each (diagnostics), of every node
    /// of an embedded cluster, or of this program's node.
    pub fn describe_records(&self) -> Vec<String> {
        match &self.kind {
            Kind::Embedded(cluster) => cluster.describe_records(),
            Kind::Connected { node, .. } => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .expect("a current-thread runtime");
                runtime
                    .block_on(node.actor().send(GetRecords))
                    .unwrap_or_default()
            }
        }
    }

    /// A worker beside `node` (see `EmbeddedCluster::worker_on`): any node of an embedded
    /// cluster, this program's own node otherwise.
    pub fn worker_on(&self, node: NodeId) -> Result<Worker> {
        match &self.kind {
            Kind::Embedded(cluster) => cluster.worker_on(node),
            Kind::Connected { node: local, .. } if local.id == node => Ok(local.executor().clone()),
            Kind::Connected { .. } => Err(CoreError::UnknownNode(node)),
        }
    }

    /// Kills a virtual node of an embedded cluster as a crash would. (The nodes of a
    /// process cluster are processes: kill those.)
    pub fn kill_node(&mut self, node: NodeId) -> Result<()> {
        match &mut self.kind {
            Kind::Embedded(cluster) => cluster.kill_node(node),
            Kind::Connected { .. } => Err(CoreError::Invalid(
                "the nodes of a process cluster are killed as processes".into(),
            )),
        }
    }

    /// Stops this program's part: every node of an embedded cluster, or leaves a
    /// process cluster (also what dropping it does).
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Kind::Connected { node, .. } = &mut self.kind {
            node.leave_now();
        }
    }
}
