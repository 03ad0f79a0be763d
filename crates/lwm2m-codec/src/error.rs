//! Errors of the encoders and decoders.
//!
//! Every variant names the rule that was broken and where: a byte offset into the payload
//! for binary formats, the LwM2M path of the entry for value-level problems.

use alloc::string::String;

use lwm2m_core::error::{NodeError, PathError, ValueError};
use lwm2m_core::{ContentFormat, DataType, Path};

/// Why a payload could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The content format is not one this decoder (or this entry point) handles.
    #[error("content format {format} is not supported by this operation")]
    UnsupportedFormat {
        /// The format asked for.
        format: ContentFormat,
    },
    /// A configured [`Limits`](crate::Limits) value was exceeded.
    #[error("{what} limit exceeded: {found} > {max}")]
    LimitExceeded {
        /// Which limit (`"payload size"`, `"entry count"`, `"nesting depth"`, `"value length"`).
        what: &'static str,
        /// The configured maximum.
        max: usize,
        /// What the payload asked for (at least).
        found: usize,
    },
    /// The payload ends in the middle of an item.
    #[error("{format}: truncated at byte {offset}: {needed} more byte(s) needed, {available} available")]
    Truncated {
        /// The format being decoded.
        format: ContentFormat,
        /// Byte offset where the item that does not fit starts.
        offset: usize,
        /// Bytes the item needs.
        needed: usize,
        /// Bytes left in the payload (or enclosing TLV).
        available: usize,
    },
    /// A declared length does not fit the payload or the platform.
    #[error("{format}: length {length} at byte {offset} overflows the {available} byte(s) left")]
    LengthOverflow {
        /// The format being decoded.
        format: ContentFormat,
        /// Byte offset of the length field.
        offset: usize,
        /// The declared length.
        length: u64,
        /// Bytes actually left.
        available: usize,
    },
    /// Structurally invalid data at a byte offset (bad TLV type, bad CBOR header, bad link syntax...).
    #[error("{format}: invalid data at byte {offset}: {reason}")]
    Malformed {
        /// The format being decoded.
        format: ContentFormat,
        /// Byte offset of the offending item.
        offset: usize,
        /// The rule broken.
        reason: &'static str,
    },
    /// JSON syntax or structure error (as reported by the JSON parser).
    #[error("{format}: invalid JSON at line {line} column {column}: {message}")]
    Json {
        /// The format being decoded.
        format: ContentFormat,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// Bytes remain after the last item.
    #[error("{format}: {count} unexpected trailing byte(s) at byte {offset}")]
    TrailingBytes {
        /// The format being decoded.
        format: ContentFormat,
        /// Offset of the first extra byte.
        offset: usize,
        /// How many bytes are left over.
        count: usize,
    },
    /// Text that must be UTF-8 is not.
    #[error("{format}: invalid UTF-8 at byte {offset}")]
    InvalidUtf8 {
        /// The format being decoded.
        format: ContentFormat,
        /// Offset of the string (or of the first invalid byte for plain text).
        offset: usize,
    },
    /// A label/key this format does not define (or a SenML must-understand label ending in `_`).
    #[error("{format}: unknown label {label:?}")]
    UnknownLabel {
        /// The format being decoded.
        format: ContentFormat,
        /// The label as text (integer labels are printed in decimal).
        label: String,
    },
    /// A label appears twice in one record.
    #[error("{format}: label {label:?} repeated in one record")]
    DuplicateLabel {
        /// The format being decoded.
        format: ContentFormat,
        /// The repeated label.
        label: String,
    },
    /// A label carries a value of the wrong kind (e.g. `"vs": 3`).
    #[error("{format}: label {label:?} must be {expected}")]
    InvalidLabelValue {
        /// The format being decoded.
        format: ContentFormat,
        /// The label.
        label: String,
        /// What it must be.
        expected: &'static str,
    },
    /// A record name (base name + name) is not an LwM2M path.
    #[error("{format}: record name {name:?} is not an LwM2M path: {source}")]
    InvalidPath {
        /// The format being decoded.
        format: ContentFormat,
        /// The resolved name.
        name: String,
        /// Why it is not a path.
        source: PathError,
    },
    /// A record or entry has no value where one is required.
    #[error("{format}: entry {path} carries no value")]
    MissingValue {
        /// The format being decoded.
        format: ContentFormat,
        /// The entry.
        path: Path,
    },
    /// The wire type of a value does not match the resource's data type in the model.
    #[error("{path}: expected a {expected} value, found {found}")]
    TypeMismatch {
        /// The entry.
        path: Path,
        /// The model's data type.
        expected: DataType,
        /// What the payload carried.
        found: &'static str,
    },
    /// A value is of the right kind but invalid (out of range, wrong width, bad text form).
    #[error("{path}: {source}")]
    InvalidValue {
        /// The entry.
        path: Path,
        /// Why.
        source: ValueError,
    },
    /// A value has a byte width its data type does not allow (TLV integers: 1/2/4/8...).
    #[error("{path}: a {data_type} value cannot be {width} byte(s) long")]
    InvalidWidth {
        /// The entry.
        path: Path,
        /// The data type.
        data_type: DataType,
        /// The width found.
        width: usize,
    },
    /// Base64 text (plain-text opaque, SenML `vd`, LwM2M JSON `sv` of opaque) is invalid.
    #[error("{path}: invalid base64")]
    InvalidBase64 {
        /// The entry.
        path: Path,
    },
    /// An entry's identifiers do not match the requested path (TLV/LwM2M CBOR).
    #[error("entry {entry} is outside the requested path {requested}")]
    OutsideRequestedPath {
        /// The requested path.
        requested: Path,
        /// The entry's path.
        entry: Path,
    },
    /// The same path appears twice.
    #[error("duplicate entry for {path}")]
    Duplicate {
        /// The repeated path.
        path: Path,
    },
    /// The requested path is not at a level this format can decode into.
    #[error("{format} cannot carry a {level} node ({path})")]
    WrongLevel {
        /// The format being decoded.
        format: ContentFormat,
        /// The requested path.
        path: Path,
        /// The level name.
        level: &'static str,
    },
    /// The decoded entries do not form a valid node at the requested path.
    #[error(transparent)]
    Node(#[from] NodeError),
}

/// Why a node could not be encoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The content format is not one this encoder (or this entry point) produces.
    #[error("content format {format} is not supported by this operation")]
    UnsupportedFormat {
        /// The format asked for.
        format: ContentFormat,
    },
    /// The format carries one value only and the node has several (or none).
    #[error("{format} carries exactly one value; {path} holds a {level} node")]
    NotSingleValue {
        /// The format.
        format: ContentFormat,
        /// The node's path.
        path: Path,
        /// Its level.
        level: &'static str,
    },
    /// The value's data type cannot be written in this format (e.g. a String as opaque).
    #[error("{format} cannot carry the {data_type} value of {path}")]
    UnsupportedType {
        /// The format.
        format: ContentFormat,
        /// The entry.
        path: Path,
        /// Its type.
        data_type: DataType,
    },
    /// NaN or an infinity, which the format cannot represent.
    #[error("{path}: {format} cannot carry a non-finite float")]
    NonFinite {
        /// The format.
        format: ContentFormat,
        /// The entry.
        path: Path,
    },
    /// A value is too long for the format's length field (TLV: 16 MiB).
    #[error("{path}: {length} bytes is too long for {format}")]
    TooLong {
        /// The format.
        format: ContentFormat,
        /// The entry.
        path: Path,
        /// The length.
        length: usize,
    },
    /// The path given does not match the node (level or id).
    #[error(transparent)]
    Node(#[from] NodeError),
}
