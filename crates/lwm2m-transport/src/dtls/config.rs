//! Credentials and configuration for DTLS clients and servers, following the LwM2M Security
//! object (/0/x): PSK (mode 0), Raw Public Key (mode 1, RFC 7250), Certificate (mode 2), the
//! cipher suites of resource 16; NoSec (mode 3) means plain CoAP without this module.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, SubjectPublicKeyInfoDer};
use sha2::{Digest, Sha256};

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

/// The DER of every CERTIFICATE block in `pem`, in order; an error naming `what` when one is
/// malformed or there is none.
fn pem_certificates(pem: &[u8], what: &str) -> Result<Vec<Vec<u8>>, DtlsError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .map(|c| c.map(|c| c.as_ref().to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| DtlsError::InvalidConfig(format!("bad PEM {what}: {e}")))?;
    if certificates.is_empty() {
        return Err(DtlsError::InvalidConfig(format!("no CERTIFICATE block in the {what} PEM")));
    }
    Ok(certificates)
}

/// A certificate and its private key (ECDSA P-256 or P-384). `Debug` never prints the key.
///
/// The handshake sends the certificate and then its chain ([`Self::with_chain`], or every
/// further block of the PEM given to [`Self::from_pem`]), so peers need only trust the root.
#[derive(Clone, PartialEq, Eq)]
pub struct CertifiedKey {
    certificate_der: Vec<u8>,
    private_key_der: Vec<u8>,
    chain_der: Vec<Vec<u8>>,
}

impl CertifiedKey {
    /// From a DER certificate and a DER private key (PKCS#8 or SEC1).
    pub fn from_der(certificate_der: Vec<u8>, private_key_der: Vec<u8>) -> Self {
        Self { certificate_der, private_key_der, chain_der: Vec::new() }
    }

    /// Adds the intermediate CA certificates (DER) sent after the certificate, the one that
    /// issued it first, so a peer that trusts only the root can validate the chain.
    pub fn with_chain(mut self, intermediates_der: Vec<Vec<u8>>) -> Self {
        self.chain_der = intermediates_der;
        self
    }

    /// From PEM text: the first CERTIFICATE block is the certificate and any further ones are
    /// its chain (intermediates, issuer first, as in a `fullchain.pem`); the first private key
    /// block is the key.
    pub fn from_pem(certificate_pem: &[u8], private_key_pem: &[u8]) -> Result<Self, DtlsError> {
        let mut certs = pem_certificates(certificate_pem, "certificate")?;
        let key = PrivateKeyDer::from_pem_slice(private_key_pem)
            .map_err(|e| DtlsError::InvalidConfig(format!("no PEM private key: {e}")))?;
        let leaf = certs.remove(0);
        Ok(Self::from_der(leaf, key.secret_der().to_vec()).with_chain(certs))
    }

    /// The DER certificate.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// The intermediate certificates (DER) sent after it.
    pub fn chain_der(&self) -> &[Vec<u8>] {
        &self.chain_der
    }

    /// Refuses a chain longer than peers of this crate validate (8 intermediates).
    pub(crate) fn check_chain(&self) -> Result<(), DtlsError> {
        let max = super::verify::MAX_INTERMEDIATES;
        if self.chain_der.len() > max {
            return Err(DtlsError::InvalidConfig(format!(
                "the certificate chain has {} intermediates; peers validate at most {max}",
                self.chain_der.len()
            )));
        }
        Ok(())
    }

    pub(crate) fn private_key_der(&self) -> &[u8] {
        &self.private_key_der
    }
}

impl fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertifiedKey")
            .field("certificate_der", &format_args!("<{} bytes>", self.certificate_der.len()))
            .field("chain_der", &self.chain_der.len())
            .field("private_key_der", &"<redacted>")
            .finish()
    }
}

/// A raw public key (RFC 7250): the DER SubjectPublicKeyInfo of an ECDSA P-256 or P-384 key.
///
/// The DER is kept in its canonical form (uncompressed point), so two encodings of the same key
/// compare equal and have the same [`Self::sha256`], the identity LwM2M sees
/// ([`super::AuthenticatedIdentity::RawPublicKey`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawPublicKey {
    spki_der: Vec<u8>,
}

