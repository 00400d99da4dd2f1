//! A node of a process cluster: the head (writes the cluster file, admits members), a
//! worker, or a driver program's node. Each runs on a thread of its own: an actix
//! system with the node actor, the QUIC endpoint and its links.

use crate::client::hello_head;
use crate::cluster_file::ClusterFile;
use crate::error::{NetError, Result};
use crate::head::{HeadState, Intake, NodeNet, accept_loop, head_ticker};
use crate::link::{Links, QuicTransport};
use crate::stream::{self, FrameReader, HANDSHAKE_TIMEOUT};
use crate::tls::{self, Identity};
use actix::Addr;
use doreisa_core::CoreError;
use doreisa_core::ObjectStore;
use doreisa_core::ids::{NodeId, WorkerId};
use doreisa_core::registry::Registry;
use doreisa_core::runtime::actor::{GetStatus, NodeActor};
use doreisa_core::runtime::boot::NodeParts;
use doreisa_core::runtime::event::NodeEvent;
use doreisa_core::runtime::inbox::Inbox;
use doreisa_core::runtime::worker::{NodeShared, Worker};
use doreisa_objstore::StoreConfig;
use doreisa_proto::frame::FrameKind;
use doreisa_proto::limits::ConnectionLimits;
use doreisa_proto::membership::{Membership, MembershipConfig};
use doreisa_proto::wire::{Heartbeat, Member, MembershipEvent, NodeRole, Purpose, Welcome};
use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::mpsc;

mod head_watch;

pub use head_watch::{DEFAULT_HEAD_TIMEOUT, HEAD_TIMEOUT_ENV, MIN_HEARTBEATS_PER_HEAD_TIMEOUT};
use head_watch::{HeadWatch, follow_membership};

/// How to run a node of a process cluster.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    pub role: NodeRole,
    /// Where to accept connections (port 0: any free port).
    pub listen: SocketAddr,
    /// The address others reach this node at, when `listen` is a wildcard.
    pub advertise: Option<IpAddr>,
    pub compute_threads: usize,
    pub store_capacity: u64,
    pub spill_dir: Option<PathBuf>,
    /// How often a member tells the head it is alive.
    pub heartbeat: Duration,
    /// On the head: how long a member may stay silent before it is declared dead.
    pub death_timeout: Duration,
    /// On a worker or driver: how long the head may stay silent (no answer to our
    /// heartbeats) before this node takes it for dead and stops (see
    /// [`ProcessNode::stop_reason`]). At least [`MIN_HEARTBEATS_PER_HEAD_TIMEOUT`]
    /// heartbeats, or joining fails.
    pub head_timeout: Duration,
    pub spin: Duration,
    /// Incoming connections this node keeps open, and in their handshake, at once.
    pub connection_limits: ConnectionLimits,
}

impl NodeOptions {
    pub fn new(role: NodeRole) -> Self {
        NodeOptions {
            role,
            listen: "0.0.0.0:0".parse().expect("an address"),
            advertise: None,
            compute_threads: 1,
            store_capacity: 2 << 30,
            spill_dir: None,
            heartbeat: Duration::from_millis(250),
            death_timeout: Duration::from_secs(3),
            head_timeout: head_watch::from_env(),
            // A process node shares its host's cores with the simulation: it parks
            // at once unless told otherwise (and polling between processes on a small
            // machine measured slower, not faster).
            spin: doreisa_core::cluster::spin_from_env(0),
            connection_limits: ConnectionLimits::default(),
        }
    }
}

/// A running node of a process cluster.
pub struct ProcessNode {
    pub id: NodeId,
    /// Where it accepts connections.
    pub addr: SocketAddr,
    /// How others join (the head's; every node knows it).
    pub cluster: ClusterFile,
    inbox: Arc<Inbox<NodeEvent>>,
    shared: Arc<NodeShared>,
    actor: Addr<NodeActor>,
    store: Arc<ObjectStore>,
    executor: Worker,
    driver: Option<Worker>,
    members: Arc<RwLock<Vec<Member>>>,
    leave: mpsc::UnboundedSender<()>,
    thread: Option<JoinHandle<()>>,
}

