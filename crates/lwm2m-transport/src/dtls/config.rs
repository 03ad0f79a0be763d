//! Credentials and configuration for DTLS clients and servers, following the LwM2M Security
//! object (/0/x): PSK (mode 0), Certificate (mode 2), the cipher suites of resource 16; RPK
//! (mode 1) is not available with the current backend, and NoSec (mode 3) means plain CoAP
//! without this module.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::error::DtlsError;
use super::identity::CredentialStore;

/// Longest PSK identity LwM2M allows (TS Transport: 128 bytes).
pub const MAX_PSK_IDENTITY_LEN: usize = 128;
/// Longest PSK LwM2M allows (TS Transport: 64 bytes; 16 recommended).
pub const MAX_PSK_KEY_LEN: usize = 64;

/// A PSK identity and key, validated against the LwM2M limits. `Debug` never prints the key.
#[derive(Clone, PartialEq, Eq)]
pub struct PskCredential {
    identity: Vec<u8>,
    key: Vec<u8>,
}

impl PskCredential {
    /// A credential from raw identity and key bytes.
    pub fn new(identity: &[u8], key: &[u8]) -> Result<Self, DtlsError> {
        if identity.is_empty() {
            return Err(DtlsError::EmptyPskIdentity);
        }
        if identity.len() > MAX_PSK_IDENTITY_LEN {
            return Err(DtlsError::PskIdentityTooLong { len: identity.len(), max: MAX_PSK_IDENTITY_LEN });
        }
        if key.is_empty() || key.len() > MAX_PSK_KEY_LEN {
            return Err(DtlsError::PskKeyLength { len: key.len(), max: MAX_PSK_KEY_LEN });
        }
        Ok(Self { identity: identity.to_vec(), key: key.to_vec() })
    }

    /// A credential whose key is given in hexadecimal (as `--psk-key` takes it).
    pub fn with_hex_key(identity: &[u8], key_hex: &str) -> Result<Self, DtlsError> {
        let hex = key_hex.trim();
        if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DtlsError::InvalidConfig(format!("PSK key {key_hex:?} is not an even-length hex string")));
        }
        let key: Vec<u8> = (0..hex.len())
            .step_by(2)
            .filter_map(|i| hex.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
            .collect();
        Self::new(identity, &key)
    }

    /// The identity.
    pub fn identity(&self) -> &[u8] {
        &self.identity
    }

    /// The key.
    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

impl fmt::Debug for PskCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PskCredential")
            .field("identity", &String::from_utf8_lossy(&self.identity))
            .field("key", &format_args!("<{} bytes>", self.key.len()))
            .finish()
    }
}

/// A certificate and its private key (ECDSA P-256 or P-384). `Debug` never prints the key.
///
/// Only the leaf is sent in the handshake (the backend sends a single certificate), so peers
/// must trust the leaf's issuer directly.
#[derive(Clone, PartialEq, Eq)]
pub struct CertifiedKey {
    certificate_der: Vec<u8>,
    private_key_der: Vec<u8>,
}

impl CertifiedKey {
    /// From a DER certificate and a DER private key (PKCS#8 or SEC1).
    pub fn from_der(certificate_der: Vec<u8>, private_key_der: Vec<u8>) -> Self {
        Self { certificate_der, private_key_der }
    }

    /// From PEM text: the first CERTIFICATE block and the first private key block.
    pub fn from_pem(certificate_pem: &[u8], private_key_pem: &[u8]) -> Result<Self, DtlsError> {
        let cert = CertificateDer::from_pem_slice(certificate_pem)
            .map_err(|e| DtlsError::InvalidConfig(format!("no PEM certificate: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(private_key_pem)
            .map_err(|e| DtlsError::InvalidConfig(format!("no PEM private key: {e}")))?;
        Ok(Self::from_der(cert.as_ref().to_vec(), key.secret_der().to_vec()))
    }

    /// The DER certificate.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    pub(crate) fn private_key_der(&self) -> &[u8] {
        &self.private_key_der
    }
}

impl fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertifiedKey")
            .field("certificate_der", &format_args!("<{} bytes>", self.certificate_der.len()))
            .field("private_key_der", &"<redacted>")
            .finish()
    }
}

/// CA certificates a peer's certificate must chain to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustAnchors {
    certificates_der: Vec<Vec<u8>>,
}

impl TrustAnchors {
    /// From DER CA certificates.
    pub fn from_der(certificates_der: Vec<Vec<u8>>) -> Self {
        Self { certificates_der }
    }