impl RawPublicKey {
    /// From a DER SubjectPublicKeyInfo (as a peer sends it, or as `openssl pkey -pubout
    /// -outform DER` writes it).
    pub fn from_der(spki_der: &[u8]) -> Result<Self, DtlsError> {
        Self::canonical(spki_der).map_err(|reason| DtlsError::InvalidConfig(format!("raw public key: {reason}")))
    }

    /// From PEM text with a `PUBLIC KEY` block (the first one).
    pub fn from_pem(pem: &[u8]) -> Result<Self, DtlsError> {
        let der = SubjectPublicKeyInfoDer::from_pem_slice(pem)
            .map_err(|e| DtlsError::InvalidConfig(format!("no PEM PUBLIC KEY block: {e}")))?;
        Self::from_der(der.as_ref())
    }

    /// Parses and re-encodes a SubjectPublicKeyInfo; the error says why it is not a usable key.
    pub(crate) fn canonical(spki_der: &[u8]) -> Result<Self, String> {
        use p256::pkcs8::{DecodePublicKey, EncodePublicKey};
        let der = if let Ok(key) = p256::PublicKey::from_public_key_der(spki_der) {
            key.to_public_key_der().map_err(|e| e.to_string())?
        } else if let Ok(key) = p384::PublicKey::from_public_key_der(spki_der) {
            key.to_public_key_der().map_err(|e| e.to_string())?
        } else {
            return Err(format!(
                "{} bytes are not the SubjectPublicKeyInfo of an ECDSA P-256 or P-384 key",
                spki_der.len()
            ));
        };
        Ok(Self { spki_der: der.as_bytes().to_vec() })
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn der(&self) -> &[u8] {
        &self.spki_der
    }

    /// SHA-256 over the DER SubjectPublicKeyInfo (the RPK identity).
    pub fn sha256(&self) -> [u8; 32] {
        Sha256::digest(&self.spki_der).into()
    }
}

/// Our raw public key and its private key (ECDSA P-256 or P-384). `Debug` never prints the key.
#[derive(Clone, PartialEq, Eq)]
pub struct RawPublicKeyPair {
    public_key: RawPublicKey,
    private_key_der: Vec<u8>,
}

impl RawPublicKeyPair {
    /// From a DER private key, PKCS#8 or SEC1 (`EC PRIVATE KEY`); the public key is derived.
    pub fn from_private_key_der(private_key_der: &[u8]) -> Result<Self, DtlsError> {
        use p256::pkcs8::{DecodePrivateKey, EncodePublicKey};
        let spki = if let Ok(key) = p256::SecretKey::from_pkcs8_der(private_key_der)
            .or_else(|_| p256::SecretKey::from_sec1_der(private_key_der))
        {
            key.public_key().to_public_key_der()
        } else if let Ok(key) = p384::SecretKey::from_pkcs8_der(private_key_der)
            .or_else(|_| p384::SecretKey::from_sec1_der(private_key_der))
        {
            key.public_key().to_public_key_der()
        } else {
            return Err(DtlsError::InvalidConfig(
                "the private key is not an ECDSA P-256 or P-384 key in PKCS#8 or SEC1 DER".into(),
            ));
        };
        let spki = spki.map_err(|e| DtlsError::InvalidConfig(format!("cannot encode the public key: {e}")))?;
        Ok(Self { public_key: RawPublicKey::from_der(spki.as_bytes())?, private_key_der: private_key_der.to_vec() })
    }

    /// From PEM text with a `PRIVATE KEY` or `EC PRIVATE KEY` block (the first private key; a
    /// `PUBLIC KEY` block in the same file, as libcoap's `-M` files have, is ignored).
    pub fn from_pem(pem: &[u8]) -> Result<Self, DtlsError> {
        let key = PrivateKeyDer::from_pem_slice(pem)
            .map_err(|e| DtlsError::InvalidConfig(format!("no PEM private key: {e}")))?;
        Self::from_private_key_der(key.secret_der())
    }

    /// Our public key.
    pub fn public_key(&self) -> &RawPublicKey {
        &self.public_key
    }

