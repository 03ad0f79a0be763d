//! SenML JSON (RFC 8428 §5): an array of objects with text labels.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use lwm2m_core::ContentFormat;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{Number, Record, RecordValue};
use crate::raw::{BASE64URL, encode_base64};
use crate::{DecodeError, Limits};

const CF: ContentFormat = ContentFormat::SENML_JSON;

/// Decodes a SenML JSON pack into records (strings borrowed from `payload` when unescaped).
pub fn decode<'a>(payload: &'a [u8], limits: &Limits) -> Result<Vec<Record<'a>>, DecodeError> {
    limits.check_payload(payload.len())?;
    let mut err = None;
    let mut de = serde_json::Deserializer::from_slice(payload);
    let seed = PackSeed { err: &mut err, limits };
    let result = seed.deserialize(&mut de).and_then(|records| de.end().map(|()| records));
    match (result, err) {
        (_, Some(e)) => Err(e),
        (Ok(records), None) => Ok(records),
        (Err(e), None) => Err(json_error(CF, &e)),
    }
}

/// A serde_json error as a [`DecodeError::Json`].
pub(crate) fn json_error(format: ContentFormat, e: &serde_json::Error) -> DecodeError {
    use alloc::string::ToString;
    DecodeError::Json { format, line: e.line(), column: e.column(), message: e.to_string() }
}

struct PackSeed<'s> {
    err: &'s mut Option<DecodeError>,
    limits: &'s Limits,
}

impl<'de> DeserializeSeed<'de> for PackSeed<'_> {
    type Value = Vec<Record<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PackSeed<'_> {
    type Value = Vec<Record<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a SenML pack (array of records)")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(rec) = seq.next_element_seed(RecordSeed { err: &mut *self.err })? {
            out.push(rec);
            if let Err(e) = self.limits.check_entries(out.len()) {
                *self.err = Some(e);
                return Err(de::Error::custom("limit exceeded"));
            }
        }
        Ok(out)
    }
}

struct RecordSeed<'s> {
    err: &'s mut Option<DecodeError>,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Record<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

/// A string that borrows from the input when it can.
pub(crate) struct CowStr<'de>(pub(crate) Cow<'de, str>);

impl<'de: 'a, 'a> de::Deserialize<'de> for CowStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(core::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = CowStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.into())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(core::marker::PhantomData))
    }
}

impl<'de> de::Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
                Ok(Number::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
                Ok(i64::try_from(v).map_or(Number::UInt(v), Number::Int))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
                Ok(Number::Float(v))
            }
        }
        d.deserialize_any(V)
    }
}

