//! Who is on the other end of a DTLS session, and which LwM2M endpoint name that peer may use.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::engine::PeerIdentity;
pub use crate::x509::CertificateIdentity;

/// The identity a DTLS handshake authenticated.
///
/// The server endpoint attaches it to every decrypted datagram, so the LwM2M server can check
/// that a client registers only under the endpoint name bound to its credentials (LwM2M TS
/// Transport §5.2.8: "the Endpoint Client Name must match the DTLS identity", else 4.00).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthenticatedIdentity {
    /// Pre-shared key mode: the PSK identity the client sent (and proved by knowing the key).
    Psk {
        /// The identity bytes (up to 128).
        identity: Arc<[u8]>,
    },
    /// Certificate mode: facts from the validated peer leaf certificate.
    Certificate(CertificateIdentity),
    /// Raw public key mode (security mode 1, RFC 7250): the SHA-256 of the peer's
    /// SubjectPublicKeyInfo (canonical DER, see [`super::RawPublicKey`]), which the handshake
    /// proved the peer holds the private key for.
    RawPublicKey {
        /// SHA-256 over the DER SubjectPublicKeyInfo.
        spki_sha256: [u8; 32],
    },
}

impl AuthenticatedIdentity {
    /// A PSK identity.
    pub fn psk(identity: &[u8]) -> Self {
        Self::Psk { identity: Arc::from(identity) }
    }

    /// A raw public key identity.
    pub fn raw_public_key(key: &super::RawPublicKey) -> Self {
        Self::RawPublicKey { spki_sha256: key.sha256() }
    }

    /// The endpoint name this identity implies when the credential store has no explicit binding:
    /// the PSK identity if it is UTF-8, the certificate's commonName. None for RPK (a key names
    /// nobody: bind it with [`MemoryCredentialStore::insert_raw_public_key`]).
    pub fn implied_endpoint_name(&self) -> Option<&str> {
        match self {
            Self::Psk { identity } => std::str::from_utf8(identity).ok(),
            Self::Certificate(c) => c.common_name.as_deref(),
            Self::RawPublicKey { .. } => None,
        }
    }

    /// The engine-level identity the CoAP endpoint attaches to incoming requests.
    pub fn to_peer_identity(&self) -> PeerIdentity {
        match self {
            Self::Psk { identity } => PeerIdentity::PskIdentity(identity.clone()),
            Self::Certificate(c) => c.to_peer_identity(),
            Self::RawPublicKey { spki_sha256 } => PeerIdentity::RawPublicKey(*spki_sha256),
        }
    }
}

/// The server's view of provisioned credentials: PSK keys, certificate admission, endpoint bindings.
///
/// Implement it over your device database; [`MemoryCredentialStore`] is a ready in-memory one.
/// Called on the endpoint's thread during handshakes, so keep lookups fast (no blocking I/O).
pub trait CredentialStore: Send + Sync + 'static {
    /// The PSK for a client's identity, or None if the identity is unknown.
    fn psk_key(&self, identity: &[u8]) -> Option<Vec<u8>>;

    /// Whether a certificate that chains to a trust anchor is admitted (e.g. not revoked,
    /// provisioned). The default admits every valid certificate.
    fn admit_certificate(&self, identity: &CertificateIdentity) -> bool {
        let _ = identity;
        true
    }

    /// Whether a client that proved it holds the raw public key with this SHA-256 (over its DER
    /// SubjectPublicKeyInfo) is admitted. The default admits none: a raw public key carries no
    /// issuer to trust, so every key must be provisioned.
    fn admit_raw_public_key(&self, spki_sha256: &[u8; 32]) -> bool {
        let _ = spki_sha256;
        false
    }

    /// The endpoint name bound to an identity, if the store binds one explicitly.
    fn bound_endpoint(&self, identity: &AuthenticatedIdentity) -> Option<String> {
        let _ = identity;
        None
    }

    /// Whether a client with this identity may register as `endpoint`: the explicit binding if
    /// there is one, else the implied name (PSK identity / certificate commonName) must equal it.
    fn may_use_endpoint(&self, identity: &AuthenticatedIdentity, endpoint: &str) -> bool {
        match self.bound_endpoint(identity) {
            Some(bound) => bound == endpoint,
            None => identity.implied_endpoint_name() == Some(endpoint),
        }
    }
}

#[derive(Debug, Default)]
struct MemoryInner {
    psk: HashMap<Vec<u8>, (Vec<u8>, Option<String>)>,
    certificates: HashMap<[u8; 32], Option<String>>,
    raw_public_keys: HashMap<[u8; 32], Option<String>>,
    require_provisioned_certificates: bool,
}

