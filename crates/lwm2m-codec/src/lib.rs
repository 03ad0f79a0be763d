//! LwM2M content formats: encoders and decoders between payload bytes and the
//! `lwm2m-core` node tree.
//!
//! Sits on `lwm2m-core` and under the transport and the roles
//! (`core -> codec -> transport -> client / server / bootstrap -> cli`). `no_std` + `alloc`
//! when the default `std` feature is disabled.
//!
//! # Design
//!
//! One entry-point pair handles every data format:
//!
//! - [`encode`]`(format, &path, &node)` writes the node that lives at `path`;
//! - [`decode`]`(format, &path, payload, &model, &limits)` reads a payload answered for (or
//!   sent to) `path` and returns the node at that path, typing values through the
//!   [`ModelRegistry`] where the format carries no types (TLV, plain text) and checking
//!   declared types where it does.
//!
//! Composite operations and time series work on flat entries: [`encode_composite`] /
//! [`decode_composite`] (Read-Composite responses, Write-Composite), [`encode_timestamped`]
//! / [`decode_timestamped`] (notifications carrying several timestamped values),
//! [`encode_timestamped_entries`] / [`decode_timestamped_entries`] (Send), and
//! [`encode_paths`] / [`decode_paths`] (the `n`-only Read-/Observe-Composite request body).
//! [`negotiate`] says which formats each LwM2M version must or should support and maps
//! refusals to 4.06 / 4.15; [`link`] handles CoRE Link Format payloads (registration,
//! Discover, Bootstrap-Discover).
//!
//! Per-format modules hold the details and the encoding choices: [`text`], [`opaque`],
//! [`cbor`], [`tlv`], [`lwm2m_json`], [`lwm2m_cbor`], [`senml`] (generic RFC 8428 records
//! plus the LwM2M rules) and [`link`]. LwM2M JSON and LwM2M CBOR are reached through the
//! entry points; their modules document the wire rules.
//!
//! # Untrusted input
//!
//! Decoders never panic and never trust a length: every length is checked against the bytes
//! present and the [`Limits`] before anything is allocated; nesting and entry counts are
//! bounded. Errors ([`DecodeError`]) name the rule broken and where (byte offset, path).
//! The binary hot paths (TLV, SenML CBOR, LwM2M CBOR) borrow strings from the payload and
//! allocate only the output tree.
//!
//! # Example
//!
//! ```
//! use lwm2m_codec::{decode, encode, Limits};
//! use lwm2m_core::{ContentFormat, NoModel, Node, Path};
//!
//! let path: Path = "/3/0".parse().unwrap();
//! let payload = br#"[{"bn":"/3/0/","n":"0","vs":"ACME"},{"n":"9","v":95}]"#;
//! let node = decode(ContentFormat::SENML_JSON, &path, payload, &NoModel, &Limits::default()).unwrap();
//! let Node::Instance(inst) = &node else { unreachable!() };
//! assert_eq!(inst.resources.len(), 2);
//! assert_eq!(encode(ContentFormat::SENML_JSON, &path, &node).unwrap(), payload);
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod cbor_io;
mod error;
mod limits;
mod raw;
mod single;
mod tree;

pub mod cbor;
pub mod link;
pub mod lwm2m_cbor;
pub mod lwm2m_json;
pub mod negotiate;
pub mod opaque;
pub mod senml;
pub mod text;
pub mod tlv;

use alloc::string::ToString;
use alloc::vec::Vec;

use lwm2m_core::error::NodeError;
use lwm2m_core::{ContentFormat, ModelRegistry, Node, Path, Timestamp, TimestampedNode, Value};

pub use error::{DecodeError, EncodeError};
pub use limits::Limits;

use senml::lwm2m::{Group, base_for};
use tree::{Sink, TreeBuilder};

