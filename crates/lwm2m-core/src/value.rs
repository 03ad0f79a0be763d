//! LwM2M data types and values.
//!
//! The data types are those of the object definitions (DDF): String, Integer, Unsigned
//! Integer (1.1), Float, Boolean, Opaque, Time, Objlnk, Corelnk (1.1) and none (executable
//! resources, which carry no value). [`Value`] carries one typed value; how it is written on
//! the wire is the codec's business (`lwm2m-codec`).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use crate::error::ValueError;
use crate::text::Text;

/// A resource data type as named in the object definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DataType {
    /// UTF-8 text.
    String,
    /// Signed 64-bit integer.
    Integer,
    /// Unsigned 64-bit integer (LwM2M 1.1).
    UnsignedInteger,
    /// IEEE 754 float (32 or 64 bits on the wire).
    Float,
    /// true / false.
    Boolean,
    /// Raw bytes.
    Opaque,
    /// Unix time in seconds (signed).
    Time,
    /// Object link `object:instance`.
    Objlnk,
    /// A CoRE Link Format string (RFC 6690, LwM2M 1.1).
    Corelnk,
    /// No value: executable resources.
    None,
}

impl DataType {
    /// All data types, in declaration order.
    pub const ALL: [DataType; 10] = [
        DataType::String,
        DataType::Integer,
        DataType::UnsignedInteger,
        DataType::Float,
        DataType::Boolean,
        DataType::Opaque,
        DataType::Time,
        DataType::Objlnk,
        DataType::Corelnk,
        DataType::None,
    ];

    /// The name used in object definition XML (`"Unsigned Integer"`, `"Objlnk"`, ...).
    pub const fn ddf_name(self) -> &'static str {
        match self {
            DataType::String => "String",
            DataType::Integer => "Integer",
            DataType::UnsignedInteger => "Unsigned Integer",
            DataType::Float => "Float",
            DataType::Boolean => "Boolean",
            DataType::Opaque => "Opaque",
            DataType::Time => "Time",
            DataType::Objlnk => "Objlnk",
            DataType::Corelnk => "Corelnk",
            DataType::None => "none",
        }
    }

    /// Parses a DDF type name. Matching ignores ASCII case and accepts the empty string as
    /// `none` (executable resources leave `<Type>` empty).
    pub fn from_ddf_name(name: &str) -> Option<DataType> {
        let name = name.trim();
        if name.is_empty() {
            return Some(DataType::None);
        }
        DataType::ALL.into_iter().find(|t| t.ddf_name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DataType::String => "string",
            DataType::Integer => "integer",
            DataType::UnsignedInteger => "unsigned integer",
            DataType::Float => "float",
            DataType::Boolean => "boolean",
            DataType::Opaque => "opaque",
            DataType::Time => "time",
            DataType::Objlnk => "objlnk",
            DataType::Corelnk => "corelnk",
            DataType::None => "none",
        })
    }
}

/// An object link: a reference to object instance `object:instance`.
///
/// The null link is `65535:65535`, so these are raw `u16`s rather than identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Objlnk {
    /// Target object id.
    pub object: u16,
    /// Target instance id.
    pub instance: u16,
}

impl Objlnk {
    /// The null object link `65535:65535`.
    pub const NULL: Objlnk = Objlnk { object: u16::MAX, instance: u16::MAX };

    /// Creates a link.
    pub const fn new(object: u16, instance: u16) -> Self {
        Objlnk { object, instance }
    }

    /// True for the null link.
    pub const fn is_null(&self) -> bool {
        self.object == u16::MAX && self.instance == u16::MAX
    }
}

impl fmt::Display for Objlnk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.object, self.instance)
    }
}

impl FromStr for Objlnk {
    type Err = ValueError;

    /// Parses `"3:0"`.
    fn from_str(s: &str) -> Result<Self, ValueError> {
        let err = |reason| ValueError::Parse { data_type: DataType::Objlnk, input: s.into(), reason };
        let (o, i) = s.split_once(':').ok_or_else(|| err("expected object:instance"))?;
        let parse = |part: &str| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) || part.len() > 5 {
                return Err(err("each half must be a decimal number 0..=65535"));
            }
            part.parse::<u16>().map_err(|_| err("each half must be a decimal number 0..=65535"))
        };
        Ok(Objlnk { object: parse(o)?, instance: parse(i)? })
    }
}

