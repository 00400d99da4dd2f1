//! Links between members: one QUIC connection per pair of nodes (opened by the member
//! with the higher id, which joined later), one long-lived stream per direction for
//! batches of envelopes, and a stream of its own for each large object, written raw.
//! Everything here runs on the node's thread (its actix system's runtime).

use crate::{stream, tls};
use bytes::{Bytes, BytesMut};
use doreisa_core::ids::NodeId;
use doreisa_core::runtime::event::{Envelope, NodeEvent, NodeMessage};
use doreisa_core::runtime::inbox::Inbox;
use doreisa_core::runtime::transport::Transport;
use doreisa_proto::codec;
use doreisa_proto::frame::{FrameDecoder, FrameKind, frame_bytes};
use doreisa_proto::wire::{Hello, Member, ObjectHeader, PROTOCOL_VERSION, Purpose, Welcome};
use rustc_hash::{FxHashMap, FxHashSet};
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, watch};

/// Objects at least this large travel on a stream of their own.
pub const OBJECT_STREAM_MIN: usize = 64 * 1024;

/// Large objects written to one peer at the same time.
const OBJECT_STREAMS_PER_PEER: usize = 4;

/// One peer: where envelopes for it queue, and its connection once up.
struct PeerLink {
    outgoing: mpsc::UnboundedSender<Vec<Envelope>>,
    connection: watch::Sender<Option<quinn::Connection>>,
    member: Option<Member>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// The links of one node.
pub struct Links {
    me: NodeId,
    token: Vec<u8>,
    endpoint: quinn::Endpoint,
    inbox: Arc<Inbox<NodeEvent>>,
    peers: FxHashMap<NodeId, PeerLink>,
    departed: FxHashSet<NodeId>,
    /// The largest object a peer may send (the store's capacity).
    max_object: u64,
    myself: Weak<RefCell<Links>>,
}

pub type SharedLinks = Rc<RefCell<Links>>;

impl Links {
    pub fn new(
        me: NodeId,
        token: Vec<u8>,
        endpoint: quinn::Endpoint,
        inbox: Arc<Inbox<NodeEvent>>,
        max_object: u64,
    ) -> SharedLinks {
        Rc::new_cyclic(|myself| {
            RefCell::new(Links {
                me,
                token,
                endpoint,
                inbox,
                peers: FxHashMap::default(),
                departed: FxHashSet::default(),
                max_object,
                myself: myself.clone(),
            })
        })
    }

    pub fn me(&self) -> NodeId {
        self.me
    }

    /// The link to `node`, made (with its writer) if new; `None` once it departed.
    fn link(&mut self, node: NodeId) -> Option<&mut PeerLink> {
        if node == self.me || self.departed.contains(&node) {
            return None;
        }
        if !self.peers.contains_key(&node) {
            let (outgoing, queued) = mpsc::unbounded_channel();
            let (connection, ready) = watch::channel(None);
            let writer = tokio::task::spawn_local(write_envelopes(self.me, ready, queued));
            self.peers.insert(
                node,
                PeerLink {
                    outgoing,
                    connection,
                    member: None,
                    tasks: vec![writer],
                },
            );
        }
        self.peers.get_mut(&node)
    }

    /// `member` is part of the cluster: connect to it if it joined before us (it will
    /// connect to us otherwise).
    pub fn add_member(&mut self, member: Member) {
        let (me, token) = (self.me, self.token.clone());
        let endpoint = self.endpoint.clone();
        let myself = self.myself.clone();
        let Some(link) = self.link(member.node) else {
            return;
        };
        if link.member.is_some() {
            return;
        }
        link.member = Some(member.clone());
        let already_connected = link.connection.borrow().is_some();
        if member.node < me && !already_connected {
            let task = tokio::task::spawn_local(async move {
                match connect_peer(&endpoint, &member, me, token).await {
                    Ok(connection) => {
                        if let Some(links) = myself.upgrade() {
                            links.borrow_mut().connected(member.node, connection);
                        }
                    }
                    Err(e) => tracing::error!(
                        peer = ?member.node,
                        addr = %member.addr,
                        error = %e,
                        "cannot connect to a member; its messages wait until the head rules on it"
                    ),
                }
            });
            link.tasks.push(task);
        }
    }

    /// A connection to `node` is up (we opened it, or it opened it and said hello).
    pub fn connected(&mut self, node: NodeId, connection: quinn::Connection) {
        let inbox = self.inbox.clone();
        let max_object = self.max_object;
        let me = self.me;
        let Some(link) = self.link(node) else {
            connection.close(quinn::VarInt::from_u32(2), b"departed");
            return;
        };
        tracing::debug!(?me, peer = ?node, remote = %connection.remote_address(), "connected");
        let reader =
            tokio::task::spawn_local(read_streams(node, connection.clone(), inbox, max_object));
        link.tasks.push(reader);
        link.connection.send_replace(Some(connection));
    }