    pub(crate) fn private_key_der(&self) -> &[u8] {
        &self.private_key_der
    }
}

impl fmt::Debug for RawPublicKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawPublicKeyPair")
            .field("public_key", &self.public_key)
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
        Ok(Self { certificates_der: pem_certificates(pem, "trust anchor")? })
    }

    /// The DER certificates.
    pub fn certificates_der(&self) -> &[Vec<u8>] {
        &self.certificates_der
    }
}

/// Maps the `Instant`s the sans-IO endpoints are driven with to wall-clock time, for the
/// validity period of certificates. The endpoints never read a clock: a certificate arriving in
/// `handle_datagram(now, ..)` is checked at `wall_clock.unix_time(now)`, so tests can check
/// expiry with made-up times.
///
/// [`WallClock::system`] pairs the two clocks once; the monotonic clock does not count time a
/// machine spends suspended, so a device that sleeps for days should build its config (or set
/// this field) again after waking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    instant: Instant,
    unix: SystemTime,
}

impl WallClock {
    /// The system clocks, read now.
    pub fn system() -> Self {
        Self { instant: Instant::now(), unix: SystemTime::now() }
    }

    /// `instant` corresponds to the wall-clock time `unix`.
    pub fn at(instant: Instant, unix: SystemTime) -> Self {
        Self { instant, unix }
    }

    /// The wall-clock time at `now`.
    pub fn unix_time(&self, now: Instant) -> SystemTime {
        let shifted = if now >= self.instant {
            self.unix.checked_add(now - self.instant)
        } else {
            self.unix.checked_sub(self.instant - now)
        };
        shifted.unwrap_or(self.unix)
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
    /// TLS_PSK_WITH_AES_128_GCM_SHA256 (0x00A8, RFC 5487).
    PskAes128GcmSha256,
    /// TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 (0xC0AE, RFC 7251).
    EcdheEcdsaAes128Ccm8,
    /// TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (0xC02B, RFC 5289).
    EcdheEcdsaAes128GcmSha256,
    /// TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (0xC02C, RFC 5289).
    EcdheEcdsaAes256GcmSha384,
    /// TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 (0xCCA9, RFC 7905).
    EcdheEcdsaChacha20Poly1305Sha256,
    /// TLS_PSK_WITH_AES_128_CBC_SHA256 (0x00AE, RFC 5487), only with Encrypt-then-MAC
    /// (RFC 7366). LwM2M 1.1: servers must offer it, clients should not use it.
    PskAes128CbcSha256,
    /// TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 (0xC023, RFC 5289), only with Encrypt-then-MAC
    /// (RFC 7366). LwM2M 1.1: servers must offer it, clients should not use it.
    EcdheEcdsaAes128CbcSha256,
}

impl CipherSuite {
    /// Every suite, in order of preference (the LwM2M mandatory suites first, the CBC suites
    /// last). The server default.
    pub const ALL: &'static [CipherSuite] = &[
        CipherSuite::PskAes128Ccm8,
        CipherSuite::PskAes128GcmSha256,
        CipherSuite::EcdheEcdsaAes128Ccm8,
        CipherSuite::EcdheEcdsaAes128GcmSha256,
        CipherSuite::EcdheEcdsaAes256GcmSha384,
        CipherSuite::EcdheEcdsaChacha20Poly1305Sha256,
        CipherSuite::EcdheEcdsaAes128CbcSha256,
        CipherSuite::PskAes128CbcSha256,
    ];

