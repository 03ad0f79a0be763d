//! A small zero-copy CBOR (RFC 8949) reader and writer for the hot paths.
//!
//! Why not `ciborium` here: its `Value` tree allocates a node per item (a `Vec` per map, a
//! `String` per key), which breaks the "allocate only the output tree" goal and costs
//! several times the decode budget; its serde path cannot express SenML's mixed
//! integer/text labels without the same tree. This reader borrows strings from the payload,
//! reports byte offsets in errors, checks every length against the bytes present and the
//! [`Limits`] before use, and bounds nesting. `ciborium` remains the independent
//! implementation the test suite cross-checks against.

use alloc::borrow::Cow;
use alloc::vec::Vec;

use lwm2m_core::ContentFormat;

use crate::{DecodeError, Limits};

/// One CBOR data item header (strings already sliced out of the payload).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item<'a> {
    UInt(u64),
    /// A negative integer `-1 - n`, carried as `n`.
    NegInt(u64),
    Bytes(Cow<'a, [u8]>),
    Text(Cow<'a, str>),
    /// An array of `Some(len)` items, or indefinite (`None`, ended by `Break`).
    Array(Option<u64>),
    /// A map of `Some(len)` pairs, or indefinite.
    Map(Option<u64>),
    Tag(u64),
    Bool(bool),
    Null,
    Undefined,
    Float(f64),
    Simple(u8),
    Break,
}

/// A number item, as read by [`Reader::number`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    /// An unsigned integer.
    UInt(u64),
    /// A negative integer `-1 - n`, carried as `n`.
    NegInt(u64),
    /// A half, single or double precision float.
    Float(f64),
}

