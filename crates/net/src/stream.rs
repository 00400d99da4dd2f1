//! Typed messages over QUIC streams, one frame each, with deadlines on what a peer
//! must answer.

use doreisa_proto::codec;
use doreisa_proto::frame::{Frame, FrameDecoder, FrameKind, frame_bytes};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// How long a peer has to say hello or answer one.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest handshake, membership or status frame accepted.
pub const MAX_SESSION_FRAME: usize = 16 << 20;

/// Writes `message` as one frame of `kind`.
pub async fn write_message<T: Serialize>(
    send: &mut quinn::SendStream,
    kind: FrameKind,
    message: &T,
) -> Result<(), String> {
    let payload = codec::encode(message).map_err(|e| e.to_string())?;
    send.write_chunk(frame_bytes(kind, &payload))
        .await
        .map_err(|e| e.to_string())
}

/// Reads frames from a long-lived stream.
pub struct FrameReader {
    recv: quinn::RecvStream,
    decoder: FrameDecoder,
}

impl FrameReader {
    /// A reader of frames up to [`MAX_SESSION_FRAME`] bytes.
    pub fn new(recv: quinn::RecvStream) -> Self {
        Self::with_limit(recv, MAX_SESSION_FRAME)
    }

    /// A reader of frames up to `max` bytes (a peer not yet authenticated gets little).
    pub fn with_limit(recv: quinn::RecvStream, max: usize) -> Self {
        FrameReader {
            recv,
            decoder: FrameDecoder::new(max),
        }
    }

    /// Frames up to `max` bytes from now on.
    pub fn set_limit(&mut self, max: usize) {
        self.decoder.set_max(max);
    }

    /// The next frame; `None` when the stream ended cleanly.
    pub async fn next(&mut self) -> Result<Option<Frame>, String> {
        loop {
            if let Some(frame) = self.decoder.next_frame().map_err(|e| e.to_string())? {
                return Ok(Some(frame));
            }
            match self
                .recv
                .read_chunk(64 * 1024, true)
                .await
                .map_err(|e| e.to_string())?
            {
                Some(chunk) => self.decoder.feed(&chunk.bytes),
                None => {
                    self.decoder.finish().map_err(|e| e.to_string())?;
                    return Ok(None);
                }
            }
        }
    }

    /// The next frame, which must be a `kind` holding a `T`, within `timeout`.
    pub async fn expect<T: DeserializeOwned>(
        &mut self,
        kind: FrameKind,
        timeout: Duration,
    ) -> Result<T, String> {
        let frame = self.expect_frame(kind, timeout).await?;
        decode_frame(&frame, kind)
    }

    /// The next frame, undecoded, within `timeout`.
    pub async fn expect_frame(
        &mut self,
        kind: FrameKind,
        timeout: Duration,
    ) -> Result<Frame, String> {
        tokio::time::timeout(timeout, self.next())
            .await
            .map_err(|_| format!("no {kind:?} within {timeout:?}"))??
            .ok_or_else(|| format!("the stream ended before a {kind:?}"))
    }
}

/// The message in `frame`, which must be of `kind`.
pub fn decode_frame<T: DeserializeOwned>(frame: &Frame, kind: FrameKind) -> Result<T, String> {
    if frame.kind != kind {
        return Err(format!("expected a {kind:?} frame, got {:?}", frame.kind));
    }
    codec::decode_untrusted(&frame.payload).map_err(|e| e.to_string())
}

/// Reads one message of `kind` as the first frame of `recv`.
pub async fn read_message<T: DeserializeOwned>(
    recv: &mut quinn::RecvStream,
    kind: FrameKind,
    timeout: Duration,
) -> Result<T, String> {
    // Handshake streams carry nothing after their one frame: a fresh decoder is fine.
    let mut decoder = FrameDecoder::new(MAX_SESSION_FRAME);
    let read = async {
        loop {
            if let Some(frame) = decoder.next_frame().map_err(|e| e.to_string())? {
                return decode_frame(&frame, kind);
            }
            match recv
                .read_chunk(64 * 1024, true)
                .await
                .map_err(|e| e.to_string())?
            {
                Some(chunk) => decoder.feed(&chunk.bytes),
                None => return Err(format!("the stream ended before a {kind:?}")),
            }
        }
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| format!("no {kind:?} within {timeout:?}"))?
}
