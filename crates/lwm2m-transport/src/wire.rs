//! The CoAP message format of RFC 7252 §3, with the codes of RFC 8132 and the options of
//! RFC 7641 and RFC 7959.
//!
//! Two forms, in the style of smoltcp's `wire` module:
//!
//! - [`Message`] is a zero-copy, validated view over a datagram. [`Message::new_checked`] walks
//!   the whole buffer once (header, token, every option, payload marker) so the accessors can
//!   never fail afterwards.
//! - [`MessageRepr`] is the owned form with [`MessageRepr::parse`], [`MessageRepr::emit`] and
//!   [`MessageRepr::encoded_len`]. Options live in [`Options`], always sorted by number, so the
//!   delta encoding is produced correctly whatever order they were added in.
//!
//! What counts as malformed follows RFC 7252 §3 and §4.1: version other than 1, a token length
//! of 9..15, an option delta or length nibble of 15 outside the payload marker, an option number
//! past 65535, a truncated option, a payload marker followed by nothing, or an Empty message
//! (code 0.00) carrying a token, options or a payload. Each is a [`WireError`] naming the rule.
//! Unknown *critical* options are not a format error: [`Options::first_unrecognized_critical`]
//! reports them so the endpoint can answer 4.02 Bad Option (requests) or Reset (responses).

use core::fmt;

use bytes::Bytes;
use lwm2m_core::{ContentFormat, ResponseCode};
use smallvec::SmallVec;

/// The CoAP version this module speaks (RFC 7252 §3: "Implementations of this specification MUST set this field to 1").
pub const VERSION: u8 = 1;
/// The byte separating options from the payload.
pub const PAYLOAD_MARKER: u8 = 0xFF;
/// The fixed header length.
pub const HEADER_LEN: usize = 4;
/// The longest token (RFC 7252 §3: lengths 9-15 are reserved).
pub const MAX_TOKEN_LEN: usize = 8;

/// A malformed CoAP message. Each variant names the rule of RFC 7252 §3 that was broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Fewer than the 4 header bytes.
    #[error("message of {len} bytes is shorter than the 4-byte CoAP header")]
    TooShort {
        /// Bytes received.
        len: usize,
    },
    /// The version field is not 1.
    #[error("CoAP version {version} is not supported (must be 1)")]
    BadVersion {
        /// The version found.
        version: u8,
    },
    /// The token length nibble is 9..15 (reserved).
    #[error("token length {tkl} is reserved (0..=8 allowed)")]
    BadTokenLength {
        /// The token length found.
        tkl: u8,
    },
    /// The message ends inside the token.
    #[error("message ends inside the {tkl}-byte token")]
    TruncatedToken {
        /// The token length announced.
        tkl: u8,
    },
    /// An option delta nibble of 15 that is not the payload marker.
    #[error("option delta nibble 15 is reserved (at byte {offset})")]
    ReservedDelta {
        /// Offset of the option header.
        offset: usize,
    },
    /// An option length nibble of 15.
    #[error("option length nibble 15 is reserved (at byte {offset})")]
    ReservedLength {
        /// Offset of the option header.
        offset: usize,
    },
    /// The message ends inside an option header or value.
    #[error("message ends inside an option (at byte {offset})")]
    TruncatedOption {
        /// Offset of the option header.
        offset: usize,
    },
    /// The accumulated option number passes 65535.
    #[error("option number {number} is past 65535 (at byte {offset})")]
    OptionNumberOverflow {
        /// The number reached.
        number: u32,
        /// Offset of the option header.
        offset: usize,
    },
    /// A payload marker with no payload after it (RFC 7252 §3: a message format error).
    #[error("payload marker 0xFF is followed by an empty payload")]
    EmptyPayloadAfterMarker,
    /// An Empty message (code 0.00) with a token, options or a payload (RFC 7252 §4.1).
    #[error("an Empty message (code 0.00) must be exactly 4 bytes, got {len}")]
    NonEmptyEmptyMessage {
        /// Bytes received.
        len: usize,
    },
    /// The output buffer is too small for [`MessageRepr::emit`].
    #[error("output buffer of {have} bytes is too small for a {need}-byte message")]
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// A token longer than 8 bytes was given to [`Token::new`].
    #[error("token of {len} bytes is longer than 8")]
    TokenTooLong {
        /// The length given.
        len: usize,
    },
    /// An option value longer than 65535 + 269 bytes.
    #[error("option {number} value of {len} bytes cannot be encoded")]
    OptionTooLong {
        /// The option number.
        number: u16,
        /// The value length.
        len: usize,
    },
    /// A Block1/Block2 option value is invalid.
    #[error("block option value {value:#x} is invalid: {reason}")]
    BadBlockOption {
        /// The raw value.
        value: u32,
        /// Why.
        reason: &'static str,
    },
}

/// The message type (RFC 7252 §3, 2-bit field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// CON: retransmitted until acknowledged.
    Confirmable,
    /// NON: sent once.
    NonConfirmable,
    /// ACK: acknowledges a CON, may piggyback a response.
    Acknowledgement,
    /// RST: the receiver could not process a message.
    Reset,
}

impl MessageType {
    /// The 2-bit wire value.
    pub const fn to_bits(self) -> u8 {
        match self {
            MessageType::Confirmable => 0,
            MessageType::NonConfirmable => 1,
            MessageType::Acknowledgement => 2,
            MessageType::Reset => 3,
        }
    }