/// A cursor over a CBOR payload.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    format: ContentFormat,
    limits: &'a Limits,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], format: ContentFormat, limits: &'a Limits) -> Self {
        Reader { buf, pos: 0, format, limits }
    }

    /// Current byte offset.
    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    pub(crate) fn malformed(&self, offset: usize, reason: &'static str) -> DecodeError {
        DecodeError::Malformed { format: self.format, offset, reason }
    }

    /// Errors unless the whole payload was consumed.
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        if self.pos < self.buf.len() {
            return Err(DecodeError::TrailingBytes {
                format: self.format,
                offset: self.pos,
                count: self.buf.len() - self.pos,
            });
        }
        Ok(())
    }

    #[inline(always)]
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let available = self.buf.len() - self.pos;
        if n > available {
            return Err(DecodeError::Truncated { format: self.format, offset: self.pos, needed: n, available });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    #[inline(always)]
    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    /// Reads the argument of a header with additional info `info`; `None` for indefinite.
    #[inline(always)]
    fn argument(&mut self, info: u8, start: usize) -> Result<Option<u64>, DecodeError> {
        Ok(Some(match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.byte()?),
            25 => u64::from(u16::from_be_bytes(self.array()?)),
            26 => u64::from(u32::from_be_bytes(self.array()?)),
            27 => u64::from_be_bytes(self.array()?),
            31 => return Ok(None),
            _ => return Err(self.malformed(start, "reserved additional information (28..30)")),
        }))
    }

    #[inline(always)]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    /// Checks a declared string length against the limits and the bytes left.
    #[inline(always)]
    fn checked_len(&self, len: u64, at: usize) -> Result<usize, DecodeError> {
        let available = self.buf.len() - self.pos;
        let Ok(n) = usize::try_from(len) else {
            return Err(DecodeError::LengthOverflow { format: self.format, offset: at, length: len, available });
        };
        self.limits.check_value_len(n)?;
        if n > available {
            return Err(DecodeError::LengthOverflow { format: self.format, offset: at, length: len, available });
        }
        Ok(n)
    }

    /// Reads the next item. Strings are borrowed (definite length) or gathered from their
    /// chunks (indefinite length).
    #[inline(always)]
    pub(crate) fn next(&mut self) -> Result<Item<'a>, DecodeError> {
        let start = self.pos;
        let ib = self.byte()?;
        let (major, info) = (ib >> 5, ib & 0x1f);
        let arg = self.argument(info, start)?;
        Ok(match (major, arg) {
            (0, Some(v)) => Item::UInt(v),
            (1, Some(v)) => Item::NegInt(v),
            (0 | 1 | 6, None) => return Err(self.malformed(start, "indefinite length on an integer or tag")),
            (2, Some(len)) => {
                let n = self.checked_len(len, start)?;
                Item::Bytes(Cow::Borrowed(self.take(n)?))
            }
            (3, Some(len)) => {
                let n = self.checked_len(len, start)?;
                let s = self.take(n)?;
                let s = core::str::from_utf8(s)
                    .map_err(|_| DecodeError::InvalidUtf8 { format: self.format, offset: start })?;
                Item::Text(Cow::Borrowed(s))
            }
            (2 | 3, None) => self.indefinite_string(major, start)?,
            (4, len) => Item::Array(len),
            (5, len) => Item::Map(len),
            (6, Some(tag)) => Item::Tag(tag),
            (7, _) => match info {
                20 => Item::Bool(false),
                21 => Item::Bool(true),
                22 => Item::Null,
                23 => Item::Undefined,
                24 => {
                    let v = u8::try_from(arg.unwrap_or(0)).unwrap_or(0);
                    if v < 32 {
                        return Err(self.malformed(start, "two-byte simple value below 32"));
                    }
                    Item::Simple(v)
                }
                25 => Item::Float(f16_to_f64(u16::try_from(arg.unwrap_or(0)).unwrap_or(0))),
                26 => Item::Float(f64::from(f32::from_bits(u32::try_from(arg.unwrap_or(0)).unwrap_or(0)))),
                27 => Item::Float(f64::from_bits(arg.unwrap_or(0))),
                31 => Item::Break,
                v => Item::Simple(v),
            },
            _ => return Err(self.malformed(start, "invalid initial byte")),
        })
    }

    /// Gathers the chunks of an indefinite-length byte or text string (major 2 or 3).
    #[cold]
    #[inline(never)]
    fn indefinite_string(&mut self, major: u8, start: usize) -> Result<Item<'a>, DecodeError> {
        let mut out = Vec::new();
        loop {
            let at = self.pos;
            let ib = self.byte()?;
            if ib == 0xff {
                break;
            }
            if ib >> 5 != major {
                return Err(self.malformed(at, "indefinite-length string chunk of another type"));
            }
            let Some(len) = self.argument(ib & 0x1f, at)? else {
                return Err(self.malformed(at, "nested indefinite-length string"));
            };
            let n = self.checked_len(len, at)?;
            self.limits.check_value_len(out.len().saturating_add(n))?;
            out.extend_from_slice(self.take(n)?);
        }
        if major == 2 {
            Ok(Item::Bytes(Cow::Owned(out)))
        } else {
            let s = alloc::string::String::from_utf8(out)
                .map_err(|_| DecodeError::InvalidUtf8 { format: self.format, offset: start })?;
            Ok(Item::Text(Cow::Owned(s)))
        }
    }

    /// Reads the next item if it is a definite-length text string shorter than 256 bytes
    /// (the usual SenML name); `Ok(None)`, consuming nothing, for anything else. Same checks
    /// and errors as [`Reader::next`], without building an [`Item`].
    #[inline(always)]
    pub(crate) fn short_text(&mut self) -> Result<Option<&'a str>, DecodeError> {
        let start = self.pos;
        let (len, header) = match self.buf.get(start) {
            Some(&b @ 0x60..=0x77) => (b & 0x1f, 1),
            Some(0x78) => match self.buf.get(start + 1) {
                Some(&len) => (len, 2),
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
        self.pos = start + header;
        let n = self.checked_len(u64::from(len), start)?;
        let s = self.take(n)?;
        core::str::from_utf8(s).map(Some).map_err(|_| DecodeError::InvalidUtf8 { format: self.format, offset: start })
    }

    /// Reads the next item if it is an integer or a float; `Ok(None)`, consuming nothing,
    /// for anything else. Same checks and errors as [`Reader::next`].
    #[inline(always)]
    pub(crate) fn number(&mut self) -> Result<Option<Num>, DecodeError> {
        let start = self.pos;
        let Some(&ib) = self.buf.get(start) else { return Ok(None) };
        let info = ib & 0x1f;
        let num = match (ib >> 5, info) {
            (0, 0..=23) => Num::UInt(u64::from(info)),
            (1, 0..=23) => Num::NegInt(u64::from(info)),
            (0 | 1, 24..=27) | (7, 25..=27) => {
                self.pos = start + 1;
                let arg = self.argument(info, start)?.unwrap_or(0);
                return Ok(Some(match (ib >> 5, info) {
                    (0, _) => Num::UInt(arg),
                    (1, _) => Num::NegInt(arg),
                    (_, 25) => Num::Float(f16_to_f64(u16::try_from(arg).unwrap_or(0))),
                    (_, 26) => Num::Float(f64::from(f32::from_bits(u32::try_from(arg).unwrap_or(0)))),
                    _ => Num::Float(f64::from_bits(arg)),
                }));
            }
            _ => return Ok(None),
        };
        self.pos = start + 1;
        Ok(Some(num))
    }

    /// Consumes and returns a one-byte integer item (`-24..=23`), the usual form of a SenML
    /// label, or `None` (consuming nothing) when the next item is anything else.
    #[inline(always)]
    pub(crate) fn small_int(&mut self) -> Option<i64> {
        let b = *self.buf.get(self.pos)?;
        let v = match b {
            0x00..=0x17 => i64::from(b),
            0x20..=0x37 => -1 - i64::from(b - 0x20),
            _ => return None,
        };
        self.pos += 1;
        Some(v)
    }

    /// Skips one complete item (and everything nested in it), at nesting `depth`.
    pub(crate) fn skip(&mut self, depth: usize) -> Result<(), DecodeError> {
        self.limits.check_depth(depth)?;
        let at = self.pos;
        match self.next()? {
            Item::Array(len) => self.skip_items(len, 1, depth),
            Item::Map(len) => self.skip_items(len, 2, depth),
            Item::Tag(_) => self.skip(depth + 1),
            Item::Break => Err(self.malformed(at, "unexpected break")),
            _ => Ok(()),
        }
    }

    fn skip_items(&mut self, len: Option<u64>, per: u64, depth: usize) -> Result<(), DecodeError> {
        match len {
            Some(n) => {
                for _ in 0..n.saturating_mul(per) {
                    self.skip(depth + 1)?;
                }
            }
            None => loop {
                if self.peek_break()? {
                    break;
                }
                for _ in 0..per {
                    self.skip(depth + 1)?;
                }
            },
        }
        Ok(())
    }

    /// True (and consumes it) if the next byte is a break (`0xff`).
    #[inline(always)]
    pub(crate) fn peek_break(&mut self) -> Result<bool, DecodeError> {
        match self.buf.get(self.pos) {
            Some(0xff) => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) => Ok(false),
            None => Err(DecodeError::Truncated { format: self.format, offset: self.pos, needed: 1, available: 0 }),
        }
    }

    /// Checks a container length against what can possibly follow (each item needs at
    /// least one byte) so a hostile count cannot make a caller pre-allocate.
    #[inline(always)]
    pub(crate) fn check_count(&self, count: u64, at: usize) -> Result<usize, DecodeError> {
        let available = self.buf.len() - self.pos;
        match usize::try_from(count) {
            Ok(n) if n <= available => Ok(n),
            _ => Err(DecodeError::LengthOverflow { format: self.format, offset: at, length: count, available }),
        }
    }
}