/// One value with its path and time, as carried by Send and time-series payloads.
#[derive(Debug, Clone, PartialEq)]
pub struct TimestampedEntry {
    /// When the value was taken; `None`: not stated ("now").
    pub timestamp: Option<Timestamp>,
    /// The resource or resource instance.
    pub path: Path,
    /// The value.
    pub value: Value,
}

/// Errors unless `path` is the path of `node` (same level, same last id).
pub(crate) fn check_node_path(path: &Path, node: &Node) -> Result<(), NodeError> {
    if path.level() != node.level() || path.ids().last().copied() != Some(node.id()) {
        return Err(NodeError::UnexpectedKind { expected: path.level().name(), found: node.level().name() });
    }
    Ok(())
}

fn is_senml(format: ContentFormat) -> bool {
    format == ContentFormat::SENML_JSON || format == ContentFormat::SENML_CBOR
}

/// Encodes the node at `path` in `format`.
///
/// Single-value formats (plain text, opaque, CBOR) need a single resource or a resource
/// instance; TLV, LwM2M JSON, SenML JSON/CBOR and LwM2M CBOR carry any node. Legacy
/// numbers 1542/1543 are accepted and produce the same bytes as 11542/11543. Link format
/// is not a node format: use [`link`].
pub fn encode(format: ContentFormat, path: &Path, node: &Node) -> Result<Vec<u8>, EncodeError> {
    let format = format.normalize();
    match format {
        ContentFormat::TEXT => text::encode_value(path, single::the_value(format, path, node)?),
        ContentFormat::OPAQUE => opaque::encode_value(path, single::the_value(format, path, node)?),
        ContentFormat::CBOR => cbor::encode_value(path, single::the_value(format, path, node)?),
        ContentFormat::TLV => tlv::encode(path, node),
        ContentFormat::LWM2M_CBOR => lwm2m_cbor::encode_node(path, node),
        f if is_senml(f) || f == ContentFormat::LWM2M_JSON => {
            let entries = node.to_entries(path)?;
            let groups = [Group { base: base_for(path), time: None, entries }];
            if f == ContentFormat::LWM2M_JSON {
                lwm2m_json::encode_groups(&groups)
            } else {
                senml::lwm2m::encode_groups(f, &groups)
            }
        }
        _ => Err(EncodeError::UnsupportedFormat { format }),
    }
}

/// Decodes `payload` (in `format`) answered for, or sent to, `path` into the node at `path`.
///
/// Values are typed with `model` (see each format's module for the rules); entries must lie
/// at or below `path`. An object or instance payload with no entries gives an empty node.
pub fn decode<M: ModelRegistry + ?Sized>(
    format: ContentFormat,
    path: &Path,
    payload: &[u8],
    model: &M,
    limits: &Limits,
) -> Result<Node, DecodeError> {
    let format = format.normalize();
    limits.check_payload(payload.len())?;
    let data_type = || raw::model_type(model, path);
    match format {
        ContentFormat::TEXT => single::node_at(format, path, text::decode_value(path, payload, data_type())?),
        ContentFormat::OPAQUE => single::node_at(format, path, opaque::decode_value(path, payload, data_type())?),
        ContentFormat::CBOR => single::node_at(format, path, cbor::decode_value(path, payload, data_type(), limits)?),
        ContentFormat::TLV => tlv::decode(path, payload, model, limits),
        f if is_senml(f) || f == ContentFormat::LWM2M_JSON || f == ContentFormat::LWM2M_CBOR => {
            let mut tree = TreeBuilder::new(*path)?;
            decode_flat(f, payload, model, limits, &mut tree)?;
            tree.finish()
        }
        _ => Err(DecodeError::UnsupportedFormat { format }),
    }
}