    /// What a client offers by default: [`Self::ALL`] without the CBC suites, which the LwM2M
    /// TS says clients should not use.
    pub const CLIENT_DEFAULT: &'static [CipherSuite] = &[
        CipherSuite::PskAes128Ccm8,
        CipherSuite::PskAes128GcmSha256,
        CipherSuite::EcdheEcdsaAes128Ccm8,
        CipherSuite::EcdheEcdsaAes128GcmSha256,
        CipherSuite::EcdheEcdsaAes256GcmSha384,
        CipherSuite::EcdheEcdsaChacha20Poly1305Sha256,
    ];

    /// The IANA TLS cipher suite value.
    pub const fn iana(self) -> u16 {
        match self {
            CipherSuite::PskAes128Ccm8 => 0xC0A8,
            CipherSuite::PskAes128GcmSha256 => 0x00A8,
            CipherSuite::EcdheEcdsaAes128Ccm8 => 0xC0AE,
            CipherSuite::EcdheEcdsaAes128GcmSha256 => 0xC02B,
            CipherSuite::EcdheEcdsaAes256GcmSha384 => 0xC02C,
            CipherSuite::EcdheEcdsaChacha20Poly1305Sha256 => 0xCCA9,
            CipherSuite::PskAes128CbcSha256 => 0x00AE,
            CipherSuite::EcdheEcdsaAes128CbcSha256 => 0xC023,
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
            CipherSuite::PskAes128GcmSha256 => "TLS_PSK_WITH_AES_128_GCM_SHA256",
            CipherSuite::EcdheEcdsaAes128Ccm8 => "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
            CipherSuite::EcdheEcdsaAes128GcmSha256 => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            CipherSuite::EcdheEcdsaAes256GcmSha384 => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            CipherSuite::EcdheEcdsaChacha20Poly1305Sha256 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            CipherSuite::PskAes128CbcSha256 => "TLS_PSK_WITH_AES_128_CBC_SHA256",
            CipherSuite::EcdheEcdsaAes128CbcSha256 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        }
    }

    /// Whether the suite authenticates with a pre-shared key (otherwise with ECDSA keys, in
    /// certificate or raw public key mode).
    pub const fn is_psk(self) -> bool {
        matches!(self, CipherSuite::PskAes128Ccm8 | CipherSuite::PskAes128GcmSha256 | CipherSuite::PskAes128CbcSha256)
    }

    /// Whether the suite uses CBC (with HMAC, always in the Encrypt-then-MAC form).
    pub const fn is_cbc(self) -> bool {
        matches!(self, CipherSuite::PskAes128CbcSha256 | CipherSuite::EcdheEcdsaAes128CbcSha256)
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
    /// Security mode 0: TLS_PSK_WITH_AES_128_CCM_8 (and _AES_128_GCM_SHA256 unless restricted).
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
    /// Security mode 1 (RFC 7250): ECDHE_ECDSA with raw public keys on both sides. The server
    /// must present exactly `server_key` (the LwM2M Security object's "Server Public Key",
    /// /0/x/4).
    RawPublicKey {
        /// Our key pair (/0/x/3 and /0/x/5).
        key: RawPublicKeyPair,
        /// The server's public key we trust.
        server_key: RawPublicKey,
    },
}

/// How a client matches the server certificate against the certificate LwM2M provisions in the
/// Server Public Key resource (`/0/x/4`), as the Certificate Usage resource (`/0/x/15`) says.
/// The values are those of DANE (RFC 6698 §2.1.1); LwM2M's default is 3.
///
/// Without a usage (`ClientConfig::server_certificate_usage` = `None`) the server certificate
/// must chain to the client's trust anchors and be valid for the server name (PKIX).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateUsage {
    /// 0, "CA constraint" (PKIX-TA): PKIX validation against the trust anchors and the server
    /// name, and the given CA certificate (DER) must have issued the server certificate.
    CaConstraint(Vec<u8>),
    /// 1, "service certificate constraint" (PKIX-EE): PKIX validation against the trust anchors
    /// and the server name, and the server certificate must be the given one (DER).
    ServiceCertificate(Vec<u8>),
    /// 2, "trust anchor assertion" (DANE-TA): the given certificate (DER) is the only trust
    /// anchor; validity period and server name are checked.
    TrustAnchor(Vec<u8>),
    /// 3, "domain-issued certificate" (DANE-EE, the LwM2M default): the server certificate must
    /// be the given one (DER), byte for byte; no chain, validity period or name is checked
    /// (RFC 7671 §5.1).
    DomainIssued(Vec<u8>),
}

