//! The response codes LwM2M uses, mapped to CoAP codes.

use core::fmt;

use crate::error::CodeError;

/// An LwM2M response code. Each maps to one CoAP response code (`class.detail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseCode {
    /// 2.01 Created (Register, Create).
    Created,
    /// 2.02 Deleted (De-register, Delete, Bootstrap-Delete).
    Deleted,
    /// 2.03 Valid.
    Valid,
    /// 2.04 Changed (Update, Write, Execute, Write-Attributes, Bootstrap-Finish, Send).
    Changed,
    /// 2.05 Content (Read, Discover, Observe, notifications).
    Content,
    /// 2.31 Continue (an intermediate Block1 block was received).
    Continue,
    /// 4.00 Bad Request.
    BadRequest,
    /// 4.01 Unauthorized (access right or security violation).
    Unauthorized,
    /// 4.02 Bad Option (an unknown critical option).
    BadOption,
    /// 4.03 Forbidden.
    Forbidden,
    /// 4.04 Not Found.
    NotFound,
    /// 4.05 Method Not Allowed (operation not allowed on this target).
    MethodNotAllowed,
    /// 4.06 Not Acceptable (the requested content format cannot be produced).
    NotAcceptable,
    /// 4.08 Request Entity Incomplete (a Block1 transfer is missing blocks).
    RequestEntityIncomplete,
    /// 4.09 Conflict (registration: unresolvable profile id, 1.2).
    Conflict,
    /// 4.12 Precondition Failed (registration: unsupported LwM2M version).
    PreconditionFailed,
    /// 4.13 Request Entity Too Large.
    RequestEntityTooLarge,
    /// 4.15 Unsupported Content-Format.
    UnsupportedContentFormat,
    /// 5.00 Internal Server Error.
    InternalServerError,
    /// 5.01 Not Implemented.
    NotImplemented,
    /// 5.02 Bad Gateway.
    BadGateway,
    /// 5.03 Service Unavailable.
    ServiceUnavailable,
    /// 5.04 Gateway Timeout.
    GatewayTimeout,
}

impl ResponseCode {
    /// Every code, in numeric order.
    pub const ALL: [ResponseCode; 23] = [
        ResponseCode::Created,
        ResponseCode::Deleted,
        ResponseCode::Valid,
        ResponseCode::Changed,
        ResponseCode::Content,
        ResponseCode::Continue,
        ResponseCode::BadRequest,
        ResponseCode::Unauthorized,
        ResponseCode::BadOption,
        ResponseCode::Forbidden,
        ResponseCode::NotFound,
        ResponseCode::MethodNotAllowed,
        ResponseCode::NotAcceptable,
        ResponseCode::RequestEntityIncomplete,
        ResponseCode::Conflict,
        ResponseCode::PreconditionFailed,
        ResponseCode::RequestEntityTooLarge,
        ResponseCode::UnsupportedContentFormat,
        ResponseCode::InternalServerError,
        ResponseCode::NotImplemented,
        ResponseCode::BadGateway,
        ResponseCode::ServiceUnavailable,
        ResponseCode::GatewayTimeout,
    ];

    /// The CoAP `(class, detail)` pair, e.g. `(2, 5)` for Content.
    pub const fn class_detail(self) -> (u8, u8) {
        match self {
            ResponseCode::Created => (2, 1),
            ResponseCode::Deleted => (2, 2),
            ResponseCode::Valid => (2, 3),
            ResponseCode::Changed => (2, 4),
            ResponseCode::Content => (2, 5),
            ResponseCode::Continue => (2, 31),
            ResponseCode::BadRequest => (4, 0),
            ResponseCode::Unauthorized => (4, 1),
            ResponseCode::BadOption => (4, 2),
            ResponseCode::Forbidden => (4, 3),
            ResponseCode::NotFound => (4, 4),
            ResponseCode::MethodNotAllowed => (4, 5),
            ResponseCode::NotAcceptable => (4, 6),
            ResponseCode::RequestEntityIncomplete => (4, 8),
            ResponseCode::Conflict => (4, 9),
            ResponseCode::PreconditionFailed => (4, 12),
            ResponseCode::RequestEntityTooLarge => (4, 13),
            ResponseCode::UnsupportedContentFormat => (4, 15),
            ResponseCode::InternalServerError => (5, 0),
            ResponseCode::NotImplemented => (5, 1),
            ResponseCode::BadGateway => (5, 2),
            ResponseCode::ServiceUnavailable => (5, 3),
            ResponseCode::GatewayTimeout => (5, 4),
        }
    }

