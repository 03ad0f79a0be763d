//! Resource limits applied while decoding untrusted payloads.

use crate::DecodeError;

/// Bounds on what a decoder accepts, so a hostile payload cannot exhaust memory or stack.
///
/// Every length read from a payload is checked against the bytes actually present and
/// against these limits **before** anything is allocated. The decoded tree costs at most
/// a small constant per entry on top of the payload's own bytes, so
/// `max_payload_size` and `max_entries` together bound the memory a decode can use.
///
/// JSON payloads are parsed by `serde_json`, whose own recursion limit (128) bounds their
/// nesting; their strings are bounded by `max_payload_size`.
///
/// The defaults suit device management traffic; raise `max_payload_size` and
/// `max_value_len` for firmware images pushed as one opaque Write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest payload accepted, in bytes. Default 4 MiB.
    pub max_payload_size: usize,
    /// Deepest nesting of containers (CBOR arrays/maps, JSON, TLV). Default 16.
    pub max_depth: usize,
    /// Most values (records, TLV entries, links) in one payload. Default 16,384.
    pub max_entries: usize,
    /// Longest single string or byte string, in bytes. Default 4 MiB.
    pub max_value_len: usize,
}

impl Limits {
    /// The default limits (see the field docs).
    pub const DEFAULT: Limits =
        Limits { max_payload_size: 4 << 20, max_depth: 16, max_entries: 16_384, max_value_len: 4 << 20 };

    /// Refuses payloads larger than `max_payload_size`.
    pub(crate) fn check_payload(&self, len: usize) -> Result<(), DecodeError> {
        check("payload size", self.max_payload_size, len)
    }

    /// Refuses more than `max_entries` entries.
    pub(crate) fn check_entries(&self, count: usize) -> Result<(), DecodeError> {
        check("entry count", self.max_entries, count)
    }

    /// Refuses nesting deeper than `max_depth`.
    pub(crate) fn check_depth(&self, depth: usize) -> Result<(), DecodeError> {
        check("nesting depth", self.max_depth, depth)
    }

    /// Refuses a string or byte string longer than `max_value_len`.
    pub(crate) fn check_value_len(&self, len: usize) -> Result<(), DecodeError> {
        check("value length", self.max_value_len, len)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

fn check(what: &'static str, max: usize, found: usize) -> Result<(), DecodeError> {
    if found > max { Err(DecodeError::LimitExceeded { what, max, found }) } else { Ok(()) }
}