    /// The type for a 2-bit wire value (only the low two bits are used).
    pub const fn from_bits(bits: u8) -> MessageType {
        match bits & 3 {
            0 => MessageType::Confirmable,
            1 => MessageType::NonConfirmable,
            2 => MessageType::Acknowledgement,
            _ => MessageType::Reset,
        }
    }

    /// The short name used in logs: `CON`, `NON`, `ACK`, `RST`.
    pub const fn abbreviation(self) -> &'static str {
        match self {
            MessageType::Confirmable => "CON",
            MessageType::NonConfirmable => "NON",
            MessageType::Acknowledgement => "ACK",
            MessageType::Reset => "RST",
        }
    }
}

/// A CoAP code byte (`class << 5 | detail`): the empty code, a method, or a response code.
///
/// Unlike [`ResponseCode`] this covers every byte, so a response code LwM2M does not use
/// (e.g. 2.03, 4.29) still parses.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(pub u8);

impl Code {
    /// 0.00, the code of Empty messages (ping, empty ACK, RST).
    pub const EMPTY: Code = Code(0x00);
    /// 0.01 GET.
    pub const GET: Code = Code(0x01);
    /// 0.02 POST.
    pub const POST: Code = Code(0x02);
    /// 0.03 PUT.
    pub const PUT: Code = Code(0x03);
    /// 0.04 DELETE.
    pub const DELETE: Code = Code(0x04);
    /// 0.05 FETCH (RFC 8132).
    pub const FETCH: Code = Code(0x05);
    /// 0.06 PATCH (RFC 8132).
    pub const PATCH: Code = Code(0x06);
    /// 0.07 iPATCH (RFC 8132).
    pub const IPATCH: Code = Code(0x07);
    /// 2.01 Created.
    pub const CREATED: Code = Code(0x41);
    /// 2.02 Deleted.
    pub const DELETED: Code = Code(0x42);
    /// 2.03 Valid.
    pub const VALID: Code = Code(0x43);
    /// 2.04 Changed.
    pub const CHANGED: Code = Code(0x44);
    /// 2.05 Content.
    pub const CONTENT: Code = Code(0x45);
    /// 2.31 Continue (RFC 7959).
    pub const CONTINUE: Code = Code(0x5F);
    /// 4.00 Bad Request.
    pub const BAD_REQUEST: Code = Code(0x80);
    /// 4.02 Bad Option.
    pub const BAD_OPTION: Code = Code(0x82);
    /// 4.03 Forbidden.
    pub const FORBIDDEN: Code = Code(0x83);
    /// 4.04 Not Found.
    pub const NOT_FOUND: Code = Code(0x84);
    /// 4.05 Method Not Allowed.
    pub const METHOD_NOT_ALLOWED: Code = Code(0x85);
    /// 4.08 Request Entity Incomplete (RFC 7959).
    pub const REQUEST_ENTITY_INCOMPLETE: Code = Code(0x88);
    /// 4.13 Request Entity Too Large.
    pub const REQUEST_ENTITY_TOO_LARGE: Code = Code(0x8D);
    /// 5.00 Internal Server Error.
    pub const INTERNAL_SERVER_ERROR: Code = Code(0xA0);
    /// 5.01 Not Implemented.
    pub const NOT_IMPLEMENTED: Code = Code(0xA1);
    /// 5.03 Service Unavailable.
    pub const SERVICE_UNAVAILABLE: Code = Code(0xA3);

    /// A code from class and detail (`Code::new(2, 5)` is 2.05). Bits above the fields are dropped.
    pub const fn new(class: u8, detail: u8) -> Code {
        Code(((class & 7) << 5) | (detail & 0x1f))
    }

    /// The class (0..=7).
    pub const fn class(self) -> u8 {
        self.0 >> 5
    }

    /// The detail (0..=31).
    pub const fn detail(self) -> u8 {
        self.0 & 0x1f
    }

    /// True for 0.00.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// True for a request method (class 0, detail 1..=31).
    pub const fn is_request(self) -> bool {
        self.class() == 0 && self.detail() != 0
    }

    /// True for a response code (classes 2, 4 and 5).
    pub const fn is_response(self) -> bool {
        matches!(self.class(), 2 | 4 | 5)
    }

    /// True for 2.xx.
    pub const fn is_success(self) -> bool {
        self.class() == 2
    }

    /// The LwM2M response code, when LwM2M defines this one.
    pub fn response_code(self) -> Option<ResponseCode> {
        ResponseCode::from_byte(self.0).ok()
    }

    /// The method name for request codes (`GET`, `iPATCH`, ...).
    pub const fn method_name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x01 => "GET",
            0x02 => "POST",
            0x03 => "PUT",
            0x04 => "DELETE",
            0x05 => "FETCH",
            0x06 => "PATCH",
            0x07 => "iPATCH",
            _ => return None,
        })
    }
}

impl From<ResponseCode> for Code {
    fn from(code: ResponseCode) -> Code {
        Code(code.to_byte())
    }
}

impl fmt::Display for Code {
    /// `2.05`, or the method name for requests (`GET`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.method_name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{}.{:02}", self.class(), self.detail()),
        }
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code({}.{:02})", self.class(), self.detail())
    }
}

/// A token of 0..=8 bytes, stored inline (no allocation).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Token {
    len: u8,
    bytes: [u8; MAX_TOKEN_LEN],
}

impl Token {
    /// The empty token.
    pub const EMPTY: Token = Token { len: 0, bytes: [0; MAX_TOKEN_LEN] };

