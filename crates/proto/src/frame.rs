//! Frames on QUIC streams: `[kind: u8][length: u32 little endian][payload]`.
//!
//! The decoder is sans-IO: bytes go in as they arrive, whole frames come out. It
//! rejects unknown kinds and lengths above its limit before buffering the payload, so
//! a peer can neither crash it nor make it allocate without bound. After an error the
//! stream is unusable: the caller closes it.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Bytes of a frame header.
pub const HEADER_LEN: usize = 5;

/// The largest control frame accepted by default.
pub const MAX_FRAME: usize = 64 << 20;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    /// First frame of a connection's handshake stream: who connects, with which token.
    Hello = 1,
    /// The answer to a hello.
    Welcome = 2,
    /// Membership news from the head.
    Membership = 3,
    /// A node's heartbeat (with its status) to the head.
    Heartbeat = 4,
    /// A batch of node-to-node envelopes.
    Envelopes = 5,
    /// An object's envelope; the raw object bytes follow on the same stream.
    Object = 6,
    /// The cluster's status, answered to a status client.
    Status = 7,
    /// A node leaves on purpose (graceful shutdown).
    Leave = 8,
    /// The head's answer to a member's heartbeat: it lives (a member that hears
    /// nothing from the head for its head timeout stops).
    HeartbeatAck = 9,
}

impl FrameKind {
    pub fn from_u8(kind: u8) -> Option<FrameKind> {
        Some(match kind {
            1 => FrameKind::Hello,
            2 => FrameKind::Welcome,
            3 => FrameKind::Membership,
            4 => FrameKind::Heartbeat,
            5 => FrameKind::Envelopes,
            6 => FrameKind::Object,
            7 => FrameKind::Status,
            8 => FrameKind::Leave,
            9 => FrameKind::HeartbeatAck,
            _ => return None,
        })
    }
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: FrameKind,
    pub payload: Bytes,
}

/// Why a byte stream is not a valid sequence of frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("the stream ended inside a frame ({0} bytes left over)")]
    Truncated(usize),
}

/// Appends a frame to `out`.
pub fn encode_frame(kind: FrameKind, payload: &[u8], out: &mut BytesMut) {
    let len = u32::try_from(payload.len()).expect("frames are far below 4 GiB");
    out.reserve(HEADER_LEN + payload.len());
    out.put_u8(kind as u8);
    out.put_u32_le(len);
    out.put_slice(payload);
}

/// A frame as bytes.
pub fn frame_bytes(kind: FrameKind, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::new();
    encode_frame(kind, payload, &mut out);
    out.freeze()
}

/// Turns a byte stream into frames.
#[derive(Debug)]
pub struct FrameDecoder {
    buffer: BytesMut,
    max: usize,
    failed: Option<FrameError>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(MAX_FRAME)
    }
}

impl FrameDecoder {
    /// A decoder accepting payloads of at most `max` bytes.
    pub fn new(max: usize) -> Self {
        FrameDecoder {
            buffer: BytesMut::new(),
            max,
            failed: None,
        }
    }

    /// Changes the largest payload accepted from now on (a stream's limit rises once
    /// its peer is authenticated).
    pub fn set_max(&mut self, max: usize) {
        self.max = max;
    }

    /// Adds bytes read from the stream.
    pub fn feed(&mut self, data: &[u8]) {
        if self.failed.is_none() {
            self.buffer.extend_from_slice(data);
        }
    }

