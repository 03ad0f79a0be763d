//! CBOR single value (`application/cbor`, content format 60, LwM2M 1.1): one resource value
//! as one CBOR data item.
//!
//! Integers as major types 0/1, Unsigned Integer as major type 0, Float as the shortest
//! IEEE 754 width that holds it exactly, Boolean as `true`/`false`, String and Corelnk as
//! text strings, Opaque as a byte string, Objlnk as the text `"3:0"`, Time as an integer
//! (tag 1 around an integer or integral float is accepted on input).

use alloc::vec::Vec;

use lwm2m_core::{ContentFormat, DataType, Path, Value};

use crate::cbor_io::{Reader, Writer};
use crate::{DecodeError, EncodeError, Limits};

const CF: ContentFormat = ContentFormat::CBOR;

/// Encodes one value as a CBOR data item.
pub fn encode_value(_path: &Path, value: &Value) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(16);
    write_value(&mut Writer { out: &mut out }, value);
    Ok(out)
}

/// Writes `value` as one CBOR item (shared with SenML CBOR and LwM2M CBOR).
pub(crate) fn write_value(w: &mut Writer<'_>, value: &Value) {
    match value {
        Value::String(s) | Value::Corelnk(s) => w.text(s),
        Value::Integer(v) | Value::Time(v) => w.int(*v),
        Value::UnsignedInteger(v) => w.uint(*v),
        Value::Float(f) => w.float(*f),
        Value::Boolean(b) => w.bool(*b),
        Value::Opaque(b) => w.bytes(b),
        Value::Objlnk(l) => {
            let mut buf = [0u8; 11];
            w.text(objlnk_text(*l, &mut buf));
        }
    }
}

/// Formats `o:i` into `buf` without allocating.
pub(crate) fn objlnk_text(l: lwm2m_core::Objlnk, buf: &mut [u8; 11]) -> &str {
    let mut n = 0;
    for (i, part) in [l.object, l.instance].into_iter().enumerate() {
        if i == 1 {
            buf[n] = b':';
            n += 1;
        }
        let mut digits = [0u8; 5];
        let mut len = 0;
        let mut v = part;
        loop {
            digits[len] = b'0' + (v % 10) as u8;
            len += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for d in digits[..len].iter().rev() {
            buf[n] = *d;
            n += 1;
        }
    }
    core::str::from_utf8(&buf[..n]).unwrap_or("")
}

/// Decodes one CBOR data item as a value of `data_type` (`None`: the item's own type).
pub fn decode_value(
    path: &Path,
    payload: &[u8],
    data_type: Option<DataType>,
    limits: &Limits,
) -> Result<Value, DecodeError> {
    let mut r = Reader::new(payload, CF, limits);
    let item = r.next()?;
    let raw = r.raw_value(item, 0)?;
    r.finish()?;
    raw.typed(path, data_type)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lwm2m_core::Objlnk;

    #[test]
    fn vectors() {
        let p: Path = "/3/0/9".parse().unwrap();
        let l = Limits::DEFAULT;
        let cases: [(Value, &[u8]); 8] = [
            (Value::Integer(95), &[0x18, 0x5f]),
            (Value::Integer(-750), &[0x39, 0x02, 0xed]),
            (Value::UnsignedInteger(u64::MAX), &[0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            (Value::Float(21.5), &[0xf9, 0x4d, 0x60]),
            (Value::Boolean(false), &[0xf4]),
            (Value::String("ACME".into()), &[0x64, b'A', b'C', b'M', b'E']),
            (Value::Opaque(alloc::vec![1, 2]), &[0x42, 1, 2]),
            (Value::Objlnk(Objlnk::new(3, 0)), &[0x63, b'3', b':', b'0']),
        ];
        for (v, bytes) in cases {
            assert_eq!(encode_value(&p, &v).unwrap(), bytes, "{v:?}");
            assert_eq!(decode_value(&p, bytes, Some(v.data_type()), &l).unwrap(), v);
        }
        // Tag 1 epoch time.
        assert_eq!(
            decode_value(&p, &[0xc1, 0x1a, 0x51, 0x82, 0x42, 0x8f], Some(DataType::Time), &l).unwrap(),
            Value::Time(1_367_491_215)
        );
        assert!(matches!(decode_value(&p, &[0x18, 0x5f, 0x00], None, &l), Err(DecodeError::TrailingBytes { .. })));
        assert!(matches!(decode_value(&p, &[0x80], None, &l), Err(DecodeError::Malformed { .. })));
        assert!(matches!(
            decode_value(&p, &[0xf5], Some(DataType::Integer), &l),
            Err(DecodeError::TypeMismatch { .. })
        ));
        let mut buf = [0u8; 11];
        assert_eq!(objlnk_text(Objlnk::NULL, &mut buf), "65535:65535");
    }
}