/// What the node thread hands back once the node runs.
struct Started {
    id: NodeId,
    addr: SocketAddr,
    cluster: ClusterFile,
    shared: Arc<NodeShared>,
    actor: Addr<NodeActor>,
    executor: Worker,
    driver: Option<Worker>,
}

impl ProcessNode {
    /// Starts the head of a new cluster; its cluster file is [`ProcessNode::cluster`].
    pub fn start_head(options: NodeOptions, registry: Registry) -> Result<ProcessNode> {
        Self::start(
            NodeOptions {
                role: NodeRole::Head,
                ..options
            },
            None,
            registry,
        )
    }

    /// Starts a worker or driver node and joins the cluster of `cluster`.
    pub fn join(
        options: NodeOptions,
        cluster: &ClusterFile,
        registry: Registry,
    ) -> Result<ProcessNode> {
        if options.role == NodeRole::Head {
            return Err(CoreError::Invalid("a joining node is a worker or a driver".into()).into());
        }
        cluster
            .check_version()
            .map_err(|reason| CoreError::Invalid(format!("the cluster file was {reason}")))?;
        head_watch::check(&options)?;
        Self::start(options, Some(cluster.clone()), registry)
    }

    fn start(
        options: NodeOptions,
        cluster: Option<ClusterFile>,
        registry: Registry,
    ) -> Result<ProcessNode> {
        // The compute threads and the node's own.
        let threads = (options.compute_threads.max(1) as u64).saturating_add(1);
        doreisa_core::host::check_threads(
            &format!("a node with {} compute threads", options.compute_threads),
            threads,
        )
        .map_err(CoreError::Invalid)?;
        let inbox = Arc::new(Inbox::new());
        let mut store_config = StoreConfig::new(options.store_capacity);
        if let Some(dir) = &options.spill_dir {
            store_config =
                store_config.with_spill_dir(dir.join(format!("node-{}", std::process::id())));
        }
        let store = Arc::new(ObjectStore::new(store_config));
        let members = Arc::new(RwLock::new(Vec::new()));
        let (leave, leave_requests) = mpsc::unbounded_channel();
        let (tx, rx) = std::sync::mpsc::channel();
        let setup = Setup {
            options,
            cluster,
            registry: Arc::new(registry),
            inbox: inbox.clone(),
            store: store.clone(),
            members: members.clone(),
            leave_requests,
        };
        let thread = std::thread::Builder::new()
            .name("doreisa-node".into())
            .spawn(move || {
                let system = actix::System::new();
                let started = system.block_on(setup.run());
                let ok = started.is_ok();
                let _ = tx.send(started);
                if ok {
                    let _ = system.run();
                }
            })
            .map_err(|e| CoreError::Invalid(format!("cannot start the node thread: {e}")))?;
        let started = rx
            .recv()
            .map_err(|_| NetError::Network("the node thread died at start".into()))??;
        Ok(ProcessNode {
            id: started.id,
            addr: started.addr,
            cluster: started.cluster,
            inbox,
            shared: started.shared,
            actor: started.actor,
            store,
            executor: started.executor,
            driver: started.driver,
            members,
            leave,
            thread: Some(thread),
        })
    }

    /// The worker that runs tasks here.
    pub fn executor(&self) -> &Worker {
        &self.executor
    }

    /// The driver worker (on a driver's node).
    pub fn driver(&self) -> Option<&Worker> {
        self.driver.as_ref()
    }

    pub fn store(&self) -> &Arc<ObjectStore> {
        &self.store
    }

    pub fn actor(&self) -> &Addr<NodeActor> {
        &self.actor
    }

