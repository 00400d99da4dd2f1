//! The I/O around the head's membership table: admitting (or refusing) connections,
//! one session stream per member (membership news out, heartbeats in), the clock that
//! declares silent members dead, and status answers. Also the accept loop of every
//! node (a non-head node only admits peers).

use crate::link::SharedLinks;
use crate::stream::{self, FrameReader, HANDSHAKE_TIMEOUT, MAX_SESSION_FRAME};
use actix::Addr;
use bytes::Bytes;
use doreisa_core::ids::NodeId;
use doreisa_core::runtime::actor::{GetStatus, NodeActor};
use doreisa_core::runtime::event::NodeEvent;
use doreisa_core::runtime::inbox::Inbox;
use doreisa_proto::frame::FrameKind;
use doreisa_proto::limits::{ConnectionCount, ConnectionLimits, MAX_HELLO_FRAME, RefusalLog};
use doreisa_proto::membership::{Admission, Membership, token_matches};
use doreisa_proto::wire::{
    Heartbeat, Hello, Member, MembershipEvent, PROTOCOL_VERSION, Purpose, Welcome,
    hello_version_refusal, version_refusal,
};
use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What every node's network side shares on its thread.
pub struct NodeNet {
    pub me: NodeId,
    pub token: Vec<u8>,
    pub links: SharedLinks,
    pub inbox: Arc<Inbox<NodeEvent>>,
    /// The members as this node knows them (for `Cluster::nodes` and status).
    pub members: Arc<RwLock<Vec<Member>>>,
    /// The head's state, on the head only.
    pub head: Option<RefCell<HeadState>>,
    /// This node is leaving on purpose (connections closing are expected).
    pub leaving: std::cell::Cell<bool>,
    /// Incoming connections against the node's limits, and the refusals logged.
    pub intake: RefCell<Intake>,
}

/// What a node lets in before peers are authenticated, and what it says about the
/// others.
pub struct Intake {
    connections: ConnectionCount,
    refusals: RefusalLog,
    started: Instant,
}

impl Intake {
    pub fn new(limits: ConnectionLimits) -> Self {
        Intake {
            connections: ConnectionCount::new(limits),
            refusals: RefusalLog::default(),
            started: Instant::now(),
        }
    }

    /// Logs a refused connection, unless too many were logged lately.
    fn refused(&mut self, remote: std::net::SocketAddr, reason: &str) {
        let note = self
            .refusals
            .note(self.started.elapsed().as_millis() as u64);
        if note.hidden_before > 0 {
            tracing::warn!(
                count = note.hidden_before,
                "more connections were refused than logged"
            );
        }
        if note.show {
            tracing::warn!(%remote, %reason, "refused a connection");
        }
    }
}

/// The head's membership table and its members' session streams.
pub struct HeadState {
    pub membership: Membership,
    sessions: FxHashMap<NodeId, mpsc::UnboundedSender<Bytes>>,
    started: Instant,
}

impl HeadState {
    pub fn new(membership: Membership) -> Self {
        HeadState {
            membership,
            sessions: FxHashMap::default(),
            started: Instant::now(),
        }
    }

    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

impl NodeNet {
    /// Applies a membership change on this node: links, the members view, the node.
    pub fn apply(&self, event: &MembershipEvent) {
        match event {
            MembershipEvent::Joined(member) => {
                if member.node == self.me {
                    return;
                }
                self.links.borrow_mut().add_member(member.clone());
                let mut members = self.members.write().unwrap_or_else(|e| e.into_inner());
                if !members.iter().any(|m| m.node == member.node) {
                    members.push(member.clone());
                    members.sort_by_key(|m| m.node);
                }
                drop(members);
                self.inbox.push(NodeEvent::NodeJoined {
                    node: member.node,
                    workers: member.workers.clone(),
                    takes_tasks: member.role.takes_tasks(),
                });
            }
            MembershipEvent::Left { node, workers } => {
                self.links.borrow_mut().remove_member(*node);
                self.members
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .retain(|m| m.node != *node);
                self.inbox.push(NodeEvent::NodeLeft {
                    node: *node,
                    workers: workers.clone(),
                });
            }
        }
    }

