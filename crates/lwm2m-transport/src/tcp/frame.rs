//! The length-prefixed message format of RFC 8323 §3.2.
//!
//! ```text
//!   0   1   2   3   4   5   6   7
//! +---------------+---------------+
//! |      Len      |      TKL      |  then 0, 1, 2 or 4 bytes of extended length (Len 13, 14, 15)
//! +---------------+---------------+
//! |             Code              |  then TKL bytes of token, options, 0xFF, payload
//! ```
//!
//! `Len` counts the options, the payload marker and the payload (not the token): 0..=12 as is,
//! 13 adds one byte (`len - 13`), 14 two bytes (`len - 269`) and 15 four bytes (`len - 65805`).
//! There is no version, type or message id: TCP is reliable and ordered.
//!
//! The options and the payload use exactly the encoding of RFC 7252 §3.1, so this module reuses
//! the option codec of [`crate::wire`]: a frame body is validated by [`Message::new_checked`]
//! behind a synthetic 4-byte UDP header, so both transports accept and reject the same option
//! encodings.
//!
//! [`Frame`] is the owned form (parse / emit / [`Frame::encoded_len`]); [`FrameDecoder`] cuts
//! frames out of a byte stream that may arrive split across reads or several per read, and
//! checks the announced length against the receive limit *before* buffering the frame.

use bytes::{Buf, Bytes, BytesMut};

use crate::wire::{Code, Message, MessageRepr, MessageType, Options, Token, WireError};

/// The shortest frame: the Len/TKL byte and the code.
pub const MIN_FRAME_LEN: usize = 2;
/// The largest token (RFC 8323 keeps RFC 7252's 0..=8; TKL 9..=15 is reserved).
pub const MAX_TOKEN_LEN: usize = 8;
/// The largest Len a frame can carry: 65805 + 2^32 - 1 (Len nibble 15).
pub const MAX_BODY_LEN: u64 = 65805 + u32::MAX as u64;
/// The Max-Message-Size every peer can assume before the CSM arrives, and the value when a CSM
/// carries none: 1152 bytes (RFC 8323 §5.3.1, the base value; checked against the text of
/// draft-ietf-core-coap-tcp-tls, which became RFC 8323).
pub const BASE_MAX_MESSAGE_SIZE: usize = 1152;

/// A malformed or unacceptable frame. Each variant names the rule of RFC 8323 §3.2 broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The TKL nibble is 9..=15 (reserved).
    #[error("token length {tkl} is reserved (0..=8 allowed)")]
    BadTokenLength {
        /// The TKL found.
        tkl: u8,
    },
    /// The frame announces more bytes than the receive limit (the Max-Message-Size this side
    /// advertised). Detected from the header alone, before the frame is buffered.
    #[error("frame of {len} bytes exceeds the Max-Message-Size of {max} bytes")]
    TooLarge {
        /// The announced frame length (header, token, options and payload).
        len: u64,
        /// The limit.
        max: usize,
    },
    /// The buffer ends before the announced frame does ([`Frame::parse`] only; the decoder
    /// waits for more bytes instead).
    #[error("frame is truncated: {have} of {need} bytes")]
    Truncated {
        /// Bytes the header announces.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// The options or payload marker are malformed (the RFC 7252 §3.1 rules).
    #[error("malformed options or payload: {0}")]
    Body(WireError),
    /// A body (options and payload) longer than the 4-byte extended length can express, given
    /// to [`Frame::to_bytes`].
    #[error("frame body of {len} bytes is longer than the {max} bytes RFC 8323 can frame")]
    BodyTooLong {
        /// The body length.
        len: u64,
        /// The largest body a frame can carry.
        max: u64,
    },
    /// An option value too long to encode, given to [`Frame::to_bytes`].
    #[error("the frame cannot be encoded: {0}")]
    Encode(WireError),
}

/// The owned, validated form of one CoAP-over-TCP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The code: a method, a response code, 0.00 (Empty, ignored) or 7.xx (signaling).
    pub code: Code,
    /// The token.
    pub token: Token,
    /// The options, sorted by number. For signaling codes the numbers mean what §5 says for
    /// that code (e.g. 2 is Max-Message-Size in a CSM and Custody in a Ping).
    pub options: Options,
    /// The payload (may be empty).
    pub payload: Bytes,
}

/// The header of a frame: how long the header and the whole frame are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Bytes of the Len/TKL byte, extended length and code.
    pub header_len: usize,
    /// The token length.
    pub token_len: usize,
    /// The Len field: bytes of options, payload marker and payload.
    pub body_len: u64,
}