    /// The next whole frame, `None` if more bytes are needed. An error is final.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        if self.buffer.len() < HEADER_LEN {
            return Ok(None);
        }
        let kind_byte = self.buffer[0];
        let len = u32::from_le_bytes([
            self.buffer[1],
            self.buffer[2],
            self.buffer[3],
            self.buffer[4],
        ]) as usize;
        let Some(kind) = FrameKind::from_u8(kind_byte) else {
            return Err(self.fail(FrameError::UnknownKind(kind_byte)));
        };
        if len > self.max {
            return Err(self.fail(FrameError::TooLarge { len, max: self.max }));
        }
        if self.buffer.len() < HEADER_LEN + len {
            self.buffer.reserve(HEADER_LEN + len - self.buffer.len());
            return Ok(None);
        }
        self.buffer.advance(HEADER_LEN);
        let payload = self.buffer.split_to(len).freeze();
        Ok(Some(Frame { kind, payload }))
    }

    /// The stream ended: fine between frames, an error inside one.
    pub fn finish(&self) -> Result<(), FrameError> {
        match (&self.failed, self.buffer.len()) {
            (Some(error), _) => Err(error.clone()),
            (None, 0) => Ok(()),
            (None, left) => Err(FrameError::Truncated(left)),
        }
    }

    /// Takes the bytes received after the last frame returned (a stream that switches
    /// to raw data after a header frame).
    pub fn take_buffered(&mut self) -> BytesMut {
        std::mem::take(&mut self.buffer)
    }

    /// Bytes received and not yet returned in a frame.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    fn fail(&mut self, error: FrameError) -> FrameError {
        self.buffer = BytesMut::new();
        self.failed = Some(error.clone());
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(decoder: &mut FrameDecoder) -> Result<Vec<Frame>, FrameError> {
        let mut frames = Vec::new();
        while let Some(frame) = decoder.next_frame()? {
            frames.push(frame);
        }
        Ok(frames)
    }

    #[test]
    fn frames_split_anywhere_come_out_whole() {
        let mut wire = BytesMut::new();
        encode_frame(FrameKind::Hello, b"hello", &mut wire);
        encode_frame(FrameKind::Envelopes, &[], &mut wire);
        encode_frame(FrameKind::Object, &[7; 300], &mut wire);
        for split in 0..wire.len() {
            let mut decoder = FrameDecoder::default();
            decoder.feed(&wire[..split]);
            let mut frames = decode_all(&mut decoder).unwrap();
            decoder.feed(&wire[split..]);
            frames.extend(decode_all(&mut decoder).unwrap());
            assert_eq!(frames.len(), 3, "split at {split}");
            assert_eq!(frames[0].payload, Bytes::from_static(b"hello"));
            assert_eq!(frames[1].kind, FrameKind::Envelopes);
            assert_eq!(frames[2].payload.len(), 300);
            decoder.finish().unwrap();
        }
    }

    #[test]
    fn bad_kinds_oversized_and_truncated_frames_are_errors() {
        let mut decoder = FrameDecoder::default();
        decoder.feed(&[99, 0, 0, 0, 0]);
        assert_eq!(decoder.next_frame(), Err(FrameError::UnknownKind(99)));
        assert_eq!(
            decoder.next_frame(),
            Err(FrameError::UnknownKind(99)),
            "final"
        );

        let mut decoder = FrameDecoder::new(16);
        decoder.feed(&[1, 17, 0, 0, 0]);
        assert_eq!(
            decoder.next_frame(),
            Err(FrameError::TooLarge { len: 17, max: 16 })
        );
        assert_eq!(decoder.buffered(), 0, "nothing kept after an error");

        let mut decoder = FrameDecoder::default();
        decoder.feed(&[1, 4, 0, 0, 0, 1, 2]);
        assert_eq!(decoder.next_frame(), Ok(None));
        assert_eq!(decoder.finish(), Err(FrameError::Truncated(7)));
    }

    #[test]
    fn a_huge_declared_length_allocates_nothing() {
        let mut decoder = FrameDecoder::default();
        decoder.feed(&[5, 0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(
            decoder.next_frame(),
            Err(FrameError::TooLarge { .. })
        ));
        let mut decoder = FrameDecoder::default();
        decoder.feed(&[5, 0, 0, 0, 4]); // 64 MiB: allowed, announced, not sent
        assert_eq!(decoder.next_frame(), Ok(None));
        assert!(decoder.buffered() <= HEADER_LEN);
    }

    proptest! {
        /// Random bytes in random pieces: never a panic; frames or a clean error.
        #[test]
        fn random_bytes_never_panic(
            data in proptest::collection::vec(any::<u8>(), 0..2048),
            cuts in proptest::collection::vec(0usize..2048, 0..8),
        ) {
            let mut decoder = FrameDecoder::new(1024);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort();
            let mut start = 0;
            for cut in cuts.into_iter().chain([data.len()]) {
                decoder.feed(&data[start..cut]);
                start = cut;
                while let Ok(Some(frame)) = decoder.next_frame() {
                    prop_assert!(frame.payload.len() <= 1024);
                }
            }
            let _ = decoder.finish();
        }

        /// Whatever was encoded decodes back, in order.
        #[test]
        fn encoded_frames_round_trip(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..10),
        ) {
            let mut wire = BytesMut::new();
            for p in &payloads {
                encode_frame(FrameKind::Envelopes, p, &mut wire);
            }
            let mut decoder = FrameDecoder::default();
            decoder.feed(&wire);
            let frames = decode_all(&mut decoder).unwrap();
            prop_assert_eq!(frames.len(), payloads.len());
            for (frame, p) in frames.iter().zip(&payloads) {
                prop_assert_eq!(&frame.payload[..], &p[..]);
            }
            prop_assert!(decoder.finish().is_ok());
        }
    }
}
