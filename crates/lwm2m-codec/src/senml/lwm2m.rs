//! The LwM2M rules on top of SenML records: names are paths, values are typed by the model.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use lwm2m_core::{ContentFormat, ModelRegistry, Objlnk, Path, Timestamp, Value};

use super::{Number, Record, RecordValue};
use crate::raw::{Raw, TypeCache};
use crate::tree::Sink;
use crate::{DecodeError, EncodeError, Limits};

/// Base-name / base-time / base-value state while walking a pack (bn, bt, bv are sticky).
#[derive(Default)]
struct Context<'a> {
    bn: Option<Cow<'a, str>>,
    bt: Option<Number>,
    bv: Option<Number>,
    /// The last name resolved (when short) and its path: time series repeat names, so
    /// comparing bytes saves parsing them again. A fixed buffer: no allocation.
    last: Option<([u8; 32], usize, Path)>,
}

/// Parses `bn + n` as a path, without allocating for well-formed names.
pub(crate) fn parse_name(format: ContentFormat, bn: &str, n: &str) -> Result<Path, DecodeError> {
    fast_path(bn.as_bytes(), n.as_bytes()).map_or_else(
        || {
            let mut name = String::with_capacity(bn.len() + n.len());
            name.push_str(bn);
            name.push_str(n);
            name.parse::<Path>().map_err(|source| DecodeError::InvalidPath { format, name, source })
        },
        Ok,
    )
}

/// Parses `/o/i/r/ri` (optional trailing `/`) spread over two byte strings; `None` sends
/// anything unusual to the core parser, which also produces the error.
#[inline]
fn fast_path(a: &[u8], b: &[u8]) -> Option<Path> {
    let (first, a, b) = match a.split_first() {
        Some((f, rest)) => (*f, rest, b),
        None => {
            let (f, rest) = b.split_first()?;
            (*f, &[][..], rest)
        }
    };
    if first != b'/' {
        return None;
    }
    let mut st = NameState { ids: [0; 4], n: 0, cur: 0, digits: 0 };
    for &c in a {
        st.step(c)?;
    }
    for &c in b {
        st.step(c)?;
    }
    if st.digits > 0 {
        st.push()?;
    }
    Path::from_ids(&st.ids[..st.n]).ok()
}

struct NameState {
    ids: [u16; 4],
    n: usize,
    cur: u32,
    digits: u8,
}

impl NameState {
    #[inline(always)]
    fn step(&mut self, c: u8) -> Option<()> {
        let d = c.wrapping_sub(b'0');
        if d < 10 {
            if self.digits >= 5 {
                return None;
            }
            self.cur = self.cur * 10 + u32::from(d);
            self.digits += 1;
            Some(())
        } else if c == b'/' && self.digits > 0 {
            self.push()
        } else {
            None
        }
    }

    #[inline(always)]
    fn push(&mut self) -> Option<()> {
        if self.cur >= u32::from(u16::MAX) || self.n >= 4 {
            return None;
        }
        self.ids[self.n] = self.cur as u16;
        self.n += 1;
        self.cur = 0;
        self.digits = 0;
        Some(())
    }
}

impl<'a> Context<'a> {
    /// Applies the record's base fields and returns its resolved path, time and value.
    fn resolve(
        &mut self,
        format: ContentFormat,
        rec: &mut Record<'a>,
    ) -> Result<(Path, Option<f64>, Option<RecordValue<'a>>), DecodeError> {
        if let Some(bn) = rec.base_name.take() {
            self.bn = Some(bn);
        }
        if let Some(bt) = rec.base_time {
            self.bt = Some(bt);
        }
        if let Some(bv) = rec.base_value {
            self.bv = Some(bv);
        }
        let (bn, n) = (self.bn.as_deref().unwrap_or(""), rec.name.as_deref().unwrap_or(""));
        let total = bn.len() + n.len();
        let path = match &self.last {
            Some((buf, len, path))
                if *len == total && buf[..bn.len()] == *bn.as_bytes() && buf[bn.len()..total] == *n.as_bytes() =>
            {
                *path
            }
            _ => {
                let path = parse_name(format, bn, n)?;
                if total <= 32 {
                    let mut buf = [0u8; 32];
                    buf[..bn.len()].copy_from_slice(bn.as_bytes());
                    buf[bn.len()..total].copy_from_slice(n.as_bytes());
                    self.last = Some((buf, total, path));
                }
                path
            }
        };
        let time = match (self.bt, rec.time) {
            (None, None) => None,
            (a, b) => {
                let t = a.unwrap_or(Number::Int(0)).add(b.unwrap_or(Number::Int(0))).as_f64();
                (t != 0.0).then_some(t)
            }
        };
        let value = match (rec.value.take(), self.bv) {
            (Some(RecordValue::Number(n)), Some(bv)) => Some(RecordValue::Number(bv.add(n))),
            (v, _) => v,
        };
        Ok((path, time, value))
    }
}