    /// `node` left the cluster: drop what was queued for it and close its connection.
    pub fn remove_member(&mut self, node: NodeId) {
        self.departed.insert(node);
        if let Some(link) = self.peers.remove(&node) {
            for task in link.tasks {
                task.abort();
            }
            if let Some(connection) = link.connection.borrow().as_ref() {
                connection.close(quinn::VarInt::from_u32(0), b"left the cluster");
            }
        }
    }

    /// Closes every connection (the node is stopping).
    pub fn close_all(&mut self) {
        let nodes: Vec<NodeId> = self.peers.keys().copied().collect();
        for node in nodes {
            self.remove_member(node);
        }
    }
}

/// The node actor's transport: envelopes go to the peer's writer.
pub struct QuicTransport {
    links: SharedLinks,
}

impl QuicTransport {
    pub fn new(links: SharedLinks) -> Self {
        QuicTransport { links }
    }
}

impl Transport for QuicTransport {
    fn send(&mut self, to: NodeId, envelopes: Vec<Envelope>) {
        let mut links = self.links.borrow_mut();
        if let Some(link) = links.link(to) {
            let _ = link.outgoing.send(envelopes);
        }
    }
}

/// Opens the connection to an earlier member and introduces ourselves.
async fn connect_peer(
    endpoint: &quinn::Endpoint,
    member: &Member,
    me: NodeId,
    token: Vec<u8>,
) -> Result<quinn::Connection, String> {
    let config = tls::client_config(&member.fingerprint).map_err(|e| e.to_string())?;
    let mut delay = Duration::from_millis(20);
    let mut attempt = 0;
    let connection = loop {
        attempt += 1;
        let connecting = endpoint
            .connect_with(config.clone(), member.addr, tls::SERVER_NAME)
            .map_err(|e| e.to_string())?;
        match connecting.await {
            Ok(connection) => break connection,
            Err(e) if attempt >= 5 => return Err(e.to_string()),
            Err(_) => {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    };
    let hello = Hello {
        version: PROTOCOL_VERSION,
        token,
        purpose: Purpose::Peer { from: me },
    };
    let (mut send, mut recv) = connection.open_bi().await.map_err(|e| e.to_string())?;
    stream::write_message(&mut send, FrameKind::Hello, &hello).await?;
    let welcome: Welcome =
        stream::read_message(&mut recv, FrameKind::Welcome, stream::HANDSHAKE_TIMEOUT).await?;
    match welcome {
        Welcome::PeerAccepted => Ok(connection),
        Welcome::Refused { reason } => Err(format!("refused: {reason}")),
        other => Err(format!("unexpected answer {other:?}")),
    }
}

/// Writes a peer's envelopes on one stream once its connection is up; large objects
/// go on streams of their own, a few at a time.
async fn write_envelopes(
    me: NodeId,
    mut ready: watch::Receiver<Option<quinn::Connection>>,
    mut queued: mpsc::UnboundedReceiver<Vec<Envelope>>,
) {
    let connection = match ready.wait_for(Option::is_some).await {
        Ok(connection) => connection.clone().expect("waited for it"),
        Err(_) => return,
    };
    let mut control = match connection.open_uni().await {
        Ok(stream) => {
            tracing::debug!(?me, remote = %connection.remote_address(), "control stream open");
            stream
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot open a stream to a peer");
            return;
        }
    };
    let objects = Rc::new(Semaphore::new(OBJECT_STREAMS_PER_PEER));
    let mut small = Vec::new();
    while let Some(batch) = queued.recv().await {
        let mut batches = vec![batch];
        while let Ok(more) = queued.try_recv() {
            batches.push(more);
        }
        for envelope in batches.into_iter().flatten() {
            match envelope.message {
                NodeMessage::Object { id, data } if data.len() >= OBJECT_STREAM_MIN => {
                    let header = ObjectHeader {
                        from: me,
                        epoch: envelope.epoch,
                        id,
                        len: data.len() as u64,
                    };
                    let (connection, objects) = (connection.clone(), objects.clone());
                    tokio::task::spawn_local(async move {
                        let Ok(_permit) = objects.acquire().await else {
                            return;
                        };
                        if let Err(e) = write_object(&connection, header, data).await {
                            tracing::warn!(error = %e, "an object stream to a peer failed");
                        }
                    });
                }
                _ => small.push(envelope),
            }
        }
        if small.is_empty() {
            continue;
        }
        let payload = match codec::encode(&small) {
            Ok(payload) => payload,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode envelopes");
                small.clear();
                continue;
            }
        };
        small.clear();
        if let Err(e) = control
            .write_chunk(frame_bytes(FrameKind::Envelopes, &payload))
            .await
        {
            tracing::warn!(error = %e, "the stream to a peer closed");
            return;
        }
    }
    let _ = control.finish();
}

async fn write_object(
    connection: &quinn::Connection,
    header: ObjectHeader,
    data: Bytes,
) -> Result<(), String> {
    let mut send = connection.open_uni().await.map_err(|e| e.to_string())?;
    let header = codec::encode(&header).map_err(|e| e.to_string())?;
    send.write_chunk(frame_bytes(FrameKind::Object, &header))
        .await
        .map_err(|e| e.to_string())?;
    send.write_chunk(data).await.map_err(|e| e.to_string())?;
    send.finish().map_err(|e| e.to_string())
}

/// Reads every stream a peer opens towards us, for as long as the connection lives.
async fn read_streams(
    peer: NodeId,
    connection: quinn::Connection,
    inbox: Arc<Inbox<NodeEvent>>,
    max_object: u64,
) {
    while let Ok(recv) = connection.accept_uni().await {
        tracing::debug!(?peer, remote = %connection.remote_address(), "accepted a stream");
        let inbox = inbox.clone();
        let connection = connection.clone();
        tokio::task::spawn_local(async move {
            match read_stream(peer, recv, &inbox, max_object).await {
                Ok(()) => {}
                Err(StreamError::Closed(e)) => {
                    tracing::debug!(?peer, error = %e, "a stream from a peer ended");
                }
                Err(StreamError::Protocol(e)) => {
                    tracing::warn!(?peer, error = %e, "bad stream from a peer: connection closed");
                    connection.close(quinn::VarInt::from_u32(3), b"protocol error");
                }
            }
        });
    }
}

/// Why reading a peer's stream stopped.
enum StreamError {
    /// The connection or stream went away (the peer left or died).
    Closed(String),
    /// The peer sent something it must not: its connection is closed.
    Protocol(String),
}

impl From<String> for StreamError {
    fn from(message: String) -> Self {
        StreamError::Protocol(message)
    }
}

fn closed(e: impl std::fmt::Display) -> StreamError {
    StreamError::Closed(e.to_string())
}

/// One stream: batches of envelopes until it ends, or one object.
async fn read_stream(
    peer: NodeId,
    mut recv: quinn::RecvStream,
    inbox: &Inbox<NodeEvent>,
    max_object: u64,
) -> Result<(), StreamError> {
    let mut decoder = FrameDecoder::default();
    loop {
        let chunk = recv.read_chunk(1 << 20, true).await.map_err(closed)?;
        let Some(chunk) = chunk else {
            return decoder
                .finish()
                .map_err(|e| StreamError::Protocol(e.to_string()));
        };
        decoder.feed(&chunk.bytes);
        while let Some(frame) = decoder.next_frame().map_err(|e| e.to_string())? {
            match frame.kind {
                FrameKind::Envelopes => {
                    let envelopes: Vec<Envelope> = codec::decode_untrusted(&frame.payload)
                        .map_err(|e| StreamError::Protocol(e.to_string()))?;
                    if let Some(bad) = envelopes.iter().find(|e| e.from != peer) {
                        return Err(format!("{peer:?} sent an envelope as {:?}", bad.from).into());
                    }
                    inbox.push_many(envelopes.into_iter().map(NodeEvent::Remote));
                }
                FrameKind::Object => {
                    let header: ObjectHeader = codec::decode_untrusted(&frame.payload)
                        .map_err(|e| StreamError::Protocol(e.to_string()))?;
                    if header.from != peer {
                        return Err(format!("{peer:?} sent an object as {:?}", header.from).into());
                    }
                    if header.len > max_object {
                        return Err(format!(
                            "an object of {} bytes exceeds the store capacity {max_object}",
                            header.len
                        )
                        .into());
                    }
                    let data = read_object(&mut recv, decoder.take_buffered(), header.len).await?;
                    inbox.push(NodeEvent::Remote(Envelope {
                        from: peer,
                        epoch: header.epoch,
                        message: NodeMessage::Object {
                            id: header.id,
                            data,
                        },
                    }));
                    return Ok(());
                }
                other => {
                    return Err(StreamError::Protocol(format!(
                        "unexpected {other:?} frame between peers"
                    )));
                }
            }
        }
    }
}

/// The rest of an object stream: exactly `len` bytes.
async fn read_object(
    recv: &mut quinn::RecvStream,
    start: BytesMut,
    len: u64,
) -> Result<Bytes, StreamError> {
    let len = len as usize;
    if start.len() > len {
        return Err("more bytes than the object's length".to_string().into());
    }
    let mut data = BytesMut::with_capacity(len);
    data.extend_from_slice(&start);
    while data.len() < len {
        match recv
            .read_chunk(len - data.len(), true)
            .await
            .map_err(closed)?
        {
            Some(chunk) => data.extend_from_slice(&chunk.bytes),
            None => {
                return Err(format!("object stream ended at {} of {len} bytes", data.len()).into());
            }
        }
    }
    if recv.read_chunk(1, true).await.map_err(closed)?.is_some() {
        return Err("more bytes than the object's length".to_string().into());
    }
    Ok(data.freeze())
}
