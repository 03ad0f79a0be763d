//! Identifiers of the LwM2M resource model.
//!
//! Every level of the model (object, object instance, resource, resource instance) is
//! identified by a 16-bit unsigned integer. The value 65535 (`MAX_ID`) is reserved at every
//! level and is rejected by the constructors here. The Short Server ID is restricted further
//! to `1..=65534`.

use core::fmt;
use core::str::FromStr;

use crate::error::IdError;

/// The reserved identifier value (`MAX_ID`, 65535) that no object, instance, resource or
/// resource instance may use.
pub const RESERVED_ID: u16 = u16::MAX;

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(u16);

        impl $name {
            /// The largest valid identifier (65534).
            pub const MAX: Self = Self(RESERVED_ID - 1);

            /// Creates an identifier, or `None` for the reserved value 65535.
            pub const fn new(id: u16) -> Option<Self> {
                if id == RESERVED_ID { None } else { Some(Self(id)) }
            }

            /// The numeric value.
            pub const fn get(self) -> u16 {
                self.0
            }
        }

        impl TryFrom<u16> for $name {
            type Error = IdError;

            fn try_from(id: u16) -> Result<Self, IdError> {
                Self::new(id).ok_or(IdError::Reserved { kind: $kind })
            }
        }

        impl TryFrom<u32> for $name {
            type Error = IdError;

            fn try_from(id: u32) -> Result<Self, IdError> {
                let narrow = u16::try_from(id)
                    .map_err(|_| IdError::OutOfRange { kind: $kind, value: u64::from(id) })?;
                Self::try_from(narrow)
            }
        }

        impl From<$name> for u16 {
            fn from(id: $name) -> u16 {
                id.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, IdError> {
                parse_u16_id(s, $kind).and_then(Self::try_from)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }
    };
}

define_id!(
    /// An Object ID, e.g. 3 for the Device object (`0..=65534`).
    ObjectId,
    "object id"
);
define_id!(
    /// An Object Instance ID (`0..=65534`).
    InstanceId,
    "instance id"
);
define_id!(
    /// A Resource ID within an object (`0..=65534`).
    ResourceId,
    "resource id"
);
define_id!(
    /// A Resource Instance ID within a multiple-instance resource (`0..=65534`).
    ResourceInstanceId,
    "resource instance id"
);

/// Parses a decimal identifier strictly: ASCII digits only, no sign, no whitespace, no
/// leading `+`, at most 5 digits' worth of value.
pub(crate) fn parse_u16_id(s: &str, kind: &'static str) -> Result<u16, IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdError::NotDecimal { kind, input: s.into() });
    }
    // Leading zeros are tolerated ("03" is 3) but the value must fit in 16 bits.
    let mut value: u64 = 0;
    for b in s.bytes() {
        value = value * 10 + u64::from(b - b'0');
        if value > u64::from(u16::MAX) {
            return Err(IdError::OutOfRange { kind, value });
        }
    }
    // Cannot truncate: checked against u16::MAX above.
    Ok(value as u16)
}

/// A Short Server ID (SSID): identifies an LwM2M server account on a client.
///
/// Valid values are `1..=65534`; 0 and 65535 are forbidden by the specification.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShortServerId(u16);

impl ShortServerId {
    /// Creates a Short Server ID, or `None` for 0 or 65535.
    pub const fn new(id: u16) -> Option<Self> {
        if id == 0 || id == RESERVED_ID { None } else { Some(Self(id)) }
    }

    /// The numeric value.
    pub const fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<u16> for ShortServerId {
    type Error = IdError;

    fn try_from(id: u16) -> Result<Self, IdError> {
        Self::new(id).ok_or(IdError::InvalidShortServerId { value: id })
    }
}

impl TryFrom<i64> for ShortServerId {
    type Error = IdError;

    fn try_from(id: i64) -> Result<Self, IdError> {
        let narrow =
            u16::try_from(id).map_err(|_| IdError::OutOfRange { kind: "short server id", value: id.unsigned_abs() })?;
        Self::try_from(narrow)
    }
}

impl From<ShortServerId> for u16 {
    fn from(id: ShortServerId) -> u16 {
        id.0
    }
}

impl FromStr for ShortServerId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        parse_u16_id(s, "short server id").and_then(Self::try_from)
    }
}

impl fmt::Display for ShortServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for ShortServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShortServerId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn reserved_id_is_rejected_at_every_level() {
        assert!(ObjectId::new(65535).is_none());
        assert!(InstanceId::new(65535).is_none());
        assert!(ResourceId::new(65535).is_none());
        assert!(ResourceInstanceId::new(65535).is_none());
        assert_eq!(ObjectId::try_from(65535u16).unwrap_err(), IdError::Reserved { kind: "object id" });
        assert_eq!(ObjectId::new(65534).unwrap(), ObjectId::MAX);
        assert_eq!(ObjectId::new(0).unwrap().get(), 0);
    }

    #[test]
    fn parse_ids() {
        assert_eq!("3".parse::<ObjectId>().unwrap().get(), 3);
        assert_eq!("003".parse::<ObjectId>().unwrap().get(), 3);
        assert_eq!("65534".parse::<ResourceId>().unwrap().get(), 65534);
        assert_eq!("65535".parse::<ResourceId>().unwrap_err(), IdError::Reserved { kind: "resource id" });
        assert_eq!(
            "65536".parse::<ResourceId>().unwrap_err(),
            IdError::OutOfRange { kind: "resource id", value: 65536 }
        );
        assert_eq!("".parse::<InstanceId>().unwrap_err(), IdError::Empty { kind: "instance id" });
        assert!(matches!("-1".parse::<InstanceId>(), Err(IdError::NotDecimal { .. })));
        assert!(matches!("+1".parse::<InstanceId>(), Err(IdError::NotDecimal { .. })));
        assert!(matches!(" 1".parse::<InstanceId>(), Err(IdError::NotDecimal { .. })));
        assert!(matches!("99999999999999999999999".parse::<InstanceId>(), Err(IdError::OutOfRange { .. })));
    }

    #[test]
    fn short_server_id_range() {
        assert!(ShortServerId::new(0).is_none());
        assert!(ShortServerId::new(65535).is_none());
        assert_eq!(ShortServerId::new(1).unwrap().get(), 1);
        assert_eq!(ShortServerId::new(65534).unwrap().get(), 65534);
        assert_eq!("0".parse::<ShortServerId>().unwrap_err(), IdError::InvalidShortServerId { value: 0 });
        assert!(ShortServerId::try_from(-5i64).is_err());
        assert!(ShortServerId::try_from(70000i64).is_err());
        assert_eq!(ShortServerId::try_from(101i64).unwrap().to_string(), "101");
    }

    #[test]
    fn u32_conversion() {
        assert!(ObjectId::try_from(70_000u32).is_err());
        assert_eq!(ObjectId::try_from(3303u32).unwrap().get(), 3303);
    }

    #[test]
    fn error_messages_name_the_input() {
        let err = "3a".parse::<ObjectId>().unwrap_err().to_string();
        assert!(err.contains("\"3a\"") && err.contains("object id"), "{err}");
    }
}
