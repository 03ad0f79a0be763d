//! `lwm2m coap` over DTLS 1.2 (RFC 6347, RFC 7252 §9): `coaps://` URIs for the client and
//! `lwm2m coap serve --dtls` for the file server, on `lwm2m_transport::dtls`.
//!
//! A child module of `coap`: the DTLS sockets implement the driver's `DatagramTransport`, so the
//! CoAP client and file server run unchanged on top; output, `--json`, Observe and exit codes are
//! the UDP ones. A failed handshake (wrong PSK, untrusted certificate, no answer) exits 2 with the
//! `DtlsError` as the one-line reason.
//!
//! Modes:
//! - PSK (LwM2M security mode 0): `--psk-identity ID` with `--psk-key HEX` or `--psk-key-text TEXT`.
//!   The server knows exactly that one identity. The server takes any combination of the three
//!   modes on one endpoint; each ClientHello selects its mode.
//! - Certificate (mode 2): the client needs `--ca PEM` (the server must chain to it and be valid
//!   for the URI host) and `--cert PEM --key PEM`; the server needs `--cert --key` and `--ca` (to
//!   verify client certificates). Certificates are mandatory on both sides because LwM2M
//!   certificate mode authenticates both peers and the DTLS backend does not offer server-only
//!   authentication. Only the leaf certificate is sent, so peers must trust its issuer directly.
//! - Raw public key (mode 1, RFC 7250): `--rpk KEY.pem` (our ECDSA P-256/P-384 private key, PEM
//!   `PRIVATE KEY` or `EC PRIVATE KEY`; a libcoap `-M` file works) and `--rpk-peer PUB.pem` (a
//!   PEM `PUBLIC KEY`): the client trusts exactly that server key; the server admits the client
//!   keys given (repeat `--rpk-peer`). Nothing else is trusted: a raw public key has no issuer.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use lwm2m_transport::dtls::{
    CertificateUsage, CertifiedKey, ClientConfig, ClientCredentials, DtlsClientSocket, DtlsError, DtlsServer,
    DtlsServerSocket, HandshakeTiming, MemoryCredentialStore, PskCredential, RawPublicKey, RawPublicKeyPair,
    ServerConfig, TrustAnchors,
};

use super::tcp::CertArgs;

/// PSK options of the DTLS modes (`coaps://`, `serve --dtls`).
#[derive(Debug, Args, Default)]
pub(crate) struct PskArgs {
    /// DTLS PSK identity (`coaps://` or `serve --dtls`); needs --psk-key or --psk-key-text.
    #[arg(long, value_name = "ID")]
    pub(crate) psk_identity: Option<String>,
    /// DTLS pre-shared key in hex (`0102...`, 1 to 64 bytes).
    #[arg(long, value_name = "HEX", requires = "psk_identity", conflicts_with = "psk_key_text")]
    pub(crate) psk_key: Option<String>,
    /// DTLS pre-shared key given as text (its UTF-8 bytes), like libcoap's `-k`.
    #[arg(long, value_name = "TEXT", requires = "psk_identity")]
    pub(crate) psk_key_text: Option<String>,
}

/// Certificate Usage options of `coaps://` certificate mode (the LwM2M Security object's
/// Certificate Usage and Server Public Key resources).
#[derive(Debug, Args, Default)]
pub(crate) struct CertUsageArgs {
    /// The server certificate as provisioned in the Server Public Key resource (PEM), matched
    /// as --cert-usage says (DTLS certificate mode).
    #[arg(long, value_name = "PEM", requires = "cert")]
    pub(crate) server_cert: Option<PathBuf>,
    /// Certificate Usage for --server-cert: 0 CA constraint, 1 service certificate constraint,
    /// 2 trust anchor assertion, 3 domain-issued certificate (default, as in LwM2M). With 2 and
    /// 3, --ca is not needed.
    #[arg(long, value_name = "0-3", requires = "server_cert", value_parser = clap::value_parser!(u8).range(0..=3))]
    pub(crate) cert_usage: Option<u8>,
}

impl CertUsageArgs {
    /// The configured usage, or None without --server-cert.
    fn usage(&self) -> anyhow::Result<Option<CertificateUsage>> {
        let Some(path) = &self.server_cert else { return Ok(None) };
        let pem = read_pem(path, "--server-cert")?;
        let certificates = TrustAnchors::from_pem(&pem).with_context(|| format!("--server-cert {}", path.display()))?;
        let [der] = certificates.certificates_der() else {
            bail!("--server-cert {}: give exactly one PEM CERTIFICATE", path.display());
        };
        let usage = self.cert_usage.unwrap_or(3);
        CertificateUsage::from_resources(usage, der.clone())
            .ok_or_else(|| anyhow!("--cert-usage {usage}: must be 0, 1, 2 or 3"))
            .map(Some)
    }
}

