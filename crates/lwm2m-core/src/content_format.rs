//! CoAP content-format numbers of the LwM2M data formats, with names for humans and CLIs.

use core::fmt;
use core::str::FromStr;

use crate::error::CodeError;
use crate::version::LwM2mVersion;

/// A CoAP Content-Format number. Known LwM2M formats have constants; any other number is
/// carried as is.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContentFormat(pub u16);

impl ContentFormat {
    /// `text/plain;charset=utf-8` (0).
    pub const TEXT: ContentFormat = ContentFormat(0);
    /// `application/link-format` (40).
    pub const LINK_FORMAT: ContentFormat = ContentFormat(40);
    /// `application/octet-stream` (42).
    pub const OPAQUE: ContentFormat = ContentFormat(42);
    /// `application/cbor` (60), single values (1.1).
    pub const CBOR: ContentFormat = ContentFormat(60);
    /// `application/senml+json` (110, 1.1).
    pub const SENML_JSON: ContentFormat = ContentFormat(110);
    /// `application/senml+cbor` (112, 1.1).
    pub const SENML_CBOR: ContentFormat = ContentFormat(112);
    /// `application/senml-etch+json` (320, 1.2).
    pub const SENML_ETCH_JSON: ContentFormat = ContentFormat(320);
    /// `application/senml-etch+cbor` (322, 1.2).
    pub const SENML_ETCH_CBOR: ContentFormat = ContentFormat(322);
    /// `application/vnd.oma.lwm2m+tlv` (11542).
    pub const TLV: ContentFormat = ContentFormat(11542);
    /// `application/vnd.oma.lwm2m+json` (11543), the LwM2M 1.0 JSON format.
    pub const LWM2M_JSON: ContentFormat = ContentFormat(11543);
    /// `application/vnd.oma.lwm2m+cbor` (11544, 1.2).
    pub const LWM2M_CBOR: ContentFormat = ContentFormat(11544);
    /// Pre-IANA TLV number used by old 1.0 implementations (1542): accept, never send.
    pub const LEGACY_TLV: ContentFormat = ContentFormat(1542);
    /// Pre-IANA JSON number used by old 1.0 implementations (1543): accept, never send.
    pub const LEGACY_JSON: ContentFormat = ContentFormat(1543);

    /// Formats with a name, as `(name, format)`.
    pub const NAMED: [(&'static str, ContentFormat); 11] = [
        ("text", ContentFormat::TEXT),
        ("link", ContentFormat::LINK_FORMAT),
        ("opaque", ContentFormat::OPAQUE),
        ("cbor", ContentFormat::CBOR),
        ("senml-json", ContentFormat::SENML_JSON),
        ("senml-cbor", ContentFormat::SENML_CBOR),
        ("senml-etch-json", ContentFormat::SENML_ETCH_JSON),
        ("senml-etch-cbor", ContentFormat::SENML_ETCH_CBOR),
        ("tlv", ContentFormat::TLV),
        ("lwm2m-json", ContentFormat::LWM2M_JSON),
        ("lwm2m-cbor", ContentFormat::LWM2M_CBOR),
    ];

    const NAMES: &'static str = "text, link, opaque, cbor, senml-json, senml-cbor, senml-etch-json, senml-etch-cbor, tlv, lwm2m-json, lwm2m-cbor";

    /// The number.
    pub const fn number(self) -> u16 {
        self.0
    }

    /// Maps the legacy numbers 1542/1543 to 11542/11543; other formats are unchanged.
    pub const fn normalize(self) -> ContentFormat {
        match self.0 {
            1542 => ContentFormat::TLV,
            1543 => ContentFormat::LWM2M_JSON,
            _ => self,
        }
    }

    /// The short name (`"senml-cbor"`), if this is a known LwM2M format (legacy numbers
    /// map to their current name).
    pub fn name(self) -> Option<&'static str> {
        let cf = self.normalize();
        ContentFormat::NAMED.iter().find(|(_, f)| *f == cf).map(|(n, _)| *n)
    }

    /// The media type (`"application/senml+cbor"`), if known.
    pub const fn media_type(self) -> Option<&'static str> {
        Some(match self.normalize().0 {
            0 => "text/plain;charset=utf-8",
            40 => "application/link-format",
            42 => "application/octet-stream",
            60 => "application/cbor",
            110 => "application/senml+json",
            112 => "application/senml+cbor",
            320 => "application/senml-etch+json",
            322 => "application/senml-etch+cbor",
            11542 => "application/vnd.oma.lwm2m+tlv",
            11543 => "application/vnd.oma.lwm2m+json",
            11544 => "application/vnd.oma.lwm2m+cbor",
            _ => return None,
        })
    }

    /// The first enabler version that defines this format, if it is an LwM2M format.
    pub const fn since(self) -> Option<LwM2mVersion> {
        Some(match self.normalize().0 {
            0 | 40 | 42 | 11542 | 11543 => LwM2mVersion::V1_0,
            60 | 110 | 112 => LwM2mVersion::V1_1,
            320 | 322 | 11544 => LwM2mVersion::V1_2,
            _ => return None,
        })
    }

    /// True for formats that carry exactly one value (plain text, opaque, CBOR).
    pub const fn is_single_value(self) -> bool {
        matches!(self.0, 0 | 42 | 60)
    }
}

impl FromStr for ContentFormat {
    type Err = CodeError;

    /// Parses a number (`"112"`) or a name (`"senml-cbor"`, case-insensitive).
    fn from_str(s: &str) -> Result<Self, CodeError> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = s.parse::<u16>() {
                return Ok(ContentFormat(n));
            }
        }
        ContentFormat::NAMED
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, f)| *f)
            .ok_or_else(|| CodeError::UnknownContentFormat { input: s.into(), known: ContentFormat::NAMES })
    }
}

impl fmt::Display for ContentFormat {
    /// The name when known, else the number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) if self.normalize() == *self => f.write_str(n),
            _ => write!(f, "{}", self.0),
        }
    }
}

impl fmt::Debug for ContentFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentFormat({}", self.0)?;
        if let Some(n) = self.name() {
            write!(f, " {n}")?;
        }
        f.write_str(")")
    }
}

impl From<u16> for ContentFormat {
    fn from(n: u16) -> Self {
        ContentFormat(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn names_and_numbers() {
        for (name, cf) in ContentFormat::NAMED {
            assert_eq!(name.parse::<ContentFormat>().unwrap(), cf);
            assert_eq!(cf.to_string(), name);
            assert_eq!(cf.number().to_string().parse::<ContentFormat>().unwrap(), cf);
            assert!(cf.media_type().is_some());
            assert!(cf.since().is_some());
        }
        assert_eq!("SenML-CBOR".parse::<ContentFormat>().unwrap(), ContentFormat::SENML_CBOR);
        assert_eq!("1542".parse::<ContentFormat>().unwrap().normalize(), ContentFormat::TLV);
        assert_eq!(ContentFormat::LEGACY_JSON.name(), Some("lwm2m-json"));
        assert_eq!(ContentFormat::LEGACY_JSON.to_string(), "1543");
        assert_eq!(ContentFormat(50).to_string(), "50");
        assert!(matches!("xml".parse::<ContentFormat>(), Err(CodeError::UnknownContentFormat { .. })));
        assert!("70000".parse::<ContentFormat>().is_err());
        assert!(ContentFormat::CBOR.is_single_value());
        assert!(!ContentFormat::TLV.is_single_value());
        assert_eq!(ContentFormat::LWM2M_CBOR.since(), Some(LwM2mVersion::V1_2));
    }
}