    /// A token from bytes; more than 8 bytes is [`WireError::TokenTooLong`].
    pub fn new(value: &[u8]) -> Result<Token, WireError> {
        if value.len() > MAX_TOKEN_LEN {
            return Err(WireError::TokenTooLong { len: value.len() });
        }
        let mut bytes = [0; MAX_TOKEN_LEN];
        bytes[..value.len()].copy_from_slice(value);
        Ok(Token { len: value.len() as u8, bytes })
    }

    /// The token bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True for the zero-length token.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// A CoAP option number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OptionNumber(pub u16);

/// The format of an option value (RFC 7252 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionFormat {
    /// Zero-length value.
    Empty,
    /// Opaque bytes.
    Opaque,
    /// Unsigned integer, big-endian, no leading zeros.
    Uint,
    /// UTF-8 text.
    String,
}

impl OptionNumber {
    /// If-Match (1).
    pub const IF_MATCH: OptionNumber = OptionNumber(1);
    /// Uri-Host (3).
    pub const URI_HOST: OptionNumber = OptionNumber(3);
    /// ETag (4).
    pub const ETAG: OptionNumber = OptionNumber(4);
    /// If-None-Match (5).
    pub const IF_NONE_MATCH: OptionNumber = OptionNumber(5);
    /// Observe (6, RFC 7641).
    pub const OBSERVE: OptionNumber = OptionNumber(6);
    /// Uri-Port (7).
    pub const URI_PORT: OptionNumber = OptionNumber(7);
    /// Location-Path (8).
    pub const LOCATION_PATH: OptionNumber = OptionNumber(8);
    /// Uri-Path (11).
    pub const URI_PATH: OptionNumber = OptionNumber(11);
    /// Content-Format (12).
    pub const CONTENT_FORMAT: OptionNumber = OptionNumber(12);
    /// Max-Age (14).
    pub const MAX_AGE: OptionNumber = OptionNumber(14);
    /// Uri-Query (15).
    pub const URI_QUERY: OptionNumber = OptionNumber(15);
    /// Accept (17).
    pub const ACCEPT: OptionNumber = OptionNumber(17);
    /// Location-Query (20).
    pub const LOCATION_QUERY: OptionNumber = OptionNumber(20);
    /// Block2 (23, RFC 7959).
    pub const BLOCK2: OptionNumber = OptionNumber(23);
    /// Block1 (27, RFC 7959).
    pub const BLOCK1: OptionNumber = OptionNumber(27);
    /// Size2 (28, RFC 7959).
    pub const SIZE2: OptionNumber = OptionNumber(28);
    /// Proxy-Uri (35).
    pub const PROXY_URI: OptionNumber = OptionNumber(35);
    /// Proxy-Scheme (39).
    pub const PROXY_SCHEME: OptionNumber = OptionNumber(39);
    /// Size1 (60).
    pub const SIZE1: OptionNumber = OptionNumber(60);
    /// No-Response (258, RFC 7967), elective; accepted and ignored.
    pub const NO_RESPONSE: OptionNumber = OptionNumber(258);

    /// Critical options have an odd number (RFC 7252 §5.4.6).
    pub const fn is_critical(self) -> bool {
        self.0 & 1 == 1
    }

    /// Unsafe-to-forward options have bit 1 set.
    pub const fn is_unsafe(self) -> bool {
        self.0 & 2 == 2
    }

    /// For the options this module knows: the value format and allowed length range.
    /// Proxy-Uri and Proxy-Scheme are listed but a server without proxy function treats them
    /// as unrecognized (they are critical, so requests carrying them get 4.02... or 5.05; see
    /// [`Options::first_unrecognized_critical`]).
    pub const fn format(self) -> Option<(OptionFormat, usize, usize)> {
        use OptionFormat::{Empty, Opaque, String, Uint};
        Some(match self.0 {
            1 => (Opaque, 0, 8),
            3 => (String, 1, 255),
            4 => (Opaque, 1, 8),
            5 => (Empty, 0, 0),
            6 => (Uint, 0, 3),
            7 => (Uint, 0, 2),
            8 => (String, 0, 255),
            11 => (String, 0, 255),
            12 => (Uint, 0, 2),
            14 => (Uint, 0, 4),
            15 => (String, 0, 255),
            17 => (Uint, 0, 2),
            20 => (String, 0, 255),
            23 | 27 => (Uint, 0, 3),
            28 | 60 => (Uint, 0, 4),
            258 => (Uint, 0, 1),
            _ => return None,
        })
    }

    /// True when the option may appear more than once (RFC 7252 Table 4).
    pub const fn is_repeatable(self) -> bool {
        matches!(self.0, 1 | 4 | 8 | 11 | 15 | 20)
    }

    /// The option's name, when known.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "If-Match",
            3 => "Uri-Host",
            4 => "ETag",
            5 => "If-None-Match",
            6 => "Observe",
            7 => "Uri-Port",
            8 => "Location-Path",
            11 => "Uri-Path",
            12 => "Content-Format",
            14 => "Max-Age",
            15 => "Uri-Query",
            17 => "Accept",
            20 => "Location-Query",
            23 => "Block2",
            27 => "Block1",
            28 => "Size2",
            35 => "Proxy-Uri",
            39 => "Proxy-Scheme",
            60 => "Size1",
            258 => "No-Response",
            _ => return None,
        })
    }
}

impl fmt::Debug for OptionNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}({})", self.0),
            None => write!(f, "Option({})", self.0),
        }
    }
}

impl fmt::Display for OptionNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.0),
        }
    }
}

