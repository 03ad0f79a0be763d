//! Content-format negotiation: which formats an LwM2M version requires, what to answer a
//! request with, and when to refuse (4.06 Not Acceptable, 4.15 Unsupported Content-Format).
//!
//! Rules (OMA TS Core 1.1/1.2 §7.1, see the spec digest §3):
//! - every client MUST support plain text, opaque and CoRE link format;
//! - a 1.0 client MUST support TLV; LwM2M JSON is optional;
//! - a 1.1+ client SHOULD support at least one of SenML CBOR, SenML JSON (and, in 1.2,
//!   LwM2M CBOR), and SHOULD NOT use TLV or LwM2M JSON; CBOR (60) is optional;
//! - a server must understand all formats.

use lwm2m_core::{ContentFormat, LwM2mVersion, ResponseCode};

/// How strongly a client of a given version is expected to support a format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Requirement {
    /// Not defined for this version (or not an LwM2M format).
    NotDefined,
    /// Defined, but the version discourages its use (TLV and LwM2M JSON from 1.1 on).
    ShouldNot,
    /// Optional.
    May,
    /// Recommended (one of the SenML/LwM2M CBOR formats).
    Should,
    /// Mandatory.
    Must,
}

/// What a client of `version` is expected to do with `format`.
pub fn client_requirement(version: LwM2mVersion, format: ContentFormat) -> Requirement {
    let format = format.normalize();
    match format.since() {
        Some(since) if since <= version => {}
        _ => return Requirement::NotDefined,
    }
    match (version, format) {
        (_, ContentFormat::TEXT | ContentFormat::OPAQUE | ContentFormat::LINK_FORMAT) => Requirement::Must,
        (LwM2mVersion::V1_0, ContentFormat::TLV) => Requirement::Must,
        (LwM2mVersion::V1_0, _) => Requirement::May,
        (_, ContentFormat::TLV | ContentFormat::LWM2M_JSON) => Requirement::ShouldNot,
        (_, ContentFormat::SENML_CBOR | ContentFormat::SENML_JSON | ContentFormat::LWM2M_CBOR) => Requirement::Should,
        _ => Requirement::May,
    }
}

/// The formats this crate decodes into nodes (what a server understands).
pub const DECODABLE: [ContentFormat; 8] = [
    ContentFormat::TEXT,
    ContentFormat::OPAQUE,
    ContentFormat::CBOR,
    ContentFormat::TLV,
    ContentFormat::LWM2M_JSON,
    ContentFormat::SENML_JSON,
    ContentFormat::SENML_CBOR,
    ContentFormat::LWM2M_CBOR,
];

/// The formats a client of `version` built on this crate should offer for data, best first:
/// TLV first for 1.0; SenML CBOR, LwM2M CBOR (1.2), SenML JSON, then the single-value
/// formats for 1.1+.
pub fn client_formats(version: LwM2mVersion) -> &'static [ContentFormat] {
    match version {
        LwM2mVersion::V1_0 => {
            &[ContentFormat::TLV, ContentFormat::TEXT, ContentFormat::OPAQUE, ContentFormat::LWM2M_JSON]
        }
        LwM2mVersion::V1_1 => &[
            ContentFormat::SENML_CBOR,
            ContentFormat::SENML_JSON,
            ContentFormat::TEXT,
            ContentFormat::OPAQUE,
            ContentFormat::CBOR,
            ContentFormat::TLV,
        ],
        _ => &[
            ContentFormat::SENML_CBOR,
            ContentFormat::LWM2M_CBOR,
            ContentFormat::SENML_JSON,
            ContentFormat::TEXT,
            ContentFormat::OPAQUE,
            ContentFormat::CBOR,
            ContentFormat::TLV,
        ],
    }
}

/// Why no response format could be chosen, or a request payload is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiationError {
    /// The Accept option asks for a format the client cannot produce for this target: 4.06.
    #[error("cannot produce content format {requested} for this target (4.06 Not Acceptable)")]
    NotAcceptable {
        /// The Accept value.
        requested: ContentFormat,
    },
    /// A Write/Create/Execute payload is in a format the receiver does not support: 4.15.
    #[error("content format {format} is not supported here (4.15 Unsupported Content-Format)")]
    UnsupportedContentFormat {
        /// The Content-Format of the request.
        format: ContentFormat,
    },
}

impl NegotiationError {
    /// The CoAP response code to answer with.
    pub const fn response_code(self) -> ResponseCode {
        match self {
            NegotiationError::NotAcceptable { .. } => ResponseCode::NotAcceptable,
            NegotiationError::UnsupportedContentFormat { .. } => ResponseCode::UnsupportedContentFormat,
        }
    }
}

/// What a Read/Observe response carries, for choosing a format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// One value (a single resource or a resource instance); `opaque` when its type is Opaque.
    SingleValue {
        /// The value is Opaque.
        opaque: bool,
    },
    /// Several values (object, instance, multiple resource).
    MultipleValues,
    /// A composite operation (several paths).
    Composite,
}

