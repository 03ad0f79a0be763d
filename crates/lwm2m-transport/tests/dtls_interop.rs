//! DTLS interop with libcoap (Debian `libcoap3-bin`) over real UDP loopback: PSK and
//! certificates with the OpenSSL and GnuTLS builds, raw public keys (RFC 7250, `-M`) with the
//! GnuTLS build (the OpenSSL build on Debian bookworm has no RPK). Session resumption (RFC 5246
//! §7.3) both ways with OpenSSL's `s_client -reconnect` and `s_server`.
//!
//! Policy (see the project rules): if the peer binary is missing the test prints
//! "SKIPPED: peer X not installed", unless `CI` is set (not "" or "false"), where it fails.

#![cfg(feature = "dtls")]

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lwm2m_transport::dtls::{
    AuthenticatedIdentity, CertificateError, CipherSuite, ClientConfig, ClientCredentials, ClientEvent, DtlsClient,
    DtlsError, DtlsServer, MemoryCredentialStore, PskCredential, ServerConfig, ServerEvent,
};

fn peer(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file());
    if found.is_none() {
        let ci = std::env::var("CI").unwrap_or_default();
        if !ci.is_empty() && ci != "false" {
            panic!("interop peer {name} missing: .ci/run installs it");
        }
        eprintln!("SKIPPED: peer {name} not installed");
    }
    found
}

/// Kills the child when dropped, so a failing assertion never leaks a server process.
struct Reaped(Child);
impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port P with P and P+1 free on 127.0.0.1 for UDP and TCP (libcoap binds both, DTLS on P+1).
fn free_port_pair() -> u16 {
    for _ in 0..200 {
        let Ok(probe) = UdpSocket::bind("127.0.0.1:0") else { continue };
        let Ok(addr) = probe.local_addr() else { continue };
        let p = addr.port();
        if p >= 65000 {
            continue;
        }
        drop(probe);
        let all_free = [p, p + 1].iter().all(|port| {
            UdpSocket::bind(("127.0.0.1", *port)).is_ok() && std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok()
        });
        if all_free {
            return p;
        }
    }
    panic!("no free port pair on 127.0.0.1");
}

/// CoAP GET /time, hand-built (RFC 7252 §3):
/// byte 0 = version 1, type CON (0), token length 1 -> 0b01_00_0001 = 0x41;
/// byte 1 = code 0.01 GET; bytes 2-3 = message id 0x1234; byte 4 = token 0x42;
/// option Uri-Path (11) with delta 11 and length 4 -> 0xB4, then "time".
const GET_TIME: [u8; 10] = [0x41, 0x01, 0x12, 0x34, 0x42, 0xB4, b't', b'i', b'm', b'e'];

/// Sends GET /time from `client` over `socket` (connected to a libcoap server that may still be
/// starting) until the answer arrives, restarting the handshake after a failure, for at most
/// 15 s. The CoAP response, or the last handshake failure.
fn get_time(client: &mut DtlsClient, socket: &UdpSocket) -> Result<Vec<u8>, Option<DtlsError>> {
    let start = Instant::now();
    client.send(&GET_TIME).unwrap();
    let mut buf = [0u8; 2048];
    let mut last_failure = None;
    while start.elapsed() < Duration::from_secs(15) {
        while let Some(d) = client.poll_transmit() {
            let _ = socket.send(&d);
        }
        if let Ok(n) = socket.recv(&mut buf) {
            client.handle_datagram(Instant::now(), &buf[..n]);
        }
        client.handle_timeout(Instant::now());
        while let Some(event) = client.poll_event() {
            match event {
                ClientEvent::Datagram(d) => return Ok(d),
                // The server may not be listening yet; try again.
                ClientEvent::Failed(e) => {
                    last_failure = Some(e);
                    std::thread::sleep(Duration::from_millis(100));
                    client.restart(Instant::now()).unwrap();
                    client.send(&GET_TIME).unwrap();
                }
                _ => {}
            }
        }
    }
    Err(last_failure)
}

#[test]
fn our_client_completes_psk_handshake_with_coap_server_openssl() {
    our_psk_client_against_coap_server_openssl(CipherSuite::CLIENT_DEFAULT);
}

/// TLS_PSK_WITH_AES_128_GCM_SHA256 alone (dimpl patch 5), so only it can be negotiated.
#[test]
fn psk_gcm_our_client_against_coap_server_openssl() {
    our_psk_client_against_coap_server_openssl(&[CipherSuite::PskAes128GcmSha256]);
}

fn our_psk_client_against_coap_server_openssl(suites: &[CipherSuite]) {
    let Some(server_bin) = peer("coap-server-openssl") else { return };
    let port = free_port_pair();
    let _server = Reaped(
        Command::new(server_bin)
            .args(["-A", "127.0.0.1", "-p", &port.to_string(), "-k", "interop-secret", "-v", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start coap-server-openssl"),
    );
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(("127.0.0.1", port + 1)).unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(50))).unwrap();

    // libcoap accepts any identity with the -k key.
    let psk = PskCredential::new(b"lwm2m-rs", b"interop-secret").unwrap();
    let config = ClientConfig { cipher_suites: suites.to_vec(), ..ClientConfig::psk(psk) };
    let mut client = DtlsClient::new(config, Instant::now()).unwrap();
    let response = get_time(&mut client, &socket);
    let response = response.expect("a CoAP response over DTLS from coap-server-openssl");
    // ACK (type 2) with token length 1 -> 0x61; code 2.05 Content = (2 << 5) | 5 = 0x45.
    assert_eq!(response.first(), Some(&0x61), "piggybacked ACK: {response:02x?}");
    assert_eq!(response.get(1), Some(&0x45), "2.05 Content: {response:02x?}");
    assert_eq!(response.get(2..4), Some(&[0x12, 0x34][..]), "same message id");
    assert_eq!(response.get(4), Some(&0x42), "same token");
}