/// Decodes a CoAP uint option value (big-endian, any length up to 4; leading zeros tolerated).
pub fn decode_uint(value: &[u8]) -> Option<u32> {
    if value.len() > 4 {
        return None;
    }
    Some(value.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

/// Encodes a uint option value in the fewest bytes (zero is the empty value).
pub fn encode_uint(value: u32) -> ([u8; 4], usize) {
    let bytes = value.to_be_bytes();
    let skip = (value.leading_zeros() / 8) as usize;
    let mut out = [0; 4];
    let len = 4 - skip;
    out[..len].copy_from_slice(&bytes[skip..]);
    (out, len)
}

/// A validated, zero-copy view over one CoAP message.
#[derive(Clone, Copy)]
pub struct Message<'a> {
    buf: &'a [u8],
    options_start: usize,
    payload_start: usize,
}

impl<'a> Message<'a> {
    /// Validates `buf` as a complete CoAP message (see the module docs for the rules).
    pub fn new_checked(buf: &'a [u8]) -> Result<Message<'a>, WireError> {
        let header = buf.get(..HEADER_LEN).ok_or(WireError::TooShort { len: buf.len() })?;
        let version = header[0] >> 6;
        if version != VERSION {
            return Err(WireError::BadVersion { version });
        }
        let tkl = header[0] & 0x0f;
        if usize::from(tkl) > MAX_TOKEN_LEN {
            return Err(WireError::BadTokenLength { tkl });
        }
        if header[1] == 0 && buf.len() != HEADER_LEN {
            return Err(WireError::NonEmptyEmptyMessage { len: buf.len() });
        }
        let options_start = HEADER_LEN + usize::from(tkl);
        if buf.len() < options_start {
            return Err(WireError::TruncatedToken { tkl });
        }
        let mut iter = OptionIter { buf, pos: options_start, number: 0 };
        for opt in &mut iter {
            opt?;
        }
        let payload_start = iter.pos;
        if payload_start < buf.len() {
            // The iterator stops at the marker; the payload follows it.
            if payload_start + 1 == buf.len() {
                return Err(WireError::EmptyPayloadAfterMarker);
            }
            return Ok(Message { buf, options_start, payload_start: payload_start + 1 });
        }
        Ok(Message { buf, options_start, payload_start: buf.len() })
    }

    /// Reads only the type and message id of a (possibly malformed) message, so a format error
    /// in a CON can still be answered with RST. `None` when the 4 header bytes are missing or the
    /// version is wrong (such datagrams are silently ignored, RFC 7252 §3).
    pub fn peek_header(buf: &[u8]) -> Option<(MessageType, u16)> {
        let header = buf.get(..HEADER_LEN)?;
        if header[0] >> 6 != VERSION {
            return None;
        }
        Some((MessageType::from_bits(header[0] >> 4), u16::from_be_bytes([header[2], header[3]])))
    }

    /// The message type.
    pub fn message_type(&self) -> MessageType {
        MessageType::from_bits(self.buf[0] >> 4)
    }

    /// The code.
    pub fn code(&self) -> Code {
        Code(self.buf[1])
    }

    /// The message id.
    pub fn message_id(&self) -> u16 {
        u16::from_be_bytes([self.buf[2], self.buf[3]])
    }

    /// The token bytes.
    pub fn token_bytes(&self) -> &'a [u8] {
        &self.buf[HEADER_LEN..self.options_start]
    }

    /// The token.
    pub fn token(&self) -> Token {
        // new_checked limited the length to 8.
        Token::new(self.token_bytes()).unwrap_or_default()
    }

    /// The options in wire order (ascending numbers).
    pub fn options(&self) -> impl Iterator<Item = (OptionNumber, &'a [u8])> + 'a {
        OptionIter { buf: self.buf, pos: self.options_start, number: 0 }.map_while(Result::ok)
    }

    /// The first value of an option.
    pub fn option(&self, number: OptionNumber) -> Option<&'a [u8]> {
        self.options().find(|(n, _)| *n == number).map(|(_, v)| v)
    }

    /// The payload (empty when there is none).
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.payload_start..]
    }

    /// The whole message.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }
}

impl fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("type", &self.message_type())
            .field("code", &self.code())
            .field("mid", &self.message_id())
            .field("token", &self.token())
            .field("payload_len", &self.payload().len())
            .finish()
    }
}

struct OptionIter<'a> {
    buf: &'a [u8],
    pos: usize,
    number: u32,
}

impl<'a> OptionIter<'a> {
    fn ext(&mut self, nibble: u8, start: usize) -> Result<u32, WireError> {
        match nibble {
            0..=12 => Ok(u32::from(nibble)),
            13 => {
                let b = *self.buf.get(self.pos).ok_or(WireError::TruncatedOption { offset: start })?;
                self.pos += 1;
                Ok(u32::from(b) + 13)
            }
            14 => {
                let b = self.buf.get(self.pos..self.pos + 2).ok_or(WireError::TruncatedOption { offset: start })?;
                self.pos += 2;
                Ok(u32::from(u16::from_be_bytes([b[0], b[1]])) + 269)
            }
            _ => Err(WireError::ReservedLength { offset: start }),
        }
    }
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = Result<(OptionNumber, &'a [u8]), WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.pos;
        let first = *self.buf.get(start)?;
        if first == PAYLOAD_MARKER {
            return None;
        }
        self.pos += 1;
        let (dn, ln) = (first >> 4, first & 0x0f);
        if dn == 15 {
            self.pos = self.buf.len();
            return Some(Err(WireError::ReservedDelta { offset: start }));
        }
        let result = (|| {
            let delta = self.ext(dn, start)?;
            if ln == 15 {
                return Err(WireError::ReservedLength { offset: start });
            }
            let len = self.ext(ln, start)? as usize;
            let number = self.number + delta;
            if number > u32::from(u16::MAX) {
                return Err(WireError::OptionNumberOverflow { number, offset: start });
            }
            let value = self.buf.get(self.pos..self.pos + len).ok_or(WireError::TruncatedOption { offset: start })?;
            self.pos += len;
            self.number = number;
            Ok((OptionNumber(number as u16), value))
        })();
        if result.is_err() {
            self.pos = self.buf.len();
        }
        Some(result)
    }
}

