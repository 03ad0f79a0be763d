//! SenML CBOR (RFC 8428 §6): records as maps with integer labels (`vlo` keeps its text label).

use alloc::borrow::Cow;
use alloc::vec::Vec;

use lwm2m_core::ContentFormat;

use super::{Number, Record, RecordValue};
use crate::cbor_io::{Item, Num, Reader, Writer, neg_int};
use crate::{DecodeError, Limits};

const CF: ContentFormat = ContentFormat::SENML_CBOR;

// RFC 8428 Table 4 (CBOR labels).
const BVER: i64 = -1;
const BN: i64 = -2;
const BT: i64 = -3;
const BU: i64 = -4;
const BV: i64 = -5;
const BS: i64 = -6;
const N: i64 = 0;
const U: i64 = 1;
const V: i64 = 2;
const VS: i64 = 3;
const VB: i64 = 4;
const S: i64 = 5;
const T: i64 = 6;
const UT: i64 = 7;
const VD: i64 = 8;
/// Pseudo label number for the text label `vlo` (bit tracking only).
const VLO: i64 = 9;

fn label_name(label: i64) -> &'static str {
    match label {
        BVER => "bver",
        BN => "bn",
        BT => "bt",
        BU => "bu",
        BV => "bv",
        BS => "bs",
        N => "n",
        U => "u",
        V => "v",
        VS => "vs",
        VB => "vb",
        S => "s",
        T => "t",
        UT => "ut",
        VD => "vd",
        _ => "vlo",
    }
}

/// Opens a SenML CBOR pack: checks the payload size against the limits and reads the array
/// header. Returns the reader positioned at the first record, and the record count when the
/// array is definite (checked against the bytes left).
pub(crate) fn open_pack<'a>(payload: &'a [u8], limits: &'a Limits) -> Result<(Reader<'a>, Option<usize>), DecodeError> {
    limits.check_payload(payload.len())?;
    let mut r = Reader::new(payload, CF, limits);
    let at = r.offset();
    let Item::Array(len) = r.next()? else {
        return Err(r.malformed(at, "a SenML pack is an array of records"));
    };
    let count = match len {
        Some(n) => Some(r.check_count(n, at)?),
        None => None,
    };
    Ok((r, count))
}

/// Calls `f` with each record of a SenML CBOR pack, in order, borrowing strings from `payload`.
pub(crate) fn for_each<'a>(
    payload: &'a [u8],
    limits: &'a Limits,
    mut f: impl FnMut(&mut Record<'a>) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let (mut r, len) = open_pack(payload, limits)?;
    let mut count = 0usize;
    let mut rec;
    loop {
        match len {
            Some(n) if count >= n => break,
            None if r.peek_break()? => break,
            _ => {}
        }
        count += 1;
        limits.check_entries(count)?;
        rec = Record::default();
        record(&mut r, &mut rec)?;
        f(&mut rec)?;
    }
    r.finish()
}

fn number(r: &Reader<'_>, label: i64, item: &Item<'_>, at: usize) -> Result<Number, DecodeError> {
    match *item {
        Item::UInt(v) => Ok(i64::try_from(v).map_or(Number::UInt(v), Number::Int)),
        Item::NegInt(n) => neg_int(n).map(Number::Int).ok_or_else(|| r.malformed(at, "negative integer below -2^63")),
        Item::Float(v) => Ok(Number::Float(v)),
        _ => Err(bad(label, "a number")),
    }
}

fn text<'a>(label: i64, item: Item<'a>) -> Result<Cow<'a, str>, DecodeError> {
    match item {
        Item::Text(t) => Ok(t),
        _ => Err(bad(label, "a text string")),
    }
}

fn bad(label: i64, expected: &'static str) -> DecodeError {
    DecodeError::InvalidLabelValue { format: CF, label: label_name(label).into(), expected }
}