/// One typed LwM2M value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A String resource. Short strings are stored inline (see [`Text`]).
    String(Text),
    /// An Integer resource.
    Integer(i64),
    /// An Unsigned Integer resource.
    UnsignedInteger(u64),
    /// A Float resource.
    Float(f64),
    /// A Boolean resource.
    Boolean(bool),
    /// An Opaque resource.
    Opaque(Vec<u8>),
    /// A Time resource: Unix seconds.
    Time(i64),
    /// An Objlnk resource.
    Objlnk(Objlnk),
    /// A Corelnk resource (RFC 6690 text).
    Corelnk(Text),
}

impl Value {
    /// The data type of this value.
    pub const fn data_type(&self) -> DataType {
        match self {
            Value::String(_) => DataType::String,
            Value::Integer(_) => DataType::Integer,
            Value::UnsignedInteger(_) => DataType::UnsignedInteger,
            Value::Float(_) => DataType::Float,
            Value::Boolean(_) => DataType::Boolean,
            Value::Opaque(_) => DataType::Opaque,
            Value::Time(_) => DataType::Time,
            Value::Objlnk(_) => DataType::Objlnk,
            Value::Corelnk(_) => DataType::Corelnk,
        }
    }

    /// The value as a signed integer (Integer, Time, or an Unsigned that fits).
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Integer(v) | Value::Time(v) => Some(v),
            Value::UnsignedInteger(v) => i64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as an unsigned integer (Unsigned, or a non-negative Integer/Time).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::UnsignedInteger(v) => Some(v),
            Value::Integer(v) | Value::Time(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a float (Float, or any integer; large integers round).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Float(v) => Some(v),
            Value::Integer(v) | Value::Time(v) => Some(v as f64),
            Value::UnsignedInteger(v) => Some(v as f64),
            _ => None,
        }
    }

    /// The value as a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Boolean(v) => Some(v),
            _ => None,
        }
    }

    /// The text of a String or Corelnk value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) | Value::Corelnk(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes of an Opaque value.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Opaque(b) => Some(b),
            _ => None,
        }
    }

    /// The link of an Objlnk value.
    pub fn as_objlnk(&self) -> Option<Objlnk> {
        match *self {
            Value::Objlnk(l) => Some(l),
            _ => None,
        }
    }

    /// Converts to `target` without losing information, or explains why it cannot.
    ///
    /// Allowed: any value to its own type; between Integer, Unsigned Integer and Time when
    /// the number fits; integers to Float when exactly representable; a Float with no
    /// fractional part to an integer type when it fits; String and Corelnk into each other;
    /// String to any type by parsing its text (e.g. `"42"` to Integer, `"3:0"` to Objlnk).
    pub fn convert(self, target: DataType) -> Result<Value, ValueError> {
        let from = self.data_type();
        if from == target {
            return Ok(self);
        }
        let out_of_range = |v: &dyn fmt::Display| ValueError::OutOfRange { data_type: target, value: v.to_string() };
        match (self, target) {
            (_, DataType::None) => Err(ValueError::NoValue),
            (Value::Integer(v) | Value::Time(v), DataType::UnsignedInteger) => {
                u64::try_from(v).map(Value::UnsignedInteger).map_err(|_| out_of_range(&v))
            }
            (Value::Integer(v), DataType::Time) => Ok(Value::Time(v)),
            (Value::Time(v), DataType::Integer) => Ok(Value::Integer(v)),
            (Value::UnsignedInteger(v), DataType::Integer) => {
                i64::try_from(v).map(Value::Integer).map_err(|_| out_of_range(&v))
            }
            (Value::UnsignedInteger(v), DataType::Time) => {
                i64::try_from(v).map(Value::Time).map_err(|_| out_of_range(&v))
            }
            (Value::Integer(v) | Value::Time(v), DataType::Float) => {
                let f = v as f64;
                // Exact iff the float converts back to the same integer.
                if (-TWO_POW_63..TWO_POW_63).contains(&f) && f as i64 == v {
                    Ok(Value::Float(f))
                } else {
                    Err(out_of_range(&v))
                }
            }
            (Value::UnsignedInteger(v), DataType::Float) => {
                let f = v as f64;
                if f < TWO_POW_64 && f as u64 == v { Ok(Value::Float(f)) } else { Err(out_of_range(&v)) }
            }
            (Value::Float(f), DataType::Integer | DataType::Time | DataType::UnsignedInteger) => {
                float_to_integer(f, target).ok_or_else(|| out_of_range(&f))
            }
            (Value::String(s), DataType::Corelnk) => Ok(Value::Corelnk(s)),
            (Value::Corelnk(s), DataType::String) => Ok(Value::String(s)),
            (Value::String(s), _) => Value::parse_text(target, &s),
            (v, to) => Err(ValueError::Incompatible { from: v.data_type(), to }),
        }
    }

    /// Parses the plain-text representation of a value of type `data_type`: decimal numbers,
    /// `0`/`1` (also `true`/`false`) for booleans, `o:i` for object links. Opaque text is
    /// not decoded here (its text form is base64, which is the codec's job) and is refused.
    pub fn parse_text(data_type: DataType, text: &str) -> Result<Value, ValueError> {
        let err = |reason| ValueError::Parse { data_type, input: text.into(), reason };
        match data_type {
            DataType::String => Ok(Value::String(text.into())),
            DataType::Corelnk => Ok(Value::Corelnk(text.into())),
            DataType::Integer | DataType::Time => {
                let v = parse_decimal_i64(text).ok_or_else(|| err("expected a decimal integer in i64 range"))?;
                Ok(if data_type == DataType::Time { Value::Time(v) } else { Value::Integer(v) })
            }
            DataType::UnsignedInteger => {
                if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
                    text.parse::<u64>()
                        .map(Value::UnsignedInteger)
                        .map_err(|_| err("expected a decimal integer in 0..=18446744073709551615"))
                } else {
                    Err(err("expected a decimal integer in 0..=18446744073709551615"))
                }
            }
            DataType::Float => {
                let valid = !text.is_empty()
                    && text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
                let f = if valid { text.parse::<f64>().ok() } else { None };
                match f {
                    Some(f) if f.is_finite() => Ok(Value::Float(f)),
                    _ => Err(err("expected a finite decimal number")),
                }
            }
            DataType::Boolean => match text {
                "1" | "true" => Ok(Value::Boolean(true)),
                "0" | "false" => Ok(Value::Boolean(false)),
                _ => Err(err("expected 0 or 1")),
            },
            DataType::Objlnk => text.parse().map(Value::Objlnk),
            DataType::Opaque => {
                Err(err("opaque values have no plain-text form in the core; decode base64 in the codec"))
            }
            DataType::None => Err(ValueError::NoValue),
        }
    }
}