fn typed<M: ModelRegistry + ?Sized>(
    format: ContentFormat,
    path: &Path,
    value: RecordValue<'_>,
    types: &mut TypeCache<'_, M>,
) -> Result<Value, DecodeError> {
    let raw = match value {
        RecordValue::Number(Number::Int(v)) => Raw::Int(v),
        RecordValue::Number(Number::UInt(v)) => Raw::BigUInt(v),
        RecordValue::Number(Number::Float(v)) => Raw::Float(v),
        RecordValue::String(s) => Raw::Text(s),
        RecordValue::Bool(b) => Raw::Bool(b),
        RecordValue::Data(d) => Raw::Bytes(d),
        RecordValue::ObjectLink(s) => {
            Raw::Objlnk(s.parse::<Objlnk>().map_err(|source| DecodeError::InvalidValue { path: *path, source })?)
        }
    };
    let _ = format;
    raw.typed(path, types.data_type(path))
}

/// Walks the records of a SenML JSON or CBOR payload, calling `f` for each in order.
fn for_each_record<'a>(
    format: ContentFormat,
    payload: &'a [u8],
    limits: &'a Limits,
    mut f: impl FnMut(&mut Record<'a>) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    if format == ContentFormat::SENML_CBOR {
        super::cbor::for_each(payload, limits, f)
    } else {
        for mut rec in super::json::decode(payload, limits)? {
            f(&mut rec)?;
        }
        Ok(())
    }
}

/// Decodes the data records of a pack into `sink` (every record must carry a value).
pub(crate) fn decode_into<M: ModelRegistry + ?Sized, S: Sink>(
    format: ContentFormat,
    payload: &[u8],
    model: &M,
    limits: &Limits,
    sink: &mut S,
) -> Result<(), DecodeError> {
    let mut ctx = Context::default();
    let mut types = TypeCache::new(model);
    if format == ContentFormat::SENML_CBOR {
        if let Some(n) = super::cbor::announced_records(payload, limits) {
            sink.records_hint(n);
        }
    }
    for_each_record(format, payload, limits, |rec| {
        let (path, time, value) = ctx.resolve(format, rec)?;
        // Not `ok_or`: that would build (and drop) the error for every record.
        let Some(value) = value else { return Err(DecodeError::MissingValue { format, path }) };
        let value = typed(format, &path, value, &mut types)?;
        sink.entry(path, value, time)
    })
}

/// Decodes the `n`-only request form (Read-Composite, Observe-Composite) into paths.
/// Values, if present, are ignored.
pub(crate) fn decode_paths(format: ContentFormat, payload: &[u8], limits: &Limits) -> Result<Vec<Path>, DecodeError> {
    let mut ctx = Context::default();
    let mut out = Vec::new();
    for_each_record(format, payload, limits, |rec| {
        let (path, _, _) = ctx.resolve(format, rec)?;
        out.push(path);
        Ok(())
    })?;
    Ok(out)
}

/// A run of entries sharing a base path and a timestamp.
pub(crate) struct Group<'v> {
    /// Base path for `bn` (`None`: full names in `n`).
    pub(crate) base: Option<Path>,
    /// The group's time.
    pub(crate) time: Option<Timestamp>,
    /// The entries, in order.
    pub(crate) entries: Vec<(Path, &'v Value)>,
}