    /// On the head: applies `event` here and tells every member, in one order.
    fn broadcast(&self, event: MembershipEvent) {
        let Some(head) = &self.head else { return };
        let frame = match doreisa_proto::codec::encode(&event) {
            Ok(payload) => doreisa_proto::frame::frame_bytes(FrameKind::Membership, &payload),
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a membership event");
                return;
            }
        };
        {
            let mut head = head.borrow_mut();
            if let MembershipEvent::Left { node, .. } = &event {
                head.sessions.remove(node);
            }
            for session in head.sessions.values() {
                let _ = session.send(frame.clone());
            }
        }
        self.apply(&event);
    }
}

/// Accepts connections for as long as the endpoint lives, within the node's limits.
pub async fn accept_loop(net: Rc<NodeNet>, endpoint: quinn::Endpoint) {
    while let Some(incoming) = endpoint.accept().await {
        let remote = incoming.remote_address();
        let arrived = net.intake.borrow_mut().connections.arrive();
        if let Err(reason) = arrived {
            net.intake.borrow_mut().refused(remote, &reason);
            incoming.refuse();
            continue;
        }
        let net = net.clone();
        tokio::task::spawn_local(async move {
            let connection = match tokio::time::timeout(HANDSHAKE_TIMEOUT, incoming).await {
                Ok(Ok(connection)) => Some(connection),
                Ok(Err(e)) => {
                    tracing::debug!(%remote, error = %e, "incoming connection failed");
                    None
                }
                Err(_) => {
                    tracing::debug!(%remote, "no TLS handshake in time");
                    None
                }
            };
            if let Some(connection) = &connection
                && let Err(e) = admit(&net, connection.clone()).await
            {
                net.intake.borrow_mut().refused(remote, &e);
                connection.close(quinn::VarInt::from_u32(3), close_reason(&e));
            }
            net.intake.borrow_mut().connections.handshake_over();
            if let Some(connection) = connection {
                connection.closed().await;
            }
            net.intake.borrow_mut().connections.closed();
        });
    }
}

/// A reason short enough for a QUIC close frame.
fn close_reason(reason: &str) -> &[u8] {
    let mut end = reason.len().min(200);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason.as_bytes()[..end]
}

/// Reads a connection's hello and decides what it is.
async fn admit(net: &Rc<NodeNet>, connection: quinn::Connection) -> Result<(), String> {
    let (mut send, recv) = tokio::time::timeout(HANDSHAKE_TIMEOUT, connection.accept_bi())
        .await
        .map_err(|_| "no handshake stream in time".to_string())?
        .map_err(|e| e.to_string())?;
    // Until the peer shows the token, it may not make us buffer more than a hello.
    let mut reader = FrameReader::with_limit(recv, MAX_HELLO_FRAME);
    let frame = reader
        .expect_frame(FrameKind::Hello, HANDSHAKE_TIMEOUT)
        .await?;
    let admission = match hello_version_refusal(&frame.payload) {
        Some(reason) => Admission::Refuse(Welcome::Refused { reason }),
        None => {
            let hello: Hello = stream::decode_frame(&frame, FrameKind::Hello)?;
            match &net.head {
                Some(head) => {
                    let mut head = head.borrow_mut();
                    let now = head.now_ms();
                    head.membership.admit(hello, now)
                }
                None => admit_peer(&net.token, hello),
            }
        }
    };
    let remote = connection.remote_address();
    match admission {
        Admission::Refuse(welcome) => {
            let reason = match &welcome {
                Welcome::Refused { reason } => reason.clone(),
                _ => String::new(),
            };
            net.intake.borrow_mut().refused(remote, &reason);
            stream::write_message(&mut send, FrameKind::Welcome, &welcome).await?;
            let _ = send.finish();
            // Give the answer time to arrive, then close whatever the peer does; the
            // close says why too, for a peer that cannot read our welcome.
            let _ = tokio::time::timeout(Duration::from_secs(1), connection.closed()).await;
            connection.close(quinn::VarInt::from_u32(1), close_reason(&reason));
        }
        Admission::Peer { from } => {
            stream::write_message(&mut send, FrameKind::Welcome, &Welcome::PeerAccepted).await?;
            let _ = send.finish();
            net.links.borrow_mut().connected(from, connection);
        }
        Admission::Status => {
            let status = net.head.as_ref().map(|head| {
                let head = head.borrow();
                head.membership.status(head.now_ms())
            });
            stream::write_message(&mut send, FrameKind::Status, &status).await?;
            let _ = send.finish();
            let _ = tokio::time::timeout(Duration::from_secs(1), connection.closed()).await;
            connection.close(quinn::VarInt::from_u32(0), b"answered");
        }
        Admission::Join {
            node,
            welcome,
            event,
        } => {
            stream::write_message(&mut send, FrameKind::Welcome, &welcome).await?;
            tracing::info!(?node, %remote, "a node joined");
            reader.set_limit(MAX_SESSION_FRAME);
            net.links.borrow_mut().connected(node, connection);
            let (session, frames) = mpsc::unbounded_channel();
            if let Some(head) = &net.head {
                head.borrow_mut().sessions.insert(node, session);
            }
            tokio::task::spawn_local(write_session(send, frames));
            tokio::task::spawn_local(read_session(net.clone(), node, reader));
            net.broadcast(event);
        }
    }
    Ok(())
}