    /// From PEM text with one or more CERTIFICATE blocks.
    pub fn from_pem(pem: &[u8]) -> Result<Self, DtlsError> {
        let certificates_der = CertificateDer::pem_slice_iter(pem)
            .map(|c| c.map(|c| c.as_ref().to_vec()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| DtlsError::InvalidConfig(format!("bad PEM trust anchors: {e}")))?;
        if certificates_der.is_empty() {
            return Err(DtlsError::InvalidConfig("no CERTIFICATE block in the trust anchor PEM".into()));
        }
        Ok(Self { certificates_der })
    }

    /// The DER certificates.
    pub fn certificates_der(&self) -> &[Vec<u8>] {
        &self.certificates_der
    }
}

/// Flight retransmission and handshake deadline (RFC 6347 §4.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeTiming {
    /// First retransmission timeout of a flight (RFC 6347 recommends 1 s); it doubles per retry.
    pub initial_retransmit: Duration,
    /// How many times a flight is retransmitted before giving up.
    pub max_retransmissions: usize,
    /// Overall deadline for a handshake.
    pub handshake_timeout: Duration,
}

impl Default for HandshakeTiming {
    fn default() -> Self {
        Self {
            initial_retransmit: Duration::from_secs(1),
            max_retransmissions: 6,
            handshake_timeout: Duration::from_secs(60),
        }
    }
}

/// A DTLS 1.2 cipher suite the backend can negotiate.
///
/// The IANA values are the ones the LwM2M Security object's resource 16 ("DTLS/TLS
/// Ciphersuite") holds. LwM2M makes [`Self::PskAes128Ccm8`] mandatory in PSK mode and
/// [`Self::EcdheEcdsaAes128Ccm8`] in certificate and RPK modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CipherSuite {
    /// TLS_PSK_WITH_AES_128_CCM_8 (0xC0A8, RFC 6655).
    PskAes128Ccm8,
    /// TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 (0xC0AE, RFC 7251).
    EcdheEcdsaAes128Ccm8,
    /// TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (0xC02B, RFC 5289).
    EcdheEcdsaAes128GcmSha256,
    /// TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (0xC02C, RFC 5289).
    EcdheEcdsaAes256GcmSha384,
    /// TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 (0xCCA9, RFC 7905).
    EcdheEcdsaChacha20Poly1305Sha256,
}

impl CipherSuite {
    /// Every suite, in the order a client offers them (the LwM2M mandatory suites first).
    pub const ALL: &'static [CipherSuite] = &[
        CipherSuite::PskAes128Ccm8,
        CipherSuite::EcdheEcdsaAes128Ccm8,
        CipherSuite::EcdheEcdsaAes128GcmSha256,
        CipherSuite::EcdheEcdsaAes256GcmSha384,
        CipherSuite::EcdheEcdsaChacha20Poly1305Sha256,
    ];

    /// The IANA TLS cipher suite value.
    pub const fn iana(self) -> u16 {
        match self {
            CipherSuite::PskAes128Ccm8 => 0xC0A8,
            CipherSuite::EcdheEcdsaAes128Ccm8 => 0xC0AE,
            CipherSuite::EcdheEcdsaAes128GcmSha256 => 0xC02B,
            CipherSuite::EcdheEcdsaAes256GcmSha384 => 0xC02C,
            CipherSuite::EcdheEcdsaChacha20Poly1305Sha256 => 0xCCA9,
        }
    }

    /// The suite with IANA value `value`, if the backend has it.
    pub fn from_iana(value: u16) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.iana() == value)
    }

    /// The IANA name, e.g. `TLS_PSK_WITH_AES_128_CCM_8`.
    pub const fn name(self) -> &'static str {
        match self {
            CipherSuite::PskAes128Ccm8 => "TLS_PSK_WITH_AES_128_CCM_8",
            CipherSuite::EcdheEcdsaAes128Ccm8 => "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
            CipherSuite::EcdheEcdsaAes128GcmSha256 => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            CipherSuite::EcdheEcdsaAes256GcmSha384 => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            CipherSuite::EcdheEcdsaChacha20Poly1305Sha256 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        }
    }

    /// Whether the suite authenticates with a pre-shared key (otherwise with ECDSA keys).
    pub const fn is_psk(self) -> bool {
        matches!(self, CipherSuite::PskAes128Ccm8)
    }
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a client authenticates with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClientCredentials {
    /// Security mode 0: TLS_PSK_WITH_AES_128_CCM_8.
    Psk(PskCredential),
    /// Security mode 2: ECDHE_ECDSA with the client's certificate; the server's certificate must
    /// chain to `server_trust` and, when `server_name` is set, be valid for that DNS name or IP.
    Certificate {
        /// Our certificate and key.
        certificate: CertifiedKey,
        /// Trust anchors for the server certificate.
        server_trust: TrustAnchors,
        /// Name to check the server certificate against (LwM2M `/0/x/14` SNI or the URI host).
        server_name: Option<String>,
    },
}