/// An option value. Values up to 16 bytes (nearly all of them: path segments, uints, ETags,
/// tokens of Observe and Block options) are stored inline without a heap allocation.
#[derive(Clone, PartialEq, Eq, Default, Hash)]
pub struct OptionValue(SmallVec<[u8; 16]>);

impl OptionValue {
    /// A value from bytes.
    pub fn new(bytes: &[u8]) -> OptionValue {
        OptionValue(SmallVec::from_slice(bytes))
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl core::ops::Deref for OptionValue {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for OptionValue {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for OptionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match core::str::from_utf8(&self.0) {
            Ok(s) if s.chars().all(|c| !c.is_control()) => write!(f, "{s:?}"),
            _ => {
                f.write_str("0x")?;
                self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

/// One option: number and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoapOption {
    /// The option number.
    pub number: OptionNumber,
    /// The raw value.
    pub value: OptionValue,
}

/// An ordered option list. Kept sorted by option number (stable for repeated options, so
/// Uri-Path segments keep their order). Up to 6 options are stored inline (no allocation).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    entries: SmallVec<[CoapOption; 6]>,
}

impl Options {
    /// No options.
    pub fn new() -> Options {
        Options { entries: SmallVec::new() }
    }

    /// All options in order.
    pub fn iter(&self) -> impl Iterator<Item = &CoapOption> {
        self.entries.iter()
    }

    /// Number of option instances.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds an option instance after any others of the same number.
    pub fn push(&mut self, number: OptionNumber, value: impl AsRef<[u8]>) {
        let at = self.entries.partition_point(|o| o.number <= number);
        self.entries.insert(at, CoapOption { number, value: OptionValue::new(value.as_ref()) });
    }

    /// Replaces every instance of `number` with one value.
    pub fn set(&mut self, number: OptionNumber, value: impl AsRef<[u8]>) {
        self.remove(number);
        self.push(number, value);
    }

    /// Replaces every instance of `number` with one uint value (minimal encoding).
    pub fn set_uint(&mut self, number: OptionNumber, value: u32) {
        let (bytes, len) = encode_uint(value);
        self.set(number, &bytes[..len]);
    }

    /// Removes every instance of `number`.
    pub fn remove(&mut self, number: OptionNumber) {
        self.entries.retain(|o| o.number != number);
    }

    /// The first value of `number`.
    pub fn get(&self, number: OptionNumber) -> Option<&[u8]> {
        self.entries.iter().find(|o| o.number == number).map(|o| o.value.as_slice())
    }

    /// Every value of `number`, in order.
    pub fn get_all(&self, number: OptionNumber) -> impl Iterator<Item = &[u8]> {
        self.entries.iter().filter(move |o| o.number == number).map(|o| o.value.as_slice())
    }

    /// True when `number` is present.
    pub fn contains(&self, number: OptionNumber) -> bool {
        self.get(number).is_some()
    }

    /// The first value of a uint option (`None` when absent or longer than 4 bytes).
    pub fn get_uint(&self, number: OptionNumber) -> Option<u32> {
        self.get(number).and_then(decode_uint)
    }

    /// The Uri-Path as `/a/b` (`/` when there is none). Segments are not percent-decoded.
    pub fn uri_path(&self) -> String {
        join_segments(self.get_all(OptionNumber::URI_PATH), '/', "/")
    }

    /// Sets Uri-Path from `/a/b` (empty segments dropped).
    pub fn set_uri_path(&mut self, path: &str) {
        self.remove(OptionNumber::URI_PATH);
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            self.push(OptionNumber::URI_PATH, seg.as_bytes());
        }
    }

    /// The Uri-Query options joined with `&`.
    pub fn uri_query(&self) -> String {
        join_segments(self.get_all(OptionNumber::URI_QUERY), '&', "")
    }

    /// The Location-Path as `/a/b` (empty when absent).
    pub fn location_path(&self) -> String {
        join_segments(self.get_all(OptionNumber::LOCATION_PATH), '/', "")
    }

    /// The Content-Format, when present.
    pub fn content_format(&self) -> Option<ContentFormat> {
        self.get_uint(OptionNumber::CONTENT_FORMAT).and_then(|v| u16::try_from(v).ok()).map(ContentFormat::from)
    }

    /// Sets Content-Format.
    pub fn set_content_format(&mut self, format: ContentFormat) {
        self.set_uint(OptionNumber::CONTENT_FORMAT, u32::from(format.number()));
    }

    /// The Accept option, when present.
    pub fn accept(&self) -> Option<ContentFormat> {
        self.get_uint(OptionNumber::ACCEPT).and_then(|v| u16::try_from(v).ok()).map(ContentFormat::from)
    }

    /// The Observe value, when present.
    pub fn observe(&self) -> Option<u32> {
        self.get_uint(OptionNumber::OBSERVE)
    }

    /// The Block1 option, when present and valid.
    pub fn block1(&self) -> Option<BlockOption> {
        self.get_uint(OptionNumber::BLOCK1).and_then(|v| BlockOption::decode(v).ok())
    }

    /// The Block2 option, when present and valid.
    pub fn block2(&self) -> Option<BlockOption> {
        self.get_uint(OptionNumber::BLOCK2).and_then(|v| BlockOption::decode(v).ok())
    }

    /// The first critical option this module does not understand, or a critical option whose
    /// value length is out of range (RFC 7252 §5.4.1 and §5.4.3). Proxy-Uri and Proxy-Scheme
    /// are reported too: this endpoint is not a proxy.
    pub fn first_unrecognized_critical(&self) -> Option<OptionNumber> {
        self.entries.iter().map(|o| (o.number, o.value.len())).find_map(|(n, len)| {
            if !n.is_critical() {
                return None;
            }
            match n.format() {
                Some((_, min, max)) if (min..=max).contains(&len) => None,
                _ => Some(n),
            }
        })
    }

    fn encoded_len(&self) -> usize {
        let mut prev = 0u16;
        let mut total = 0;
        for o in &self.entries {
            total += 1 + ext_len(u32::from(o.number.0 - prev)) + ext_len(o.value.len() as u32) + o.value.len();
            prev = o.number.0;
        }
        total
    }
}

impl<'a> IntoIterator for &'a Options {
    type Item = &'a CoapOption;
    type IntoIter = core::slice::Iter<'a, CoapOption>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

fn join_segments<'a>(segs: impl Iterator<Item = &'a [u8]>, sep: char, empty: &str) -> String {
    let mut out = String::new();
    for (i, s) in segs.enumerate() {
        if sep == '/' || i > 0 {
            out.push(sep);
        }
        out.push_str(&String::from_utf8_lossy(s));
    }
    if out.is_empty() {
        out.push_str(empty);
    }
    out
}

fn ext_len(v: u32) -> usize {
    match v {
        0..=12 => 0,
        13..=268 => 1,
        _ => 2,
    }
}

fn nibble(v: u32) -> u8 {
    match v {
        0..=12 => v as u8,
        13..=268 => 13,
        _ => 14,
    }
}

fn put_ext(out: &mut [u8], pos: &mut usize, v: u32) {
    match v {
        0..=12 => {}
        13..=268 => {
            out[*pos] = (v - 13) as u8;
            *pos += 1;
        }
        _ => {
            out[*pos..*pos + 2].copy_from_slice(&((v - 269) as u16).to_be_bytes());
            *pos += 2;
        }
    }
}

/// The owned, validated form of a CoAP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRepr {
    /// The message type.
    pub message_type: MessageType,
    /// The code.
    pub code: Code,
    /// The message id.
    pub message_id: u16,
    /// The token.
    pub token: Token,
    /// The options.
    pub options: Options,
    /// The payload (may be empty).
    pub payload: Bytes,
}

/// The largest option value [`MessageRepr::emit`] can encode (2-byte extended length).
pub const MAX_OPTION_VALUE_LEN: usize = 65535 + 269;

impl MessageRepr {
    /// An Empty message (ping, empty ACK, RST).
    pub fn empty(message_type: MessageType, message_id: u16) -> MessageRepr {
        MessageRepr {
            message_type,
            code: Code::EMPTY,
            message_id,
            token: Token::EMPTY,
            options: Options::new(),
            payload: Bytes::new(),
        }
    }

    /// The owned form of a validated view. The payload is copied.
    pub fn parse(msg: &Message<'_>) -> MessageRepr {
        MessageRepr::parse_with_payload(msg, Bytes::copy_from_slice(msg.payload()))
    }

    /// Like [`parse`](Self::parse) with the payload already copied by the caller (the engine
    /// copies payloads into pooled buffers).
    pub fn parse_with_payload(msg: &Message<'_>, payload: Bytes) -> MessageRepr {
        let mut options = Options::new();
        for (number, value) in msg.options() {
            // Wire order is already ascending, so appending keeps the list sorted.
            options.entries.push(CoapOption { number, value: OptionValue::new(value) });
        }
        MessageRepr {
            message_type: msg.message_type(),
            code: msg.code(),
            message_id: msg.message_id(),
            token: msg.token(),
            options,
            payload,
        }
    }

    /// Validates and parses a datagram.
    pub fn from_bytes(buf: &[u8]) -> Result<MessageRepr, WireError> {
        Message::new_checked(buf).map(|m| MessageRepr::parse(&m))
    }

    /// The number of bytes [`emit`](Self::emit) writes.
    pub fn encoded_len(&self) -> usize {
        let payload = if self.payload.is_empty() { 0 } else { 1 + self.payload.len() };
        HEADER_LEN + self.token.len() + self.options.encoded_len() + payload
    }

    /// Writes the message into `out`, returning the length written.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let need = self.encoded_len();
        if out.len() < need {
            return Err(WireError::BufferTooSmall { need, have: out.len() });
        }
        if let Some(o) = self.options.iter().find(|o| o.value.len() > MAX_OPTION_VALUE_LEN) {
            return Err(WireError::OptionTooLong { number: o.number.0, len: o.value.len() });
        }
        out[0] = (VERSION << 6) | (self.message_type.to_bits() << 4) | self.token.len() as u8;
        out[1] = self.code.0;
        out[2..4].copy_from_slice(&self.message_id.to_be_bytes());
        let mut pos = HEADER_LEN;
        out[pos..pos + self.token.len()].copy_from_slice(self.token.as_bytes());
        pos += self.token.len();
        let mut prev = 0u16;
        for o in &self.options {
            let delta = u32::from(o.number.0 - prev);
            let len = o.value.len() as u32;
            out[pos] = (nibble(delta) << 4) | nibble(len);
            pos += 1;
            put_ext(out, &mut pos, delta);
            put_ext(out, &mut pos, len);
            out[pos..pos + o.value.len()].copy_from_slice(&o.value);
            pos += o.value.len();
            prev = o.number.0;
        }
        if !self.payload.is_empty() {
            out[pos] = PAYLOAD_MARKER;
            pos += 1;
            out[pos..pos + self.payload.len()].copy_from_slice(&self.payload);
            pos += self.payload.len();
        }
        Ok(pos)
    }

    /// The encoded message in a new buffer.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut out = vec![0; self.encoded_len()];
        self.emit(&mut out)?;
        Ok(out)
    }
}