/// What a non-head node admits: members of the cluster opening their peer connection.
fn admit_peer(token: &[u8], hello: Hello) -> Admission {
    let refuse = |reason: String| Admission::Refuse(Welcome::Refused { reason });
    if hello.version != PROTOCOL_VERSION {
        return refuse(version_refusal(hello.version));
    }
    if !token_matches(token, &hello.token) {
        return refuse("wrong cluster token".into());
    }
    match hello.purpose {
        Purpose::Peer { from } => Admission::Peer { from },
        _ => refuse("this node is not the head".into()),
    }
}

/// The head's answer to a heartbeat (an empty payload).
fn heartbeat_ack() -> Bytes {
    doreisa_proto::frame::frame_bytes(FrameKind::HeartbeatAck, &[])
}

/// Writes membership frames to one member's session stream.
async fn write_session(mut send: quinn::SendStream, mut frames: mpsc::UnboundedReceiver<Bytes>) {
    while let Some(frame) = frames.recv().await {
        if send.write_chunk(frame).await.is_err() {
            return;
        }
    }
    let _ = send.finish();
}

/// Reads one member's heartbeats (and its goodbye) on the head.
async fn read_session(net: Rc<NodeNet>, node: NodeId, mut reader: FrameReader) {
    loop {
        let frame = match reader.next().await {
            Ok(Some(frame)) => frame,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(?node, error = %e, "a member's session stream failed");
                return;
            }
        };
        let Some(head) = &net.head else { return };
        match frame.kind {
            FrameKind::Heartbeat => {
                match stream::decode_frame::<Heartbeat>(&frame, FrameKind::Heartbeat) {
                    Ok(beat) if beat.node == node => {
                        let mut head = head.borrow_mut();
                        let now = head.now_ms();
                        if head.membership.heartbeat(node, beat.status, now)
                            && let Some(session) = head.sessions.get(&node)
                        {
                            // The member's proof that its head lives.
                            let _ = session.send(heartbeat_ack());
                        }
                    }
                    Ok(beat) => {
                        tracing::warn!(?node, claimed = ?beat.node, "a heartbeat for another node")
                    }
                    Err(e) => tracing::warn!(?node, error = %e, "a bad heartbeat"),
                }
            }
            FrameKind::Leave => {
                tracing::info!(?node, "a node leaves the cluster");
                let left = head.borrow_mut().membership.leave(node);
                if let Some(event) = left {
                    net.broadcast(event);
                }
                return;
            }
            other => tracing::warn!(?node, kind = ?other, "unexpected frame on a session"),
        }
    }
}

/// The head's clock: records its own status and declares silent members dead.
pub async fn head_ticker(net: Rc<NodeNet>, actor: Addr<NodeActor>, period: Duration) {
    let mut interval = tokio::time::interval(period);
    loop {
        interval.tick().await;
        let status = actor.send(GetStatus).await.ok();
        let Some(head) = &net.head else { return };
        let events = {
            let mut head = head.borrow_mut();
            let now = head.now_ms();
            if let Some(status) = status {
                head.membership.head_status(net.me, status, now);
            }
            head.membership.tick(net.me, now)
        };
        for event in events {
            net.broadcast(event);
        }
    }
}

#[cfg(test)]
mod tests;