/// Configuration of a DTLS client session.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Credentials.
    pub credentials: ClientCredentials,
    /// Retransmission and deadline.
    pub timing: HandshakeTiming,
    /// Largest datagram to send (path MTU minus IP/UDP headers).
    pub mtu: usize,
    /// Suites to offer, in this order of preference; those that do not fit the credentials
    /// (PSK suites with a certificate and the reverse) are left out. Default: [`CipherSuite::ALL`].
    pub cipher_suites: Vec<CipherSuite>,
}

impl ClientConfig {
    /// A PSK client with default timing and a 1280-byte MTU (IPv6 minimum).
    pub fn psk(credential: PskCredential) -> Self {
        Self::new(ClientCredentials::Psk(credential))
    }

    /// A client with these credentials, default timing, every suite and a 1280-byte MTU.
    pub fn new(credentials: ClientCredentials) -> Self {
        Self { credentials, timing: HandshakeTiming::default(), mtu: 1280, cipher_suites: CipherSuite::ALL.to_vec() }
    }
}

/// Resource limits of a DTLS server endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Established sessions kept at once; a completed handshake beyond it evicts the least
    /// recently active session.
    pub max_sessions: usize,
    /// Handshakes in progress at once (each costs ~4.5 KiB); beyond it the oldest is dropped.
    /// Only ClientHellos that return a valid stateless cookie start one, so spoofed ClientHellos
    /// never count against it; this bounds clients that really complete the cookie round trip.
    pub max_handshakes: usize,
    /// Established sessions without traffic for this long are evicted.
    pub idle_timeout: Duration,
    /// Largest application datagram accepted for sending.
    pub max_datagram: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self { max_sessions: 10_000, max_handshakes: 1024, idle_timeout: Duration::from_secs(3600), max_datagram: 1152 }
    }
}

/// Configuration of a DTLS server endpoint.
#[derive(Clone)]
pub struct ServerConfig {
    /// PSK lookup, certificate admission and endpoint bindings.
    pub credentials: Arc<dyn CredentialStore>,
    /// The server certificate (certificate mode). Without it only PSK suites are offered.
    pub certificate: Option<CertifiedKey>,
    /// Trust anchors for client certificates; required when `certificate` is set (LwM2M
    /// certificate mode authenticates both sides).
    pub client_trust: Option<TrustAnchors>,
    /// Retransmission and deadline.
    pub timing: HandshakeTiming,
    /// Limits.
    pub limits: ServerLimits,
    /// Largest datagram to send.
    pub mtu: usize,
    /// Suites to accept; the client's order of preference decides among them. PSK suites are
    /// used with the credential store, the others only with [`Self::certificate`]. Default:
    /// [`CipherSuite::ALL`].
    pub cipher_suites: Vec<CipherSuite>,
}

impl ServerConfig {
    /// A PSK-only server with default limits.
    pub fn psk(credentials: Arc<dyn CredentialStore>) -> Self {
        Self {
            credentials,
            certificate: None,
            client_trust: None,
            timing: HandshakeTiming::default(),
            limits: ServerLimits::default(),
            mtu: 1280,
            cipher_suites: CipherSuite::ALL.to_vec(),
        }
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("certificate", &self.certificate)
            .field("client_trust", &self.client_trust)
            .field("timing", &self.timing)
            .field("limits", &self.limits)
            .field("mtu", &self.mtu)
            .field("cipher_suites", &self.cipher_suites)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cipher_suites_have_their_iana_values() {
        for suite in CipherSuite::ALL {
            assert_eq!(CipherSuite::from_iana(suite.iana()), Some(*suite));
            assert!(suite.name().starts_with("TLS_"));
        }
        assert_eq!(CipherSuite::from_iana(0xC0AE), Some(CipherSuite::EcdheEcdsaAes128Ccm8));
        assert_eq!(CipherSuite::from_iana(0x00AE), None, "CBC suites are not available");
    }

    #[test]
    fn psk_limits_follow_the_ts() {
        assert!(PskCredential::new(&[b'a'; 128], &[1; 64]).is_ok());
        assert_eq!(
            PskCredential::new(&[b'a'; 129], &[1; 16]),
            Err(DtlsError::PskIdentityTooLong { len: 129, max: 128 })
        );
        assert_eq!(PskCredential::new(b"id", &[1; 65]), Err(DtlsError::PskKeyLength { len: 65, max: 64 }));
        assert_eq!(PskCredential::new(b"", &[1; 16]), Err(DtlsError::EmptyPskIdentity));
        assert_eq!(PskCredential::with_hex_key(b"id", "0a0B").unwrap().key(), &[0x0a, 0x0b]);
        assert!(PskCredential::with_hex_key(b"id", "0g").is_err());
        assert!(!format!("{:?}", PskCredential::new(b"id", b"secret").unwrap()).contains("secret"));
    }
}