    /// The CoAP code byte (`class << 5 | detail`), e.g. `0x45` for 2.05.
    pub const fn to_byte(self) -> u8 {
        let (class, detail) = self.class_detail();
        (class << 5) | detail
    }

    /// The code for a CoAP code byte, if LwM2M uses it.
    pub fn from_byte(byte: u8) -> Result<ResponseCode, CodeError> {
        ResponseCode::ALL
            .into_iter()
            .find(|c| c.to_byte() == byte)
            .ok_or(CodeError::NotAResponseCode { class: byte >> 5, detail: byte & 0x1f })
    }

    /// True for 2.xx.
    pub const fn is_success(self) -> bool {
        self.class_detail().0 == 2
    }

    /// True for 4.xx.
    pub const fn is_client_error(self) -> bool {
        self.class_detail().0 == 4
    }

    /// True for 5.xx.
    pub const fn is_server_error(self) -> bool {
        self.class_detail().0 == 5
    }

    /// The reason phrase ("Content", "Not Found", ...).
    pub const fn reason(self) -> &'static str {
        match self {
            ResponseCode::Created => "Created",
            ResponseCode::Deleted => "Deleted",
            ResponseCode::Valid => "Valid",
            ResponseCode::Changed => "Changed",
            ResponseCode::Content => "Content",
            ResponseCode::Continue => "Continue",
            ResponseCode::BadRequest => "Bad Request",
            ResponseCode::Unauthorized => "Unauthorized",
            ResponseCode::BadOption => "Bad Option",
            ResponseCode::Forbidden => "Forbidden",
            ResponseCode::NotFound => "Not Found",
            ResponseCode::MethodNotAllowed => "Method Not Allowed",
            ResponseCode::NotAcceptable => "Not Acceptable",
            ResponseCode::RequestEntityIncomplete => "Request Entity Incomplete",
            ResponseCode::Conflict => "Conflict",
            ResponseCode::PreconditionFailed => "Precondition Failed",
            ResponseCode::RequestEntityTooLarge => "Request Entity Too Large",
            ResponseCode::UnsupportedContentFormat => "Unsupported Content-Format",
            ResponseCode::InternalServerError => "Internal Server Error",
            ResponseCode::NotImplemented => "Not Implemented",
            ResponseCode::BadGateway => "Bad Gateway",
            ResponseCode::ServiceUnavailable => "Service Unavailable",
            ResponseCode::GatewayTimeout => "Gateway Timeout",
        }
    }
}

impl fmt::Display for ResponseCode {
    /// `2.05 Content`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (class, detail) = self.class_detail();
        write!(f, "{class}.{detail:02} {}", self.reason())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn wire_bytes_match_the_digest() {
        let expect = [
            (ResponseCode::Created, 0x41),
            (ResponseCode::Deleted, 0x42),
            (ResponseCode::Changed, 0x44),
            (ResponseCode::Content, 0x45),
            (ResponseCode::Continue, 0x5F),
            (ResponseCode::BadRequest, 0x80),
            (ResponseCode::Unauthorized, 0x81),
            (ResponseCode::Forbidden, 0x83),
            (ResponseCode::NotFound, 0x84),
            (ResponseCode::MethodNotAllowed, 0x85),
            (ResponseCode::NotAcceptable, 0x86),
            (ResponseCode::RequestEntityIncomplete, 0x88),
            (ResponseCode::Conflict, 0x89),
            (ResponseCode::PreconditionFailed, 0x8C),
            (ResponseCode::RequestEntityTooLarge, 0x8D),
            (ResponseCode::UnsupportedContentFormat, 0x8F),
            (ResponseCode::InternalServerError, 0xA0),
            (ResponseCode::NotImplemented, 0xA1),
        ];
        for (code, byte) in expect {
            assert_eq!(code.to_byte(), byte, "{code}");
            assert_eq!(ResponseCode::from_byte(byte).unwrap(), code);
        }
        for code in ResponseCode::ALL {
            assert_eq!(ResponseCode::from_byte(code.to_byte()).unwrap(), code);
        }
    }

    #[test]
    fn display_and_classes() {
        assert_eq!(ResponseCode::Content.to_string(), "2.05 Content");
        assert_eq!(ResponseCode::Continue.to_string(), "2.31 Continue");
        assert!(ResponseCode::NotFound.is_client_error());
        assert!(ResponseCode::NotImplemented.is_server_error());
        assert!(ResponseCode::Created.is_success());
        assert_eq!(ResponseCode::from_byte(0x01).unwrap_err(), CodeError::NotAResponseCode { class: 0, detail: 1 });
    }
}
