//! CoAP over TLS (`coaps+tcp://`) with rustls (ring provider): certificate mode only.
//!
//! - The server presents a certificate chain and key ([`server_config`]); with a client CA it
//!   also asks for client certificates, verifies them against that CA and reports the
//!   certificate's name with every request ([`peer_identity`]: the subject commonName, else the
//!   first DNS subjectAltName, else the SHA-256 fingerprint, exactly as the DTLS transport
//!   does). Clients without a certificate are still admitted (their requests carry no
//!   identity) so the application decides.
//! - The client verifies the server against a CA ([`client_config`]) and the name or IP address
//!   it connected to, and may present its own certificate.
//! - ALPN is `coap` (RFC 8323 §8.2); a peer that offers no ALPN is accepted.
//!
//! PSK over TLS is not available: rustls implements no TLS-PSK cipher suites (only resumption
//! PSKs). Use DTLS-PSK ([`crate::dtls`]) or certificates.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::connection::{ConnectionConfig, Role};
use super::driver::{ConnectionHandle, ConnectionLimit, Handler, ServerConfig, hold_until_closed, spawn_connection};
use crate::engine::PeerIdentity;

pub use crate::x509::CertificateIdentity;
pub use rustls;

/// The ALPN protocol id of CoAP over TLS (RFC 8323 §8.2).
pub const ALPN_COAP: &[u8] = b"coap";

/// Why a TLS configuration could not be built or a handshake failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the configuration (e.g. a key that does not match the certificate).
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// The client verifier could not be built from the CA.
    #[error("client certificate verifier: {0}")]
    Verifier(String),
    /// The server name is not a valid DNS name or IP address.
    #[error("invalid server name {0:?}")]
    ServerName(String),
    /// The TCP connection or the TLS handshake failed (the reason names the TLS alert or
    /// certificate error, e.g. "invalid peer certificate: UnknownIssuer").
    #[error("TLS handshake with {peer} failed: {reason}")]
    Handshake {
        /// The peer.
        peer: SocketAddr,
        /// Why.
        reason: String,
    },
}

fn pem_error(path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::Pem { path: path.to_path_buf(), reason: reason.to_string() }
}

/// Reads every certificate of a PEM file (at least one).
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(pem_error(path, "no CERTIFICATE block found"));
    }
    Ok(certs)
}

/// Reads the first private key (PKCS#8, PKCS#1 or SEC1) of a PEM file.
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_error(path, e))
}

/// A root store holding every certificate of a PEM file.
pub fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certificates(path)? {
        roots.add(cert).map_err(|e| pem_error(path, e))?;
    }
    Ok(roots)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server configuration: certificate chain and key, and optionally a CA for client certificates.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_ca: Option<RootCertStore>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let builder = rustls::ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = match client_ca {
        Some(roots) => {
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::Verifier(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = vec![ALPN_COAP.to_vec()];
    Ok(Arc::new(config))
}

/// A client configuration: trust `roots`, optionally present a certificate.
pub fn client_config(
    roots: RootCertStore,
    client_cert: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let mut config = match client_cert {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key)?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![ALPN_COAP.to_vec()];
    Ok(Arc::new(config))
}

/// What a peer certificate says about its holder (commonName, subjectAltNames, fingerprints);
/// `None` when the certificate cannot be parsed.
pub fn certificate_identity(cert: &CertificateDer<'_>) -> Option<CertificateIdentity> {
    CertificateIdentity::from_der(cert.as_ref()).ok()
}

/// The identity of a peer certificate, named as over DTLS ([`CertificateIdentity::peer_name`]:
/// the commonName, else the first DNS subjectAltName, else the SHA-256 fingerprint). `None` when
/// the certificate cannot be parsed.
pub fn peer_identity(cert: &CertificateDer<'_>) -> Option<PeerIdentity> {
    certificate_identity(cert).map(|c| c.to_peer_identity())
}

/// Connects over TLS (`coaps+tcp://`), verifying the server as `server_name` (a DNS name or an
/// IP address, as in the URI).
pub async fn connect<H: Handler>(
    addr: SocketAddr,
    server_name: &str,
    tls: Arc<rustls::ClientConfig>,
    config: ConnectionConfig,
    handler: H,
) -> Result<ConnectionHandle, TlsError> {
    let name = ServerName::try_from(server_name.to_string()).map_err(|_| TlsError::ServerName(server_name.into()))?;
    let handshake = |e: io::Error| TlsError::Handshake { peer: addr, reason: e.to_string() };
    let tcp = TcpStream::connect(addr).await.map_err(handshake)?;
    let _ = tcp.set_nodelay(true);
    let stream = TlsConnector::from(tls).connect(name, tcp).await.map_err(handshake)?;
    let identity = stream.get_ref().1.peer_certificates().and_then(|c| c.first()).and_then(peer_identity);
    Ok(spawn_connection(stream, Role::Initiator, config, Some(addr), identity, handler))
}

/// Accepts TLS connections until the listener fails. Each handshake runs on the connection's
/// own task (a slow or failing client does not hold up the others) and must finish within the
/// CSM timeout; failed handshakes are logged. Connections beyond
/// [`ServerConfig::max_connections`] are closed before the handshake.
pub async fn serve<H, F>(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    config: impl Into<ServerConfig>,
    mut make_handler: F,
) -> io::Result<()>
where
    H: Handler,
    F: FnMut(SocketAddr) -> H,
{
    let config = config.into();
    let limit = ConnectionLimit::new(config.max_connections);
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let (tcp, peer) = listener.accept().await?;
        let Some(permit) = limit.try_acquire() else {
            tracing::warn!(%peer, limit = config.max_connections, "connection refused: too many connections");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let handler = make_handler(peer);
        let acceptor = acceptor.clone();
        let config = config.connection.clone();
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(config.csm_timeout, acceptor.accept(tcp)).await;
            match handshake {
                Ok(Ok(stream)) => {
                    let identity =
                        stream.get_ref().1.peer_certificates().and_then(|c| c.first()).and_then(peer_identity);
                    let handle = spawn_connection(stream, Role::Acceptor, config, Some(peer), identity, handler);
                    hold_until_closed(handle, permit);
                }
                Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
            }
        });
    }
}
