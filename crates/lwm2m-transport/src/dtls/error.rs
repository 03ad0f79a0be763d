//! Errors of the DTLS layer: configuration mistakes, handshake failures and session limits.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::x509::hex;

/// A DTLS alert description (RFC 5246 §7.2, RFC 4279 §2), named where we know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AlertDescription(pub u8);

impl AlertDescription {
    /// `close_notify` (0).
    pub const CLOSE_NOTIFY: Self = Self(0);
    /// `bad_record_mac` (20).
    pub const BAD_RECORD_MAC: Self = Self(20);
    /// `handshake_failure` (40).
    pub const HANDSHAKE_FAILURE: Self = Self(40);
    /// `bad_certificate` (42).
    pub const BAD_CERTIFICATE: Self = Self(42);
    /// `unsupported_certificate` (43): e.g. no common certificate type (RFC 7250 §4.2).
    pub const UNSUPPORTED_CERTIFICATE: Self = Self(43);
    /// `certificate_expired` (45).
    pub const CERTIFICATE_EXPIRED: Self = Self(45);
    /// `certificate_unknown` (46).
    pub const CERTIFICATE_UNKNOWN: Self = Self(46);
    /// `unknown_ca` (48).
    pub const UNKNOWN_CA: Self = Self(48);
    /// `access_denied` (49).
    pub const ACCESS_DENIED: Self = Self(49);
    /// `decrypt_error` (51): a Finished message or signature did not verify (e.g. a wrong PSK).
    pub const DECRYPT_ERROR: Self = Self(51);
    /// `internal_error` (80).
    pub const INTERNAL_ERROR: Self = Self(80);
    /// `unknown_psk_identity` (115, RFC 4279).
    pub const UNKNOWN_PSK_IDENTITY: Self = Self(115);

    /// The RFC name of the alert, if known.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "close_notify",
            10 => "unexpected_message",
            20 => "bad_record_mac",
            22 => "record_overflow",
            40 => "handshake_failure",
            42 => "bad_certificate",
            43 => "unsupported_certificate",
            44 => "certificate_revoked",
            45 => "certificate_expired",
            46 => "certificate_unknown",
            47 => "illegal_parameter",
            48 => "unknown_ca",
            49 => "access_denied",
            50 => "decode_error",
            51 => "decrypt_error",
            70 => "protocol_version",
            71 => "insufficient_security",
            80 => "internal_error",
            90 => "user_canceled",
            110 => "unsupported_extension",
            115 => "unknown_psk_identity",
            _ => return None,
        })
    }

    /// Whether LwM2M (TS Transport, DTLS alert table) says a client must not retry after this alert.
    ///
    /// The "fail" alerts are 42–46, 48, 49 and 112–115; every other alert allows a retry.
    pub fn is_permanent_failure(self) -> bool {
        matches!(self.0, 42..=46 | 48 | 49 | 112..=115)
    }
}

impl fmt::Display for AlertDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => write!(f, "alert {}", self.0),
        }
    }
}

/// Why a peer certificate was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// The certificate's notAfter is in the past.
    #[error("the certificate has expired")]
    Expired,
    /// The certificate's notBefore is in the future.
    #[error("the certificate is not valid yet")]
    NotValidYet,
    /// No chain leads from the certificate to a configured trust anchor.
    #[error("the certificate is not issued by a trusted CA")]
    UnknownIssuer,
    /// A signature in the chain did not verify.
    #[error("a certificate signature did not verify")]
    BadSignature,
    /// The chain uses an algorithm this SDK does not verify (only ECDSA P-256/P-384 are supported).
    #[error("unsupported signature algorithm in the certificate chain")]
    UnsupportedAlgorithm,
    /// The certificate is not valid for the expected server name.
    #[error("the certificate is not valid for the name {expected:?}")]
    NameMismatch {
        /// The name we expected (the server name from the URI or the SNI resource).
        expected: String,
    },
    /// The certificate is not allowed for this purpose (extended key usage).
    #[error("the certificate's extended key usage does not allow this role")]
    WrongUsage,
    /// The DER could not be parsed.
    #[error("the certificate is malformed: {0}")]
    Malformed(String),
    /// The credential store refused an otherwise valid certificate (not provisioned / revoked).
    #[error("the certificate is valid but not provisioned in the credential store")]
    NotProvisioned,
    /// Any other path-building failure, with webpki's reason.
    #[error("certificate validation failed: {0}")]
    Other(String),
    /// Raw public key mode: the peer's key is not the pinned one (client) or not admitted by
    /// the credential store (server).
    #[error("the raw public key with SHA-256 {} is not trusted", hex(.spki_sha256))]
    UntrustedRawPublicKey {
        /// SHA-256 over the peer's DER SubjectPublicKeyInfo.
        spki_sha256: [u8; 32],
    },
    /// Raw public key mode: the peer did not negotiate raw public keys (RFC 7250
    /// client/server_certificate_type), e.g. it only does X.509 or PSK.
    #[error("the peer did not negotiate raw public keys (RFC 7250)")]
    RawPublicKeyNotNegotiated,
    /// The server certificate does not satisfy the configured certificate usage (LwM2M
    /// Security object resource 15 with the Server Public Key resource 4, RFC 6698 values).
    #[error("the server certificate does not match the Server Public Key under certificate usage {usage} ({rule})")]
    UsageMismatch {
        /// The certificate usage (0 CA constraint, 1 service certificate constraint, 2 trust
        /// anchor assertion, 3 domain-issued certificate).
        usage: u8,
        /// What was required.
        rule: &'static str,
    },
}