impl FrameHeader {
    /// The whole frame length.
    pub fn frame_len(&self) -> u64 {
        self.header_len as u64 + self.token_len as u64 + self.body_len
    }

    /// Reads the header at the start of `buf`: `Ok(None)` when more bytes are needed to know it.
    pub fn peek(buf: &[u8]) -> Result<Option<FrameHeader>, FrameError> {
        let Some(&first) = buf.first() else { return Ok(None) };
        let (len_nibble, tkl) = (first >> 4, first & 0x0f);
        if usize::from(tkl) > MAX_TOKEN_LEN {
            return Err(FrameError::BadTokenLength { tkl });
        }
        let ext = match len_nibble {
            0..=12 => 0,
            13 => 1,
            14 => 2,
            _ => 4,
        };
        let Some(ext_bytes) = buf.get(1..1 + ext) else { return Ok(None) };
        if buf.len() < 2 + ext {
            return Ok(None);
        }
        let body_len = match len_nibble {
            0..=12 => u64::from(len_nibble),
            13 => u64::from(ext_bytes[0]) + 13,
            14 => u64::from(u16::from_be_bytes([ext_bytes[0], ext_bytes[1]])) + 269,
            _ => u64::from(u32::from_be_bytes([ext_bytes[0], ext_bytes[1], ext_bytes[2], ext_bytes[3]])) + 65805,
        };
        Ok(Some(FrameHeader { header_len: 2 + ext, token_len: usize::from(tkl), body_len }))
    }
}

/// Length nibble and extended-length bytes for a body length.
fn encode_len(body_len: usize) -> Result<(u8, [u8; 4], usize), FrameError> {
    Ok(match body_len {
        0..=12 => (body_len as u8, [0; 4], 0),
        13..=268 => (13, [(body_len - 13) as u8, 0, 0, 0], 1),
        269..=65804 => {
            let v = ((body_len - 269) as u16).to_be_bytes();
            (14, [v[0], v[1], 0, 0], 2)
        }
        _ => {
            let v = u32::try_from(body_len - 65805)
                .map_err(|_| FrameError::BodyTooLong { len: body_len as u64, max: MAX_BODY_LEN })?;
            (15, v.to_be_bytes(), 4)
        }
    })
}

impl Frame {
    /// A frame with no options or payload.
    pub fn new(code: Code, token: Token) -> Frame {
        Frame { code, token, options: Options::new(), payload: Bytes::new() }
    }

    /// The length of options, payload marker and payload (the Len field).
    fn body_len(&self) -> usize {
        // The UDP encoding is header (4) + token + options + marker/payload.
        self.as_udp().encoded_len() - crate::wire::HEADER_LEN - self.token.len()
    }

    fn as_udp(&self) -> MessageRepr {
        MessageRepr {
            message_type: MessageType::NonConfirmable,
            code: Code::GET,
            message_id: 0,
            token: self.token,
            options: self.options.clone(),
            payload: self.payload.clone(),
        }
    }

    /// The number of bytes [`to_bytes`](Self::to_bytes) produces.
    pub fn encoded_len(&self) -> usize {
        let body = self.body_len();
        let ext = match body {
            0..=12 => 0,
            13..=268 => 1,
            269..=65804 => 2,
            _ => 4,
        };
        2 + ext + self.token.len() + body
    }

    /// Encodes the frame.
    pub fn to_bytes(&self) -> Result<Bytes, FrameError> {
        let udp = self.as_udp();
        let udp_len = udp.encoded_len();
        let body_len = udp_len - crate::wire::HEADER_LEN - self.token.len();
        let (nibble, ext, ext_len) = encode_len(body_len)?;
        let header_len = 2 + ext_len;
        // Emit the RFC 7252 form so its token starts where ours does, then write our header
        // over (or just before) its 4-byte header: no second copy of the body.
        let token_at = header_len.max(crate::wire::HEADER_LEN);
        let mut out = vec![0u8; token_at + udp_len - crate::wire::HEADER_LEN];
        let udp_at = token_at - crate::wire::HEADER_LEN;
        udp.emit(&mut out[udp_at..]).map_err(FrameError::Encode)?;
        let start = token_at - header_len;
        out[start] = (nibble << 4) | self.token.len() as u8;
        out[start + 1..start + 1 + ext_len].copy_from_slice(&ext[..ext_len]);
        out[start + 1 + ext_len] = self.code.0;
        let mut bytes = Bytes::from(out);
        bytes.advance(start);
        Ok(bytes)
    }