fn can_carry(format: ContentFormat, target: Target) -> bool {
    match format.normalize() {
        ContentFormat::TEXT | ContentFormat::CBOR => matches!(target, Target::SingleValue { .. }),
        ContentFormat::OPAQUE => matches!(target, Target::SingleValue { opaque: true }),
        ContentFormat::TLV | ContentFormat::LWM2M_JSON => !matches!(target, Target::Composite),
        ContentFormat::SENML_JSON | ContentFormat::SENML_CBOR | ContentFormat::LWM2M_CBOR => true,
        _ => false,
    }
}

/// Chooses the response format of a client of `version` that supports `supported` (best
/// first): the Accept format if given and usable (else 4.06); otherwise the first of
/// `supported` that can carry `target`, with plain text (opaque for Opaque values)
/// preferred for single values as Leshan and Wakaama do.
pub fn choose_response_format(
    accept: Option<ContentFormat>,
    target: Target,
    supported: &[ContentFormat],
) -> Result<ContentFormat, NegotiationError> {
    if let Some(requested) = accept {
        let requested = requested.normalize();
        let ok = supported.iter().any(|s| s.normalize() == requested) && can_carry(requested, target);
        return if ok { Ok(requested) } else { Err(NegotiationError::NotAcceptable { requested }) };
    }
    let preferred = match target {
        Target::SingleValue { opaque: true } => Some(ContentFormat::OPAQUE),
        Target::SingleValue { opaque: false } => Some(ContentFormat::TEXT),
        _ => None,
    };
    if let Some(p) = preferred.filter(|p| supported.contains(p)) {
        return Ok(p);
    }
    supported
        .iter()
        .map(|s| s.normalize())
        .find(|s| can_carry(*s, target))
        .ok_or(NegotiationError::NotAcceptable { requested: supported.first().copied().unwrap_or(ContentFormat::TEXT) })
}

/// Checks the Content-Format of a request payload against what the receiver supports (4.15).
pub fn check_request_format(
    format: ContentFormat,
    supported: &[ContentFormat],
) -> Result<ContentFormat, NegotiationError> {
    let f = format.normalize();
    if supported.iter().any(|s| s.normalize() == f) {
        Ok(f)
    } else {
        Err(NegotiationError::UnsupportedContentFormat { format })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements() {
        assert_eq!(client_requirement(LwM2mVersion::V1_0, ContentFormat::TLV), Requirement::Must);
        assert_eq!(client_requirement(LwM2mVersion::V1_0, ContentFormat::LEGACY_TLV), Requirement::Must);
        assert_eq!(client_requirement(LwM2mVersion::V1_0, ContentFormat::SENML_CBOR), Requirement::NotDefined);
        assert_eq!(client_requirement(LwM2mVersion::V1_1, ContentFormat::TLV), Requirement::ShouldNot);
        assert_eq!(client_requirement(LwM2mVersion::V1_1, ContentFormat::SENML_CBOR), Requirement::Should);
        assert_eq!(client_requirement(LwM2mVersion::V1_1, ContentFormat::LWM2M_CBOR), Requirement::NotDefined);
        assert_eq!(client_requirement(LwM2mVersion::V1_2, ContentFormat::LWM2M_CBOR), Requirement::Should);
        assert_eq!(client_requirement(LwM2mVersion::V1_2, ContentFormat::TEXT), Requirement::Must);
        assert_eq!(client_requirement(LwM2mVersion::V1_1, ContentFormat::CBOR), Requirement::May);
        assert_eq!(client_requirement(LwM2mVersion::V1_1, ContentFormat(50)), Requirement::NotDefined);
    }

    #[test]
    fn choosing() {
        let v11 = client_formats(LwM2mVersion::V1_1);
        assert_eq!(choose_response_format(None, Target::MultipleValues, v11), Ok(ContentFormat::SENML_CBOR));
        assert_eq!(choose_response_format(None, Target::SingleValue { opaque: false }, v11), Ok(ContentFormat::TEXT));
        assert_eq!(choose_response_format(None, Target::SingleValue { opaque: true }, v11), Ok(ContentFormat::OPAQUE));
        let v10 = client_formats(LwM2mVersion::V1_0);
        assert_eq!(choose_response_format(None, Target::MultipleValues, v10), Ok(ContentFormat::TLV));
        let e = choose_response_format(Some(ContentFormat::TEXT), Target::MultipleValues, v11).unwrap_err();
        assert_eq!(e.response_code(), ResponseCode::NotAcceptable);
        assert_eq!(
            choose_response_format(Some(ContentFormat::LEGACY_TLV), Target::MultipleValues, v10),
            Ok(ContentFormat::TLV)
        );
        assert!(choose_response_format(Some(ContentFormat::LWM2M_CBOR), Target::Composite, v11).is_err());
        assert_eq!(
            check_request_format(ContentFormat::LWM2M_JSON, v11).unwrap_err().response_code(),
            ResponseCode::UnsupportedContentFormat
        );
        assert_eq!(check_request_format(ContentFormat::LEGACY_TLV, v11), Ok(ContentFormat::TLV));
    }
}