impl CertificateUsage {
    /// From the Security object's Certificate Usage value (0..=3) and the Server Public Key
    /// resource (a DER certificate). `None` for any other usage value.
    pub fn from_resources(usage: u8, server_public_key: Vec<u8>) -> Option<Self> {
        match usage {
            0 => Some(Self::CaConstraint(server_public_key)),
            1 => Some(Self::ServiceCertificate(server_public_key)),
            2 => Some(Self::TrustAnchor(server_public_key)),
            3 => Some(Self::DomainIssued(server_public_key)),
            _ => None,
        }
    }

    /// The Certificate Usage value (0..=3).
    pub fn value(&self) -> u8 {
        match self {
            Self::CaConstraint(_) => 0,
            Self::ServiceCertificate(_) => 1,
            Self::TrustAnchor(_) => 2,
            Self::DomainIssued(_) => 3,
        }
    }
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
    /// (PSK suites with a certificate and the reverse) are left out. Default:
    /// [`CipherSuite::CLIENT_DEFAULT`] (no CBC suites); a CBC suite offered here is used only if
    /// the server agrees to Encrypt-then-MAC.
    pub cipher_suites: Vec<CipherSuite>,
    /// Certificate mode: how the server certificate is matched against the provisioned one
    /// (LwM2M Certificate Usage). `None` (the default): PKIX validation only.
    pub server_certificate_usage: Option<CertificateUsage>,
    /// Wall-clock time for certificate validity. Default: [`WallClock::system`] at creation.
    pub wall_clock: WallClock,
    /// A send after nothing authenticated arrived for this long first runs a new handshake
    /// ([`super::DtlsClient::prepare_send`]): the server may have dropped the session or a NAT
    /// may have re-mapped the port. Default 60 s; `None` never re-handshakes on quiet alone.
    pub rehandshake_after: Option<Duration>,
}

impl ClientConfig {
    /// A PSK client with default timing and a 1280-byte MTU (IPv6 minimum).
    pub fn psk(credential: PskCredential) -> Self {
        Self::new(ClientCredentials::Psk(credential))
    }

    /// A client with these credentials, default timing, every suite and a 1280-byte MTU.
    pub fn new(credentials: ClientCredentials) -> Self {
        Self {
            credentials,
            timing: HandshakeTiming::default(),
            mtu: 1280,
            cipher_suites: CipherSuite::CLIENT_DEFAULT.to_vec(),
            server_certificate_usage: None,
            wall_clock: WallClock::system(),
            rehandshake_after: Some(Duration::from_secs(60)),
        }
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
    /// Sessions kept for resumption (RFC 5246 §7.3 abbreviated handshakes), shared by all
    /// peers; beyond it the oldest is forgotten. 0 disables resumption (no session ids are
    /// issued). Each entry costs ~300 bytes plus the peer's certificate and chain in certificate
    /// mode (at most `MAX_CACHED_PEER_BYTES`, 16 KiB); only peers that passed the endpoint's
    /// checks are cached.
    pub max_resumable_sessions: usize,
    /// How long after its full handshake a session can be resumed.
    pub resumption_lifetime: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_sessions: 10_000,
            max_handshakes: 1024,
            idle_timeout: Duration::from_secs(3600),
            max_datagram: 1152,
            max_resumable_sessions: 10_000,
            resumption_lifetime: Duration::from_secs(24 * 3600),
        }
    }
}

/// Configuration of a DTLS server endpoint.
#[derive(Clone)]
pub struct ServerConfig {
    /// PSK lookup, certificate admission and endpoint bindings.
    pub credentials: Arc<dyn CredentialStore>,
    /// The server certificate (certificate mode). One endpoint can serve PSK, raw public key and
    /// certificate clients at once: each ClientHello selects the mode (its first suite this
    /// config accepts and, for ECDHE_ECDSA, the certificate types it accepts).
    pub certificate: Option<CertifiedKey>,
    /// Trust anchors for client certificates; required when `certificate` is set (LwM2M
    /// certificate mode authenticates both sides).
    pub client_trust: Option<TrustAnchors>,
    /// Our raw public key (security mode 1, RFC 7250), for clients that ask for one (RFC 7250
    /// `server_certificate_type`); they must present a raw public key that
    /// [`CredentialStore::admit_raw_public_key`] accepts.
    pub raw_public_key: Option<RawPublicKeyPair>,
    /// Retransmission and deadline.
    pub timing: HandshakeTiming,
    /// Limits.
    pub limits: ServerLimits,
    /// Largest datagram to send.
    pub mtu: usize,
    /// Suites to accept; the client's order of preference decides among them. PSK suites are
    /// used with the credential store, the ECDHE_ECDSA ones with [`Self::certificate`] or
    /// [`Self::raw_public_key`]. Default: [`CipherSuite::ALL`], whose CBC suites (last) are
    /// selected only for a client that offers Encrypt-then-MAC (RFC 7366) and prefers them.
    pub cipher_suites: Vec<CipherSuite>,
    /// Wall-clock time for client certificate validity. Default: [`WallClock::system`] at
    /// creation.
    pub wall_clock: WallClock,
}

