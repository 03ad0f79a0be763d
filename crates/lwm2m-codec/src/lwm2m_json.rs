//! LwM2M JSON (`application/vnd.oma.lwm2m+json`, content format 11543; legacy 1543
//! accepted): the LwM2M 1.0 JSON format.
//!
//! `{"bn":"/3/0/","bt":..,"e":[{"n":"0","sv":"ACME"},{"n":"7/0","v":3800},..]}`: the name of
//! an entry is `bn + n`; its value is one of `v` (Integer, Unsigned, Float, Time), `bv`
//! (Boolean), `sv` (String, Corelnk, and Opaque as standard base64 with padding) or `ov`
//! (Objlnk `"3:0"`); `t` is added to `bt`. Unknown keys are refused (the format has no
//! extension mechanism); the parser's message names the key.
//!
//! Encoding (for 1.0 peers): `bn` is the node's object-instance (or object) path with a
//! trailing `/`, or `/` for composite payloads; timestamps go in each entry's `t`.

use alloc::vec::Vec;

use lwm2m_core::{ContentFormat, DataType, ModelRegistry, Objlnk, Path, Timestamp, Value};
use serde::Deserialize;

use crate::raw::{BASE64, Raw, decode_base64, encode_base64, model_type};
use crate::senml::Number;
use crate::senml::json::{CowStr, json_error, write_number, write_str};
use crate::senml::lwm2m::{Group, parse_name};
use crate::tree::Sink;
use crate::{DecodeError, EncodeError, Limits};

const CF: ContentFormat = ContentFormat::LWM2M_JSON;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc<'a> {
    #[serde(borrow, default)]
    bn: Option<CowStr<'a>>,
    #[serde(default)]
    bt: Option<Number>,
    #[serde(borrow)]
    e: Vec<JsonEntry<'a>>,
}

/// Only the number of entries of a document (the first, allocation-free pass).
#[derive(Deserialize)]
struct EntryCount {
    #[serde(default)]
    e: Count,
}

/// The length of a JSON array, counted without keeping its elements.
#[derive(Default)]
struct Count(usize);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl<'de> serde::de::Visitor<'de> for CountVisitor {
            type Value = Count;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
                let mut n = 0usize;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(Count(n))
            }
        }
        d.deserialize_seq(CountVisitor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonEntry<'a> {
    #[serde(borrow, default)]
    n: Option<CowStr<'a>>,
    #[serde(default)]
    v: Option<Number>,
    #[serde(borrow, default)]
    sv: Option<CowStr<'a>>,
    #[serde(default)]
    bv: Option<bool>,
    #[serde(borrow, default)]
    ov: Option<CowStr<'a>>,
    #[serde(default)]
    t: Option<Number>,
}

/// Decodes an LwM2M JSON document into `sink`.
pub(crate) fn decode_into<M: ModelRegistry + ?Sized, S: Sink>(
    payload: &[u8],
    model: &M,
    limits: &Limits,
    sink: &mut S,
) -> Result<(), DecodeError> {
    limits.check_payload(payload.len())?;
    // Count the entries first without building them (serde's IgnoredAny allocates nothing), so
    // a payload of millions of tiny entries is refused before it is materialised.
    if let Ok(count) = serde_json::from_slice::<EntryCount>(payload) {
        limits.check_entries(count.e.0)?;
    }
    let doc: Doc<'_> = serde_json::from_slice(payload).map_err(|e| json_error(CF, &e))?;
    limits.check_entries(doc.e.len())?;
    let bn = doc.bn.as_ref().map_or("", |c| &c.0);
    for e in doc.e {
        let path = parse_name(CF, bn, e.n.as_ref().map_or("", |c| &c.0))?;
        let time = match (doc.bt, e.t) {
            (None, None) => None,
            (a, b) => {
                let t = a.unwrap_or(Number::Int(0)).add(b.unwrap_or(Number::Int(0))).as_f64();
                (t != 0.0).then_some(t)
            }
        };
        let expected = model_type(model, &path);
        let several = || DecodeError::InvalidLabelValue {
            format: CF,
            label: "e".into(),
            expected: "entries with exactly one of v, sv, bv, ov",
        };
        let raw = match (e.v, e.sv, e.bv, e.ov) {
            (Some(Number::Int(v)), None, None, None) => Raw::Int(v),
            (Some(Number::UInt(v)), None, None, None) => Raw::BigUInt(v),
            (Some(Number::Float(v)), None, None, None) => Raw::Float(v),
            (None, Some(s), None, None) => {
                if expected == Some(DataType::Opaque) {
                    Raw::Bytes(decode_base64(&s.0, false, &path)?.into())
                } else {
                    Raw::Text(s.0)
                }
            }
            (None, None, Some(b), None) => Raw::Bool(b),
            (None, None, None, Some(o)) => {
                Raw::Objlnk(o.0.parse::<Objlnk>().map_err(|source| DecodeError::InvalidValue { path, source })?)
            }
            (None, None, None, None) => return Err(DecodeError::MissingValue { format: CF, path }),
            _ => return Err(several()),
        };
        sink.entry(path, raw.typed(&path, expected)?, time)?;
    }
    Ok(())
}