/// The value of a Block1 or Block2 option (RFC 7959 §2.2): block number, more flag and size exponent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockOption {
    /// The block number (0..2^20).
    pub num: u32,
    /// More blocks follow.
    pub more: bool,
    /// Size exponent: the block size is `2^(szx + 4)`, 0..=6 (7 is BERT, TCP only).
    pub szx: u8,
}

/// The largest block number a 3-byte option value can carry.
pub const MAX_BLOCK_NUM: u32 = (1 << 20) - 1;

impl BlockOption {
    /// A block option; `szx` above 6 or `num` past 2^20-1 is an error.
    pub fn new(num: u32, more: bool, szx: u8) -> Result<BlockOption, WireError> {
        let block = BlockOption { num, more, szx };
        if szx > 6 {
            return Err(WireError::BadBlockOption { value: block.raw(), reason: "SZX 7 (BERT) is reserved over UDP" });
        }
        if num > MAX_BLOCK_NUM {
            return Err(WireError::BadBlockOption { value: num, reason: "block number past 2^20-1" });
        }
        Ok(block)
    }

    fn raw(self) -> u32 {
        (self.num << 4) | (u32::from(self.more) << 3) | u32::from(self.szx & 7)
    }

    /// Decodes an option value (`NUM << 4 | M << 3 | SZX`).
    pub fn decode(value: u32) -> Result<BlockOption, WireError> {
        if value > 0xff_ffff {
            return Err(WireError::BadBlockOption { value, reason: "longer than 3 bytes" });
        }
        let szx = (value & 7) as u8;
        if szx == 7 {
            return Err(WireError::BadBlockOption { value, reason: "SZX 7 (BERT) is reserved over UDP" });
        }
        Ok(BlockOption { num: value >> 4, more: value & 8 != 0, szx })
    }