impl ServerConfig {
    /// A raw public key server (security mode 1; PSK clients the store knows are served too) with
    /// default limits: `credentials` decides which client keys are admitted.
    pub fn raw_public_key(credentials: Arc<dyn CredentialStore>, key: RawPublicKeyPair) -> Self {
        Self { raw_public_key: Some(key), ..Self::psk(credentials) }
    }

    /// A PSK-only server with default limits.
    pub fn psk(credentials: Arc<dyn CredentialStore>) -> Self {
        Self {
            credentials,
            certificate: None,
            client_trust: None,
            raw_public_key: None,
            timing: HandshakeTiming::default(),
            limits: ServerLimits::default(),
            mtu: 1280,
            cipher_suites: CipherSuite::ALL.to_vec(),
            wall_clock: WallClock::system(),
        }
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("certificate", &self.certificate)
            .field("client_trust", &self.client_trust)
            .field("raw_public_key", &self.raw_public_key)
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
        assert_eq!(CipherSuite::from_iana(0x00AE), Some(CipherSuite::PskAes128CbcSha256));
        assert_eq!(CipherSuite::from_iana(0x002F), None, "TLS_RSA_WITH_AES_128_CBC_SHA is not available");
        assert!(CipherSuite::CLIENT_DEFAULT.iter().all(|s| !s.is_cbc() && CipherSuite::ALL.contains(s)));
        assert_eq!(CipherSuite::ALL.len(), CipherSuite::CLIENT_DEFAULT.len() + 2);
    }

    #[test]
    fn raw_public_keys_are_canonical_and_validated() {
        let pair =
            RawPublicKeyPair::from_private_key_der(&rcgen::KeyPair::generate().unwrap().serialize_der()).unwrap();
        let der = pair.public_key().der();
        assert_eq!(der.len(), 91, "P-256 SubjectPublicKeyInfo");
        // The same key with a compressed point is the same raw public key.
        use p256::elliptic_curve::sec1::ToSec1Point;
        use p256::pkcs8::DecodePublicKey;
        let point = p256::PublicKey::from_public_key_der(der).unwrap().to_sec1_point(true);
        let mut compressed = vec![
            0x30, 0x39, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
            0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x22, 0x00,
        ];
        compressed.extend_from_slice(point.as_bytes());
        assert_eq!(RawPublicKey::from_der(&compressed).unwrap(), *pair.public_key());
        // PEM: a PUBLIC KEY block, and the public half of a private key.
        let key = rcgen::KeyPair::generate().unwrap();
        let from_pem = RawPublicKey::from_pem(key.public_key_pem().as_bytes()).unwrap();
        let from_private = RawPublicKeyPair::from_pem(key.serialize_pem().as_bytes()).unwrap();
        assert_eq!(from_private.public_key(), &from_pem);
        assert_eq!(from_pem.sha256(), <[u8; 32]>::from(Sha256::digest(from_pem.der())));
        // Not keys.
        assert!(RawPublicKey::from_der(b"\x30\x03\x02\x01\x00").is_err());
        assert!(RawPublicKey::from_der(&[]).is_err());
        assert!(RawPublicKeyPair::from_private_key_der(&[0x30, 0x00]).is_err());
        assert!(RawPublicKeyPair::from_pem(b"-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n").is_err());
        assert!(!format!("{from_private:?}").contains("private_key_der: ["));
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
