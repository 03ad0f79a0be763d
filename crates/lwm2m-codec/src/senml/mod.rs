//! SenML (RFC 8428) in JSON (`application/senml+json`, 110) and CBOR
//! (`application/senml+cbor`, 112), and the LwM2M rules on top of it.
//!
//! Two layers:
//! - [`Record`]: the generic RFC 8428 record with every label of the base registry
//!   (`bn bt bu bv bs bver n u v vs vb vd s t ut`) plus LwM2M's `vlo`, borrowed from the
//!   payload where possible; [`decode_json`]/[`encode_json`] and
//!   [`decode_cbor`]/[`encode_cbor`] convert packs byte-exactly in both directions.
//! - The LwM2M layer (used by [`crate::decode`] and friends): the record name is the base
//!   name followed by the name and must be an LwM2M path (`/3/0/9`); the time is base time
//!   plus time; `v` is typed through the model; `vd` is base64url **without** padding in JSON and a byte
//!   string in CBOR; `vlo` keeps its text label in CBOR.
//!
//! Labels ending in `_` are "must understand" (RFC 8428 §4.4) and refused; other unknown
//! labels are ignored, as the RFC requires.
//!
//! Encoding (LwM2M layer): records of one node share a base name: the path of its object
//! instance (or object, for object-level nodes) with a trailing `/` (`"bn":"/3/0/"`,
//! `"n":"7/0"`); composite payloads give every record its full path in `n`. Timestamped
//! groups put the time in `bt` on their first record. A resolved time of 0 (no time) means
//! "now" and decodes as no timestamp.

pub(crate) mod cbor;
pub(crate) mod json;
pub(crate) mod lwm2m;

use alloc::borrow::Cow;

pub use cbor::{decode as decode_cbor, encode as encode_cbor};
pub use json::{decode as decode_json, encode as encode_json};

/// A SenML number: integers stay exact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// A signed integer.
    Int(i64),
    /// An unsigned integer above `i64::MAX`.
    UInt(u64),
    /// A float.
    Float(f64),
}

impl Number {
    /// The number as f64 (large integers round).
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(v) => v as f64,
            Number::UInt(v) => v as f64,
            Number::Float(v) => v,
        }
    }

    /// A time or number as the integer it is when integral and in i64 range, else as float.
    pub fn from_f64(v: f64) -> Number {
        if v.is_finite() && v % 1.0 == 0.0 && v.abs() < 9.0e18 { Number::Int(v as i64) } else { Number::Float(v) }
    }

    /// `self + other`, exact for integers that do not overflow.
    pub(crate) fn add(self, other: Number) -> Number {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => {
                a.checked_add(b).map_or(Number::Float(a as f64 + b as f64), Number::Int)
            }
            (a, b) => Number::Float(a.as_f64() + b.as_f64()),
        }
    }
}

/// The value of a record (at most one per record).
#[derive(Debug, Clone, PartialEq)]
pub enum RecordValue<'a> {
    /// `v`
    Number(Number),
    /// `vs`
    String(Cow<'a, str>),
    /// `vb`
    Bool(bool),
    /// `vd` (decoded bytes)
    Data(Cow<'a, [u8]>),
    /// `vlo` (LwM2M object link text, `"3:0"`)
    ObjectLink(Cow<'a, str>),
}

/// One SenML record. Strings borrow from the payload where the encoding allows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Record<'a> {
    /// `bn` base name.
    pub base_name: Option<Cow<'a, str>>,
    /// `bt` base time.
    pub base_time: Option<Number>,
    /// `bu` base unit.
    pub base_unit: Option<Cow<'a, str>>,
    /// `bv` base value.
    pub base_value: Option<Number>,
    /// `bs` base sum.
    pub base_sum: Option<Number>,
    /// `bver` base version.
    pub base_version: Option<u64>,
    /// `n` name.
    pub name: Option<Cow<'a, str>>,
    /// `u` unit.
    pub unit: Option<Cow<'a, str>>,
    /// The value (`v`, `vs`, `vb`, `vd` or `vlo`).
    pub value: Option<RecordValue<'a>>,
    /// `s` sum.
    pub sum: Option<Number>,
    /// `t` time.
    pub time: Option<Number>,
    /// `ut` update time.
    pub update_time: Option<Number>,
}

impl Record<'_> {
    /// A copy that owns all its strings.
    pub fn into_owned(self) -> Record<'static> {
        let own = |c: Option<Cow<'_, str>>| c.map(|c| Cow::Owned(c.into_owned()));
        Record {
            base_name: own(self.base_name),
            base_time: self.base_time,
            base_unit: own(self.base_unit),
            base_value: self.base_value,
            base_sum: self.base_sum,
            base_version: self.base_version,
            name: own(self.name),
            unit: own(self.unit),
            value: self.value.map(|v| match v {
                RecordValue::Number(n) => RecordValue::Number(n),
                RecordValue::String(s) => RecordValue::String(Cow::Owned(s.into_owned())),
                RecordValue::Bool(b) => RecordValue::Bool(b),
                RecordValue::Data(d) => RecordValue::Data(Cow::Owned(d.into_owned())),
                RecordValue::ObjectLink(s) => RecordValue::ObjectLink(Cow::Owned(s.into_owned())),
            }),
            sum: self.sum,
            time: self.time,
            update_time: self.update_time,
        }
    }
}