/// Encodes groups of entries as one LwM2M JSON document.
pub(crate) fn encode_groups(groups: &[Group<'_>]) -> Result<Vec<u8>, EncodeError> {
    let base = groups.first().and_then(|g| g.base);
    let base = if groups.iter().all(|g| g.base == base) { base } else { None };
    let mut out = Vec::with_capacity(64 + groups.iter().map(|g| g.entries.len() * 24).sum::<usize>());
    out.extend_from_slice(b"{\"bn\":");
    let bn_depth = base.map_or(0, |b| b.depth());
    let mut bn = alloc::string::String::from("/");
    for id in base.iter().flat_map(|b| b.ids().iter()) {
        use core::fmt::Write as _;
        let _ = write!(bn, "{id}/");
    }
    write_str(&mut out, &bn);
    out.extend_from_slice(b",\"e\":[");
    let mut first = true;
    for g in groups {
        for (path, value) in &g.entries {
            if !first {
                out.push(b',');
            }
            first = false;
            write_entry(&mut out, path, bn_depth, value, g.time)?;
        }
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

fn write_entry(
    out: &mut Vec<u8>,
    path: &Path,
    bn_depth: usize,
    value: &Value,
    time: Option<Timestamp>,
) -> Result<(), EncodeError> {
    use core::fmt::Write as _;
    let mut n = alloc::string::String::new();
    for (i, id) in path.ids()[bn_depth.min(path.depth())..].iter().enumerate() {
        if i > 0 {
            n.push('/');
        }
        let _ = write!(n, "{id}");
    }
    out.extend_from_slice(b"{\"n\":");
    write_str(out, &n);
    match value {
        Value::String(s) | Value::Corelnk(s) => {
            out.extend_from_slice(b",\"sv\":");
            write_str(out, s);
        }
        Value::Opaque(b) => {
            out.extend_from_slice(b",\"sv\":");
            write_str(out, &encode_base64(b, &BASE64));
        }
        Value::Integer(v) | Value::Time(v) => {
            out.extend_from_slice(b",\"v\":");
            write_number(out, Number::Int(*v));
        }
        Value::UnsignedInteger(v) => {
            out.extend_from_slice(b",\"v\":");
            write_number(out, Number::UInt(*v));
        }
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(EncodeError::NonFinite { format: CF, path: *path });
            }
            out.extend_from_slice(b",\"v\":");
            write_number(out, Number::Float(*f));
        }
        Value::Boolean(b) => {
            out.extend_from_slice(if *b { b",\"bv\":true" } else { b",\"bv\":false" });
        }
        Value::Objlnk(l) => {
            out.extend_from_slice(b",\"ov\":");
            let mut buf = [0u8; 11];
            write_str(out, crate::cbor::objlnk_text(*l, &mut buf));
        }
    }
    if let Some(t) = time {
        out.extend_from_slice(b",\"t\":");
        write_number(out, Number::from_f64(t.as_secs_f64()));
    }
    out.push(b'}');
    Ok(())
}
