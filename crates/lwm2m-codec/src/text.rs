//! Plain text (`text/plain;charset=utf-8`, content format 0): one resource value.
//!
//! | Type | Text form |
//! |---|---|
//! | String, Corelnk | the UTF-8 text itself |
//! | Integer, Time, Unsigned Integer | ASCII decimal (`-750`) |
//! | Float | shortest decimal that reads back to the same `f64` (`21.5`, `95`); NaN/∞ refused |
//! | Boolean | `1` / `0` (`true`/`false` accepted on input) |
//! | Opaque | base64 **with** padding (RFC 4648 §4); unpadded accepted on input |
//! | Objlnk | `object:instance` (`3:0`) |
//!
//! Plain text carries no type, so decoding needs the model: an unknown resource decodes as
//! a String (the only lossless reading of arbitrary text).

use alloc::string::ToString;
use alloc::vec::Vec;

use lwm2m_core::{ContentFormat, DataType, Path, Value};

use crate::raw::{BASE64, decode_base64, encode_base64};
use crate::{DecodeError, EncodeError};

const CF: ContentFormat = ContentFormat::TEXT;

/// Encodes one value as plain text.
pub fn encode_value(path: &Path, value: &Value) -> Result<Vec<u8>, EncodeError> {
    Ok(match value {
        Value::String(s) | Value::Corelnk(s) => s.as_bytes().to_vec(),
        Value::Integer(v) | Value::Time(v) => v.to_string().into_bytes(),
        Value::UnsignedInteger(v) => v.to_string().into_bytes(),
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(EncodeError::NonFinite { format: CF, path: *path });
            }
            f.to_string().into_bytes()
        }
        Value::Boolean(b) => Vec::from(if *b { "1" } else { "0" }),
        Value::Opaque(b) => encode_base64(b, &BASE64).into_bytes(),
        Value::Objlnk(l) => l.to_string().into_bytes(),
    })
}

/// Decodes plain text as a value of `data_type` (`None`: unknown resource, read as String).
pub fn decode_value(path: &Path, payload: &[u8], data_type: Option<DataType>) -> Result<Value, DecodeError> {
    let text =
        core::str::from_utf8(payload).map_err(|e| DecodeError::InvalidUtf8 { format: CF, offset: e.valid_up_to() })?;
    match data_type {
        None | Some(DataType::String) => Ok(Value::String(text.into())),
        Some(DataType::Opaque) => decode_base64(text, false, path).map(Value::Opaque),
        Some(DataType::None) => {
            Err(DecodeError::TypeMismatch { path: *path, expected: DataType::None, found: "a text value" })
        }
        Some(t) => Value::parse_text(t, text).map_err(|source| DecodeError::InvalidValue { path: *path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lwm2m_core::Objlnk;

    fn p() -> Path {
        "/3/0/13".parse().unwrap()
    }

    #[test]
    fn every_type_both_ways() {
        let cases: [(Value, &str); 9] = [
            (Value::String("Open Mobile Alliance".into()), "Open Mobile Alliance"),
            (Value::Integer(-750), "-750"),
            (Value::UnsignedInteger(u64::MAX), "18446744073709551615"),
            (Value::Float(21.5), "21.5"),
            (Value::Float(95.0), "95"),
            (Value::Boolean(true), "1"),
            (Value::Time(1_367_491_215), "1367491215"),
            (Value::Objlnk(Objlnk::new(3, 0)), "3:0"),
            (Value::Opaque(b"hello".to_vec()), "aGVsbG8="),
        ];
        for (v, text) in cases {
            assert_eq!(encode_value(&p(), &v).unwrap(), text.as_bytes(), "{v:?}");
            assert_eq!(decode_value(&p(), text.as_bytes(), Some(v.data_type())).unwrap(), v, "{text}");
        }
        assert_eq!(decode_value(&p(), b"aGVsbG8", Some(DataType::Opaque)).unwrap(), Value::Opaque(b"hello".to_vec()));
        assert_eq!(decode_value(&p(), b"true", Some(DataType::Boolean)).unwrap(), Value::Boolean(true));
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(matches!(encode_value(&p(), &Value::Float(f64::NAN)), Err(EncodeError::NonFinite { .. })));
        assert_eq!(decode_value(&p(), b"ab\xffc", None), Err(DecodeError::InvalidUtf8 { format: CF, offset: 2 }));
        assert!(matches!(decode_value(&p(), b"12x", Some(DataType::Integer)), Err(DecodeError::InvalidValue { .. })));
        assert!(matches!(decode_value(&p(), b"%%%", Some(DataType::Opaque)), Err(DecodeError::InvalidBase64 { .. })));
        assert!(matches!(decode_value(&p(), b"", Some(DataType::None)), Err(DecodeError::TypeMismatch { .. })));
    }
}
