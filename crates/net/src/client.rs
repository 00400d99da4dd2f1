//! Short requests to a cluster's head from outside it (`doreisa-rs status`).

use crate::cluster_file::ClusterFile;
use crate::error::{NetError, Result};
use crate::stream::{self, FrameReader, HANDSHAKE_TIMEOUT};
use crate::tls;
use doreisa_proto::frame::FrameKind;
use doreisa_proto::wire::{ClusterStatus, Hello, PROTOCOL_VERSION, Purpose, Welcome};

/// Asks the head of `cluster` for the cluster's status.
pub fn fetch_status(cluster: &ClusterFile) -> Result<ClusterStatus> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(network)?;
    runtime.block_on(request_status(cluster))
}

/// A network error, from a message or an I/O error.
fn network(e: impl std::fmt::Display) -> NetError {
    NetError::Network(e.to_string())
}

/// Connects to the head of `cluster` from `endpoint` and sends our `Hello`; returns
/// the connection, our side of the stream and its reader, for the head's answer.
pub(crate) async fn hello_head(
    endpoint: &quinn::Endpoint,
    cluster: &ClusterFile,
    token: Vec<u8>,
    purpose: Purpose,
) -> Result<(quinn::Connection, quinn::SendStream, FrameReader)> {
    let fingerprint = cluster.fingerprint_bytes()?;
    let config = tls::client_config(&fingerprint)?;
    let connection = tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        endpoint
            .connect_with(config, cluster.head, tls::SERVER_NAME)
            .map_err(network)?,
    )
    .await
    .map_err(|_| {
        network(format!(
            "the head at {} did not answer in time",
            cluster.head
        ))
    })?
    .map_err(|e| network(format!("cannot reach the head at {}: {e}", cluster.head)))?;
    let (mut send, recv) = connection.open_bi().await.map_err(network)?;
    let hello = Hello {
        version: PROTOCOL_VERSION,
        token,
        purpose,
    };
    stream::write_message(&mut send, FrameKind::Hello, &hello)
        .await
        .map_err(network)?;
    Ok((connection, send, FrameReader::new(recv)))
}

async fn request_status(cluster: &ClusterFile) -> Result<ClusterStatus> {
    let token = cluster.token_bytes()?;
    let endpoint =
        quinn::Endpoint::client("0.0.0.0:0".parse().expect("an address")).map_err(network)?;
    let (connection, mut send, mut reader) =
        hello_head(&endpoint, cluster, token, Purpose::Status).await?;
    let _ = send.finish();
    let outcome = answer(&mut reader).await.map_err(network);
    connection.close(quinn::VarInt::from_u32(0), b"done");
    endpoint.wait_idle().await;
    outcome
}

/// The head's answer to a status request.
async fn answer(reader: &mut FrameReader) -> std::result::Result<ClusterStatus, String> {
    let frame = tokio::time::timeout(HANDSHAKE_TIMEOUT, reader.next())
        .await
        .map_err(|_| "the head did not answer in time".to_string())??
        .ok_or("the head closed the stream without an answer")?;
    match frame.kind {
        FrameKind::Status => {
            stream::decode_frame::<Option<ClusterStatus>>(&frame, FrameKind::Status)?
                .ok_or_else(|| "this node is not the head".to_string())
        }
        FrameKind::Welcome => match stream::decode_frame::<Welcome>(&frame, FrameKind::Welcome)? {
            Welcome::Refused { reason } => Err(format!("the head refused us: {reason}")),
            other => Err(format!("unexpected answer {other:?}")),
        },
        other => Err(format!("unexpected {other:?} frame")),
    }
}