impl<'a> Reader<'a> {
    /// Interprets `item` (just read, starting at `at`) as a single LwM2M value: integers,
    /// floats, booleans, strings, byte strings, and tag 1 (epoch time) around an integer.
    pub(crate) fn raw_value(&mut self, item: Item<'a>, at: usize) -> Result<crate::raw::Raw<'a>, DecodeError> {
        use crate::raw::Raw;
        Ok(match item {
            Item::UInt(v) => Raw::from_u64(v),
            Item::NegInt(n) => Raw::Int(neg_int(n).ok_or_else(|| self.malformed(at, "negative integer below -2^63"))?),
            Item::Bytes(b) => Raw::Bytes(b),
            Item::Text(t) => Raw::Text(t),
            Item::Bool(b) => Raw::Bool(b),
            Item::Float(f) => Raw::Float(f),
            Item::Tag(1) => {
                let inner_at = self.offset();
                match self.next()? {
                    Item::UInt(v) => {
                        Raw::Time(i64::try_from(v).map_err(|_| self.malformed(inner_at, "epoch time beyond 2^63"))?)
                    }
                    Item::NegInt(n) => {
                        Raw::Time(neg_int(n).ok_or_else(|| self.malformed(inner_at, "epoch time below -2^63"))?)
                    }
                    Item::Float(f) if f.is_finite() && f % 1.0 == 0.0 && f.abs() < 9.2e18 => Raw::Time(f as i64),
                    _ => return Err(self.malformed(inner_at, "tag 1 (epoch time) must wrap a whole number")),
                }
            }
            Item::Tag(_) => return Err(self.malformed(at, "unsupported CBOR tag (only 1, epoch time, is understood)")),
            _ => return Err(self.malformed(at, "expected a single value (number, string, bytes or boolean)")),
        })
    }
}

/// `-1 - n` as an i64, if it fits.
pub(crate) fn neg_int(n: u64) -> Option<i64> {
    i64::try_from(n).ok().map(|n| -1 - n)
}

/// Converts an IEEE 754 half-precision float to f64.
pub(crate) fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let mant = f64::from(h & 0x3ff);
    let mag = match exp {
        0 => mant * pow2(-24),
        31 => {
            if mant == 0.0 {
                f64::INFINITY
            } else {
                f64::NAN
            }
        }
        e => (1024.0 + mant) * pow2(e - 25),
    };
    sign * mag
}

