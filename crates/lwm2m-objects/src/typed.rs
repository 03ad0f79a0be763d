//! Run-time support of the generated typed modules: the handler error type, the untyped
//! [`ObjectInstance`] interface that the client role drives, and the conversions between
//! typed Rust values and [`Value`]s.
//!
//! Generated code (here and in users' build scripts) calls these functions; applications
//! mostly meet [`ObjectError`] (returned by their handler methods) and [`ObjectInstance`].

use std::collections::BTreeMap;

use lwm2m_core::error::ValueError;
use lwm2m_core::{
    DataType, Instance, InstanceId, ObjectModel, Objlnk, Resource, ResourceId, ResourceInstanceId, ResourceValue,
    ResponseCode, Value,
};

/// Why a handler could not serve a Read, Write or Execute.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectError {
    /// The object does not define the resource, or this instance does not have it
    /// (4.04 Not Found). The default of every optional resource's methods.
    #[error("resource not found on this object instance")]
    NotFound,
    /// The resource does not allow the operation (4.05 Method Not Allowed), e.g. a Write to a
    /// read-only resource or a Read of an executable one.
    #[error("operation not allowed on this resource")]
    MethodNotAllowed,
    /// A written value does not fit the resource (4.00 Bad Request).
    #[error("resource {resource}: bad value: {reason}")]
    BadValue {
        /// The resource written.
        resource: ResourceId,
        /// What was wrong.
        reason: String,
    },
    /// The application refused or failed with a response code of its choice.
    #[error("{message} ({code})", code = code.reason())]
    Failed {
        /// The response code to answer with.
        code: ResponseCode,
        /// A human-readable reason (for logs; not sent to the peer).
        message: String,
    },
}

impl ObjectError {
    /// An application failure answered with `code`.
    pub fn failed(code: ResponseCode, message: impl Into<String>) -> Self {
        ObjectError::Failed { code, message: message.into() }
    }

    /// An internal error (5.00 Internal Server Error).
    pub fn internal(message: impl Into<String>) -> Self {
        ObjectError::failed(ResponseCode::InternalServerError, message)
    }

    /// The LwM2M response code a client answers with.
    pub fn response_code(&self) -> ResponseCode {
        match self {
            ObjectError::NotFound => ResponseCode::NotFound,
            ObjectError::MethodNotAllowed => ResponseCode::MethodNotAllowed,
            ObjectError::BadValue { .. } => ResponseCode::BadRequest,
            ObjectError::Failed { code, .. } => *code,
        }
    }
}

/// One object instance behind an untyped interface: what the client role calls for Read,
/// Write and Execute. Every generated typed module's `Adapter` implements it, and
/// applications may implement it directly for objects without a typed module.
///
/// The methods do not check access control or which interface asks (the Security object is
/// reachable only by the Bootstrap interface): that is the caller's job, using
/// [`ObjectInstance::model`].
pub trait ObjectInstance {
    /// The object's model.
    fn model(&self) -> &ObjectModel;

    /// Reads one resource.
    fn read(&self, resource: ResourceId) -> Result<ResourceValue, ObjectError>;

    /// Writes one resource; the value is converted to the resource's type.
    fn write(&mut self, resource: ResourceId, value: ResourceValue) -> Result<(), ObjectError>;

    /// Executes one resource with the Execute arguments `args` (may be empty).
    fn execute(&mut self, resource: ResourceId, args: &str) -> Result<(), ObjectError>;