/// Answers every CoAP CON request over DTLS with an ACK 2.05 carrying `payload`; records the
/// identities it saw and the handshake failures.
fn run_our_server(
    socket: &UdpSocket,
    mut server: DtlsServer,
    stop: &AtomicBool,
    payload: &'static [u8],
) -> (Vec<Arc<AuthenticatedIdentity>>, Vec<DtlsError>) {
    socket.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let mut identities = Vec::new();
    let mut failures = Vec::new();
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(30);
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        if let Ok((n, peer)) = socket.recv_from(&mut buf) {
            server.handle_datagram(Instant::now(), peer, &buf[..n]);
        }
        server.handle_timeout(Instant::now());
        while let Some(event) = server.poll_event() {
            match event {
                ServerEvent::Datagram(d) => {
                    identities.push(d.identity.clone());
                    let request = &d.payload;
                    let token_len = usize::from(request.first().copied().unwrap_or(0) & 0x0f);
                    if request.len() < 4 + token_len || token_len > 8 {
                        continue;
                    }
                    // ACK, same token length; 2.05; same message id and token; payload marker 0xFF.
                    let mut response = vec![0x60 | token_len as u8, 0x45, request[2], request[3]];
                    response.extend_from_slice(&request[4..4 + token_len]);
                    response.push(0xff);
                    response.extend_from_slice(payload);
                    server.send(Instant::now(), d.peer, &response).unwrap();
                }
                ServerEvent::HandshakeFailed { error, .. } => failures.push(error),
                _ => {}
            }
        }
        while let Some(t) = server.poll_transmit() {
            let _ = socket.send_to(&t.payload, t.destination);
        }
    }
    (identities, failures)
}