impl CertificateError {
    /// The alert to send to the peer for this failure.
    pub fn alert(&self) -> AlertDescription {
        match self {
            Self::Expired | Self::NotValidYet => AlertDescription::CERTIFICATE_EXPIRED,
            Self::UnknownIssuer => AlertDescription::UNKNOWN_CA,
            Self::NotProvisioned => AlertDescription::ACCESS_DENIED,
            Self::BadSignature | Self::Malformed(_) | Self::UntrustedRawPublicKey { .. } => {
                AlertDescription::BAD_CERTIFICATE
            }
            Self::RawPublicKeyNotNegotiated => AlertDescription::UNSUPPORTED_CERTIFICATE,
            _ => AlertDescription::CERTIFICATE_UNKNOWN,
        }
    }
}

/// An error of the DTLS layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DtlsError {
    /// A PSK identity is empty.
    #[error("the PSK identity is empty")]
    EmptyPskIdentity,
    /// A PSK identity is longer than LwM2M allows (128 bytes).
    #[error("the PSK identity is {len} bytes; LwM2M allows at most {max}")]
    PskIdentityTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A PSK is empty or longer than LwM2M allows (64 bytes).
    #[error("the PSK is {len} bytes; LwM2M allows 1..={max}")]
    PskKeyLength {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The configuration is unusable (e.g. certificate mode without a certificate).
    #[error("invalid DTLS configuration: {0}")]
    InvalidConfig(String),
    /// The client offered a PSK identity the credential store does not know.
    #[error("unknown PSK identity {identity:?}")]
    UnknownPskIdentity {
        /// The identity, lossily decoded as UTF-8.
        identity: String,
    },
    /// The peer's Finished did not verify: both sides hold different PSKs for this identity.
    #[error("the handshake failed for PSK identity {identity:?}: the keys differ (wrong PSK)")]
    BadPsk {
        /// The identity, lossily decoded as UTF-8.
        identity: String,
    },
    /// The peer certificate was rejected.
    #[error("peer certificate rejected: {0}")]
    Certificate(#[from] CertificateError),
    /// The peer ended the handshake (or the session) with a fatal alert.
    #[error("the peer sent fatal alert {0}")]
    PeerAlert(AlertDescription),
    /// The handshake did not complete in time.
    #[error("the DTLS handshake did not complete within {0:?}")]
    HandshakeTimeout(Duration),
    /// The peer closed the session (close_notify) or it was closed locally.
    #[error("the DTLS session is closed")]
    Closed,
    /// The session was idle longer than the idle timeout and was evicted.
    #[error("the DTLS session was idle for more than {0:?}")]
    IdleTimeout(Duration),
    /// There is no established session with this peer.
    #[error("no established DTLS session with {0}")]
    NoSession(SocketAddr),
    /// The server refused a new session because a limit is reached.
    #[error("DTLS session limit reached ({limit} {what})")]
    Limit {
        /// Which limit.
        what: &'static str,
        /// Its value.
        limit: usize,
    },
    /// The application datagram is larger than one DTLS record can carry.
    #[error("the application datagram is {len} bytes; the limit is {max}")]
    DatagramTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The backend reported a fatal protocol error.
    #[error("DTLS protocol error ({backend}): {reason}")]
    Protocol {
        /// Which backend.
        backend: &'static str,
        /// What it said.
        reason: String,
    },
}

impl DtlsError {
    /// The alert to send to the peer when this error ends a handshake, if any.
    pub fn alert(&self) -> Option<AlertDescription> {
        match self {
            Self::UnknownPskIdentity { .. } => Some(AlertDescription::UNKNOWN_PSK_IDENTITY),
            Self::BadPsk { .. } => Some(AlertDescription::DECRYPT_ERROR),
            Self::Certificate(e) => Some(e.alert()),
            Self::Protocol { .. } => Some(AlertDescription::HANDSHAKE_FAILURE),
            _ => None,
        }
    }
}