    /// Reads every resource the instance has, as instance `id`: resources that are not
    /// executable and not write-only, skipping those that answer `NotFound` (absent
    /// optional resources). Other errors abort the read.
    fn read_all(&self, id: InstanceId) -> Result<Instance, ObjectError> {
        let mut instance = Instance::new(id);
        let readable: Vec<ResourceId> = self
            .model()
            .resources
            .iter()
            .filter(|r| !r.operations.execute && (r.operations.read || !r.operations.write))
            .map(|r| r.id)
            .collect();
        for resource in readable {
            match self.read(resource) {
                Ok(value) => {
                    instance.insert(Resource { id: resource, value });
                }
                Err(ObjectError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(instance)
    }
}

/// A Rust type that carries the value of a resource of some [`DataType`]s: `String`
/// (String, Corelnk), `i64` (Integer, Time), `u64` (Unsigned Integer), `f64`, `bool`,
/// `Vec<u8>` (Opaque), [`Objlnk`], and [`Value`] itself (resources whose DDF gives no type).
pub trait TypedValue: Sized {
    /// Wraps the value as a [`Value`] of `data_type`.
    fn into_value(self, data_type: DataType) -> Value;

    /// Converts `value` to `data_type` (see [`Value::convert`]) and unwraps it.
    fn from_value(value: Value, data_type: DataType) -> Result<Self, ValueError>;
}

fn incompatible(value: &Value, to: DataType) -> ValueError {
    ValueError::Incompatible { from: value.data_type(), to }
}

impl TypedValue for String {
    fn into_value(self, data_type: DataType) -> Value {
        if data_type == DataType::Corelnk { Value::Corelnk(self.into()) } else { Value::String(self.into()) }
    }

    fn from_value(value: Value, data_type: DataType) -> Result<Self, ValueError> {
        match value.convert(data_type)? {
            Value::String(s) | Value::Corelnk(s) => Ok(s.into_string()),
            other => Err(incompatible(&other, DataType::String)),
        }
    }
}

impl TypedValue for i64 {
    fn into_value(self, data_type: DataType) -> Value {
        if data_type == DataType::Time { Value::Time(self) } else { Value::Integer(self) }
    }

    fn from_value(value: Value, data_type: DataType) -> Result<Self, ValueError> {
        match value.convert(data_type)? {
            Value::Integer(v) | Value::Time(v) => Ok(v),
            other => Err(incompatible(&other, DataType::Integer)),
        }
    }
}

impl TypedValue for u64 {
    fn into_value(self, _data_type: DataType) -> Value {
        Value::UnsignedInteger(self)
    }

    fn from_value(value: Value, data_type: DataType) -> Result<Self, ValueError> {
        match value.convert(data_type)? {
            Value::UnsignedInteger(v) => Ok(v),
            other => Err(incompatible(&other, DataType::UnsignedInteger)),
        }
    }
}

impl TypedValue for f64 {
    fn into_value(self, _data_type: DataType) -> Value {
        Value::Float(self)
    }

    fn from_value(value: Value, data_type: DataType) -> Result<Self, ValueError> {
        match value.convert(data_type)? {
            Value::Float(v) => Ok(v),
            other => Err(incompatible(&other, DataType::Float)),
        }
    }
}

impl TypedValue for bool {
    fn into_value(self, _data_type: DataType) -> Value {
        Value::Boolean(self)
    }

    fn from_value(value: Value, data_type: DataType) -> Result<Self, ValueError> {
        match value.convert(data_type)? {
            Value::Boolean(v) => Ok(v),
            other => Err(incompatible(&other, DataType::Boolean)),
        }
    }
}

impl TypedValue for Vec<u8> {
    fn into_value(self, _data_type: DataType) -> Value {
        Value::Opaque(self)
    }

    fn from_value(value: Value, data_type: DataType) -> Result<Self, ValueError> {
        match value.convert(data_type)? {
            Value::Opaque(v) => Ok(v),
            other => Err(incompatible(&other, DataType::Opaque)),
        }
    }
}

impl TypedValue for Objlnk {
    fn into_value(self, _data_type: DataType) -> Value {
        Value::Objlnk(self)
    }

    fn from_value(value: Value, data_type: DataType) -> Result<Self, ValueError> {
        match value.convert(data_type)? {
            Value::Objlnk(v) => Ok(v),
            other => Err(incompatible(&other, DataType::Objlnk)),
        }
    }
}

impl TypedValue for Value {
    /// The value unchanged (used for resources whose DDF gives no type).
    fn into_value(self, _data_type: DataType) -> Value {
        self
    }

    /// The value unchanged, whatever `data_type` says.
    fn from_value(value: Value, _data_type: DataType) -> Result<Self, ValueError> {
        Ok(value)
    }
}

/// A single-instance resource's value.
pub fn single<T: TypedValue>(value: T, data_type: DataType) -> ResourceValue {
    ResourceValue::Single(value.into_value(data_type))
}

/// A multiple-instance resource's values.
pub fn multiple<T: TypedValue>(values: BTreeMap<ResourceInstanceId, T>, data_type: DataType) -> ResourceValue {
    ResourceValue::Multiple(values.into_iter().map(|(id, v)| (id, v.into_value(data_type))).collect())
}

/// An optional single-instance resource's value; `None` is [`ObjectError::NotFound`].
pub fn optional_single<T: TypedValue>(value: Option<T>, data_type: DataType) -> Result<ResourceValue, ObjectError> {
    value.map(|v| single(v, data_type)).ok_or(ObjectError::NotFound)
}

/// An optional multiple-instance resource's values; `None` is [`ObjectError::NotFound`].
pub fn optional_multiple<T: TypedValue>(
    values: Option<BTreeMap<ResourceInstanceId, T>>,
    data_type: DataType,
) -> Result<ResourceValue, ObjectError> {
    values.map(|v| multiple(v, data_type)).ok_or(ObjectError::NotFound)
}

fn bad_value(resource: ResourceId, e: &ValueError) -> ObjectError {
    ObjectError::BadValue { resource, reason: e.to_string() }
}

/// The typed value of a write to a single-instance resource.
pub fn decode_single<T: TypedValue>(
    value: ResourceValue,
    data_type: DataType,
    resource: ResourceId,
) -> Result<T, ObjectError> {
    match value {
        ResourceValue::Single(v) => T::from_value(v, data_type).map_err(|e| bad_value(resource, &e)),
        ResourceValue::Multiple(_) => Err(ObjectError::BadValue {
            resource,
            reason: "resource instances written to a single-instance resource".into(),
        }),
    }
}

/// The typed values of a write to a multiple-instance resource.
pub fn decode_multiple<T: TypedValue>(
    value: ResourceValue,
    data_type: DataType,
    resource: ResourceId,
) -> Result<BTreeMap<ResourceInstanceId, T>, ObjectError> {
    match value {
        ResourceValue::Multiple(values) => values
            .into_iter()
            .map(|(id, v)| T::from_value(v, data_type).map(|t| (id, t)).map_err(|e| bad_value(resource, &e)))
            .collect(),
        ResourceValue::Single(_) => Err(ObjectError::BadValue {
            resource,
            reason: "a single value written to a multiple-instance resource".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rid(id: u16) -> ResourceId {
        ResourceId::new(id).unwrap()
    }

    #[test]
    fn conversions() {
        assert_eq!(single(5i64, DataType::Time), ResourceValue::Single(Value::Time(5)));
        assert_eq!(
            single(String::from("</1>"), DataType::Corelnk),
            ResourceValue::Single(Value::Corelnk("</1>".into()))
        );
        let v: i64 = decode_single(ResourceValue::Single(Value::from("42")), DataType::Integer, rid(1)).unwrap();
        assert_eq!(v, 42);
        let err = decode_single::<bool>(ResourceValue::Single(Value::Opaque(vec![1])), DataType::Boolean, rid(7))
            .unwrap_err();
        assert_eq!(err.response_code(), ResponseCode::BadRequest);
        assert!(err.to_string().starts_with("resource 7: bad value:"), "{err}");
        let multi =
            decode_single::<u64>(ResourceValue::Multiple(lwm2m_core::IdMap::new()), DataType::UnsignedInteger, rid(2));
        assert!(matches!(multi, Err(ObjectError::BadValue { .. })));
        let mut m = lwm2m_core::IdMap::new();
        m.insert(ResourceInstanceId::new(3).unwrap(), Value::Integer(1));
        let got: BTreeMap<_, f64> = decode_multiple(ResourceValue::Multiple(m), DataType::Float, rid(3)).unwrap();
        assert_eq!(got.values().copied().collect::<Vec<_>>(), vec![1.0]);
        assert_eq!(optional_single::<bool>(None, DataType::Boolean), Err(ObjectError::NotFound));
        assert_eq!(ObjectError::MethodNotAllowed.response_code(), ResponseCode::MethodNotAllowed);
        assert_eq!(ObjectError::internal("x").response_code(), ResponseCode::InternalServerError);
    }
}
