//! Untyped values as they come off the wire, and their typing against the model.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use lwm2m_core::{DataType, ModelRegistry, Objlnk, Path, Value};

use crate::DecodeError;

/// A value whose LwM2M type is not known yet: what the format itself tells.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Raw<'a> {
    /// A signed integer.
    Int(i64),
    /// An unsigned integer above `i64::MAX`.
    BigUInt(u64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// Text.
    Text(Cow<'a, str>),
    /// Bytes.
    Bytes(Cow<'a, [u8]>),
    /// An object link (SenML `vlo`, LwM2M JSON `ov`).
    Objlnk(Objlnk),
    /// A time (CBOR tag 1).
    Time(i64),
}

impl Raw<'_> {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Raw::Int(_) | Raw::BigUInt(_) => "an integer",
            Raw::Float(_) => "a float",
            Raw::Bool(_) => "a boolean",
            Raw::Text(_) => "a text string",
            Raw::Bytes(_) => "a byte string",
            Raw::Objlnk(_) => "an object link",
            Raw::Time(_) => "a time",
        }
    }

    /// An unsigned value as `Raw`.
    pub(crate) fn from_u64(v: u64) -> Raw<'static> {
        match i64::try_from(v) {
            Ok(i) => Raw::Int(i),
            Err(_) => Raw::BigUInt(v),
        }
    }

    /// The value with the type the model gives `path`, or the format's natural type when the
    /// model does not know the resource.
    pub(crate) fn typed(self, path: &Path, expected: Option<DataType>) -> Result<Value, DecodeError> {
        let mismatch = |expected, raw: &Raw<'_>| DecodeError::TypeMismatch { path: *path, expected, found: raw.kind() };
        let invalid = |source| DecodeError::InvalidValue { path: *path, source };
        let Some(expected) = expected else {
            return Ok(match self {
                Raw::Int(v) => Value::Integer(v),
                Raw::BigUInt(v) => Value::UnsignedInteger(v),
                Raw::Float(v) => Value::Float(v),
                Raw::Bool(v) => Value::Boolean(v),
                Raw::Text(s) => Value::String(s.into()),
                Raw::Bytes(b) => Value::Opaque(b.into_owned()),
                Raw::Objlnk(l) => Value::Objlnk(l),
                Raw::Time(t) => Value::Time(t),
            });
        };
        match (expected, self) {
            (DataType::String, Raw::Text(s)) => Ok(Value::String(s.into())),
            (DataType::Corelnk, Raw::Text(s)) => Ok(Value::Corelnk(s.into())),
            (DataType::Boolean, Raw::Bool(b)) => Ok(Value::Boolean(b)),
            (DataType::Opaque, Raw::Bytes(b)) => Ok(Value::Opaque(b.into_owned())),
            (DataType::Objlnk, Raw::Objlnk(l)) => Ok(Value::Objlnk(l)),
            (DataType::Objlnk, Raw::Text(s)) => s.parse::<Objlnk>().map(Value::Objlnk).map_err(invalid),
            (DataType::Integer, Raw::Int(v)) => Ok(Value::Integer(v)),
            (DataType::Time, Raw::Int(v) | Raw::Time(v)) => Ok(Value::Time(v)),
            (DataType::Float, Raw::Float(v)) => Ok(Value::Float(v)),
            (
                t @ (DataType::Integer | DataType::UnsignedInteger | DataType::Time | DataType::Float),
                raw @ (Raw::Int(_) | Raw::BigUInt(_) | Raw::Float(_) | Raw::Time(_)),
            ) => {
                let untyped = match raw {
                    Raw::Int(v) => Value::Integer(v),
                    Raw::BigUInt(v) => Value::UnsignedInteger(v),
                    Raw::Float(v) => Value::Float(v),
                    Raw::Time(v) => Value::Time(v),
                    _ => return Err(mismatch(t, &raw)),
                };
                untyped.convert(t).map_err(invalid)
            }
            (t, raw) => Err(mismatch(t, &raw)),
        }
    }
}

/// The data type the model gives the resource of `path`; `None` when unknown or when the
/// path is not at resource level or below.
pub(crate) fn model_type<M: ModelRegistry + ?Sized>(model: &M, path: &Path) -> Option<DataType> {
    let r = model.resource(path.object_id()?, path.resource_id()?)?;
    Some(r.data_type)
}