    /// Parses exactly one frame from the start of `buf`, returning it and the bytes it used.
    /// Frames longer than `max_len` are refused from the header alone.
    pub fn parse(buf: &[u8], max_len: usize) -> Result<(Frame, usize), FrameError> {
        let header = FrameHeader::peek(buf)?.ok_or(FrameError::Truncated { need: MIN_FRAME_LEN, have: buf.len() })?;
        let len = header.frame_len();
        if len > max_len as u64 {
            return Err(FrameError::TooLarge { len, max: max_len });
        }
        let len = len as usize;
        let bytes = buf.get(..len).ok_or(FrameError::Truncated { need: len, have: buf.len() })?;
        Ok((Frame::parse_complete(bytes, header)?, len))
    }

    /// Parses a buffer that holds exactly one frame with this header.
    fn parse_complete(bytes: &[u8], header: FrameHeader) -> Result<Frame, FrameError> {
        let code = Code(bytes[header.header_len - 1]);
        // A synthetic RFC 7252 header (version 1, NON, TKL, code GET, mid 0) in front of token,
        // options and payload lets the UDP codec validate them. The code is a request code so
        // the Empty-message rule of RFC 7252 §4.1 (which does not hold over TCP) is not applied.
        let rest = &bytes[header.header_len..];
        let mut udp = Vec::with_capacity(crate::wire::HEADER_LEN + rest.len());
        udp.extend_from_slice(&[0x50 | header.token_len as u8, Code::GET.0, 0, 0]);
        udp.extend_from_slice(rest);
        let msg = Message::new_checked(&udp).map_err(FrameError::Body)?;
        let repr = MessageRepr::parse(&msg);
        Ok(Frame { code, token: repr.token, options: repr.options, payload: repr.payload })
    }
}

/// Cuts frames out of a byte stream.
///
/// Feed it whatever the socket returned ([`FrameDecoder::push`]) and take complete frames with
/// [`FrameDecoder::next_frame`]. A frame whose header announces more than the limit is refused
/// as soon as its header is complete, so a peer cannot make the decoder buffer more than one
/// read beyond the limit. After an error the stream is unusable (the connection must be aborted).
#[derive(Debug)]
pub struct FrameDecoder {
    buf: BytesMut,
    max_len: usize,
    failed: bool,
}

impl FrameDecoder {
    /// A decoder refusing frames longer than `max_len` bytes.
    pub fn new(max_len: usize) -> FrameDecoder {
        FrameDecoder { buf: BytesMut::new(), max_len, failed: false }
    }