    /// The option value.
    pub fn encode(self) -> u32 {
        self.raw()
    }

    /// The block size in bytes.
    pub fn size(self) -> usize {
        size_of_szx(self.szx)
    }

    /// The byte offset of this block.
    pub fn offset(self) -> usize {
        self.num as usize * self.size()
    }
}

/// The block size for a size exponent (`16 << szx`).
pub fn size_of_szx(szx: u8) -> usize {
    16usize << szx.min(6)
}

/// The size exponent for a block size (16..=1024, power of two), else `None`.
pub fn szx_of_size(size: usize) -> Option<u8> {
    (0..=6u8).find(|s| size_of_szx(*s) == size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_rfc_example_get() {
        // CON GET, mid 0x7d34, no token, Uri-Path "temperature" (RFC 7252 Appendix A style).
        let mut bytes = vec![0x40, 0x01, 0x7d, 0x34, 0xbb];
        bytes.extend_from_slice(b"temperature");
        let m = Message::new_checked(&bytes).unwrap();
        assert_eq!(m.message_type(), MessageType::Confirmable);
        assert_eq!(m.code(), Code::GET);
        assert_eq!(m.message_id(), 0x7d34);
        assert_eq!(m.option(OptionNumber::URI_PATH), Some(&b"temperature"[..]));
        let repr = MessageRepr::parse(&m);
        assert_eq!(repr.to_bytes().unwrap(), bytes);
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(Message::new_checked(&[0x40, 1]).unwrap_err(), WireError::TooShort { len: 2 });
        assert_eq!(Message::new_checked(&[0x80, 1, 0, 0]).unwrap_err(), WireError::BadVersion { version: 2 });
        assert_eq!(Message::new_checked(&[0x49, 1, 0, 0]).unwrap_err(), WireError::BadTokenLength { tkl: 9 });
        assert_eq!(Message::new_checked(&[0x42, 1, 0, 0, 1]).unwrap_err(), WireError::TruncatedToken { tkl: 2 });
        assert_eq!(Message::new_checked(&[0x40, 1, 0, 0, 0xff]).unwrap_err(), WireError::EmptyPayloadAfterMarker);
        assert_eq!(
            Message::new_checked(&[0x40, 1, 0, 0, 0xf1, 0]).unwrap_err(),
            WireError::ReservedDelta { offset: 4 }
        );
        assert_eq!(Message::new_checked(&[0x40, 1, 0, 0, 0x1f]).unwrap_err(), WireError::ReservedLength { offset: 4 });
        assert_eq!(
            Message::new_checked(&[0x40, 1, 0, 0, 0x13, 1]).unwrap_err(),
            WireError::TruncatedOption { offset: 4 }
        );
        assert_eq!(Message::new_checked(&[0x40, 1, 0, 0, 0xd0]).unwrap_err(), WireError::TruncatedOption { offset: 4 });
        assert_eq!(
            Message::new_checked(&[0x40, 0, 0, 0, 0xff, 1]).unwrap_err(),
            WireError::NonEmptyEmptyMessage { len: 6 }
        );
        // delta 65535+... overflow: two options of delta 14-ext 65000 each.
        let overflow = [0x40, 1, 0, 0, 0xe0, 0xfd, 0xe8 - 13, 0xe0, 0xfd, 0xe8 - 13];
        assert!(matches!(Message::new_checked(&overflow), Err(WireError::OptionNumberOverflow { .. })));
    }

    #[test]
    fn extended_deltas_and_lengths_round_trip() {
        let mut options = Options::new();
        options.push(OptionNumber(2000), vec![7u8; 300]);
        options.push(OptionNumber::URI_PATH, b"a");
        options.push(OptionNumber(40), vec![1u8; 20]);
        options.push(OptionNumber::URI_PATH, b"b");
        let repr = MessageRepr {
            message_type: MessageType::NonConfirmable,
            code: Code::FETCH,
            message_id: 9,
            token: Token::new(&[1, 2, 3]).unwrap(),
            options,
            payload: Bytes::from_static(b"xyz"),
        };
        let bytes = repr.to_bytes().unwrap();
        assert_eq!(bytes.len(), repr.encoded_len());
        let back = MessageRepr::from_bytes(&bytes).unwrap();
        assert_eq!(back, repr);
        assert_eq!(back.options.uri_path(), "/a/b");
    }

    #[test]
    fn unknown_critical_is_reported_and_elective_ignored() {
        let mut o = Options::new();
        o.push(OptionNumber(2048), b"x");
        assert_eq!(o.first_unrecognized_critical(), None);
        o.push(OptionNumber(2049), b"x");
        assert_eq!(o.first_unrecognized_critical(), Some(OptionNumber(2049)));
        let mut o = Options::new();
        o.push(OptionNumber::URI_HOST, b"example");
        o.set_uint(OptionNumber::URI_PORT, 5683);
        assert_eq!(o.first_unrecognized_critical(), None);
        o.push(OptionNumber::URI_HOST, vec![]);
        assert_eq!(o.first_unrecognized_critical(), Some(OptionNumber::URI_HOST), "Uri-Host of length 0 is invalid");
    }

    #[test]
    fn block_option_codec() {
        let b = BlockOption::decode(0x1e).unwrap();
        assert_eq!((b.num, b.more, b.szx, b.size()), (1, true, 6, 1024));
        assert_eq!(b.encode(), 0x1e);
        assert!(BlockOption::decode(0x0f).is_err());
        assert!(BlockOption::decode(0x100_0000).is_err());
        assert!(BlockOption::new(1 << 20, false, 0).is_err());
        assert_eq!(szx_of_size(64), Some(2));
        assert_eq!(szx_of_size(100), None);
    }

    #[test]
    fn uint_codec_is_minimal() {
        assert_eq!(encode_uint(0).1, 0);
        assert_eq!(encode_uint(255), ([255, 0, 0, 0], 1));
        assert_eq!(encode_uint(256), ([1, 0, 0, 0], 2));
        assert_eq!(decode_uint(&[1, 0]), Some(256));
        assert_eq!(decode_uint(&[1, 0, 0, 0, 0]), None);
    }

    fn arb_repr() -> impl Strategy<Value = MessageRepr> {
        (
            0u8..4,
            any::<u8>(),
            any::<u16>(),
            proptest::collection::vec(any::<u8>(), 0..=8),
            proptest::collection::vec((0u16..1500, proptest::collection::vec(any::<u8>(), 0..300)), 0..6),
            proptest::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(t, code, mid, token, opts, payload)| {
                let mut options = Options::new();
                for (n, v) in opts {
                    options.push(OptionNumber(n), v);
                }
                let code = if code == 0 { Code(1) } else { Code(code) };
                MessageRepr {
                    message_type: MessageType::from_bits(t),
                    code,
                    message_id: mid,
                    token: Token::new(&token).unwrap(),
                    options,
                    payload: Bytes::from(payload),
                }
            })
    }

    proptest! {
        #[test]
        fn emit_parse_round_trip(repr in arb_repr()) {
            let bytes = repr.to_bytes().unwrap();
            prop_assert_eq!(bytes.len(), repr.encoded_len());
            prop_assert_eq!(MessageRepr::from_bytes(&bytes).unwrap(), repr);
        }

        #[test]
        fn block_option_round_trip(num in 0u32..=MAX_BLOCK_NUM, more in any::<bool>(), szx in 0u8..=6) {
            let b = BlockOption::new(num, more, szx).unwrap();
            prop_assert_eq!(BlockOption::decode(b.encode()).unwrap(), b);
            let mut o = Options::new();
            o.set_uint(OptionNumber::BLOCK2, b.encode());
            prop_assert_eq!(o.block2(), Some(b));
        }

        #[test]
        fn uint_round_trip(v in any::<u32>()) {
            let (bytes, len) = encode_uint(v);
            prop_assert_eq!(decode_uint(&bytes[..len]), Some(v));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(m) = Message::new_checked(&bytes) {
                let repr = MessageRepr::parse(&m);
                let again = repr.to_bytes().unwrap();
                prop_assert_eq!(MessageRepr::from_bytes(&again).unwrap(), repr);
            }
        }
    }
}
