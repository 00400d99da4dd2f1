//! A head in this process and raw QUIC clients that misbehave before authenticating.

use super::*;
use crate::cluster_file::ClusterFile;
use crate::node::{NodeOptions, ProcessNode};
use crate::{client, tls};
use doreisa_core::registry::Registry;
use doreisa_proto::wire::NodeRole;
use std::future::Future;

fn head(connection_limits: ConnectionLimits) -> ProcessNode {
    let options = NodeOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        connection_limits,
        ..NodeOptions::new(NodeRole::Head)
    };
    ProcessNode::start_head(options, Registry::new()).unwrap()
}

/// Runs `future` to its end, which must come within 30 s (a hang fails the test).
fn bounded<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(30), future)
                .await
                .expect("within 30 s")
        })
}

fn endpoint() -> quinn::Endpoint {
    quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap()
}

/// A TLS connection to the head, nothing said yet.
async fn connect(
    endpoint: &quinn::Endpoint,
    cluster: &ClusterFile,
) -> Result<quinn::Connection, quinn::ConnectionError> {
    let config = tls::client_config(&cluster.fingerprint_bytes().unwrap()).unwrap();
    endpoint
        .connect_with(config, cluster.head, tls::SERVER_NAME)
        .unwrap()
        .await
}

/// Why the head closed `connection`.
async fn close_reason_of(connection: &quinn::Connection) -> String {
    match connection.closed().await {
        quinn::ConnectionError::ApplicationClosed(close) => {
            String::from_utf8_lossy(&close.reason).into_owned()
        }
        other => panic!("not closed by the head: {other}"),
    }
}

/// A status request in a thread of its own (it runs its own runtime).
async fn status(cluster: &ClusterFile) -> crate::Result<doreisa_proto::wire::ClusterStatus> {
    let cluster = cluster.clone();
    tokio::task::spawn_blocking(move || client::fetch_status(&cluster))
        .await
        .unwrap()
}

#[test]
fn a_hello_larger_than_the_pre_authentication_limit_is_refused_at_once() {
    let node = head(ConnectionLimits::default());
    let reason = bounded(async {
        let endpoint = endpoint();
        let connection = connect(&endpoint, &node.cluster).await.unwrap();
        let (mut send, _recv) = connection.open_bi().await.unwrap();
        // A header announcing 1 MiB, and the start of it.
        let mut bytes = vec![FrameKind::Hello as u8];
        bytes.extend_from_slice(&(1u32 << 20).to_le_bytes());
        bytes.extend_from_slice(&[0; 8192]);
        let _ = send.write_all(&bytes).await;
        close_reason_of(&connection).await
    });
    assert!(
        reason.contains(&format!("exceeds the limit of {MAX_HELLO_FRAME}")),
        "{reason}"
    );
    let status = client::fetch_status(&node.cluster).unwrap();
    assert_eq!(status.members.len(), 1, "nothing joined");
}

#[test]
fn a_peer_of_another_wire_version_is_told_both_versions() {
    let node = head(ConnectionLimits::default());
    let (welcome, reason) = bounded(async {
        let endpoint = endpoint();
        let connection = connect(&endpoint, &node.cluster).await.unwrap();
        let (mut send, recv) = connection.open_bi().await.unwrap();
        // A hello of a later version, laid out differently after its version.
        let mut payload = doreisa_proto::codec::encode(&(PROTOCOL_VERSION + 98)).unwrap();
        payload.extend_from_slice(&[0xee; 64]);
        send.write_all(&doreisa_proto::frame::frame_bytes(
            FrameKind::Hello,
            &payload,
        ))
        .await
        .unwrap();
        let mut reader = FrameReader::new(recv);
        let welcome: Welcome = reader
            .expect(FrameKind::Welcome, HANDSHAKE_TIMEOUT)
            .await
            .unwrap();
        drop(reader);
        let reason = close_reason_of(&connection).await;
        (welcome, reason)
    });
    let Welcome::Refused { reason: answered } = welcome else {
        panic!("not refused: {welcome:?}")
    };
    for said in [answered, reason] {
        assert!(
            said.contains(&format!("wire version {}", PROTOCOL_VERSION + 98)),
            "{said}"
        );
        assert!(
            said.contains(&format!("speaks version {PROTOCOL_VERSION}")),
            "{said}"
        );
    }
}

#[test]
fn a_cluster_file_of_another_version_is_refused_before_connecting() {
    let node = head(ConnectionLimits::default());
    let cluster = ClusterFile {
        version: PROTOCOL_VERSION + 1,
        ..node.cluster.clone()
    };
    let error = ProcessNode::join(
        NodeOptions::new(NodeRole::Worker),
        &cluster,
        Registry::new(),
    )
    .err()
    .expect("refused")
    .to_string();
    assert!(
        error.contains(&format!("wire version {}", PROTOCOL_VERSION + 1)),
        "{error}"
    );
    assert!(
        error.contains(&format!("speaks version {PROTOCOL_VERSION}")),
        "{error}"
    );
}

#[test]
fn connections_beyond_the_handshake_limit_are_refused_until_one_ends() {
    let node = head(ConnectionLimits {
        open: 64,
        handshaking: 2,
    });
    bounded(async {
        let endpoint = endpoint();
        // Two peers that connect and say nothing fill the handshakes.
        let first = connect(&endpoint, &node.cluster).await.unwrap();
        let _second = connect(&endpoint, &node.cluster).await.unwrap();
        assert!(connect(&endpoint, &node.cluster).await.is_err());
        assert!(status(&node.cluster).await.is_err(), "refused too");
        first.close(quinn::VarInt::from_u32(0), b"bye");
        loop {
            if status(&node.cluster).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
}

#[test]
fn connections_beyond_the_open_limit_are_refused_until_one_ends() {
    let node = head(ConnectionLimits {
        open: 2,
        handshaking: 64,
    });
    bounded(async {
        let endpoint = endpoint();
        let first = connect(&endpoint, &node.cluster).await.unwrap();
        let _second = connect(&endpoint, &node.cluster).await.unwrap();
        assert!(connect(&endpoint, &node.cluster).await.is_err());
        first.close(quinn::VarInt::from_u32(0), b"bye");
        loop {
            if status(&node.cluster).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
}