/// A [`CredentialStore`] in memory, safe to share and to update while the server runs.
#[derive(Debug, Default, Clone)]
pub struct MemoryCredentialStore {
    inner: Arc<RwLock<MemoryInner>>,
}

impl MemoryCredentialStore {
    /// An empty store (no PSKs, no raw public keys; every valid certificate admitted).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a PSK, optionally bound to an endpoint name other than the identity.
    pub fn insert_psk(&self, credential: &super::PskCredential, endpoint: Option<&str>) {
        if let Ok(mut inner) = self.inner.write() {
            inner.psk.insert(credential.identity().to_vec(), (credential.key().to_vec(), endpoint.map(str::to_owned)));
        }
    }

    /// Removes a PSK identity.
    pub fn remove_psk(&self, identity: &[u8]) {
        if let Ok(mut inner) = self.inner.write() {
            inner.psk.remove(identity);
        }
    }

    /// Provisions a certificate by its SHA-256 fingerprint, optionally bound to an endpoint name.
    pub fn insert_certificate(&self, fingerprint_sha256: [u8; 32], endpoint: Option<&str>) {
        if let Ok(mut inner) = self.inner.write() {
            inner.certificates.insert(fingerprint_sha256, endpoint.map(str::to_owned));
        }
    }

    /// Admits a client raw public key (security mode 1), optionally bound to an endpoint name.
    /// Without a binding the client cannot register under any name (a key implies none).
    pub fn insert_raw_public_key(&self, key: &super::RawPublicKey, endpoint: Option<&str>) {
        self.insert_raw_public_key_sha256(key.sha256(), endpoint);
    }

    /// Like [`Self::insert_raw_public_key`], by the SHA-256 of the canonical DER
    /// SubjectPublicKeyInfo ([`super::RawPublicKey::sha256`]).
    pub fn insert_raw_public_key_sha256(&self, spki_sha256: [u8; 32], endpoint: Option<&str>) {
        if let Ok(mut inner) = self.inner.write() {
            inner.raw_public_keys.insert(spki_sha256, endpoint.map(str::to_owned));
        }
    }

    /// Stops admitting a client raw public key.
    pub fn remove_raw_public_key(&self, spki_sha256: &[u8; 32]) {
        if let Ok(mut inner) = self.inner.write() {
            inner.raw_public_keys.remove(spki_sha256);
        }
    }

    /// When true, only certificates added with [`Self::insert_certificate`] are admitted
    /// (in addition to chaining to a trust anchor). Default false.
    pub fn require_provisioned_certificates(&self, required: bool) {
        if let Ok(mut inner) = self.inner.write() {
            inner.require_provisioned_certificates = required;
        }
    }
}

impl CredentialStore for MemoryCredentialStore {
    fn psk_key(&self, identity: &[u8]) -> Option<Vec<u8>> {
        self.inner.read().ok()?.psk.get(identity).map(|(key, _)| key.clone())
    }

    fn admit_certificate(&self, identity: &CertificateIdentity) -> bool {
        self.inner.read().is_ok_and(|inner| {
            !inner.require_provisioned_certificates || inner.certificates.contains_key(&identity.fingerprint_sha256)
        })
    }

    fn admit_raw_public_key(&self, spki_sha256: &[u8; 32]) -> bool {
        self.inner.read().is_ok_and(|inner| inner.raw_public_keys.contains_key(spki_sha256))
    }

    fn bound_endpoint(&self, identity: &AuthenticatedIdentity) -> Option<String> {
        let inner = self.inner.read().ok()?;
        match identity {
            AuthenticatedIdentity::Psk { identity } => inner.psk.get(&identity[..])?.1.clone(),
            AuthenticatedIdentity::Certificate(c) => inner.certificates.get(&c.fingerprint_sha256)?.clone(),
            AuthenticatedIdentity::RawPublicKey { spki_sha256 } => inner.raw_public_keys.get(spki_sha256)?.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtls::PskCredential;

    #[test]
    fn endpoint_binding_defaults_to_the_identity() {
        let store = MemoryCredentialStore::new();
        store.insert_psk(&PskCredential::new(b"urn:dev:1", b"0123456789abcdef").unwrap(), None);
        store.insert_psk(&PskCredential::new(b"opaque-id", b"0123456789abcdef").unwrap(), Some("dev-2"));
        let one = AuthenticatedIdentity::psk(b"urn:dev:1");
        let two = AuthenticatedIdentity::psk(b"opaque-id");
        assert!(store.may_use_endpoint(&one, "urn:dev:1"));
        assert!(!store.may_use_endpoint(&one, "dev-2"));
        assert!(store.may_use_endpoint(&two, "dev-2"));
        assert!(!store.may_use_endpoint(&two, "opaque-id"));
        assert_eq!(store.psk_key(b"nobody"), None);
    }
}