/// 2^63 (`i64::MAX as f64` rounds up to it): floats below it and at or above -2^63 fit an i64.
const TWO_POW_63: f64 = i64::MAX as f64;
/// 2^64: non-negative floats below it fit a u64.
const TWO_POW_64: f64 = u64::MAX as f64;

fn parse_decimal_i64(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn float_to_integer(f: f64, target: DataType) -> Option<Value> {
    if !f.is_finite() || f % 1.0 != 0.0 {
        return None;
    }
    match target {
        DataType::UnsignedInteger => (0.0..TWO_POW_64).contains(&f).then_some(Value::UnsignedInteger(f as u64)),
        _ => {
            if !(-TWO_POW_63..TWO_POW_63).contains(&f) {
                return None;
            }
            let v = f as i64;
            Some(if target == DataType::Time { Value::Time(v) } else { Value::Integer(v) })
        }
    }
}

impl fmt::Display for Value {
    /// A human form: numbers in decimal, booleans as `true`/`false`, opaque as hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) | Value::Corelnk(s) => f.write_str(s),
            Value::Integer(v) | Value::Time(v) => write!(f, "{v}"),
            Value::UnsignedInteger(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Boolean(v) => write!(f, "{v}"),
            Value::Opaque(b) => {
                for byte in b {
                    write!(f, "{byte:02x}")?;
                }
                Ok(())
            }
            Value::Objlnk(l) => write!(f, "{l}"),
        }
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.into())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v.into())
    }
}
impl From<Text> for Value {
    fn from(v: Text) -> Self {
        Value::String(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}
impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::UnsignedInteger(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Boolean(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Opaque(v)
    }
}
impl From<Objlnk> for Value {
    fn from(v: Objlnk) -> Self {
        Value::Objlnk(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn ddf_names() {
        for t in DataType::ALL {
            assert_eq!(DataType::from_ddf_name(t.ddf_name()), Some(t));
        }
        assert_eq!(DataType::from_ddf_name("unsigned integer"), Some(DataType::UnsignedInteger));
        assert_eq!(DataType::from_ddf_name(""), Some(DataType::None));
        assert_eq!(DataType::from_ddf_name("Double"), None);
    }

    #[test]
    fn objlnk_text() {
        assert_eq!("3:0".parse::<Objlnk>().unwrap(), Objlnk::new(3, 0));
        assert!("65535:65535".parse::<Objlnk>().unwrap().is_null());
        assert_eq!(Objlnk::new(3, 0).to_string(), "3:0");
        for bad in ["3", "3:", ":0", "3:0:1", "a:0", "65536:0", "-1:0", " 3:0"] {
            assert!(bad.parse::<Objlnk>().is_err(), "{bad}");
        }
    }

    #[test]
    fn checked_conversions() {
        assert_eq!(Value::Integer(5).convert(DataType::UnsignedInteger), Ok(Value::UnsignedInteger(5)));
        assert_eq!(
            Value::Integer(-1).convert(DataType::UnsignedInteger),
            Err(ValueError::OutOfRange { data_type: DataType::UnsignedInteger, value: "-1".into() })
        );
        assert!(Value::UnsignedInteger(u64::MAX).convert(DataType::Integer).is_err());
        assert_eq!(Value::UnsignedInteger(7).convert(DataType::Time), Ok(Value::Time(7)));
        assert_eq!(Value::Float(3.0).convert(DataType::Integer), Ok(Value::Integer(3)));
        assert!(Value::Float(3.5).convert(DataType::Integer).is_err());
        assert!(Value::Float(f64::NAN).convert(DataType::Integer).is_err());
        assert!(Value::Float(-1.0).convert(DataType::UnsignedInteger).is_err());
        assert!(Value::Float(1e300).convert(DataType::Integer).is_err());
        assert_eq!(Value::Integer(2).convert(DataType::Float), Ok(Value::Float(2.0)));
        assert!(Value::Integer(i64::MAX).convert(DataType::Float).is_err());
        assert!(Value::UnsignedInteger(u64::MAX).convert(DataType::Float).is_err());
        assert_eq!(Value::from("42").convert(DataType::Integer), Ok(Value::Integer(42)));
        assert_eq!(Value::from("3:1").convert(DataType::Objlnk), Ok(Value::Objlnk(Objlnk::new(3, 1))));
        assert_eq!(
            Value::Boolean(true).convert(DataType::Opaque),
            Err(ValueError::Incompatible { from: DataType::Boolean, to: DataType::Opaque })
        );
        assert_eq!(Value::Opaque(vec![1]).convert(DataType::None), Err(ValueError::NoValue));
        assert_eq!(Value::from("</1>").convert(DataType::Corelnk), Ok(Value::Corelnk("</1>".into())));
    }

    #[test]
    fn plain_text_parsing() {
        assert_eq!(Value::parse_text(DataType::Integer, "-750"), Ok(Value::Integer(-750)));
        assert!(Value::parse_text(DataType::Integer, "+5").is_err());
        assert!(Value::parse_text(DataType::Integer, "9223372036854775808").is_err());
        assert_eq!(
            Value::parse_text(DataType::UnsignedInteger, "18446744073709551615"),
            Ok(Value::UnsignedInteger(u64::MAX))
        );
        assert!(Value::parse_text(DataType::UnsignedInteger, "-1").is_err());
        assert_eq!(Value::parse_text(DataType::Float, "21.5"), Ok(Value::Float(21.5)));
        assert_eq!(Value::parse_text(DataType::Float, "-1e3"), Ok(Value::Float(-1000.0)));
        assert!(Value::parse_text(DataType::Float, "inf").is_err());
        assert!(Value::parse_text(DataType::Float, "NaN").is_err());
        assert!(Value::parse_text(DataType::Float, "1e999").is_err());
        assert_eq!(Value::parse_text(DataType::Boolean, "1"), Ok(Value::Boolean(true)));
        assert!(Value::parse_text(DataType::Boolean, "yes").is_err());
        assert_eq!(Value::parse_text(DataType::Time, "1700000000"), Ok(Value::Time(1_700_000_000)));
        assert!(Value::parse_text(DataType::Opaque, "AAA=").is_err());
        let msg = Value::parse_text(DataType::Integer, "12x").unwrap_err().to_string();
        assert!(msg.contains("\"12x\"") && msg.contains("integer"), "{msg}");
    }

    #[test]
    fn accessors() {
        assert_eq!(Value::Time(5).as_i64(), Some(5));
        assert_eq!(Value::Integer(-5).as_u64(), None);
        assert_eq!(Value::UnsignedInteger(5).as_f64(), Some(5.0));
        assert_eq!(Value::Corelnk("x".into()).as_str(), Some("x"));
        assert_eq!(Value::Opaque(vec![0xab]).to_string(), "ab");
        assert_eq!(Value::Objlnk(Objlnk::new(1, 2)).as_objlnk(), Some(Objlnk::new(1, 2)));
        assert_eq!(Value::Boolean(true).as_bool(), Some(true));
    }
}