fn decode_flat<M: ModelRegistry + ?Sized, S: Sink>(
    format: ContentFormat,
    payload: &[u8],
    model: &M,
    limits: &Limits,
    sink: &mut S,
) -> Result<(), DecodeError> {
    match format {
        ContentFormat::LWM2M_JSON => lwm2m_json::decode_into(payload, model, limits, sink),
        ContentFormat::LWM2M_CBOR => lwm2m_cbor::decode_into(payload, model, limits, sink),
        f if is_senml(f) => senml::lwm2m::decode_into(f, payload, model, limits, sink),
        _ => Err(DecodeError::UnsupportedFormat { format }),
    }
}

fn composite_format(format: ContentFormat) -> Option<ContentFormat> {
    let f = format.normalize();
    (is_senml(f) || f == ContentFormat::LWM2M_CBOR || f == ContentFormat::LWM2M_JSON).then_some(f)
}

/// Encodes values at several paths (a Read-Composite response or Write-Composite request)
/// in SenML JSON/CBOR, LwM2M CBOR or LwM2M JSON. Each path must be a resource or resource
/// instance; SenML records carry full paths in `n`.
pub fn encode_composite(format: ContentFormat, entries: &[(Path, &Value)]) -> Result<Vec<u8>, EncodeError> {
    let format = composite_format(format).ok_or(EncodeError::UnsupportedFormat { format })?;
    if let Some((p, _)) = entries.iter().find(|(p, _)| p.depth() < 3) {
        return Err(NodeError::NoValueAtLevel { path: p.to_string() }.into());
    }
    match format {
        ContentFormat::LWM2M_CBOR => lwm2m_cbor::encode_entries(entries),
        f => {
            let groups = [Group { base: None, time: None, entries: entries.to_vec() }];
            if f == ContentFormat::LWM2M_JSON {
                lwm2m_json::encode_groups(&groups)
            } else {
                senml::lwm2m::encode_groups(f, &groups)
            }
        }
    }
}

/// Decodes a composite payload into `(path, value)` entries in payload order (timestamps,
/// if any, are dropped: see [`decode_timestamped_entries`]).
pub fn decode_composite<M: ModelRegistry + ?Sized>(
    format: ContentFormat,
    payload: &[u8],
    model: &M,
    limits: &Limits,
) -> Result<Vec<(Path, Value)>, DecodeError> {
    let format = composite_format(format).ok_or(DecodeError::UnsupportedFormat { format })?;
    let mut out = Vec::new();
    decode_flat(format, payload, model, limits, &mut out)?;
    Ok(out)
}

fn timestamped_format(format: ContentFormat) -> Option<ContentFormat> {
    let f = format.normalize();
    (is_senml(f) || f == ContentFormat::LWM2M_JSON).then_some(f)
}