/// Raw public key options of the DTLS modes (security mode 1, RFC 7250).
#[derive(Debug, Args, Default)]
pub(crate) struct RpkArgs {
    /// DTLS raw public key mode (RFC 7250): our ECDSA P-256/P-384 private key (PEM `PRIVATE KEY`
    /// or `EC PRIVATE KEY`); needs --rpk-peer.
    #[arg(long, value_name = "KEY.pem")]
    pub(crate) rpk: Option<PathBuf>,
    /// The peer's raw public key (PEM `PUBLIC KEY`): for `coaps://` the server key to trust; for
    /// `serve --dtls` a client key to admit (repeatable).
    #[arg(long, value_name = "PUB.pem", requires = "rpk")]
    pub(crate) rpk_peer: Vec<PathBuf>,
}

impl RpkArgs {
    /// True when any RPK option was given.
    pub(crate) fn any(&self) -> bool {
        self.rpk.is_some() || !self.rpk_peer.is_empty()
    }

    /// Our key pair and the peer keys, or None when --rpk was not given.
    fn keys(&self) -> anyhow::Result<Option<(RawPublicKeyPair, Vec<RawPublicKey>)>> {
        let Some(path) = &self.rpk else { return Ok(None) };
        let key = RawPublicKeyPair::from_pem(&read_pem(path, "--rpk")?)
            .with_context(|| format!("--rpk {}", path.display()))?;
        let peers = self
            .rpk_peer
            .iter()
            .map(|p| {
                RawPublicKey::from_pem(&read_pem(p, "--rpk-peer")?)
                    .with_context(|| format!("--rpk-peer {}", p.display()))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        if peers.is_empty() {
            bail!("--rpk needs --rpk-peer PUB.pem: a raw public key is trusted only when given");
        }
        Ok(Some((key, peers)))
    }
}

/// The DTLS mode of `lwm2m coap serve`.
#[derive(Debug, Args, Default)]
pub(crate) struct DtlsServeArgs {
    /// Serve CoAP over DTLS (`coaps://`): with --psk-identity and --psk-key/--psk-key-text, with
    /// --cert, --key and --ca (certificate mode), or with --rpk and --rpk-peer (raw public keys).
    #[arg(long, conflicts_with_all = ["tcp", "tls"])]
    pub(crate) dtls: bool,
    #[command(flatten)]
    pub(crate) psk: PskArgs,
    #[command(flatten)]
    pub(crate) rpk: RpkArgs,
}

impl PskArgs {
    /// True when any PSK option was given.
    pub(crate) fn any(&self) -> bool {
        self.psk_identity.is_some() || self.psk_key.is_some() || self.psk_key_text.is_some()
    }

    /// The credential, or None when no PSK option was given.
    fn credential(&self) -> anyhow::Result<Option<PskCredential>> {
        let Some(identity) = &self.psk_identity else { return Ok(None) };
        let credential = match (&self.psk_key, &self.psk_key_text) {
            (Some(hex), _) => PskCredential::with_hex_key(identity.as_bytes(), hex)?,
            (None, Some(text)) => PskCredential::new(identity.as_bytes(), text.as_bytes())?,
            (None, None) => bail!("--psk-identity needs --psk-key HEX or --psk-key-text TEXT"),
        };
        Ok(Some(credential))
    }
}

fn read_pem(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {what} {}", path.display()))
}

fn certified_key(certs: &CertArgs) -> anyhow::Result<Option<CertifiedKey>> {
    match (&certs.cert, &certs.key) {
        (Some(cert), Some(key)) => {
            let key = CertifiedKey::from_pem(&read_pem(cert, "--cert")?, &read_pem(key, "--key")?)
                .with_context(|| format!("--cert {} / --key {}", cert.display(), key.display()))?;
            Ok(Some(key))
        }
        _ => Ok(None),
    }
}

fn trust_anchors(certs: &CertArgs) -> anyhow::Result<Option<TrustAnchors>> {
    certs
        .ca
        .as_ref()
        .map(|ca| TrustAnchors::from_pem(&read_pem(ca, "--ca")?).with_context(|| format!("--ca {}", ca.display())))
        .transpose()
}

/// The client configuration for `coaps://host`: PSK when a PSK option is given, raw public keys
/// with --rpk, else certificates. `handshake_limit` bounds the handshake (the `--timeout`, when
/// given).
pub(crate) fn client_config(
    psk: &PskArgs,
    rpk: &RpkArgs,
    certs: &CertArgs,
    usage: &CertUsageArgs,
    host: &str,
    handshake_limit: Option<Duration>,
) -> anyhow::Result<ClientConfig> {
    let server_certificate_usage = usage.usage()?;
    if server_certificate_usage.is_some() && (psk.any() || rpk.any()) {
        bail!("--server-cert/--cert-usage belong to certificate mode (--cert/--key)");
    }
    let mut config = if let Some((key, mut peers)) = rpk.keys()? {
        if psk.any() || certs.cert.is_some() || certs.ca.is_some() {
            bail!("give one of --psk-identity/--psk-key, --rpk/--rpk-peer or --ca/--cert/--key for coaps://");
        }
        let server_key = peers.remove(0);
        if !peers.is_empty() {
            bail!("coaps:// trusts exactly one server key: give --rpk-peer once");
        }
        ClientConfig::new(ClientCredentials::RawPublicKey { key, server_key })
    } else if let Some(credential) = psk.credential()? {
        if certs.cert.is_some() || certs.ca.is_some() {
            bail!("give either --psk-identity/--psk-key or --ca/--cert/--key for coaps://, not both");
        }
        ClientConfig::psk(credential)
    } else {
        // Usages 2 and 3 bring their own trust (the given CA or the pinned certificate).
        let own_trust = matches!(
            server_certificate_usage,
            Some(CertificateUsage::TrustAnchor(_) | CertificateUsage::DomainIssued(_))
        );
        let server_trust = match trust_anchors(certs)? {
            Some(anchors) => anchors,
            None if own_trust => TrustAnchors::from_der(Vec::new()),
            None => bail!(
                "coaps:// needs --psk-identity and --psk-key, or --ca PEM (or --server-cert with --cert-usage 2 or 3)"
            ),
        };
        let certificate = certified_key(certs)?.ok_or_else(|| {
            anyhow!("coaps:// with certificates needs --cert PEM and --key PEM (DTLS certificate mode authenticates both sides)")
        })?;
        let credentials =
            ClientCredentials::Certificate { certificate, server_trust, server_name: Some(host.to_string()) };
        ClientConfig { server_certificate_usage, ..ClientConfig::new(credentials) }
    };
    if let Some(limit) = handshake_limit {
        config.timing = HandshakeTiming { handshake_timeout: limit, ..config.timing };
    }
    Ok(config)
}

/// Handshakes with `addr`; the error is the one-line reason the CLI prints before exiting 2.
pub(crate) async fn connect(addr: std::net::SocketAddr, config: ClientConfig) -> Result<DtlsClientSocket, String> {
    let psk = matches!(config.credentials, ClientCredentials::Psk(_));
    DtlsClientSocket::connect(addr, config).await.map_err(|e| handshake_failure(addr, &e, psk))
}

/// The one-line reason for a failed handshake. A PSK handshake that times out gets a hint: many
/// servers (OpenSSL-based ones such as libcoap's) silently discard the Finished message they
/// cannot decrypt under a wrong key (RFC 6347 §4.1.2.7) instead of sending an alert.
fn handshake_failure(addr: std::net::SocketAddr, error: &DtlsError, psk: bool) -> String {
    let hint = if psk && matches!(error, DtlsError::HandshakeTimeout(_)) {
        " (no DTLS server there, or a wrong PSK identity/key: servers may drop what they cannot decrypt)"
    } else {
        ""
    };
    format!("DTLS handshake with {addr} failed: {error}{hint}")
}

/// The DTLS endpoint of `serve --dtls`, bound to `bind`.
pub(crate) async fn bind(
    bind: std::net::SocketAddr,
    dtls: &DtlsServeArgs,
    certs: &CertArgs,
) -> anyhow::Result<Arc<DtlsServerSocket>> {
    // PSK, raw public key and certificate credentials can be combined: each client's
    // ClientHello selects its mode.
    let psk = &dtls.psk;
    let store = MemoryCredentialStore::new();
    let mut config = ServerConfig::psk(Arc::new(store.clone()));
    if let Some((key, peers)) = dtls.rpk.keys()? {
        for peer in &peers {
            store.insert_raw_public_key(peer, None);
        }
        config.raw_public_key = Some(key);
    }
    if let Some(credential) = psk.credential()? {
        store.insert_psk(&credential, None);
    }
    if let Some(certificate) = certified_key(certs)? {
        config.client_trust = Some(trust_anchors(certs)?.ok_or_else(|| {
            anyhow!("serve --dtls with --cert needs --ca PEM to verify client certificates (both sides authenticate)")
        })?);
        config.certificate = Some(certificate);
    } else if certs.ca.is_some() {
        bail!("--ca without --cert/--key: serve --dtls certificate mode needs all three");
    }
    if !psk.any() && config.certificate.is_none() && config.raw_public_key.is_none() {
        bail!(
            "serve --dtls needs --psk-identity with --psk-key/--psk-key-text, --rpk with --rpk-peer, or --cert, --key and --ca"
        );
    }
    let server = DtlsServer::new(config).context("DTLS server configuration")?;
    let socket = DtlsServerSocket::bind(bind, server).await.with_context(|| format!("binding {bind}"))?;
    Ok(Arc::new(socket))
}

/// Prints each failed handshake on stderr (one line per peer), so `serve --dtls` shows why a
/// client was refused.
pub(crate) async fn report_failures(socket: Arc<DtlsServerSocket>) {
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tick.tick().await;
        for (peer, error) in socket.take_handshake_failures() {
            eprintln!("DTLS handshake with {peer} failed: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psk_options_become_credentials() {
        let hex = PskArgs { psk_identity: Some("id".into()), psk_key: Some("0a0b".into()), psk_key_text: None };
        assert_eq!(hex.credential().unwrap().unwrap().key(), &[0x0a, 0x0b]);
        let text = PskArgs { psk_identity: Some("id".into()), psk_key: None, psk_key_text: Some("secret".into()) };
        assert_eq!(text.credential().unwrap().unwrap().key(), b"secret");
        let missing = PskArgs { psk_identity: Some("id".into()), ..PskArgs::default() };
        assert!(missing.credential().unwrap_err().to_string().contains("--psk-key"));
        let bad = PskArgs { psk_identity: Some("id".into()), psk_key: Some("xyz".into()), psk_key_text: None };
        assert!(bad.credential().is_err());
        assert!(PskArgs::default().credential().unwrap().is_none());
    }

    #[test]
    fn handshake_timeouts_in_psk_mode_hint_at_the_key() {
        let addr = "127.0.0.1:5684".parse().unwrap();
        let timeout = DtlsError::HandshakeTimeout(Duration::from_secs(3));
        assert!(handshake_failure(addr, &timeout, true).contains("wrong PSK"));
        assert!(!handshake_failure(addr, &timeout, false).contains("PSK"));
        assert!(!handshake_failure(addr, &DtlsError::Closed, true).contains("wrong PSK"));
    }

    #[test]
    fn certificate_mode_needs_a_ca_and_a_client_certificate() {
        let none = client_config(
            &PskArgs::default(),
            &RpkArgs::default(),
            &CertArgs::default(),
            &CertUsageArgs::default(),
            "h",
            None,
        )
        .unwrap_err();
        assert!(none.to_string().contains("--psk-identity"), "{none}");
        let ca_only = CertArgs { ca: Some("/nonexistent/ca.pem".into()), ..CertArgs::default() };
        assert!(
            client_config(&PskArgs::default(), &RpkArgs::default(), &ca_only, &CertUsageArgs::default(), "h", None)
                .is_err()
        );
    }

    #[test]
    fn raw_public_key_options() {
        let dir = std::env::temp_dir().join(format!("lwm2m-cli-rpk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ours = rcgen::KeyPair::generate().unwrap();
        let theirs = rcgen::KeyPair::generate().unwrap();
        std::fs::write(dir.join("ours.pem"), ours.serialize_pem()).unwrap();
        std::fs::write(dir.join("theirs.pub.pem"), theirs.public_key_pem()).unwrap();
        let rpk = RpkArgs { rpk: Some(dir.join("ours.pem")), rpk_peer: vec![dir.join("theirs.pub.pem")] };
        let config =
            client_config(&PskArgs::default(), &rpk, &CertArgs::default(), &CertUsageArgs::default(), "h", None)
                .unwrap();
        let ClientCredentials::RawPublicKey { server_key, .. } = &config.credentials else { panic!("not RPK") };
        assert_eq!(server_key, &RawPublicKey::from_pem(theirs.public_key_pem().as_bytes()).unwrap());
        // --rpk alone trusts nothing: refused.
        let alone = RpkArgs { rpk: Some(dir.join("ours.pem")), rpk_peer: vec![] };
        let err =
            client_config(&PskArgs::default(), &alone, &CertArgs::default(), &CertUsageArgs::default(), "h", None)
                .unwrap_err();
        assert!(err.to_string().contains("--rpk-peer"), "{err}");
        // A private key file is not a peer public key.
        let swapped = RpkArgs { rpk: Some(dir.join("ours.pem")), rpk_peer: vec![dir.join("ours.pem")] };
        assert!(
            client_config(&PskArgs::default(), &swapped, &CertArgs::default(), &CertUsageArgs::default(), "h", None)
                .is_err()
        );
        // Mixed with PSK: refused.
        let psk = PskArgs { psk_identity: Some("id".into()), psk_key: Some("0a0b".into()), psk_key_text: None };
        assert!(client_config(&psk, &rpk, &CertArgs::default(), &CertUsageArgs::default(), "h", None).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
