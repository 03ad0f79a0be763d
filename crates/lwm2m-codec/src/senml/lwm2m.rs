//! The LwM2M rules on top of SenML records: names are paths, values are typed by the model.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use lwm2m_core::{
    ContentFormat, DataType, InstanceId, ModelRegistry, ObjectId, Objlnk, Path, ResourceId, ResourceInstanceId,
    Timestamp, Value,
};

use super::cbor::RecordOut;
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

#[derive(Clone, Copy)]
struct NameState {
    ids: [u16; 4],
    n: usize,
    cur: u32,
    digits: u8,
}

impl NameState {
    const START: NameState = NameState { ids: [0; 4], n: 0, cur: 0, digits: 0 };

    /// Steps over all of `bytes`; `None` if the fast parser does not accept them.
    #[inline(always)]
    fn steps(&mut self, bytes: &[u8]) -> Option<()> {
        for &c in bytes {
            self.step(c)?;
        }
        Some(())
    }

    /// The path parsed so far, closing a pending segment.
    #[inline(always)]
    fn finish(mut self) -> Option<Path> {
        if self.digits > 0 {
            self.push()?;
        }
        // Every id is below 65535 (`push` checks), so only the depth can be wrong.
        let [o, i, r, ri] = self.ids;
        Some(match self.n {
            0 => Path::ROOT,
            1 => Path::object(ObjectId::new(o)?),
            2 => Path::instance(ObjectId::new(o)?, InstanceId::new(i)?),
            3 => Path::resource(ObjectId::new(o)?, InstanceId::new(i)?, ResourceId::new(r)?),
            _ => Path::resource_instance(
                ObjectId::new(o)?,
                InstanceId::new(i)?,
                ResourceId::new(r)?,
                ResourceInstanceId::new(ri)?,
            ),
        })
    }

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
    let expected = types.data_type(path);
    // The pairs that need no conversion, as `Raw::typed` maps them, without going
    // through `Raw`.
    let value = match (expected, value) {
        (Some(DataType::String), RecordValue::String(s)) => return Ok(Value::String(s.into())),
        (Some(DataType::Integer), RecordValue::Number(Number::Int(v))) => return Ok(Value::Integer(v)),
        (Some(DataType::Time), RecordValue::Number(Number::Int(v))) => return Ok(Value::Time(v)),
        (Some(DataType::Float), RecordValue::Number(Number::Float(v))) => return Ok(Value::Float(v)),
        (Some(DataType::Boolean), RecordValue::Bool(b)) => return Ok(Value::Boolean(b)),
        (_, value) => value,
    };
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
    raw.typed(path, expected)
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
    if format == ContentFormat::SENML_CBOR {
        return decode_cbor_into(payload, model, limits, sink);
    }
    let mut ctx = Context::default();
    let mut types = TypeCache::new(model);
    for_each_record(format, payload, limits, |rec| {
        let (path, time, value) = ctx.resolve(format, rec)?;
        // Not `ok_or`: that would build (and drop) the error for every record.
        let Some(value) = value else { return Err(DecodeError::MissingValue { format, path }) };
        let value = typed(format, &path, value, &mut types)?;
        sink.entry(path, value, time)
    })
}

/// The fields of a SenML record the LwM2M layer uses; [`super::cbor::record`] checks the
/// others and drops them. Smaller than a [`Record`], so cheaper to clear and move.
#[derive(Default)]
struct Fields<'a> {
    bn: Option<Cow<'a, str>>,
    bt: Option<Number>,
    bv: Option<Number>,
    n: Option<Cow<'a, str>>,
    t: Option<Number>,
    value: Option<RecordValue<'a>>,
}

impl<'a> RecordOut<'a> for Fields<'a> {
    #[inline(always)]
    fn base_name(&mut self, v: Cow<'a, str>) {
        self.bn = Some(v);
    }
    #[inline(always)]
    fn base_time(&mut self, v: Number) {
        self.bt = Some(v);
    }
    #[inline(always)]
    fn base_value(&mut self, v: Number) {
        self.bv = Some(v);
    }
    #[inline(always)]
    fn name(&mut self, v: Cow<'a, str>) {
        self.n = Some(v);
    }
    #[inline(always)]
    fn time(&mut self, v: Number) {
        self.t = Some(v);
    }
    #[inline(always)]
    fn has_value(&self) -> bool {
        self.value.is_some()
    }
    #[inline(always)]
    fn value(&mut self, v: RecordValue<'a>) {
        self.value = Some(v);
    }
}