    /// The receive limit.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if !self.failed {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if self.failed {
            return Ok(None);
        }
        let result = self.next_inner();
        if result.is_err() {
            self.failed = true;
            self.buf = BytesMut::new();
        }
        result
    }

    fn next_inner(&mut self) -> Result<Option<Frame>, FrameError> {
        let Some(header) = FrameHeader::peek(&self.buf)? else { return Ok(None) };
        let len = header.frame_len();
        if len > self.max_len as u64 {
            return Err(FrameError::TooLarge { len, max: self.max_len });
        }
        let len = len as usize;
        if self.buf.len() < len {
            self.buf.reserve(len - self.buf.len());
            return Ok(None);
        }
        let bytes = self.buf.split_to(len);
        Frame::parse_complete(&bytes, header).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::OptionNumber;
    use proptest::prelude::*;

    fn frame(payload_len: usize) -> Frame {
        let mut f = Frame::new(Code::CONTENT, Token::new(&[1, 2]).unwrap());
        f.options.set_uint(OptionNumber::CONTENT_FORMAT, 50);
        f.payload = Bytes::from(vec![0x5a; payload_len]);
        f
    }

    #[test]
    fn rfc_8323_figure_examples() {
        // Empty body, no token: Len 0, TKL 0, code.
        let f = Frame::new(Code::GET, Token::EMPTY);
        assert_eq!(&f.to_bytes().unwrap()[..], &[0x00, 0x01]);
        // A CSM with Max-Message-Size 1152 (option 2, 2 bytes): Len 3.
        let mut csm = Frame::new(Code(0xE1), Token::EMPTY);
        csm.options.set_uint(OptionNumber(2), 1152);
        assert_eq!(&csm.to_bytes().unwrap()[..], &[0x30, 0xE1, 0x22, 0x04, 0x80]);
    }

    #[test]
    fn every_length_form_round_trips() {
        // body = 2 (option) + 1 (marker) + payload
        for (payload, nibble, header) in [
            (0, 2, 2),
            (9, 12, 2),
            (10, 13, 3),
            (265, 13, 3),
            (266, 14, 4),
            (65801, 14, 4),
            (65802, 15, 6),
            (70000, 15, 6),
        ] {
            let f = frame(payload);
            let bytes = f.to_bytes().unwrap();
            assert_eq!(bytes.len(), f.encoded_len(), "payload {payload}");
            assert_eq!(bytes[0] >> 4, nibble, "payload {payload}");
            assert_eq!(bytes[header - 1], Code::CONTENT.0);
            let (back, used) = Frame::parse(&bytes, usize::MAX).unwrap();
            assert_eq!(used, bytes.len());
            assert_eq!(back, f);
        }
    }

    #[test]
    fn rejects_bad_frames() {
        assert_eq!(FrameHeader::peek(&[0x09, 1]).unwrap_err(), FrameError::BadTokenLength { tkl: 9 });
        assert_eq!(FrameHeader::peek(&[0xd0]).unwrap(), None, "extended length still missing");
        assert_eq!(Frame::parse(&[0x10, 0x01], 100).unwrap_err(), FrameError::Truncated { need: 3, have: 2 });
        assert_eq!(
            Frame::parse(&[0x10, 0x45, 0xff], 100).unwrap_err(),
            FrameError::Body(WireError::EmptyPayloadAfterMarker)
        );
        assert!(matches!(
            Frame::parse(&[0x10, 0x45, 0xf1], 100),
            Err(FrameError::Body(WireError::ReservedDelta { .. }))
        ));
        // Len 15 with a 4 GiB body is refused from the 6 header bytes.
        assert_eq!(
            Frame::parse(&[0xf0, 0xff, 0xff, 0xff, 0xff, 0x45], 1152).unwrap_err(),
            FrameError::TooLarge { len: 6 + 0xffff_ffff + 65805, max: 1152 }
        );
    }

    #[test]
    fn decoder_refuses_oversize_before_buffering_and_stays_failed() {
        let mut d = FrameDecoder::new(100);
        d.push(&[0xe0, 0x10, 0x00, 0x45]);
        assert!(matches!(d.next_frame(), Err(FrameError::TooLarge { max: 100, .. })));
        assert_eq!(d.buffered(), 0);
        d.push(&[0x00, 0x01]);
        assert_eq!(d.next_frame(), Ok(None));
    }

    #[test]
    fn empty_code_may_carry_content_over_tcp() {
        let mut f = Frame::new(Code::EMPTY, Token::new(&[7]).unwrap());
        f.payload = Bytes::from_static(b"x");
        let bytes = f.to_bytes().unwrap();
        assert_eq!(Frame::parse(&bytes, 100).unwrap().0, f);
    }

    fn arb_frame() -> impl Strategy<Value = Frame> {
        (
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..=8),
            proptest::collection::vec((0u16..1500, proptest::collection::vec(any::<u8>(), 0..40)), 0..5),
            prop_oneof![0usize..20, 250usize..300, 65790usize..65820],
        )
            .prop_map(|(code, token, opts, payload_len)| {
                let mut options = Options::new();
                for (n, v) in opts {
                    options.push(OptionNumber(n), v);
                }
                Frame {
                    code: Code(code),
                    token: Token::new(&token).unwrap(),
                    options,
                    payload: Bytes::from(vec![3; payload_len]),
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn round_trip(f in arb_frame()) {
            let bytes = f.to_bytes().unwrap();
            prop_assert_eq!(bytes.len(), f.encoded_len());
            let (back, used) = Frame::parse(&bytes, usize::MAX).unwrap();
            prop_assert_eq!(used, bytes.len());
            prop_assert_eq!(back, f);
        }

        /// Any split of a valid stream into reads yields the same frames.
        #[test]
        fn any_fragmentation_yields_the_same_frames(
            frames in proptest::collection::vec(arb_frame(), 1..4),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let stream: Vec<u8> = frames.iter().flat_map(|f| f.to_bytes().unwrap().to_vec()).collect();
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
            points.push(0);
            points.push(stream.len());
            points.sort_unstable();
            let mut d = FrameDecoder::new(usize::MAX);
            let mut got = Vec::new();
            for w in points.windows(2) {
                d.push(&stream[w[0]..w[1]]);
                while let Some(f) = d.next_frame().unwrap() {
                    got.push(f);
                }
            }
            prop_assert_eq!(got, frames);
            prop_assert_eq!(d.buffered(), 0);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let mut d = FrameDecoder::new(1152);
            d.push(&bytes);
            while let Ok(Some(_)) = d.next_frame() {}
        }
    }
}