fn pow2(e: i32) -> f64 {
    // 2^e for the small exponents used above, exactly.
    f64::from_bits(((1023 + i64::from(e)) as u64) << 52)
}

/// The half-precision bits of `v` if `v` is exactly representable as f16.
fn f64_to_f16_exact(v: f64) -> Option<u16> {
    let f = v as f32;
    if f64::from(f) != v && !v.is_nan() {
        return None;
    }
    let bits = f.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let mant = bits & 0x7f_ffff;
    if exp == 0xff {
        return Some(sign | 0x7c00 | if mant != 0 { 0x200 } else { 0 });
    }
    if exp == 0 && mant == 0 {
        return Some(sign);
    }
    let e = exp - 127;
    if (-14..=15).contains(&e) {
        if mant & 0x1fff != 0 {
            return None;
        }
        return Some(sign | (((e + 15) as u16) << 10) | (mant >> 13) as u16);
    }
    if (-24..-14).contains(&e) {
        // Subnormal half: value = m * 2^-24 with m < 1024.
        let full = mant | 0x80_0000; // 24-bit significand, value = full * 2^(e-23)
        let shift = (-14 - e) + 13; // bits dropped to reach m
        if full & ((1u32 << shift) - 1) != 0 {
            return None;
        }
        return Some(sign | (full >> shift) as u16);
    }
    None
}

/// Appends CBOR items to a byte vector, always in the preferred (shortest) serialization.
pub(crate) struct Writer<'a> {
    pub(crate) out: &'a mut Vec<u8>,
}

