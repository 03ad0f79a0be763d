//! Versions: the LwM2M enabler version a peer speaks, and `major.minor` object versions.

use alloc::string::String;
use core::fmt;
use core::str::FromStr;

use crate::error::VersionError;

/// A `major.minor` version, as used for object versions (`ver=1.1`) and in object
/// definitions. Orders numerically (1.10 > 1.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major version: a change breaks compatibility.
    pub major: u8,
    /// Minor version: a change only adds optional things.
    pub minor: u8,
}

impl Version {
    /// Version 1.0, the default when none is given.
    pub const V1_0: Version = Version { major: 1, minor: 0 };

    /// Creates a version.
    pub const fn new(major: u8, minor: u8) -> Self {
        Version { major, minor }
    }
}

impl Default for Version {
    fn default() -> Self {
        Version::V1_0
    }
}

impl FromStr for Version {
    type Err = VersionError;

    /// Parses `1.0`, `1.1`, `2.0`... (each part 0..=255, decimal, no sign).
    fn from_str(s: &str) -> Result<Self, VersionError> {
        let malformed = || VersionError::Malformed { input: String::from(s) };
        let (maj, min) = s.split_once('.').ok_or_else(malformed)?;
        let part = |p: &str| {
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(malformed());
            }
            p.parse::<u8>().map_err(|_| malformed())
        };
        Ok(Version { major: part(maj)?, minor: part(min)? })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// An LwM2M enabler version this SDK implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LwM2mVersion {
    /// LwM2M 1.0.
    V1_0,
    /// LwM2M 1.1.
    V1_1,
    /// LwM2M 1.2.
    V1_2,
}

impl LwM2mVersion {
    /// All supported versions, oldest first.
    pub const ALL: [LwM2mVersion; 3] = [LwM2mVersion::V1_0, LwM2mVersion::V1_1, LwM2mVersion::V1_2];

    /// The newest supported version.
    pub const LATEST: LwM2mVersion = LwM2mVersion::V1_2;

    /// As a `major.minor` version.
    pub const fn version(self) -> Version {
        match self {
            LwM2mVersion::V1_0 => Version::new(1, 0),
            LwM2mVersion::V1_1 => Version::new(1, 1),
            LwM2mVersion::V1_2 => Version::new(1, 2),
        }
    }

    /// The text used in the `lwm2m=` registration parameter.
    pub const fn as_str(self) -> &'static str {
        match self {
            LwM2mVersion::V1_0 => "1.0",
            LwM2mVersion::V1_1 => "1.1",
            LwM2mVersion::V1_2 => "1.2",
        }
    }

    /// Maps a `major.minor` version to a supported enabler version.
    pub fn from_version(v: Version) -> Option<LwM2mVersion> {
        LwM2mVersion::ALL.into_iter().find(|l| l.version() == v)
    }
}

impl FromStr for LwM2mVersion {
    type Err = VersionError;

    /// Parses `1.0`, `1.1` or `1.2`; other well-formed versions give
    /// [`VersionError::Unsupported`] (a server answers 4.12 to those).
    fn from_str(s: &str) -> Result<Self, VersionError> {
        let v: Version = s.parse()?;
        LwM2mVersion::from_version(v).ok_or_else(|| VersionError::Unsupported { input: String::from(s) })
    }
}

impl fmt::Display for LwM2mVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_versions() {
        assert_eq!("1.1".parse::<Version>().unwrap(), Version::new(1, 1));
        assert!("1.10".parse::<Version>().unwrap() > "1.9".parse::<Version>().unwrap());
        for bad in ["1", "1.", ".1", "1.1.1", "a.b", "-1.0", "256.0", " 1.0"] {
            assert!(bad.parse::<Version>().is_err(), "{bad}");
        }
        assert_eq!("1.2".parse::<LwM2mVersion>().unwrap(), LwM2mVersion::V1_2);
        assert_eq!("1.3".parse::<LwM2mVersion>().unwrap_err(), VersionError::Unsupported { input: "1.3".into() });
        assert!(matches!("x".parse::<LwM2mVersion>(), Err(VersionError::Malformed { .. })));
        assert!(LwM2mVersion::V1_0 < LwM2mVersion::V1_1);
        for v in LwM2mVersion::ALL {
            assert_eq!(v.as_str().parse::<LwM2mVersion>().unwrap(), v);
        }
    }
}
