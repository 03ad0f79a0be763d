//! What an X.509 peer certificate says about its holder, shared by DTLS (`coaps://`) and TLS
//! (`coaps+tcp://`), so one certificate names the same peer over either transport.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use crate::engine::PeerIdentity;

/// What a validated X.509 peer certificate says about its holder.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertificateIdentity {
    /// The subject's commonName (LwM2M: the endpoint name for client certificates).
    pub common_name: Option<String>,
    /// subjectAltName dNSName entries.
    pub dns_names: Vec<String>,
    /// subjectAltName URI entries (e.g. `urn:imei:...`).
    pub uris: Vec<String>,
    /// SHA-256 over the whole DER certificate.
    pub fingerprint_sha256: [u8; 32],
    /// SHA-256 over the DER SubjectPublicKeyInfo (the key pin).
    pub spki_sha256: [u8; 32],
}

impl CertificateIdentity {
    /// Reads commonName, subjectAltNames and the fingerprints from a DER certificate (no
    /// validation: call it on a certificate the handshake verified). The error says why the
    /// DER does not parse.
    pub(crate) fn from_der(der: &[u8]) -> Result<Self, String> {
        let cert = x509_cert::Certificate::from_der(der).map_err(|e| e.to_string())?;
        let tbs = cert.tbs_certificate();
        let common_name = tbs.subject().common_name().ok().flatten().map(|cn| cn.value().into_owned());
        let mut dns_names = Vec::new();
        let mut uris = Vec::new();
        if let Ok(Some(san)) = tbs.get_extension::<SubjectAltName>() {
            for name in (san.1).0 {
                match name {
                    GeneralName::DnsName(n) => dns_names.push(n.to_string()),
                    GeneralName::UniformResourceIdentifier(u) => uris.push(u.to_string()),
                    _ => {}
                }
            }
        }
        let spki = tbs.subject_public_key_info().to_der().map_err(|e| e.to_string())?;
        Ok(Self {
            common_name,
            dns_names,
            uris,
            fingerprint_sha256: Sha256::digest(der).into(),
            spki_sha256: Sha256::digest(&spki).into(),
        })
    }

    /// The name reported with every request: the commonName, else the first dNSName
    /// subjectAltName, else the certificate's SHA-256 fingerprint in lowercase hex (unique, where
    /// a subject DN may be empty or shared).
    pub fn peer_name(&self) -> String {
        self.common_name
            .clone()
            .or_else(|| self.dns_names.first().cloned())
            .unwrap_or_else(|| hex(&self.fingerprint_sha256))
    }

    /// The engine-level identity the CoAP layer attaches to incoming requests.
    pub fn to_peer_identity(&self) -> PeerIdentity {
        PeerIdentity::Certificate(Arc::from(self.peer_name()))
    }
}

/// Lowercase hex of `bytes` (fingerprints and key hashes in names and messages).
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(common_name: Option<&str>, dns: &[&str]) -> Vec<u8> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params =
            rcgen::CertificateParams::new(dns.iter().map(ToString::to_string).collect::<Vec<_>>()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = common_name {
            params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        }
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn peer_name_is_common_name_then_dns_name_then_fingerprint() {
        let both = CertificateIdentity::from_der(&certificate(Some("urn:dev:1"), &["dev1.example"])).unwrap();
        assert_eq!(both.peer_name(), "urn:dev:1");
        let dns = CertificateIdentity::from_der(&certificate(None, &["dev1.example"])).unwrap();
        assert_eq!(dns.peer_name(), "dev1.example");
        let der = certificate(None, &[]);
        let neither = CertificateIdentity::from_der(&der).unwrap();
        let fingerprint = hex(&Sha256::digest(&der));
        assert_eq!(fingerprint.len(), 64);
        assert_eq!(neither.peer_name(), fingerprint);
        assert_eq!(neither.to_peer_identity(), PeerIdentity::Certificate(Arc::from(fingerprint.as_str())));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(CertificateIdentity::from_der(b"\x30\x03\x02\x01").is_err());
        assert!(CertificateIdentity::from_der(&[]).is_err());
    }
}