const LABELS: [&str; 16] =
    ["bn", "bt", "bu", "bv", "bs", "bver", "n", "u", "v", "vs", "vb", "vd", "vlo", "s", "t", "ut"];

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Record<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a SenML record (object)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut rec = Record::default();
        let mut seen = 0u32;
        while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
            let Some(idx) = LABELS.iter().position(|l| *l == key) else {
                if key.ends_with('_') {
                    *self.err = Some(DecodeError::UnknownLabel { format: CF, label: key.into_owned() });
                    return Err(de::Error::custom("unknown must-understand label"));
                }
                map.next_value::<de::IgnoredAny>()?;
                continue;
            };
            if seen & (1 << idx) != 0 {
                *self.err = Some(DecodeError::DuplicateLabel { format: CF, label: key.into_owned() });
                return Err(de::Error::custom("duplicate label"));
            }
            seen |= 1 << idx;
            let mut value = None;
            match LABELS[idx] {
                "bn" => rec.base_name = Some(map.next_value::<CowStr<'de>>()?.0),
                "bt" => rec.base_time = Some(map.next_value()?),
                "bu" => rec.base_unit = Some(map.next_value::<CowStr<'de>>()?.0),
                "bv" => rec.base_value = Some(map.next_value()?),
                "bs" => rec.base_sum = Some(map.next_value()?),
                "bver" => rec.base_version = Some(map.next_value()?),
                "n" => rec.name = Some(map.next_value::<CowStr<'de>>()?.0),
                "u" => rec.unit = Some(map.next_value::<CowStr<'de>>()?.0),
                "v" => value = Some(RecordValue::Number(map.next_value()?)),
                "vs" => value = Some(RecordValue::String(map.next_value::<CowStr<'de>>()?.0)),
                "vb" => value = Some(RecordValue::Bool(map.next_value()?)),
                "vd" => {
                    let text = map.next_value::<CowStr<'de>>()?.0;
                    match crate::raw::decode_base64(&text, true, &lwm2m_core::Path::ROOT) {
                        Ok(bytes) => value = Some(RecordValue::Data(Cow::Owned(bytes))),
                        Err(_) => {
                            *self.err = Some(DecodeError::InvalidLabelValue {
                                format: CF,
                                label: "vd".into(),
                                expected: "base64url text",
                            });
                            return Err(de::Error::custom("invalid base64"));
                        }
                    }
                }
                "vlo" => value = Some(RecordValue::ObjectLink(map.next_value::<CowStr<'de>>()?.0)),
                "s" => rec.sum = Some(map.next_value()?),
                "t" => rec.time = Some(map.next_value()?),
                _ => rec.update_time = Some(map.next_value()?),
            }
            if let Some(v) = value {
                if rec.value.is_some() {
                    *self.err = Some(DecodeError::InvalidLabelValue {
                        format: CF,
                        label: key.into_owned(),
                        expected: "the only value of its record",
                    });
                    return Err(de::Error::custom("several values"));
                }
                rec.value = Some(v);
            }
        }
        Ok(rec)
    }
}

/// Appends `s` as a JSON string literal.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends a number: integers in decimal, floats in Rust's shortest round-trip form
/// (always with a `.` or exponent, so they read back as floats). Non-finite floats must
/// be refused by the caller; here they become `null`.
pub(crate) fn write_number(out: &mut Vec<u8>, n: Number) {
    use core::fmt::Write as _;
    let mut s = Buf(out);
    let _ = match n {
        Number::Int(v) => write!(s, "{v}"),
        Number::UInt(v) => write!(s, "{v}"),
        Number::Float(v) if v.is_finite() => write!(s, "{v:?}"),
        Number::Float(_) => s.write_str("null"),
    };
}

struct Buf<'a>(&'a mut Vec<u8>);
impl fmt::Write for Buf<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Appends one record as a JSON object (labels in the order of RFC 8428's examples).
pub(crate) fn write_record(out: &mut Vec<u8>, rec: &Record<'_>) {
    out.push(b'{');
    let mut first = true;
    let mut key = |out: &mut Vec<u8>, k: &str| {
        if !first {
            out.push(b',');
        }
        first = false;
        out.push(b'"');
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b"\":");
    };
    if let Some(v) = &rec.base_name {
        key(out, "bn");
        write_str(out, v);
    }
    if let Some(v) = rec.base_time {
        key(out, "bt");
        write_number(out, v);
    }
    if let Some(v) = &rec.base_unit {
        key(out, "bu");
        write_str(out, v);
    }
    if let Some(v) = rec.base_value {
        key(out, "bv");
        write_number(out, v);
    }
    if let Some(v) = rec.base_sum {
        key(out, "bs");
        write_number(out, v);
    }
    if let Some(v) = rec.base_version {
        key(out, "bver");
        write_number(out, Number::UInt(v));
    }
    if let Some(v) = &rec.name {
        key(out, "n");
        write_str(out, v);
    }
    if let Some(v) = &rec.unit {
        key(out, "u");
        write_str(out, v);
    }
    match &rec.value {
        Some(RecordValue::Number(n)) => {
            key(out, "v");
            write_number(out, *n);
        }
        Some(RecordValue::String(s)) => {
            key(out, "vs");
            write_str(out, s);
        }
        Some(RecordValue::Bool(b)) => {
            key(out, "vb");
            out.extend_from_slice(if *b { b"true" } else { b"false" });
        }
        Some(RecordValue::Data(d)) => {
            key(out, "vd");
            write_str(out, &encode_base64(d, &BASE64URL));
        }
        Some(RecordValue::ObjectLink(s)) => {
            key(out, "vlo");
            write_str(out, s);
        }
        None => {}
    }
    if let Some(v) = rec.sum {
        key(out, "s");
        write_number(out, v);
    }
    if let Some(v) = rec.time {
        key(out, "t");
        write_number(out, v);
    }
    if let Some(v) = rec.update_time {
        key(out, "ut");
        write_number(out, v);
    }
    out.push(b'}');
}

/// Encodes records as a compact SenML JSON pack (no whitespace).
pub fn encode(records: &[Record<'_>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.len() * 32 + 2);
    out.push(b'[');
    for (i, rec) in records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_record(&mut out, rec);
    }
    out.push(b']');
    out
}