impl Writer<'_> {
    pub(crate) fn header(&mut self, major: u8, v: u64) {
        let m = major << 5;
        if v < 24 {
            self.out.push(m | v as u8);
        } else if v <= 0xff {
            self.out.extend_from_slice(&[m | 24, v as u8]);
        } else if v <= 0xffff {
            self.out.push(m | 25);
            self.out.extend_from_slice(&(v as u16).to_be_bytes());
        } else if v <= 0xffff_ffff {
            self.out.push(m | 26);
            self.out.extend_from_slice(&(v as u32).to_be_bytes());
        } else {
            self.out.push(m | 27);
            self.out.extend_from_slice(&v.to_be_bytes());
        }
    }

    pub(crate) fn uint(&mut self, v: u64) {
        self.header(0, v);
    }

    pub(crate) fn int(&mut self, v: i64) {
        if v >= 0 {
            self.header(0, v as u64);
        } else {
            self.header(1, !(v as u64));
        }
    }

    pub(crate) fn text(&mut self, s: &str) {
        self.header(3, s.len() as u64);
        self.out.extend_from_slice(s.as_bytes());
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.header(2, b.len() as u64);
        self.out.extend_from_slice(b);
    }

    pub(crate) fn bool(&mut self, b: bool) {
        self.out.push(if b { 0xf5 } else { 0xf4 });
    }

    pub(crate) fn array(&mut self, len: usize) {
        self.header(4, len as u64);
    }

    pub(crate) fn map(&mut self, len: usize) {
        self.header(5, len as u64);
    }

    /// The shortest of half, single and double precision that holds `v` exactly.
    pub(crate) fn float(&mut self, v: f64) {
        if let Some(h) = f64_to_f16_exact(v) {
            self.out.push(0xf9);
            self.out.extend_from_slice(&h.to_be_bytes());
        } else if f64::from(v as f32) == v {
            self.out.push(0xfa);
            self.out.extend_from_slice(&(v as f32).to_be_bytes());
        } else {
            self.out.push(0xfb);
            self.out.extend_from_slice(&v.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_floats() {
        for (v, bits) in [(0.0, 0x0000u16), (1.0, 0x3c00), (1.5, 0x3e00), (65504.0, 0x7bff), (-4.0, 0xc400)] {
            assert_eq!(f64_to_f16_exact(v), Some(bits), "{v}");
            assert_eq!(f16_to_f64(bits), v);
        }
        // Smallest subnormal and a subnormal with several bits.
        assert_eq!(f64_to_f16_exact(5.960_464_477_539_063e-8), Some(0x0001));
        assert_eq!(f16_to_f64(0x0001), 5.960_464_477_539_063e-8);
        assert_eq!(f16_to_f64(0x03ff), 6.097_555_160_522_461e-5);
        assert_eq!(f64_to_f16_exact(6.097_555_160_522_461e-5), Some(0x03ff));
        assert_eq!(f64_to_f16_exact(0.1), None);
        assert_eq!(f64_to_f16_exact(65536.0), None);
        assert_eq!(f64_to_f16_exact(f64::INFINITY), Some(0x7c00));
        assert!(f16_to_f64(0x7e00).is_nan());
    }

    #[test]
    fn shortest_headers() {
        let mut out = Vec::new();
        let mut w = Writer { out: &mut out };
        w.int(-1);
        w.int(23);
        w.int(24);
        w.int(-500);
        w.uint(u64::MAX);
        w.float(100_000.0);
        w.float(1.1);
        assert_eq!(
            out,
            [
                0x20, 0x17, 0x18, 0x18, 0x39, 0x01, 0xf3, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfa,
                0x47, 0xc3, 0x50, 0x00, 0xfb, 0x3f, 0xf1, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a
            ]
        );
    }

    #[test]
    fn hostile_lengths() {
        let limits = Limits::DEFAULT;
        // A text string claiming 2^64-1 bytes.
        let mut r = Reader::new(&[0x7b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], ContentFormat::CBOR, &limits);
        assert!(matches!(r.next(), Err(DecodeError::LimitExceeded { .. } | DecodeError::LengthOverflow { .. })));
        let mut r = Reader::new(&[0x62, b'a'], ContentFormat::CBOR, &limits);
        assert!(matches!(r.next(), Err(DecodeError::LengthOverflow { offset: 0, .. })));
        // Deeply nested arrays are refused by skip.
        let deep = [0x81u8; 100];
        let mut r = Reader::new(&deep, ContentFormat::CBOR, &limits);
        assert!(matches!(r.skip(0), Err(DecodeError::LimitExceeded { what: "nesting depth", .. })));
        let mut r = Reader::new(&[0x7f, 0x61, b'a', 0x61, b'b', 0xff], ContentFormat::CBOR, &limits);
        assert_eq!(r.next().unwrap(), Item::Text(Cow::Owned("ab".into())));
    }
}