/// The current base name and, when the fast name parser accepts it, its parse state, so
/// that each record's name is parsed from where the base name left off instead of from
/// the start of the concatenation.
enum BaseName<'a> {
    /// No base name (or an empty one): `n` is the whole path.
    Empty,
    /// A base name the fast parser accepts as a path prefix, and the state after it.
    Prefix(Cow<'a, str>, NameState),
    /// Any other base name: names go through [`parse_name`] (which reports the error).
    Other(Cow<'a, str>),
}

impl<'a> BaseName<'a> {
    fn new(bn: Cow<'a, str>) -> Self {
        let mut st = NameState::START;
        match bn.as_bytes().split_first() {
            None => BaseName::Empty,
            Some((b'/', rest)) if st.steps(rest).is_some() => BaseName::Prefix(bn, st),
            Some(_) => BaseName::Other(bn),
        }
    }

    /// The path of base name + `n`: the same result (and errors) as [`parse_name`].
    #[inline(always)]
    fn path(&self, n: &str) -> Result<Path, DecodeError> {
        let n = n.as_bytes();
        let fast = match self {
            BaseName::Empty => match n.split_first() {
                Some((b'/', rest)) => {
                    let mut st = NameState::START;
                    st.steps(rest).and_then(|()| st.finish())
                }
                _ => None,
            },
            BaseName::Prefix(_, st) => {
                let mut st = *st;
                st.steps(n).and_then(|()| st.finish())
            }
            BaseName::Other(_) => None,
        };
        match fast {
            Some(p) => Ok(p),
            None => self.slow_path(n),
        }
    }

    #[cold]
    #[inline(never)]
    fn slow_path(&self, n: &[u8]) -> Result<Path, DecodeError> {
        let bn = match self {
            BaseName::Empty => "",
            BaseName::Prefix(bn, _) | BaseName::Other(bn) => bn,
        };
        // `n` came from a `str`.
        let n = core::str::from_utf8(n).map_err(|_| DecodeError::InvalidUtf8 { format: CBOR, offset: 0 })?;
        parse_name(CBOR, bn, n)
    }
}

const CBOR: ContentFormat = ContentFormat::SENML_CBOR;

/// SenML CBOR straight into `sink`: the same checks and results as walking [`Record`]s
/// and resolving them (`for_each_record` + [`Context::resolve`]), without the generic
/// record, the name cache, or parsing the base name again for every record.
fn decode_cbor_into<'a, M: ModelRegistry + ?Sized, S: Sink>(
    payload: &'a [u8],
    model: &M,
    limits: &'a Limits,
    sink: &mut S,
) -> Result<(), DecodeError> {
    let (mut r, len) = super::cbor::open_pack(payload, limits)?;
    if let Some(n) = len {
        sink.records_hint(n);
    }
    let mut types = TypeCache::new(model);
    let mut base = BaseName::Empty;
    // The last name resolved under the current base name, and its path: time series
    // repeat names, and comparing bytes is cheaper than parsing them again.
    let mut last: Option<(&'a str, Path)> = None;
    let (mut bt, mut bv): (Option<Number>, Option<Number>) = (None, None);
    let mut count = 0usize;
    loop {
        match len {
            Some(n) if count >= n => break,
            None if r.peek_break()? => break,
            _ => {}
        }
        count += 1;
        limits.check_entries(count)?;
        let mut rec = Fields::default();
        super::cbor::record(&mut r, &mut rec)?;
        if let Some(name) = rec.bn {
            base = BaseName::new(name);
            last = None;
        }
        if rec.bt.is_some() {
            bt = rec.bt;
        }
        if rec.bv.is_some() {
            bv = rec.bv;
        }
        let path = match (&rec.n, last) {
            // The last byte first: in an instance's records consecutive names differ
            // mostly there, and the full comparison is a call.
            (Some(Cow::Borrowed(n)), Some((last_n, path)))
                if n.len() == last_n.len() && n.as_bytes().last() == last_n.as_bytes().last() && *n == last_n =>
            {
                path
            }
            (Some(Cow::Borrowed(n)), _) => {
                let path = base.path(n)?;
                last = Some((n, path));
                path
            }
            (n, _) => base.path(n.as_deref().unwrap_or(""))?,
        };
        let time = match (bt, rec.t) {
            (None, None) => None,
            (a, b) => {
                let t = a.unwrap_or(Number::Int(0)).add(b.unwrap_or(Number::Int(0))).as_f64();
                (t != 0.0).then_some(t)
            }
        };
        let value = match (rec.value, bv) {
            (Some(RecordValue::Number(n)), Some(bv)) => RecordValue::Number(bv.add(n)),
            (Some(v), _) => v,
            (None, _) => return Err(DecodeError::MissingValue { format: CBOR, path }),
        };
        let value = typed(CBOR, &path, value, &mut types)?;
        sink.entry(path, value, time)?;
    }
    r.finish()
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

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::vec;

    /// Collects entries with their times.
    struct Collect(Vec<(Path, Value, Option<f64>)>);

    impl Sink for Collect {
        fn entry(&mut self, path: Path, value: Value, time: Option<f64>) -> Result<(), DecodeError> {
            self.0.push((path, value, time));
            Ok(())
        }
    }

    /// The generic route: every record as a [`Record`], resolved by [`Context`].
    fn via_records(payload: &[u8], limits: &Limits) -> Result<Vec<(Path, Value, Option<f64>)>, DecodeError> {
        let format = ContentFormat::SENML_CBOR;
        let mut ctx = Context::default();
        let mut types = TypeCache::new(&lwm2m_core::NoModel);
        let mut out = Collect(Vec::new());
        super::super::cbor::for_each(payload, limits, |rec| {
            let (path, time, value) = ctx.resolve(format, rec)?;
            let Some(value) = value else { return Err(DecodeError::MissingValue { format, path }) };
            let value = typed(format, &path, value, &mut types)?;
            out.entry(path, value, time)
        })?;
        Ok(out.0)
    }

    fn direct(payload: &[u8], limits: &Limits) -> Result<Vec<(Path, Value, Option<f64>)>, DecodeError> {
        let mut out = Collect(Vec::new());
        decode_cbor_into(payload, &lwm2m_core::NoModel, limits, &mut out)?;
        Ok(out.0)
    }

    fn rec<'a>(bn: Option<&'a str>, n: Option<&'a str>, value: Option<RecordValue<'a>>) -> Record<'a> {
        Record { base_name: bn.map(Cow::Borrowed), name: n.map(Cow::Borrowed), value, ..Record::default() }
    }

    /// The direct SenML CBOR decoder agrees with the record-by-record route, results and
    /// errors, on base-name variants and on every truncation and many byte flips.
    #[test]
    fn direct_decoder_matches_the_record_route() {
        let num = |v| Some(RecordValue::Number(Number::Int(v)));
        let packs: Vec<Vec<Record<'_>>> = vec![
            vec![rec(Some("/3/0/"), Some("0"), num(1)), rec(None, Some("6/1"), num(2)), rec(None, Some("9"), num(3))],
            vec![rec(Some("/3/0"), Some("/1"), num(1)), rec(Some(""), Some("/3/0/2"), num(2))],
            vec![rec(Some("/3/"), Some("0/1"), num(1)), rec(Some("3/0/"), Some("1"), num(2))],
            vec![rec(Some("/3//"), Some("1"), num(1))],
            vec![rec(Some("/3/0/"), Some("65535"), num(1))],
            vec![rec(Some("/3/0/"), Some("1/2/3"), num(1))],
            vec![rec(None, Some("3/0/1"), num(1))],
            vec![rec(Some("/x/"), Some("1"), num(1))],
            vec![rec(None, Some("/3/0/1"), None)],
            vec![
                Record {
                    base_time: Some(Number::Int(100)),
                    base_value: Some(Number::Int(5)),
                    ..rec(None, Some("/3/0/1"), num(1))
                },
                Record {
                    time: Some(Number::Float(1.5)),
                    ..rec(None, Some("/3/0/1"), Some(RecordValue::Number(Number::Float(2.5))))
                },
                Record { time: Some(Number::Int(-100)), ..rec(None, Some("/3/0/2"), Some(RecordValue::Bool(true))) },
                rec(None, Some("/3/0/3"), Some(RecordValue::String(Cow::Borrowed("text")))),
                rec(None, Some("/3/0/4"), Some(RecordValue::Data(Cow::Borrowed(&[1, 2])))),
                rec(None, Some("/3/0/5"), Some(RecordValue::ObjectLink(Cow::Borrowed("3:0")))),
            ],
        ];
        let limits = Limits::DEFAULT;
        for pack in &packs {
            let payload = super::super::cbor::encode(pack);
            let same = |p: &[u8]| {
                assert_eq!(format!("{:?}", direct(p, &limits)), format!("{:?}", via_records(p, &limits)), "{p:02x?}");
            };
            same(&payload);
            for cut in 0..payload.len() {
                same(&payload[..cut]);
            }
            for i in 0..payload.len() {
                for flip in [0x01u8, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff] {
                    let mut p = payload.clone();
                    p[i] ^= flip;
                    same(&p);
                }
            }
        }
        // Indefinite-length names and packs take the generic reader.
        let indefinite =
            [0x9f, 0xa2, 0x00, 0x7f, 0x62, b'/', b'3', 0x64, b'/', b'0', b'/', b'1', 0xff, 0x02, 0x01, 0xff];
        assert_eq!(format!("{:?}", direct(&indefinite, &limits)), format!("{:?}", via_records(&indefinite, &limits)));
        assert!(direct(&indefinite, &limits).is_ok());
    }
}
