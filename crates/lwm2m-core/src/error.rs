//! Errors of the resource model.
//!
//! Each parser has its own error type naming what was wrong with which input; [`Error`]
//! gathers them for callers that handle all of them alike. All are `#[non_exhaustive]`:
//! new protocol rules may add variants without a breaking change.

use alloc::string::String;

use crate::value::DataType;

/// Any error of this crate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An identifier was invalid.
    #[error(transparent)]
    Id(#[from] IdError),
    /// A path was invalid.
    #[error(transparent)]
    Path(#[from] PathError),
    /// A value could not be parsed or converted.
    #[error(transparent)]
    Value(#[from] ValueError),
    /// A node tree was inconsistent.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// Notification attributes were invalid.
    #[error(transparent)]
    Attribute(#[from] AttributeError),
    /// A binding mode was invalid.
    #[error(transparent)]
    Binding(#[from] BindingError),
    /// A version string was invalid.
    #[error(transparent)]
    Version(#[from] VersionError),
    /// A code or content format was invalid.
    #[error(transparent)]
    Code(#[from] CodeError),
}

/// An invalid LwM2M identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The value 65535 is reserved (`MAX_ID`) at every level of the model.
    #[error("{kind} 65535 is reserved (MAX_ID) and cannot be used")]
    Reserved {
        /// Which identifier ("object id", "resource id", ...).
        kind: &'static str,
    },
    /// The value does not fit in 16 bits.
    #[error("{kind} {value} is out of range (identifiers are 0..=65534)")]
    OutOfRange {
        /// Which identifier.
        kind: &'static str,
        /// The value given.
        value: u64,
    },
    /// The text was empty.
    #[error("{kind} is empty")]
    Empty {
        /// Which identifier.
        kind: &'static str,
    },
    /// The text was not a plain decimal number.
    #[error("{kind} {input:?} is not a decimal number")]
    NotDecimal {
        /// Which identifier.
        kind: &'static str,
        /// The text given.
        input: String,
    },
    /// A Short Server ID outside `1..=65534`.
    #[error("short server id {value} is invalid (allowed: 1..=65534)")]
    InvalidShortServerId {
        /// The value given.
        value: u16,
    },
}

/// An invalid LwM2M path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path does not start with `/`.
    #[error("path {input:?} does not start with '/'")]
    MissingLeadingSlash {
        /// The path given.
        input: String,
    },
    /// The path has more than four segments.
    #[error("path {input:?} has more than 4 segments (object/instance/resource/resource instance)")]
    TooDeep {
        /// The path given.
        input: String,
    },
    /// A segment is empty (`//`).
    #[error("path {input:?} has an empty segment")]
    EmptySegment {
        /// The path given.
        input: String,
    },
    /// A segment is not a valid identifier.
    #[error("path {input:?}: {reason}")]
    InvalidSegment {
        /// The path given.
        input: String,
        /// What was wrong with the segment.
        reason: IdError,
    },
    /// An alternate root path is not of the form `/name[/name...]`.
    #[error("alternate root path {input:?} is invalid: {reason}")]
    InvalidAlternateRoot {
        /// The root given.
        input: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A request path does not begin with the expected alternate root.
    #[error("path {input:?} is not under the alternate root {root:?}")]
    NotUnderRoot {
        /// The path given.
        input: String,
        /// The alternate root expected.
        root: String,
    },
    /// The path does not have the depth the operation needs.
    #[error("path {path} is not a {expected} path")]
    WrongLevel {
        /// The path given.
        path: String,
        /// The level expected ("resource", "object instance", ...).
        expected: &'static str,
    },
}

/// A value that could not be parsed or converted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// Text could not be parsed as the given data type.
    #[error("{input:?} is not a valid {data_type} value: {reason}")]
    Parse {
        /// The target type.
        data_type: DataType,
        /// The text given.
        input: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A numeric conversion would lose the value.
    #[error("{value} is out of range for {data_type}")]
    OutOfRange {
        /// The target type.
        data_type: DataType,
        /// The value, rendered as text.
        value: String,
    },
    /// The value's type cannot be converted into the requested type.
    #[error("cannot convert a {from} value to {to}")]
    Incompatible {
        /// The source type.
        from: DataType,
        /// The target type.
        to: DataType,
    },
    /// The type `none` (executable resources) carries no value.
    #[error("data type none carries no value")]
    NoValue,
    /// A float was NaN or infinite where a finite number is required.
    #[error("{what} must be a finite number")]
    NotFinite {
        /// What the number was for.
        what: &'static str,
    },
}

/// An inconsistent node tree or flat entry list.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// An entry's path is not at or below the requested path.
    #[error("entry {entry} is outside the requested path {requested}")]
    OutsideRequestedPath {
        /// The requested path.
        requested: String,
        /// The entry's path.
        entry: String,
    },
    /// The same path appears twice.
    #[error("duplicate entry for {path}")]
    Duplicate {
        /// The duplicated path.
        path: String,
    },
    /// A path is too shallow to carry a value (values live on resources and resource instances).
    #[error("path {path} cannot carry a value (values belong to resources or resource instances)")]
    NoValueAtLevel {
        /// The path.
        path: String,
    },
    /// A resource appears both as a single value and with resource instances.
    #[error("resource {path} appears both as a single value and with resource instances")]
    MixedResource {
        /// The resource path.
        path: String,
    },
    /// The entries describe more than one node where one was required.
    #[error("entries under {requested} do not form a single node")]
    NotSingleNode {
        /// The requested path.
        requested: String,
    },
    /// A node kind does not match the expected one.
    #[error("expected {expected} node, found {found}")]
    UnexpectedKind {
        /// The kind expected.
        expected: &'static str,
        /// The kind found.
        found: &'static str,
    },
}

/// Invalid notification attributes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AttributeError {
    /// The attribute name is not a known notification attribute.
    #[error("unknown attribute {name:?}")]
    Unknown {
        /// The name given.
        name: String,
    },
    /// The attribute's value could not be parsed.
    #[error("attribute {name}={value:?} is invalid: {reason}")]
    InvalidValue {
        /// The attribute.
        name: &'static str,
        /// The value given.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The same attribute appears twice in one query.
    #[error("attribute {name} is given more than once")]
    Duplicate {
        /// The attribute.
        name: &'static str,
    },
    /// The attribute is read-only and cannot be written (e.g. `dim`, `ssid`).
    #[error("attribute {name} is read-only and cannot be set with Write-Attributes")]
    ReadOnly {
        /// The attribute.
        name: &'static str,
    },
    /// `lt` must be smaller than `gt`.
    #[error("lt ({lt}) must be smaller than gt ({gt})")]
    LtNotBelowGt {
        /// Less-than threshold.
        lt: f64,
        /// Greater-than threshold.
        gt: f64,
    },
    /// `lt + 2*st` must be smaller than `gt`.
    #[error("lt + 2*st ({lt} + 2*{st}) must be smaller than gt ({gt})")]
    StepTooLarge {
        /// Less-than threshold.
        lt: f64,
        /// Step.
        st: f64,
        /// Greater-than threshold.
        gt: f64,
    },
    /// `epmin` must be smaller than `epmax`.
    #[error("epmin ({epmin}) must be smaller than epmax ({epmax})")]
    EpminNotBelowEpmax {
        /// Minimum evaluation period.
        epmin: u32,
        /// Maximum evaluation period.
        epmax: u32,
    },
}

/// An invalid binding mode string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BindingError {
    /// The binding string was empty.
    #[error("binding mode is empty")]
    Empty,
    /// A letter is not a known binding.
    #[error("binding {input:?} contains unknown transport {letter:?} (known: U T S N M H, and Q)")]
    UnknownLetter {
        /// The binding given.
        input: String,
        /// The offending character.
        letter: char,
    },
    /// A letter appears twice.
    #[error("binding {input:?} repeats {letter:?}")]
    Repeated {
        /// The binding given.
        input: String,
        /// The repeated character.
        letter: char,
    },
    /// `Q` inside `b` is a 1.0 form that 1.1+ forbids.
    #[error("binding {input:?} contains Q, which LwM2M {version} carries as a separate Q parameter")]
    QueueInBinding {
        /// The binding given.
        input: String,
        /// The enabler version of the peer.
        version: crate::version::LwM2mVersion,
    },
    /// The combination is not one of the 1.0 binding modes (U, UQ, S, SQ, US, UQS).
    #[error("binding {input:?} is not a LwM2M 1.0 binding mode (U, UQ, S, SQ, US, UQS)")]
    NotA10Mode {
        /// The binding given.
        input: String,
    },
    /// The transport does not exist in the given enabler version.
    #[error("binding {input:?} uses transport {letter:?}, which LwM2M {version} does not define")]
    NotInVersion {
        /// The binding given.
        input: String,
        /// The offending transport letter.
        letter: char,
        /// The enabler version.
        version: crate::version::LwM2mVersion,
    },
}

/// An invalid version string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VersionError {
    /// The text is not `major.minor`.
    #[error("version {input:?} is not of the form major.minor")]
    Malformed {
        /// The text given.
        input: String,
    },
    /// A well-formed enabler version this SDK does not implement.
    #[error("LwM2M version {input:?} is not supported (supported: 1.0, 1.1, 1.2)")]
    Unsupported {
        /// The text given.
        input: String,
    },
}

/// An invalid response code or content format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    /// The CoAP code is not one LwM2M uses as a response.
    #[error("CoAP code {class}.{detail:02} is not an LwM2M response code")]
    NotAResponseCode {
        /// Code class (0..=7).
        class: u8,
        /// Code detail (0..=31).
        detail: u8,
    },
    /// The text is not a content format number or known name.
    #[error("unknown content format {input:?} (use a number or one of: {known})")]
    UnknownContentFormat {
        /// The text given.
        input: String,
        /// The known names.
        known: &'static str,
    },
    /// The text is not a known operation name.
    #[error("unknown operation {input:?}")]
    UnknownOperation {
        /// The text given.
        input: String,
    },
    /// A DDF operations string other than `R`, `W`, `RW`, `E` or empty.
    #[error("operations {input:?} is not one of R, W, RW, E or empty")]
    InvalidOperations {
        /// The text given.
        input: String,
    },
}
