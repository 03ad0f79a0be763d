//! Opaque (`application/octet-stream`, content format 42): the raw bytes of one Opaque
//! resource (firmware images, certificates, keys).

use alloc::vec::Vec;

use lwm2m_core::{ContentFormat, DataType, Path, Value};

use crate::{DecodeError, EncodeError};

const CF: ContentFormat = ContentFormat::OPAQUE;

/// The bytes of an Opaque value; any other type is refused (as Leshan and Anjay do).
pub fn encode_value(path: &Path, value: &Value) -> Result<Vec<u8>, EncodeError> {
    match value {
        Value::Opaque(b) => Ok(b.clone()),
        other => Err(EncodeError::UnsupportedType { format: CF, path: *path, data_type: other.data_type() }),
    }
}

/// The payload as an Opaque value. A resource the model types as anything but Opaque is a
/// type mismatch; an unknown one is taken as Opaque.
pub fn decode_value(path: &Path, payload: &[u8], data_type: Option<DataType>) -> Result<Value, DecodeError> {
    match data_type {
        None | Some(DataType::Opaque) => Ok(Value::Opaque(payload.to_vec())),
        Some(t) => Err(DecodeError::TypeMismatch { path: *path, expected: t, found: "opaque bytes" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_bytes() {
        let p: Path = "/5/0/0".parse().unwrap();
        let v = Value::Opaque(alloc::vec![0, 1, 0xff]);
        assert_eq!(encode_value(&p, &v).unwrap(), [0, 1, 0xff]);
        assert_eq!(decode_value(&p, &[0, 1, 0xff], Some(DataType::Opaque)).unwrap(), v);
        assert!(encode_value(&p, &Value::Integer(1)).is_err());
        assert!(matches!(decode_value(&p, &[1], Some(DataType::Integer)), Err(DecodeError::TypeMismatch { .. })));
    }
}