    /// The members this node knows of, by id.
    pub fn members(&self) -> Vec<Member> {
        self.members
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether the node still runs.
    pub fn is_running(&self) -> bool {
        !self.inbox.is_closed()
    }

    /// Why the node stopped on its own (it lost the head, or the head declared it
    /// dead); `None` while it runs or if it was stopped or left on purpose.
    pub fn stop_reason(&self) -> Option<String> {
        self.shared.stop_reason().map(str::to_string)
    }

    /// Leaves the cluster on purpose: the head tells the others at once (no waiting
    /// for the death timeout), then the node stops.
    pub fn leave(mut self) {
        self.leave_now();
    }

    pub(crate) fn leave_now(&mut self) {
        let _ = self.leave.send(());
        self.wait();
    }

    /// Blocks until the node stops (it lost the head, was declared dead, or left).
    pub fn wait(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Stops the node at once, without a goodbye (the others notice by its silence).
    pub fn stop(&mut self) {
        stop_node(&self.inbox);
        self.wait();
    }
}

impl Drop for ProcessNode {
    fn drop(&mut self) {
        self.stop();
    }
}

fn stop_node(inbox: &Inbox<NodeEvent>) {
    let _ = inbox.try_push(NodeEvent::Stop);
    inbox.close();
}

/// Everything the node thread needs to start.
struct Setup {
    options: NodeOptions,
    cluster: Option<ClusterFile>,
    registry: Arc<Registry>,
    inbox: Arc<Inbox<NodeEvent>>,
    store: Arc<ObjectStore>,
    members: Arc<RwLock<Vec<Member>>>,
    leave_requests: mpsc::UnboundedReceiver<()>,
}

/// A joiner's session with the head.
struct Session {
    connection: quinn::Connection,
    send: quinn::SendStream,
    reader: FrameReader,
}

impl Setup {
    async fn run(self) -> Result<Started> {
        let options = &self.options;
        let identity = Identity::generate()?;
        let endpoint = quinn::Endpoint::server(identity.server_config()?, options.listen)
            .map_err(|e| network(format!("cannot listen on {}: {e}", options.listen)))?;
        let local = endpoint.local_addr().map_err(network)?;
        let head_addr = self.cluster.as_ref().map(|c| c.head);
        let addr = SocketAddr::new(advertised_ip(options, local, head_addr)?, local.port());
        let cpus = options.compute_threads.max(1) as u32;

        // Who we are: the head makes the cluster; the others ask it to join.
        let (id, epoch, members, cluster, token, session) = match &self.cluster {
            None => {
                let token = tls::new_token()?;
                let cluster = ClusterFile::new(addr, &token, &identity.fingerprint);
                let head = Member {
                    node: NodeId(0),
                    role: NodeRole::Head,
                    addr,
                    fingerprint: identity.fingerprint.clone(),
                    workers: vec![WorkerId::new(NodeId(0), 0)],
                    cpus,
                    store_capacity: options.store_capacity,
                };
                (NodeId(0), 0, vec![head], cluster, token, None)
            }
            Some(cluster) => {
                let token = cluster.token_bytes()?;
                let purpose = Purpose::Join {
                    role: options.role,
                    addr,
                    fingerprint: identity.fingerprint.clone(),
                    cpus,
                    store_capacity: options.store_capacity,
                };
                let (id, epoch, members, session) =
                    join_head(&endpoint, cluster, token.clone(), purpose).await?;
                (id, epoch, members, cluster.clone(), token, Some(session))
            }
        };
        tracing::info!(node = ?id, %addr, role = ?options.role, "node running");

        // The node itself.
        let mut node = NodeParts::new(
            id,
            self.inbox.clone(),
            self.store.clone(),
            self.registry.clone(),
            &[id],
            vec![id],
            options.spin,
        );
        // Known members take tasks from now on (their NodeJoined events follow).
        for member in &members {
            node.shared.set_node(member.node, member.role.takes_tasks());
        }
        node.shared.set_node(id, options.role.takes_tasks());
        node.state.start_at_epoch(epoch);
        let executor = node.executor_worker();
        let shared = node.shared.clone();
        let driver =
            (options.role == NodeRole::Driver).then(|| node.add_worker(WorkerId::new(id, 1)));
        let links = Links::new(
            id,
            token.clone(),
            endpoint.clone(),
            self.inbox.clone(),
            options.store_capacity,
        );
        let membership = (id == NodeId(0)).then(|| {
            RefCell::new(HeadState::new(Membership::new(
                token.clone(),
                members[0].clone(),
                MembershipConfig {
                    death_timeout_ms: options.death_timeout.as_millis() as u64,
                },
                0,
            )))
        });
        let net = Rc::new(NodeNet {
            me: id,
            token,
            links: links.clone(),
            inbox: self.inbox.clone(),
            members: self.members.clone(),
            head: membership,
            leaving: std::cell::Cell::new(false),
            intake: RefCell::new(Intake::new(options.connection_limits)),
        });
        *self.members.write().unwrap_or_else(|e| e.into_inner()) =
            members.iter().filter(|m| m.node == id).cloned().collect();
        if let Some(session) = &session {
            links
                .borrow_mut()
                .connected(NodeId(0), session.connection.clone());
        }
        for member in members {
            net.apply(&MembershipEvent::Joined(member));
        }
        let transport = Box::new(QuicTransport::new(links.clone()));
        let actor = node
            .start_alone(options.compute_threads, transport, None)
            .map_err(|e| CoreError::Invalid(format!("cannot start the compute pool: {e}")))?;

        tokio::task::spawn_local(accept_loop(net.clone(), endpoint.clone()));
        match session {
            None => {
                tokio::task::spawn_local(head_ticker(
                    net.clone(),
                    actor.clone(),
                    options.heartbeat,
                ));
            }
            Some(session) => {
                tokio::task::spawn_local(heartbeats(
                    net.clone(),
                    session.send,
                    actor.clone(),
                    options.heartbeat,
                    self.leave_requests,
                ));
                tokio::task::spawn_local(follow_membership(
                    net.clone(),
                    session.reader,
                    HeadWatch {
                        addr: cluster.head,
                        timeout: options.head_timeout,
                        node: shared.clone(),
                    },
                ));
            }
        }
        Ok(Started {
            id,
            addr,
            cluster,
            shared,
            actor,
            executor,
            driver,
        })
    }
}

/// The IP others reach us at: the listening one, else the given one, else the one
/// this host uses towards the head.
fn advertised_ip(
    options: &NodeOptions,
    local: SocketAddr,
    head: Option<SocketAddr>,
) -> Result<IpAddr> {
    if let Some(ip) = options.advertise {
        return Ok(ip);
    }
    if !local.ip().is_unspecified() {
        return Ok(local.ip());
    }
    let Some(head) = head else {
        return Err(CoreError::Invalid(format!(
            "the head listens on {local}: give the address workers reach it at (--advertise)"
        ))
        .into());
    };
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").map_err(network)?;
    probe.connect(head).map_err(network)?;
    Ok(probe.local_addr().map_err(network)?.ip())
}

/// A network error, from a message or an I/O error.
fn network(e: impl std::fmt::Display) -> NetError {
    NetError::Network(e.to_string())
}

/// Asks the head to join; returns our id, the death epoch, the members and the session.
async fn join_head(
    endpoint: &quinn::Endpoint,
    cluster: &ClusterFile,
    token: Vec<u8>,
    purpose: Purpose,
) -> Result<(NodeId, u64, Vec<Member>, Session)> {
    let (connection, send, mut reader) = hello_head(endpoint, cluster, token, purpose).await?;
    match reader
        .expect::<Welcome>(FrameKind::Welcome, HANDSHAKE_TIMEOUT)
        .await
        .map_err(network)?
    {
        Welcome::Joined {
            node,
            epoch,
            members,
        } => Ok((
            node,
            epoch,
            members,
            Session {
                connection,
                send,
                reader,
            },
        )),
        Welcome::Refused { reason } => Err(network(format!("the head refused us: {reason}"))),
        Welcome::PeerAccepted => Err(network("the head answered a join as a peer")),
    }
}

/// A member's side of its session: a heartbeat every `period` with the node's
/// figures, and a goodbye when asked to leave.
async fn heartbeats(
    net: Rc<NodeNet>,
    mut send: quinn::SendStream,
    actor: Addr<NodeActor>,
    period: Duration,
    mut leave_requests: mpsc::UnboundedReceiver<()>,
) {
    let me = net.me;
    let mut interval = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = interval.tick() => {
                let Ok(status) = actor.send(GetStatus).await else { return };
                let beat = Heartbeat { node: me, status };
                if stream::write_message(&mut send, FrameKind::Heartbeat, &beat).await.is_err() {
                    return;
                }
            }
            request = leave_requests.recv() => {
                if request.is_some() {
                    tracing::info!(node = ?me, "leaving the cluster");
                    net.leaving.set(true);
                    let _ = stream::write_message(&mut send, FrameKind::Leave, &me).await;
                    let _ = send.finish();
                    let _ = tokio::time::timeout(Duration::from_secs(2), send.stopped()).await;
                    net.links.borrow_mut().close_all();
                    stop_node(&net.inbox);
                }
                return;
            }
        }
    }
}