/// Where [`record`] puts the fields it reads: the full [`Record`], or only the fields the
/// LwM2M layer uses (`lwm2m::Fields`). Every label is read and checked the same way for
/// both; the setters only decide what is kept.
pub(crate) trait RecordOut<'a> {
    /// `bn`
    fn base_name(&mut self, v: Cow<'a, str>);
    /// `bt`
    fn base_time(&mut self, v: Number);
    /// `bv`
    fn base_value(&mut self, v: Number);
    /// `n`
    fn name(&mut self, v: Cow<'a, str>);
    /// `t`
    fn time(&mut self, v: Number);
    /// True when the record already has a value.
    fn has_value(&self) -> bool;
    /// `v`, `vs`, `vb`, `vd` or `vlo` (the record has no value yet).
    fn value(&mut self, v: RecordValue<'a>);
    /// `bver`
    fn base_version(&mut self, _v: u64) {}
    /// `bu`
    fn base_unit(&mut self, _v: Cow<'a, str>) {}
    /// `bs`
    fn base_sum(&mut self, _v: Number) {}
    /// `u`
    fn unit(&mut self, _v: Cow<'a, str>) {}
    /// `s`
    fn sum(&mut self, _v: Number) {}
    /// `ut`
    fn update_time(&mut self, _v: Number) {}
}

impl<'a> RecordOut<'a> for Record<'a> {
    fn base_name(&mut self, v: Cow<'a, str>) {
        self.base_name = Some(v);
    }
    fn base_time(&mut self, v: Number) {
        self.base_time = Some(v);
    }
    fn base_value(&mut self, v: Number) {
        self.base_value = Some(v);
    }
    fn name(&mut self, v: Cow<'a, str>) {
        self.name = Some(v);
    }
    fn time(&mut self, v: Number) {
        self.time = Some(v);
    }
    fn has_value(&self) -> bool {
        self.value.is_some()
    }
    fn value(&mut self, v: RecordValue<'a>) {
        self.value = Some(v);
    }
    fn base_version(&mut self, v: u64) {
        self.base_version = Some(v);
    }
    fn base_unit(&mut self, v: Cow<'a, str>) {
        self.base_unit = Some(v);
    }
    fn base_sum(&mut self, v: Number) {
        self.base_sum = Some(v);
    }
    fn unit(&mut self, v: Cow<'a, str>) {
        self.unit = Some(v);
    }
    fn sum(&mut self, v: Number) {
        self.sum = Some(v);
    }
    fn update_time(&mut self, v: Number) {
        self.update_time = Some(v);
    }
}

/// Reads one record (a CBOR map) into `rec`.
#[inline]
pub(crate) fn record<'a, R: RecordOut<'a>>(r: &mut Reader<'a>, rec: &mut R) -> Result<(), DecodeError> {
    let at = r.offset();
    let Item::Map(len) = r.next()? else {
        return Err(r.malformed(at, "a SenML record is a map"));
    };
    if let Some(n) = len {
        r.check_count(n, at)?;
    }
    let mut seen = 0u32;
    let mut i = 0u64;
    loop {
        match len {
            Some(n) if i >= n => break,
            None if r.peek_break()? => break,
            _ => {}
        }
        i += 1;
        let key_at = r.offset();
        let label = if let Some(l) = r.small_int() {
            l
        } else {
            match r.next()? {
                Item::UInt(v) => i64::try_from(v).unwrap_or(i64::MAX),
                Item::NegInt(n) => neg_int(n).unwrap_or(i64::MIN),
                Item::Text(t) if t == "vlo" => VLO,
                Item::Text(t) => {
                    if t.ends_with('_') {
                        return Err(DecodeError::UnknownLabel { format: CF, label: t.into_owned() });
                    }
                    r.skip(2)?;
                    continue;
                }
                _ => return Err(r.malformed(key_at, "a SenML label is an integer or a text string")),
            }
        };
        if !(-6..=9).contains(&label) {
            // Unknown integer label: ignored (RFC 8428 §4.4), its value skipped.
            r.skip(2)?;
            continue;
        }
        let bit = 1u32 << (label + 6);
        if seen & bit != 0 {
            return Err(DecodeError::DuplicateLabel { format: CF, label: label_name(label).into() });
        }
        seen |= bit;
        let vat = r.offset();
        let set_value = |rec: &mut R, v| {
            if rec.has_value() {
                return Err(bad(label, "the only value of its record"));
            }
            rec.value(v);
            Ok(())
        };
        // Fast paths for the labels every LwM2M record uses, in their usual encodings (a
        // short definite text name, a number): no generic `Item`. Anything else goes to the
        // generic reader below, which gives the same results and reports the errors.
        match label {
            N | BN => {
                if let Some(t) = r.short_text()? {
                    if label == N {
                        rec.name(Cow::Borrowed(t));
                    } else {
                        rec.base_name(Cow::Borrowed(t));
                    }
                    continue;
                }
            }
            V | T | BT => {
                if let Some(num) = r.number()? {
                    let n = match num {
                        Num::UInt(v) => i64::try_from(v).map_or(Number::UInt(v), Number::Int),
                        Num::NegInt(n) => neg_int(n)
                            .map(Number::Int)
                            .ok_or_else(|| r.malformed(vat, "negative integer below -2^63"))?,
                        Num::Float(v) => Number::Float(v),
                    };
                    match label {
                        V => set_value(rec, RecordValue::Number(n))?,
                        T => rec.time(n),
                        _ => rec.base_time(n),
                    }
                    continue;
                }
            }
            _ => {}
        }
        let item = r.next()?;
        match label {
            BVER => match item {
                Item::UInt(v) => rec.base_version(v),
                _ => return Err(bad(label, "an unsigned integer")),
            },
            BN => rec.base_name(text(label, item)?),
            BT => rec.base_time(number(r, label, &item, vat)?),
            BU => rec.base_unit(text(label, item)?),
            BV => rec.base_value(number(r, label, &item, vat)?),
            BS => rec.base_sum(number(r, label, &item, vat)?),
            N => rec.name(text(label, item)?),
            U => rec.unit(text(label, item)?),
            V => {
                let n = number(r, label, &item, vat)?;
                set_value(rec, RecordValue::Number(n))?;
            }
            VS => set_value(rec, RecordValue::String(text(label, item)?))?,
            VB => match item {
                Item::Bool(b) => set_value(rec, RecordValue::Bool(b))?,
                _ => return Err(bad(label, "a boolean")),
            },
            S => rec.sum(number(r, label, &item, vat)?),
            T => rec.time(number(r, label, &item, vat)?),
            UT => rec.update_time(number(r, label, &item, vat)?),
            VD => match item {
                Item::Bytes(b) => set_value(rec, RecordValue::Data(b))?,
                _ => return Err(bad(label, "a byte string")),
            },
            _ => set_value(rec, RecordValue::ObjectLink(text(label, item)?))?,
        }
    }
    Ok(())
}

/// Decodes a SenML CBOR pack into records (strings borrowed from `payload`).
pub fn decode<'a>(payload: &'a [u8], limits: &'a Limits) -> Result<Vec<Record<'a>>, DecodeError> {
    let mut out = Vec::new();
    for_each(payload, limits, |r| {
        out.push(core::mem::take(r));
        Ok(())
    })?;
    Ok(out)
}

fn write_number(w: &mut Writer<'_>, n: Number) {
    match n {
        Number::Int(v) => w.int(v),
        Number::UInt(v) => w.uint(v),
        Number::Float(v) => w.float(v),
    }
}

/// Appends one record as a CBOR map, labels in ascending registry order of RFC 8428's
/// examples: `bver bn bt bu bv bs n u v vs vb vd vlo s t ut`... (base labels first).
pub(crate) fn write_record(w: &mut Writer<'_>, rec: &Record<'_>) {
    let count = [
        rec.base_version.is_some(),
        rec.base_name.is_some(),
        rec.base_time.is_some(),
        rec.base_unit.is_some(),
        rec.base_value.is_some(),
        rec.base_sum.is_some(),
        rec.name.is_some(),
        rec.unit.is_some(),
        rec.value.is_some(),
        rec.sum.is_some(),
        rec.time.is_some(),
        rec.update_time.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    w.map(count);
    if let Some(v) = rec.base_version {
        w.int(BVER);
        w.uint(v);
    }
    if let Some(v) = &rec.base_name {
        w.int(BN);
        w.text(v);
    }
    if let Some(v) = rec.base_time {
        w.int(BT);
        write_number(w, v);
    }
    if let Some(v) = &rec.base_unit {
        w.int(BU);
        w.text(v);
    }
    if let Some(v) = rec.base_value {
        w.int(BV);
        write_number(w, v);
    }
    if let Some(v) = rec.base_sum {
        w.int(BS);
        write_number(w, v);
    }
    if let Some(v) = &rec.name {
        w.int(N);
        w.text(v);
    }
    if let Some(v) = &rec.unit {
        w.int(U);
        w.text(v);
    }
    match &rec.value {
        Some(RecordValue::Number(n)) => {
            w.int(V);
            write_number(w, *n);
        }
        Some(RecordValue::String(s)) => {
            w.int(VS);
            w.text(s);
        }
        Some(RecordValue::Bool(b)) => {
            w.int(VB);
            w.bool(*b);
        }
        Some(RecordValue::Data(d)) => {
            w.int(VD);
            w.bytes(d);
        }
        Some(RecordValue::ObjectLink(s)) => {
            w.text("vlo");
            w.text(s);
        }
        None => {}
    }
    if let Some(v) = rec.sum {
        w.int(S);
        write_number(w, v);
    }
    if let Some(v) = rec.time {
        w.int(T);
        write_number(w, v);
    }
    if let Some(v) = rec.update_time {
        w.int(UT);
        write_number(w, v);
    }
}

/// Encodes records as a SenML CBOR pack.
pub fn encode(records: &[Record<'_>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.len() * 16 + 4);
    let mut w = Writer { out: &mut out };
    w.array(records.len());
    for rec in records {
        write_record(&mut w, rec);
    }
    out
}