fn run_coap_client(bin: &std::path::Path, args: &[&str]) -> String {
    let mut child = Command::new(bin).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn our_server(identity: &[u8], key: &[u8]) -> DtlsServer {
    our_server_with(identity, key, CipherSuite::ALL)
}

fn our_server_with(identity: &[u8], key: &[u8], suites: &[CipherSuite]) -> DtlsServer {
    let store = MemoryCredentialStore::new();
    store.insert_psk(&PskCredential::new(identity, key).unwrap(), None);
    let mut config = ServerConfig::psk(Arc::new(store));
    config.cipher_suites = suites.to_vec();
    DtlsServer::new(config).unwrap()
}

/// A file-name tag unique to a suite list, so tests that run at once never share PEM files.
fn suites_tag(suites: &[CipherSuite]) -> String {
    suites.iter().map(|s| format!("{:04x}", s.iana())).collect::<Vec<_>>().join("-")
}

/// [`run_our_server`] on a loopback socket in a thread, until [`OurServer::finish`].
struct OurServer {
    uri: String,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(Vec<Arc<AuthenticatedIdentity>>, Vec<DtlsError>)>,
}

impl OurServer {
    fn start(server: DtlsServer, payload: &'static [u8]) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let uri = format!("coaps://127.0.0.1:{}/x", socket.local_addr().unwrap().port());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || run_our_server(&socket, server, &stop, payload))
        };
        OurServer { uri, stop, thread }
    }

    /// Stops the server; the identities it saw and the handshake failures.
    fn finish(self) -> (Vec<Arc<AuthenticatedIdentity>>, Vec<DtlsError>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

#[test]
fn coap_client_openssl_talks_to_our_server_and_we_see_its_identity() {
    client_talks_to_our_server("coap-client-openssl", CipherSuite::ALL);
}

#[test]
fn coap_client_gnutls_talks_to_our_server_and_we_see_its_identity() {
    client_talks_to_our_server("coap-client-gnutls", CipherSuite::ALL);
}

/// Our server accepts TLS_PSK_WITH_AES_128_GCM_SHA256 only (dimpl patch 5).
#[test]
fn psk_gcm_coap_client_openssl_against_our_server() {
    client_talks_to_our_server("coap-client-openssl", &[CipherSuite::PskAes128GcmSha256]);
}

#[test]
fn psk_gcm_coap_client_gnutls_against_our_server() {
    client_talks_to_our_server("coap-client-gnutls", &[CipherSuite::PskAes128GcmSha256]);
}

/// LwM2M 1.1 servers must offer TLS_PSK_WITH_AES_128_CBC_SHA256: our server limited to it.
#[test]
fn psk_cbc_coap_client_openssl_against_our_server() {
    client_talks_to_our_server("coap-client-openssl", &[CipherSuite::PskAes128CbcSha256]);
}

#[test]
fn psk_cbc_coap_client_gnutls_against_our_server() {
    client_talks_to_our_server("coap-client-gnutls", &[CipherSuite::PskAes128CbcSha256]);
}

fn client_talks_to_our_server(peer_name: &str, suites: &[CipherSuite]) {
    let Some(client_bin) = peer(peer_name) else { return };
    let server = our_server_with(b"lwm2m-client", b"interop-secret", suites);
    let running = OurServer::start(server, b"hello over dtls");
    let uri = running.uri.clone();
    let output = run_coap_client(&client_bin, &["-u", "lwm2m-client", "-k", "interop-secret", "-B", "10", &uri]);
    let (identities, failures) = running.finish();
    assert!(output.contains("hello over dtls"), "coap-client output: {output}; failures: {failures:?}");
    assert_eq!(identities.len(), 1, "{identities:?}");
    assert_eq!(*identities[0], AuthenticatedIdentity::psk(b"lwm2m-client"));
}

#[test]
fn coap_client_openssl_with_a_wrong_key_is_refused() {
    let Some(client_bin) = peer("coap-client-openssl") else { return };
    let running = OurServer::start(our_server(b"lwm2m-client", b"interop-secret"), b"must not be seen");
    let uri = running.uri.clone();
    let output = run_coap_client(&client_bin, &["-u", "lwm2m-client", "-k", "wrong-secret", "-B", "3", &uri]);
    let (identities, failures) = running.finish();
    assert!(!output.contains("must not be seen"), "{output}");
    assert!(identities.is_empty(), "no request got through");
    assert!(failures.contains(&DtlsError::BadPsk { identity: "lwm2m-client".into() }), "{failures:?}");
}

/// A throw-away PKI in a temporary directory: CA, server and client certificates (P-256) as PEM.
struct PemPki {
    dir: std::path::PathBuf,
    ca_der: Vec<u8>,
    server: lwm2m_transport::dtls::CertifiedKey,
    client: lwm2m_transport::dtls::CertifiedKey,
}

impl PemPki {
    fn new(tag: &str) -> Self {
        Self::build(tag, false)
    }

    /// Leaves issued by an intermediate CA: each leaf's PEM file holds the leaf and then the
    /// intermediate (a full chain), `ca.pem` only the root, so the chain must travel.
    fn chained(tag: &str) -> Self {
        Self::build(tag, true)
    }

    fn build(tag: &str, chained: bool) -> Self {
        let dir = std::env::temp_dir().join(format!("lwm2m-dtls-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "interop CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
        let root = rcgen::Issuer::new(ca_params, ca_key);
        let (issuer, chain) = if chained {
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            params.distinguished_name.push(rcgen::DnType::CommonName, "interop intermediate");
            let cert = params.signed_by(&key, &root).unwrap();
            std::fs::write(dir.join("intermediate.pem"), cert.pem()).unwrap();
            (rcgen::Issuer::new(params, key), Some(cert))
        } else {
            (root, None)
        };
        let leaf = |name: &str, sans: Vec<String>| {
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
            let mut params = rcgen::CertificateParams::new(sans).unwrap();
            params.distinguished_name.push(rcgen::DnType::CommonName, name);
            let cert = params.signed_by(&key, &issuer).unwrap();
            let pem = format!("{}{}", cert.pem(), chain.as_ref().map(rcgen::Certificate::pem).unwrap_or_default());
            std::fs::write(dir.join(format!("{name}.pem")), &pem).unwrap();
            std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
            // Read back the way the CLI reads `--cert`: the chain comes from the PEM file.
            lwm2m_transport::dtls::CertifiedKey::from_pem(pem.as_bytes(), key.serialize_pem().as_bytes()).unwrap()
        };
        let server = leaf("localhost", vec!["localhost".into(), "127.0.0.1".into()]);
        let client = leaf("urn-dev-cert", vec![]);
        PemPki { ca_der: ca_cert.der().to_vec(), server, client, dir }
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).to_string_lossy().into_owned()
    }

    fn anchors(&self) -> lwm2m_transport::dtls::TrustAnchors {
        lwm2m_transport::dtls::TrustAnchors::from_der(vec![self.ca_der.clone()])
    }
}

impl Drop for PemPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn certificates_our_client_against_coap_server_openssl() {
    our_certificate_client_against_coap_server_openssl(CipherSuite::CLIENT_DEFAULT);
}

/// Our client offers only LwM2M's mandatory certificate-mode suite.
#[test]
fn certificates_ccm8_our_client_against_coap_server_openssl() {
    our_certificate_client_against_coap_server_openssl(&[CipherSuite::EcdheEcdsaAes128Ccm8]);
}

#[test]
fn certificates_cbc_our_client_against_coap_server_openssl() {
    our_certificate_client_against_coap_server_openssl(&[CipherSuite::EcdheEcdsaAes128CbcSha256]);
}

fn our_certificate_client_against_coap_server_openssl(suites: &[CipherSuite]) {
    let pki = PemPki::new(&format!("client-{}", suites_tag(suites)));
    our_certificate_client_against_coap_server(suites, &pki, "coap-server-openssl");
}

/// coap-server-gnutls presents a certificate issued by an intermediate (its `-c` file holds the
/// chain); our client trusts only the root.
#[test]
fn certificate_chains_our_client_against_coap_server_gnutls() {
    our_certificate_client_against_coap_server(
        CipherSuite::CLIENT_DEFAULT,
        &PemPki::chained("client-chain"),
        "coap-server-gnutls",
    );
}

fn our_certificate_client_against_coap_server(suites: &[CipherSuite], pki: &PemPki, server_name: &str) {
    let Some(server_bin) = peer(server_name) else { return };
    let port = free_port_pair();
    let _server = Reaped(
        Command::new(server_bin)
            .args(["-A", "127.0.0.1", "-p", &port.to_string(), "-v", "0"])
            .args(["-c", &pki.path("localhost.pem"), "-j", &pki.path("localhost.key"), "-C", &pki.path("ca.pem")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start coap-server-openssl"),
    );
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(("127.0.0.1", port + 1)).unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let config = ClientConfig {
        credentials: lwm2m_transport::dtls::ClientCredentials::Certificate {
            certificate: pki.client.clone(),
            server_trust: pki.anchors(),
            server_name: Some("127.0.0.1".into()),
        },
        cipher_suites: suites.to_vec(),
        ..ClientConfig::psk(lwm2m_transport::dtls::PskCredential::new(b"unused", b"unused").unwrap())
    };
    let mut client = DtlsClient::new(config, Instant::now()).unwrap();
    let response = get_time(&mut client, &socket).unwrap_or_else(|e| panic!("no response; last failure {e:?}"));
    assert_eq!(response.get(1), Some(&0x45), "2.05 Content: {response:02x?}");
    let Some(AuthenticatedIdentity::Certificate(server)) = client.server_identity() else { panic!("no server cert") };
    assert_eq!(server.common_name.as_deref(), Some("localhost"));
}

#[test]
fn certificates_coap_client_openssl_against_our_server() {
    certificate_client_against_our_server("coap-client-openssl", CipherSuite::ALL);
}

/// LwM2M's mandatory certificate-mode suite, alone, so the handshake can only succeed with it.
#[test]
fn certificates_ccm8_coap_client_openssl_against_our_server() {
    certificate_client_against_our_server("coap-client-openssl", &[CipherSuite::EcdheEcdsaAes128Ccm8]);
}

#[test]
fn certificates_ccm8_coap_client_gnutls_against_our_server() {
    certificate_client_against_our_server("coap-client-gnutls", &[CipherSuite::EcdheEcdsaAes128Ccm8]);
}

/// LwM2M 1.1 servers must offer TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256.
#[test]
fn certificates_cbc_coap_client_openssl_against_our_server() {
    certificate_client_against_our_server("coap-client-openssl", &[CipherSuite::EcdheEcdsaAes128CbcSha256]);
}

#[test]
fn certificates_cbc_coap_client_gnutls_against_our_server() {
    certificate_client_against_our_server("coap-client-gnutls", &[CipherSuite::EcdheEcdsaAes128CbcSha256]);
}

/// Client and server certificates issued by an intermediate CA; both sides trust only the root.
/// (libcoap's OpenSSL build sends only the leaf of its `-c` file, as `openssl s_client
/// -showcerts` shows, so OpenSSL chains are tested with `s_client` / `s_server` below.)
#[test]
fn certificate_chains_coap_client_gnutls_against_our_server() {
    chained_certificate_client_against_our_server("coap-client-gnutls");
}

fn certificate_client_against_our_server(peer_name: &str, suites: &[CipherSuite]) {
    let pki = PemPki::new(&format!("server-{peer_name}-{}", suites_tag(suites)));
    client_with_certificates_against_our_server(peer_name, suites, &pki);
}

fn chained_certificate_client_against_our_server(peer_name: &str) {
    let pki = PemPki::chained(&format!("server-chain-{peer_name}"));
    assert_eq!(pki.client.chain_der().len(), 1, "the intermediate is read from the PEM file");
    client_with_certificates_against_our_server(peer_name, CipherSuite::ALL, &pki);
}

fn client_with_certificates_against_our_server(peer_name: &str, suites: &[CipherSuite], pki: &PemPki) {
    let Some(client_bin) = peer(peer_name) else { return };
    let mut config = ServerConfig::psk(Arc::new(MemoryCredentialStore::new()));
    config.certificate = Some(pki.server.clone());
    config.client_trust = Some(pki.anchors());
    config.cipher_suites = suites.to_vec();
    let server = DtlsServer::new(config).unwrap();
    let running = OurServer::start(server, b"hello certificate");
    let uri = running.uri.clone();
    let output = run_coap_client(
        &client_bin,
        &[
            "-c",
            &pki.path("urn-dev-cert.pem"),
            "-j",
            &pki.path("urn-dev-cert.key"),
            "-C",
            &pki.path("ca.pem"),
            "-B",
            "10",
            &uri,
        ],
    );
    let (identities, failures) = running.finish();
    assert!(output.contains("hello certificate"), "coap-client output: {output}; failures: {failures:?}");
    assert_eq!(identities.len(), 1, "{identities:?}");
    assert_eq!(identities[0].implied_endpoint_name(), Some("urn-dev-cert"));
}

/// A P-256 key pair for raw public key mode, written as libcoap's `-M` file wants it (the
/// `PUBLIC KEY` and the `PRIVATE KEY` blocks in one PEM file).
struct RpkFile {
    path: std::path::PathBuf,
    key: lwm2m_transport::dtls::RawPublicKeyPair,
}

impl RpkFile {
    fn new(tag: &str) -> Self {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let path = std::env::temp_dir().join(format!("lwm2m-rpk-{tag}-{}.pem", std::process::id()));
        std::fs::write(&path, format!("{}{}", key.public_key_pem(), key.serialize_pem())).unwrap();
        let pem = std::fs::read(&path).unwrap();
        let key = lwm2m_transport::dtls::RawPublicKeyPair::from_pem(&pem).unwrap();
        RpkFile { path, key }
    }

    fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

impl Drop for RpkFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// libcoap's GnuTLS build does RFC 7250 (`-M`); its OpenSSL build on Debian bookworm does not.
#[test]
fn raw_public_keys_coap_client_gnutls_against_our_server() {
    let Some(client_bin) = peer("coap-client-gnutls") else { return };
    let (server_key, client_key) = (RpkFile::new("server-s"), RpkFile::new("server-c"));
    let store = MemoryCredentialStore::new();
    store.insert_raw_public_key(client_key.key.public_key(), Some("urn:dev:rpk"));
    let mut config = ServerConfig::raw_public_key(Arc::new(store), server_key.key.clone());
    config.cipher_suites = vec![CipherSuite::EcdheEcdsaAes128Ccm8];
    let server = DtlsServer::new(config).unwrap();
    let running = OurServer::start(server, b"hello raw public key");
    let uri = running.uri.clone();
    let output = run_coap_client(&client_bin, &["-M", client_key.path(), "-B", "10", &uri]);
    let (identities, failures) = running.finish();
    assert!(output.contains("hello raw public key"), "coap-client output: {output}; failures: {failures:?}");
    assert_eq!(identities.len(), 1, "{identities:?}");
    assert_eq!(*identities[0], AuthenticatedIdentity::raw_public_key(client_key.key.public_key()));
}

/// A key the server does not know is refused with a typed error, and nothing gets through.
#[test]
fn raw_public_keys_unknown_coap_client_gnutls_key_is_refused() {
    let Some(client_bin) = peer("coap-client-gnutls") else { return };
    let (server_key, client_key) = (RpkFile::new("unknown-s"), RpkFile::new("unknown-c"));
    let server =
        DtlsServer::new(ServerConfig::raw_public_key(Arc::new(MemoryCredentialStore::new()), server_key.key.clone()))
            .unwrap();
    let running = OurServer::start(server, b"must not be seen");
    let uri = running.uri.clone();
    let output = run_coap_client(&client_bin, &["-M", client_key.path(), "-B", "3", &uri]);
    let (identities, failures) = running.finish();
    assert!(!output.contains("must not be seen"), "{output}");
    assert!(identities.is_empty());
    let unknown = client_key.key.public_key().sha256();
    assert!(
        failures.contains(&DtlsError::Certificate(CertificateError::UntrustedRawPublicKey { spki_sha256: unknown })),
        "{failures:?}"
    );
}

#[test]
fn raw_public_keys_our_client_against_coap_server_gnutls() {
    let Some(server_bin) = peer("coap-server-gnutls") else { return };
    let (server_key, client_key) = (RpkFile::new("client-s"), RpkFile::new("client-c"));
    let port = free_port_pair();
    let _server = Reaped(
        Command::new(server_bin)
            .args(["-A", "127.0.0.1", "-p", &port.to_string(), "-v", "0", "-M", server_key.path()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start coap-server-gnutls"),
    );
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(("127.0.0.1", port + 1)).unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let config = ClientConfig {
        cipher_suites: vec![CipherSuite::EcdheEcdsaAes128Ccm8],
        ..ClientConfig::new(ClientCredentials::RawPublicKey {
            key: client_key.key.clone(),
            server_key: server_key.key.public_key().clone(),
        })
    };
    let mut client = DtlsClient::new(config, Instant::now()).unwrap();
    let response = get_time(&mut client, &socket).unwrap_or_else(|e| panic!("no response; last failure {e:?}"));
    assert_eq!(response.get(1), Some(&0x45), "2.05 Content: {response:02x?}");
    assert_eq!(client.server_identity(), Some(&AuthenticatedIdentity::raw_public_key(server_key.key.public_key())));
}

/// One server endpoint with a PSK store and a certificate (as a Leshan-style server runs): a
/// libcoap PSK client and a libcoap certificate client both get through, each in its own mode.
#[test]
fn psk_and_certificate_clients_share_one_server_endpoint() {
    for peer_name in ["coap-client-openssl", "coap-client-gnutls"] {
        let Some(client_bin) = peer(peer_name) else { return };
        let pki = PemPki::new(&format!("mixed-{peer_name}"));
        let store = MemoryCredentialStore::new();
        store.insert_psk(&PskCredential::new(b"lwm2m-client", b"interop-secret").unwrap(), None);
        let mut config = ServerConfig::psk(Arc::new(store));
        config.certificate = Some(pki.server.clone());
        config.client_trust = Some(pki.anchors());
        let server = DtlsServer::new(config).unwrap();
        let running = OurServer::start(server, b"hello mixed");
        let uri = running.uri.clone();
        let psk = run_coap_client(&client_bin, &["-u", "lwm2m-client", "-k", "interop-secret", "-B", "10", &uri]);
        let (cert, key, ca) = (pki.path("urn-dev-cert.pem"), pki.path("urn-dev-cert.key"), pki.path("ca.pem"));
        let certificate = run_coap_client(&client_bin, &["-c", &cert, "-j", &key, "-C", &ca, "-B", "10", &uri]);
        let (identities, failures) = running.finish();
        assert!(psk.contains("hello mixed"), "{peer_name} PSK: {psk}; failures: {failures:?}");
        assert!(certificate.contains("hello mixed"), "{peer_name} certificate: {certificate}; failures: {failures:?}");
        let names: Vec<_> = identities.iter().map(|i| i.implied_endpoint_name().map(str::to_owned)).collect();
        assert_eq!(names, [Some("lwm2m-client".to_owned()), Some("urn-dev-cert".to_owned())], "{peer_name}");
    }
}

// ---- session resumption (RFC 5246 §7.3) with OpenSSL's s_client / s_server ----

/// Runs `server` on `socket` until `stop`: the identities of every `Connected` event and the
/// final counters.
fn run_handshake_server(
    socket: &UdpSocket,
    mut server: DtlsServer,
    stop: &AtomicBool,
) -> (Vec<Arc<AuthenticatedIdentity>>, lwm2m_transport::dtls::ServerStats, Vec<DtlsError>) {
    socket.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    let (mut identities, mut failures) = (Vec::new(), Vec::new());
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(30);
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        if let Ok((n, peer)) = socket.recv_from(&mut buf) {
            server.handle_datagram(Instant::now(), peer, &buf[..n]);
        }
        server.handle_timeout(Instant::now());
        while let Some(event) = server.poll_event() {
            match event {
                ServerEvent::Connected { identity, .. } => identities.push(identity),
                ServerEvent::HandshakeFailed { error, .. } => failures.push(error),
                _ => {}
            }
        }
        while let Some(t) = server.poll_transmit() {
            let _ = socket.send_to(&t.payload, t.destination);
        }
    }
    (identities, server.stats(), failures)
}

/// Runs `bin args` with stdin closed, at most `limit`; stdout and stderr together.
fn run_bounded(bin: &std::path::Path, args: &[&str], limit: Duration) -> String {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Runs `openssl s_client -dtls1_2 -cipher <openssl_cipher> <extra>` (PSK identity `s-id`)
/// against our PSK server limited to `suites`; whether it printed `Cipher is <openssl_cipher>`,
/// and the server's completed handshakes and failures.
fn s_client_against_our_server(
    openssl_cipher: &str,
    extra: &[&str],
    suites: &[CipherSuite],
) -> (bool, u64, Vec<Arc<AuthenticatedIdentity>>, Vec<DtlsError>, String) {
    let openssl = peer("openssl").expect("openssl is installed with libcoap");
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let server = our_server_with(b"s-id", b"s-secret", suites);
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let stop = stop.clone();
        std::thread::spawn(move || run_handshake_server(&socket, server, &stop))
    };
    let key_hex = hex(b"s-secret");
    let connect = format!("127.0.0.1:{port}");
    let args = ["s_client", "-dtls1_2", "-cipher", openssl_cipher, "-psk_identity", "s-id", "-psk", &key_hex];
    let output = run_bounded(&openssl, &[&args[..], extra, &["-connect", &connect]].concat(), Duration::from_secs(10));
    stop.store(true, Ordering::Relaxed);
    let (identities, stats, failures) = thread.join().unwrap();
    let negotiated = output.contains(&format!("Cipher is {openssl_cipher}"));
    (negotiated, stats.handshakes_completed, identities, failures, output)
}

/// `openssl s_client` names the suite it negotiated: TLS_PSK_WITH_AES_128_GCM_SHA256 (dimpl
/// patch 5) with our default server, and no handshake with a server limited to CCM_8.
#[test]
fn openssl_s_client_negotiates_psk_gcm_with_our_server() {
    if peer("openssl").is_none() {
        return;
    }
    let (negotiated, completed, identities, failures, output) =
        s_client_against_our_server("PSK-AES128-GCM-SHA256", &[], CipherSuite::ALL);
    assert!(negotiated && completed == 1, "{output}\nfailures: {failures:?}");
    assert_eq!(*identities[0], AuthenticatedIdentity::psk(b"s-id"));
    let (negotiated, completed, _, failures, output) =
        s_client_against_our_server("PSK-AES128-GCM-SHA256", &[], &[CipherSuite::PskAes128Ccm8]);
    assert!(!negotiated && completed == 0 && !failures.is_empty(), "{output}");
}

/// TLS_PSK_WITH_AES_128_CBC_SHA256 (dimpl patch 6) with our default server: negotiated with
/// Encrypt-then-MAC (OpenSSL offers it by default; both Finished messages travel in CBC
/// records), refused to a client that turns Encrypt-then-MAC off.
#[test]
fn openssl_s_client_negotiates_psk_cbc_only_with_encrypt_then_mac() {
    if peer("openssl").is_none() {
        return;
    }
    let (negotiated, completed, identities, failures, output) =
        s_client_against_our_server("PSK-AES128-CBC-SHA256", &[], CipherSuite::ALL);
    assert!(negotiated && completed == 1, "{output}\nfailures: {failures:?}");
    assert_eq!(*identities[0], AuthenticatedIdentity::psk(b"s-id"));
    let (negotiated, completed, _, failures, output) =
        s_client_against_our_server("PSK-AES128-CBC-SHA256", &["-no_etm"], CipherSuite::ALL);
    assert!(!negotiated && completed == 0 && !failures.is_empty(), "{output}");
}

/// Lowercase hex, as openssl's `-psk` takes the key.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `openssl s_server` on a free loopback port, its output in a log file.
struct SServer {
    process: Reaped,
    log: std::path::PathBuf,
    port: u16,
}

impl SServer {
    /// Starts `openssl s_server -dtls1_2 <args> -accept 127.0.0.1:PORT`; `args` should bound
    /// its life with `-naccept N`.
    fn start(openssl: &std::path::Path, tag: &str, args: &[&str]) -> Self {
        let port = {
            let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let log = std::env::temp_dir().join(format!("lwm2m-s_server-{tag}-{port}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let process = Reaped(
            Command::new(openssl)
                .args(["s_server", "-dtls1_2"])
                .args(args)
                .args(["-accept", &format!("127.0.0.1:{port}")])
                // s_server stops at end of input: keep its stdin open.
                .stdin(Stdio::piped())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .expect("start openssl s_server"),
        );
        SServer { process, log, port }
    }

    /// Lets s_server finish its `-naccept` connections (at most 5 s), then its output.
    fn finish(mut self) -> String {
        let start = Instant::now();
        while self.process.0.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(self.process);
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let _ = std::fs::remove_file(&self.log);
        log
    }
}

#[test]
fn openssl_s_client_resumes_psk_sessions_on_our_server() {
    let Some(openssl) = peer("openssl") else { return };
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let server = our_server(b"resume-id", b"resume-secret");
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let stop = stop.clone();
        std::thread::spawn(move || run_handshake_server(&socket, server, &stop))
    };
    let key_hex = hex(b"resume-secret");
    let connect = format!("127.0.0.1:{port}");
    let output = run_bounded(
        &openssl,
        &[
            "s_client",
            "-dtls1_2",
            "-cipher",
            "PSK-AES128-CCM8",
            "-psk_identity",
            "resume-id",
            "-psk",
            &key_hex,
            "-reconnect",
            "-connect",
            &connect,
        ],
        Duration::from_secs(20),
    );
    stop.store(true, Ordering::Relaxed);
    let (identities, stats, failures) = thread.join().unwrap();
    for line in output.lines().filter(|l| l.contains(", TLSv1.2,")) {
        eprintln!("s_client: {line}");
    }
    // s_client -reconnect: one full handshake, then five reconnections offering the session.
    let reused = output.matches("Reused, TLSv1.2").count();
    let new = output.matches("New, TLSv1.2").count();
    assert_eq!((new, reused), (1, 5), "s_client output: {output}\nfailures: {failures:?}");
    assert_eq!(stats.handshakes_completed, 6, "{stats:?}");
    assert_eq!(stats.handshakes_resumed, 5, "{stats:?}");
    assert_eq!(identities.len(), 6);
    assert!(identities.iter().all(|i| **i == AuthenticatedIdentity::psk(b"resume-id")), "{identities:?}");
}

/// Connects `client` over a fresh loopback socket to `port` and sends `message`; restarts while
/// the server is not up yet. Returns once connected and the message is out.
fn connect_once(client: &mut DtlsClient, port: u16, message: &[u8], first: bool) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(("127.0.0.1", port)).unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let start = Instant::now();
    if !first {
        client.restart(Instant::now()).unwrap();
    }
    client.send(message).unwrap();
    let mut buf = [0u8; 2048];
    let mut restarts = 0;
    let mut connected = false;
    while !connected && start.elapsed() < Duration::from_secs(15) {
        while let Some(d) = client.poll_transmit() {
            let _ = socket.send(&d);
        }
        if let Ok(n) = socket.recv(&mut buf) {
            client.handle_datagram(Instant::now(), &buf[..n]);
        }
        client.handle_timeout(Instant::now());
        while let Some(event) = client.poll_event() {
            match event {
                ClientEvent::Connected { .. } => connected = true,
                // s_server may not be listening yet; try again.
                ClientEvent::Failed(_) if first && restarts < 20 => {
                    restarts += 1;
                    std::thread::sleep(Duration::from_millis(100));
                    client.restart(Instant::now()).unwrap();
                    client.send(message).unwrap();
                }
                ClientEvent::Failed(e) => panic!("handshake with s_server failed: {e}"),
                _ => {}
            }
        }
    }
    assert!(connected, "no handshake with s_server");
    // Deliver the message, then close so s_server accepts the next connection.
    client.close();
    for _ in 0..3 {
        while let Some(d) = client.poll_transmit() {
            let _ = socket.send(&d);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn our_client_resumes_its_session_with_openssl_s_server() {
    let Some(openssl) = peer("openssl") else { return };
    let key_hex = hex(b"resume-secret");
    let server = SServer::start(
        &openssl,
        "resume",
        &["-nocert", "-cipher", "PSK-AES128-CCM8", "-psk_identity", "resume-id", "-psk", &key_hex, "-naccept", "2"],
    );
    let mut client =
        DtlsClient::new(ClientConfig::psk(PskCredential::new(b"resume-id", b"resume-secret").unwrap()), Instant::now())
            .unwrap();
    connect_once(&mut client, server.port, b"first connection\n", true);
    assert!(!client.is_resumed());
    assert!(client.has_resumable_session(), "s_server gave the session an id");
    connect_once(&mut client, server.port, b"second connection\n", false);
    let resumed = client.is_resumed();
    let log = server.finish();
    for line in log.lines().filter(|l| l.contains("Reused") || l.contains("CIPHER is") || l.contains("connection")) {
        eprintln!("s_server: {line}");
    }
    assert!(log.contains("first connection") && log.contains("second connection"), "s_server log: {log}");
    assert_eq!(log.matches("Reused session-id").count(), 1, "s_server log: {log}");
    assert!(resumed, "our client saw an abbreviated handshake");
}

/// Our client offering only TLS_PSK_WITH_AES_128_CBC_SHA256 (Encrypt-then-MAC) to
/// `openssl s_server`, which prints the suite and the application data it decrypted.
/// (`coap-server-openssl` is not used here: libcoap's OpenSSL server leaves the CBC suites out of
/// its PSK cipher list and answers handshake_failure.)
#[test]
fn psk_cbc_our_client_against_openssl_s_server() {
    let Some(openssl) = peer("openssl") else { return };
    let key_hex = hex(b"cbc-secret");
    let server = SServer::start(
        &openssl,
        "cbc",
        &["-nocert", "-cipher", "PSK-AES128-CBC-SHA256", "-psk_identity", "cbc-id", "-psk", &key_hex, "-naccept", "1"],
    );
    let mut config = ClientConfig::psk(PskCredential::new(b"cbc-id", b"cbc-secret").unwrap());
    config.cipher_suites = vec![CipherSuite::PskAes128CbcSha256];
    let mut client = DtlsClient::new(config, Instant::now()).unwrap();
    connect_once(&mut client, server.port, b"hello over cbc\n", true);
    let log = server.finish();
    assert!(log.contains("CIPHER is PSK-AES128-CBC-SHA256"), "s_server log: {log}");
    assert!(log.contains("hello over cbc"), "s_server decrypted our record: {log}");
}

/// OpenSSL as the independent judge of our chains: `s_client` with its own certificate issued by
/// an intermediate (`-cert_chain`) and only the root as CA verifies the chain our server sends
/// (`Verify return code: 0`), and our server validates the client's chain to the same root.
#[test]
fn certificate_chains_openssl_s_client_against_our_server() {
    let Some(openssl) = peer("openssl") else { return };
    let pki = PemPki::chained("s_client-chain");
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let mut config = ServerConfig::psk(Arc::new(MemoryCredentialStore::new()));
    config.certificate = Some(pki.server.clone());
    config.client_trust = Some(pki.anchors());
    let server = DtlsServer::new(config).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let stop = stop.clone();
        std::thread::spawn(move || run_handshake_server(&socket, server, &stop))
    };
    let (cert, key, chain, ca) =
        (pki.path("urn-dev-cert.pem"), pki.path("urn-dev-cert.key"), pki.path("intermediate.pem"), pki.path("ca.pem"));
    let connect = format!("127.0.0.1:{port}");
    let args = ["s_client", "-dtls1_2", "-cert", &cert, "-key", &key, "-cert_chain", &chain, "-CAfile", &ca];
    let output = run_bounded(
        &openssl,
        &[&args[..], &["-verify_return_error", "-connect", &connect]].concat(),
        Duration::from_secs(10),
    );
    stop.store(true, Ordering::Relaxed);
    let (identities, stats, failures) = thread.join().unwrap();
    assert!(output.contains("Verify return code: 0 (ok)"), "s_client output: {output}\nfailures: {failures:?}");
    assert_eq!(stats.handshakes_completed, 1, "{stats:?} {failures:?}");
    assert_eq!(identities[0].implied_endpoint_name(), Some("urn-dev-cert"));
}

/// Our client, trusting only the root, against `openssl s_server` presenting a certificate issued
/// by an intermediate (`-cert_chain`).
#[test]
fn certificate_chains_our_client_against_openssl_s_server() {
    let Some(openssl) = peer("openssl") else { return };
    let pki = PemPki::chained("s_server-chain");
    let (cert, key, chain) = (pki.path("localhost.pem"), pki.path("localhost.key"), pki.path("intermediate.pem"));
    let server =
        SServer::start(&openssl, "chain", &["-cert", &cert, "-key", &key, "-cert_chain", &chain, "-naccept", "1"]);
    let config = ClientConfig::new(ClientCredentials::Certificate {
        certificate: pki.client.clone(),
        server_trust: pki.anchors(),
        server_name: Some("localhost".into()),
    });
    let mut client = DtlsClient::new(config, Instant::now()).unwrap();
    connect_once(&mut client, server.port, b"hello along the chain\n", true);
    let Some(AuthenticatedIdentity::Certificate(server_cert)) = client.server_identity() else {
        panic!("no server cert")
    };
    assert_eq!(server_cert.common_name.as_deref(), Some("localhost"));
    let log = server.finish();
    assert!(log.contains("hello along the chain"), "s_server log: {log}");
}