fn encode_groups(format: ContentFormat, groups: &[Group<'_>]) -> Result<Vec<u8>, EncodeError> {
    if format == ContentFormat::LWM2M_JSON {
        lwm2m_json::encode_groups(groups)
    } else {
        senml::lwm2m::encode_groups(format, groups)
    }
}

/// Encodes a time series of nodes (a notification carrying historical values) in SenML
/// JSON/CBOR or LwM2M JSON. Each node's records share its time (`bt` in SenML, `t` in
/// LwM2M JSON). Consecutive nodes with equal timestamps merge on decoding.
pub fn encode_timestamped(format: ContentFormat, nodes: &[TimestampedNode]) -> Result<Vec<u8>, EncodeError> {
    let format = timestamped_format(format).ok_or(EncodeError::UnsupportedFormat { format })?;
    let mut groups = Vec::with_capacity(nodes.len());
    for n in nodes {
        groups.push(Group { base: base_for(&n.path), time: n.timestamp, entries: n.node.to_entries(&n.path)? });
    }
    encode_groups(format, &groups)
}

/// Decodes a time series for the observed `path`: consecutive records with the same
/// resolved time form one node at `path`.
pub fn decode_timestamped<M: ModelRegistry + ?Sized>(
    format: ContentFormat,
    path: &Path,
    payload: &[u8],
    model: &M,
    limits: &Limits,
) -> Result<Vec<TimestampedNode>, DecodeError> {
    let format = timestamped_format(format).ok_or(DecodeError::UnsupportedFormat { format })?;
    TreeBuilder::new(*path)?;
    let mut sink = Series { requested: *path, out: Vec::new(), cur: None };
    decode_flat(format, payload, model, limits, &mut sink)?;
    sink.flush()?;
    Ok(sink.out)
}

struct Series {
    requested: Path,
    out: Vec<TimestampedNode>,
    cur: Option<(Option<f64>, TreeBuilder)>,
}

impl Series {
    fn flush(&mut self) -> Result<(), DecodeError> {
        if let Some((time, tree)) = self.cur.take() {
            let timestamp = time.and_then(|t| Timestamp::from_secs_f64(t).ok());
            self.out.push(TimestampedNode { timestamp, path: self.requested, node: tree.finish()? });
        }
        Ok(())
    }
}

impl Sink for Series {
    fn entry(&mut self, path: Path, value: Value, time: Option<f64>) -> Result<(), DecodeError> {
        if !matches!(&self.cur, Some((t, _)) if *t == time) {
            self.flush()?;
            self.cur = Some((time, TreeBuilder::new(self.requested)?));
        }
        match &mut self.cur {
            Some((_, tree)) => tree.insert(path, value),
            None => Ok(()),
        }
    }
}

/// Encodes timestamped entries at any paths (a Send payload) in SenML JSON/CBOR or LwM2M
/// JSON; consecutive entries with the same timestamp share one `bt`.
pub fn encode_timestamped_entries(format: ContentFormat, entries: &[TimestampedEntry]) -> Result<Vec<u8>, EncodeError> {
    let format = timestamped_format(format).ok_or(EncodeError::UnsupportedFormat { format })?;
    let mut groups: Vec<Group<'_>> = Vec::new();
    for e in entries {
        if e.path.depth() < 3 {
            return Err(NodeError::NoValueAtLevel { path: e.path.to_string() }.into());
        }
        match groups.last_mut() {
            Some(g) if g.time == e.timestamp => g.entries.push((e.path, &e.value)),
            _ => groups.push(Group { base: None, time: e.timestamp, entries: alloc::vec![(e.path, &e.value)] }),
        }
    }
    encode_groups(format, &groups)
}

/// Decodes timestamped entries at any paths (a Send payload), in payload order.
pub fn decode_timestamped_entries<M: ModelRegistry + ?Sized>(
    format: ContentFormat,
    payload: &[u8],
    model: &M,
    limits: &Limits,
) -> Result<Vec<TimestampedEntry>, DecodeError> {
    let format = timestamped_format(format).ok_or(DecodeError::UnsupportedFormat { format })?;
    let mut out: Vec<TimestampedEntry> = Vec::new();
    decode_flat(format, payload, model, limits, &mut out)?;
    Ok(out)
}

/// Encodes the `n`-only request body of Read-Composite / Observe-Composite (SenML JSON or
/// CBOR): `[{"n":"/3/0/9"},{"n":"/1/0/1"}]`.
pub fn encode_paths(format: ContentFormat, paths: &[Path]) -> Result<Vec<u8>, EncodeError> {
    let format = format.normalize();
    if !is_senml(format) {
        return Err(EncodeError::UnsupportedFormat { format });
    }
    Ok(senml::lwm2m::encode_paths(format, paths))
}

/// Decodes the `n`-only request body of Read-Composite / Observe-Composite into paths
/// (base names are applied; values, if any, are ignored).
pub fn decode_paths(format: ContentFormat, payload: &[u8], limits: &Limits) -> Result<Vec<Path>, DecodeError> {
    let format = format.normalize();
    if !is_senml(format) {
        return Err(DecodeError::UnsupportedFormat { format });
    }
    senml::lwm2m::decode_paths(format, payload, limits)
}
