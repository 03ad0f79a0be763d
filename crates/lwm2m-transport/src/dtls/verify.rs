//! X.509 validation of peer certificates with `rustls-webpki`, using pure-Rust ECDSA verifiers
//! (P-256/SHA-256, P-384/SHA-384), and extraction of the identity the LwM2M layer needs.

use std::time::SystemTime;

use rustls_pki_types::{
    AlgorithmIdentifier, CertificateDer, InvalidSignature, ServerName, SignatureVerificationAlgorithm, TrustAnchor,
    UnixTime, alg_id,
};
use webpki::{EndEntityCert, KeyUsage};

use super::config::{CertificateUsage, TrustAnchors};
use super::error::CertificateError;
use super::identity::CertificateIdentity;

#[derive(Debug)]
struct EcdsaP256Sha256;

impl SignatureVerificationAlgorithm for EcdsaP256Sha256 {
    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ECDSA_P256
    }
    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ECDSA_SHA256
    }
    fn verify_signature(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), InvalidSignature> {
        use p256::ecdsa::signature::Verifier;
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(public_key).map_err(|_| InvalidSignature)?;
        let signature = p256::ecdsa::Signature::from_der(signature).map_err(|_| InvalidSignature)?;
        key.verify(message, &signature).map_err(|_| InvalidSignature)
    }
}

#[derive(Debug)]
struct EcdsaP384Sha384;

impl SignatureVerificationAlgorithm for EcdsaP384Sha384 {
    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ECDSA_P384
    }
    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ECDSA_SHA384
    }
    fn verify_signature(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), InvalidSignature> {
        use p384::ecdsa::signature::Verifier;
        let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(public_key).map_err(|_| InvalidSignature)?;
        let signature = p384::ecdsa::Signature::from_der(signature).map_err(|_| InvalidSignature)?;
        key.verify(message, &signature).map_err(|_| InvalidSignature)
    }
}

static ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[&EcdsaP256Sha256, &EcdsaP384Sha384];

/// Which side's certificate is being checked (selects the extended key usage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PeerRole {
    /// A client certificate (id-kp-clientAuth, if an EKU is present).
    Client,
    /// A server certificate (id-kp-serverAuth, if an EKU is present).
    Server,
}

fn map_webpki(error: &webpki::Error) -> CertificateError {
    use webpki::Error as E;
    match error {
        E::CertExpired { .. } => CertificateError::Expired,
        E::CertNotValidYet { .. } => CertificateError::NotValidYet,
        E::UnknownIssuer => CertificateError::UnknownIssuer,
        E::InvalidSignatureForPublicKey => CertificateError::BadSignature,
        E::UnsupportedSignatureAlgorithmContext(_) | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            CertificateError::UnsupportedAlgorithm
        }
        E::RequiredEkuNotFoundContext(_) => CertificateError::WrongUsage,
        E::BadDer | E::BadDerTime => CertificateError::Malformed(format!("{error:?}")),
        other => CertificateError::Other(format!("{other:?}")),
    }
}

/// Most intermediate certificates of a peer's chain considered (longer chains fail as
/// `UnknownIssuer` unless a trust anchor is reached within them).
pub(crate) const MAX_INTERMEDIATES: usize = 8;

/// Validates `leaf_der`, with the `intermediates` the peer sent after it, against `anchors` at
/// `now` for `role`; when `server_name` is given the certificate must also be valid for it (DNS
/// name or IP address in subjectAltName).
pub(crate) fn verify_certificate(
    leaf_der: &[u8],
    intermediates: &[Vec<u8>],
    anchors: &TrustAnchors,
    now: SystemTime,
    role: PeerRole,
    server_name: Option<&str>,
) -> Result<CertificateIdentity, CertificateError> {
    let leaf = CertificateDer::from(leaf_der);
    let cert = EndEntityCert::try_from(&leaf).map_err(|e| map_webpki(&e))?;
    let anchor_ders: Vec<CertificateDer<'_>> =
        anchors.certificates_der().iter().map(|d| CertificateDer::from(d.as_slice())).collect();
    let trust: Vec<TrustAnchor<'_>> = anchor_ders
        .iter()
        .map(webpki::anchor_from_trusted_cert)
        .collect::<Result<_, _>>()
        .map_err(|e| CertificateError::Other(format!("unusable trust anchor: {e:?}")))?;
    let since_epoch = now.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let usage = match role {
        PeerRole::Client => KeyUsage::client_auth(),
        PeerRole::Server => KeyUsage::server_auth(),
    };
    let intermediates: Vec<CertificateDer<'_>> =
        intermediates.iter().take(MAX_INTERMEDIATES).map(|d| CertificateDer::from(d.as_slice())).collect();
    let at = UnixTime::since_unix_epoch(since_epoch);
    cert.verify_for_usage(ALGORITHMS, &trust, &intermediates, at, usage, None, None).map_err(|e| map_webpki(&e))?;
    if let Some(name) = server_name {
        let parsed =
            ServerName::try_from(name).map_err(|_| CertificateError::NameMismatch { expected: name.to_owned() })?;
        cert.verify_is_valid_for_subject_name(&parsed)
            .map_err(|_| CertificateError::NameMismatch { expected: name.to_owned() })?;
    }
    certificate_identity(leaf_der)
}

/// Validates the server certificate `leaf_der` as a client in certificate mode: PKIX against
/// `anchors` and `server_name` without a usage, else as the LwM2M Certificate Usage says.
pub(crate) fn verify_server_certificate(
    leaf_der: &[u8],
    intermediates: &[Vec<u8>],
    anchors: &TrustAnchors,
    now: SystemTime,
    server_name: Option<&str>,
    usage: Option<&CertificateUsage>,
) -> Result<CertificateIdentity, CertificateError> {
    let mismatch = |rule| CertificateError::UsageMismatch { usage: usage.map_or(0, CertificateUsage::value), rule };
    match usage {
        None => verify_certificate(leaf_der, intermediates, anchors, now, PeerRole::Server, server_name),
        Some(CertificateUsage::CaConstraint(ca)) => {
            let identity = verify_certificate(leaf_der, intermediates, anchors, now, PeerRole::Server, server_name)?;
            let only_ca = TrustAnchors::from_der(vec![ca.clone()]);
            verify_certificate(leaf_der, intermediates, &only_ca, now, PeerRole::Server, None)
                .map_err(|_| mismatch("issued by the given CA"))?;
            Ok(identity)
        }
        Some(CertificateUsage::ServiceCertificate(expected)) => {
            let identity = verify_certificate(leaf_der, intermediates, anchors, now, PeerRole::Server, server_name)?;
            if leaf_der != expected.as_slice() {
                return Err(mismatch("the given certificate"));
            }
            Ok(identity)
        }
        Some(CertificateUsage::TrustAnchor(anchor)) => {
            let only_anchor = TrustAnchors::from_der(vec![anchor.clone()]);
            verify_certificate(leaf_der, intermediates, &only_anchor, now, PeerRole::Server, server_name)
        }
        Some(CertificateUsage::DomainIssued(expected)) => {
            if leaf_der != expected.as_slice() {
                return Err(mismatch("the given certificate, byte for byte"));
            }
            certificate_identity(leaf_der)
        }
    }
}

/// Reads commonName, subjectAltNames and the fingerprints from a DER certificate.
pub(crate) fn certificate_identity(der: &[u8]) -> Result<CertificateIdentity, CertificateError> {
    CertificateIdentity::from_der(der).map_err(CertificateError::Malformed)
}