/// Caches the last object model looked up, so decoding many resources of one object costs
/// one registry lookup instead of one per value, and remembers where in that model's
/// (sorted) resource list the last resource was: payloads list resources in id order, so
/// the next one is usually the next entry and needs no search.
pub(crate) struct TypeCache<'m, M: ?Sized> {
    model: &'m M,
    last: Option<(lwm2m_core::ObjectId, Option<&'m lwm2m_core::ObjectModel>)>,
    next: usize,
}

impl<'m, M: ModelRegistry + ?Sized> TypeCache<'m, M> {
    pub(crate) fn new(model: &'m M) -> Self {
        TypeCache { model, last: None, next: 0 }
    }

    /// Like [`model_type`], through the cache.
    #[inline]
    pub(crate) fn data_type(&mut self, path: &Path) -> Option<DataType> {
        self.resource_type(path.object_id()?, path.resource_id()?)
    }

    /// The resource types of object `oid` (through the cache), for decoding its resources
    /// one after another with [`ObjectTypes::get`].
    #[inline]
    pub(crate) fn object_types(&mut self, oid: lwm2m_core::ObjectId) -> ObjectTypes<'m> {
        let object = match self.last {
            Some((id, o)) if id == oid => o,
            _ => {
                let o = self.model.object(oid);
                self.last = Some((oid, o));
                self.next = 0;
                o
            }
        };
        ObjectTypes { resources: object.map_or(&[], |o| &o.resources[..]), next: 0 }
    }

    /// The data type the model gives resource `rid` of object `oid`.
    #[inline]
    pub(crate) fn resource_type(&mut self, oid: lwm2m_core::ObjectId, rid: lwm2m_core::ResourceId) -> Option<DataType> {
        let object = match self.last {
            Some((id, o)) if id == oid => o,
            _ => {
                let o = self.model.object(oid);
                self.last = Some((oid, o));
                self.next = 0;
                o
            }
        };
        let resources = &object?.resources;
        // The next resource (records in id order), else the same one again (the
        // instances of a multiple resource in flat formats), else a search.
        let index = match resources.get(self.next) {
            Some(r) if r.id == rid => self.next,
            _ => match self.next.checked_sub(1).and_then(|i| Some((i, resources.get(i)?))) {
                Some((i, r)) if r.id == rid => i,
                _ => resources.binary_search_by_key(&rid, |r| r.id).ok()?,
            },
        };
        self.next = index + 1;
        resources.get(index).map(|r| r.data_type)
    }
}

/// The data types of one object's resources, for decoding the resources of one instance:
/// [`TypeCache`] without the object lookup per resource. Resources usually arrive in id
/// order, so the next model entry is checked before searching.
pub(crate) struct ObjectTypes<'m> {
    resources: &'m [lwm2m_core::ResourceModel],
    next: usize,
}

impl<'m> ObjectTypes<'m> {
    /// No known resources (the object is unknown): every lookup gives `None`.
    pub(crate) const NONE: ObjectTypes<'static> = ObjectTypes { resources: &[], next: 0 };

    /// The data type the model gives resource `rid`.
    #[inline(always)]
    pub(crate) fn get(&mut self, rid: lwm2m_core::ResourceId) -> Option<DataType> {
        let index = match self.resources.get(self.next) {
            Some(r) if r.id == rid => self.next,
            _ => self.resources.binary_search_by_key(&rid, |r| r.id).ok()?,
        };
        self.next = index + 1;
        self.resources.get(index).map(|r| r.data_type)
    }
}

/// Standard base64 with padding on output; padding optional on input (plain text, LwM2M JSON).
pub(crate) const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_encode_padding(true).with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// base64url without padding on output; padding optional on input (SenML `vd`).
pub(crate) const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_encode_padding(false).with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes base64 text, trying the URL-safe alphabet first when `url_first` (SenML `vd`) and
/// the standard one first otherwise, falling back to the other (peers mix them up); errors
/// name `path`.
pub(crate) fn decode_base64(text: &str, url_first: bool, path: &Path) -> Result<Vec<u8>, DecodeError> {
    let (first, second) = if url_first { (&BASE64URL, &BASE64) } else { (&BASE64, &BASE64URL) };
    first.decode(text).or_else(|_| second.decode(text)).map_err(|_| DecodeError::InvalidBase64 { path: *path })
}

/// Encodes bytes as base64 text.
pub(crate) fn encode_base64(bytes: &[u8], engine: &GeneralPurpose) -> String {
    engine.encode(bytes)
}