/// The base path SenML uses for a node at `path`: its object instance (or object).
pub(crate) fn base_for(path: &Path) -> Option<Path> {
    match path.depth() {
        0 => None,
        1 | 2 => Some(*path),
        _ => path.object_id().zip(path.instance_id()).map(|(o, i)| Path::instance(o, i)),
    }
}

fn path_text(path: &Path, from: usize, trailing_slash: bool) -> String {
    let mut s = String::new();
    if from == 0 {
        s.push('/');
    }
    for (i, id) in path.ids()[from.min(path.depth())..].iter().enumerate() {
        if i > 0 {
            s.push('/');
        }
        let _ = write!(s, "{id}");
    }
    if trailing_slash && !s.ends_with('/') {
        s.push('/');
    }
    s
}

/// The SenML value of an LwM2M value.
pub(crate) fn record_value<'v>(
    format: ContentFormat,
    path: &Path,
    value: &'v Value,
) -> Result<RecordValue<'v>, EncodeError> {
    Ok(match value {
        Value::String(s) | Value::Corelnk(s) => RecordValue::String(Cow::Borrowed(s)),
        Value::Integer(v) | Value::Time(v) => RecordValue::Number(Number::Int(*v)),
        Value::UnsignedInteger(v) => RecordValue::Number(i64::try_from(*v).map_or(Number::UInt(*v), Number::Int)),
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(EncodeError::NonFinite { format, path: *path });
            }
            RecordValue::Number(Number::Float(*f))
        }
        Value::Boolean(b) => RecordValue::Bool(*b),
        Value::Opaque(b) => RecordValue::Data(Cow::Borrowed(b)),
        Value::Objlnk(l) => {
            let mut buf = [0u8; 11];
            RecordValue::ObjectLink(Cow::Owned(crate::cbor::objlnk_text(*l, &mut buf).into()))
        }
    })
}

/// Builds the records of `groups`.
pub(crate) fn records<'v>(format: ContentFormat, groups: &[Group<'v>]) -> Result<Vec<Record<'v>>, EncodeError> {
    let mut out = Vec::with_capacity(groups.iter().map(|g| g.entries.len()).sum());
    let mut cur_bn: Option<Path> = None;
    let mut cur_bt: Option<Timestamp> = None;
    for g in groups {
        for (i, (path, value)) in g.entries.iter().enumerate() {
            let mut rec = Record::default();
            if i == 0 {
                if g.base.is_some() && g.base != cur_bn {
                    rec.base_name = g.base.map(|b| Cow::Owned(path_text(&b, 0, true)));
                    cur_bn = g.base;
                } else if g.base.is_none() && cur_bn.is_some() {
                    rec.base_name = Some(Cow::Borrowed(""));
                    cur_bn = None;
                }
                if g.time != cur_bt {
                    rec.base_time = Some(g.time.map_or(Number::Int(0), |t| Number::from_f64(t.as_secs_f64())));
                    cur_bt = g.time;
                }
            }
            rec.name = Some(Cow::Owned(match cur_bn {
                Some(b) => path_text(path, b.depth(), false),
                None => path_text(path, 0, false),
            }));
            rec.value = Some(record_value(format, path, value)?);
            out.push(rec);
        }
    }
    Ok(out)
}

/// Encodes groups in SenML JSON or CBOR.
pub(crate) fn encode_groups(format: ContentFormat, groups: &[Group<'_>]) -> Result<Vec<u8>, EncodeError> {
    let recs = records(format, groups)?;
    Ok(if format == ContentFormat::SENML_CBOR { super::cbor::encode(&recs) } else { super::json::encode(&recs) })
}

/// Encodes the `n`-only request form for Read-Composite / Observe-Composite.
pub(crate) fn encode_paths(format: ContentFormat, paths: &[Path]) -> Vec<u8> {
    let recs: Vec<Record<'_>> =
        paths.iter().map(|p| Record { name: Some(Cow::Owned(path_text(p, 0, false))), ..Record::default() }).collect();
    if format == ContentFormat::SENML_CBOR { super::cbor::encode(&recs) } else { super::json::encode(&recs) }
}
