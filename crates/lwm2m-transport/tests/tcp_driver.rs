//! The tokio drivers of CoAP over TCP and TLS on loopback: many clients on one server, ping,
//! observe, and client-certificate identities reaching the handler.
#![cfg(all(feature = "tcp", feature = "tls"))]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use lwm2m_core::ContentFormat;
use lwm2m_transport::tcp::driver::{self, Error, Handler, NotFound, Responder};
use lwm2m_transport::tcp::{CloseReason, ConnectionConfig, ExchangeError, IncomingRequest, tls};
use lwm2m_transport::{Code, ObserveRequest, PeerIdentity, Request, Response};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

/// Echoes the path and the peer identity; registers observers and notifies them twice.
struct Echo;

impl Handler for Echo {
    fn handle(&mut self, incoming: IncomingRequest, responder: Responder) {
        let who = match &incoming.identity {
            Some(PeerIdentity::Certificate(name)) => name.to_string(),
            Some(other) => format!("{other:?}"),
            None => "anonymous".to_string(),
        };
        let body = format!("{} {}", incoming.request.options.uri_path(), who);
        let connection = responder.connection();
        responder.respond(Response::with_payload(Code::CONTENT, ContentFormat::TEXT, body));
        if let ObserveRequest::Register(obs) = incoming.observe {
            for i in 0..2 {
                let n = Response::with_payload(Code::CONTENT, ContentFormat::TEXT, format!("n{i}"));
                connection.notify(obs, n).unwrap();
            }
        }
    }
}

fn config() -> ConnectionConfig {
    ConnectionConfig { request_timeout: Duration::from_secs(5), ..ConnectionConfig::default() }
}

#[tokio::test]
async fn many_clients_over_plain_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(driver::serve(listener, config(), |_| Echo));
    let mut tasks = Vec::new();
    for i in 0..20 {
        tasks.push(tokio::spawn(async move {
            let c = driver::connect(addr, config(), NotFound).await.unwrap();
            for j in 0..5 {
                let r = c.request(Request::with_path(Code::GET, &format!("/c{i}/r{j}"))).await.unwrap();
                assert_eq!(r.payload, Bytes::from(format!("/c{i}/r{j} anonymous")));
            }
            c.ping(true).await.unwrap();
            c.release();
            tokio::time::timeout(Duration::from_secs(5), c.closed()).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn observe_over_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(driver::serve(listener, config(), |_| Echo));
    let c = driver::connect(addr, config(), NotFound).await.unwrap();
    let mut obs = c.observe(Request::with_path(Code::GET, "/o")).await.unwrap();
    assert_eq!(obs.response.options.observe(), Some(0));
    assert_eq!(obs.next().await.unwrap().payload, Bytes::from("n0"));
    let n1 = obs.next().await.unwrap();
    assert_eq!(n1.payload, Bytes::from("n1"));
    assert_eq!(n1.options.observe(), Some(2));
    obs.cancel(true);
}

#[tokio::test]
async fn a_peer_that_closes_fails_pending_requests() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // A server that reads the CSM and then hangs up without answering.
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 64];
        let _ = tokio::io::AsyncReadExt::read(&mut s, &mut buf).await;
    });
    let c = driver::connect(addr, config(), NotFound).await.unwrap();
    let err = c.request(Request::with_path(Code::GET, "/x")).await.unwrap_err();
    assert!(
        matches!(err, Error::Exchange(ExchangeError::Closed(CloseReason::ConnectionLost(_)))),
        "unexpected {err:?}"
    );
}

struct Certs {
    ca: CertificateDer<'static>,
    server: (CertificateDer<'static>, PrivateKeyDer<'static>),
    client: (CertificateDer<'static>, PrivateKeyDer<'static>),
}

fn certs(ca_name: &str) -> Certs {
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, ca_name);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf = |names: Vec<String>, cn: &str| {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        let cert = params.signed_by(&key, &issuer).unwrap();
        (cert.der().clone(), PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())))
    };
    Certs {
        ca: ca.der().clone(),
        server: leaf(vec!["localhost".into(), "127.0.0.1".into()], "localhost"),
        client: leaf(vec!["urn-imei-123.example".into()], "urn:imei:123"),
    }
}

#[tokio::test]
async fn tls_with_client_certificate_identity() {
    let c = certs("tcp test CA");
    let mut roots = tls::rustls::RootCertStore::empty();
    roots.add(c.ca.clone()).unwrap();
    let server_tls = tls::server_config(vec![c.server.0.clone()], c.server.1.clone_key(), Some(roots.clone())).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(tls::serve(listener, server_tls, config(), |_| Echo));

    // With a client certificate: its commonName reaches the handler.
    let client_tls =
        tls::client_config(roots.clone(), Some((vec![c.client.0.clone()], c.client.1.clone_key()))).unwrap();
    let conn = tls::connect(addr, "127.0.0.1", client_tls, config(), NotFound).await.unwrap();
    assert_eq!(conn.peer_identity(), Some(&PeerIdentity::Certificate(Arc::from("localhost"))));
    let r = conn.request(Request::with_path(Code::GET, "/3/0")).await.unwrap();
    assert_eq!(r.payload, Bytes::from("/3/0 urn:imei:123"));

    // Without one: admitted, no identity.
    let client_tls = tls::client_config(roots.clone(), None).unwrap();
    let conn = tls::connect(addr, "localhost", client_tls, config(), NotFound).await.unwrap();
    let r = conn.request(Request::with_path(Code::GET, "/x")).await.unwrap();
    assert_eq!(r.payload, Bytes::from("/x anonymous"));

    // A name the certificate does not cover is refused.
    let client_tls = tls::client_config(roots, None).unwrap();
    let err = tls::connect(addr, "example.org", client_tls, config(), NotFound).await.unwrap_err();
    assert!(err.to_string().contains("not valid for name"), "{err}");

    // A CA that did not issue the server certificate is refused.
    let other = certs("another CA");
    let mut other_roots = tls::rustls::RootCertStore::empty();
    other_roots.add(other.ca).unwrap();
    let client_tls = tls::client_config(other_roots, None).unwrap();
    let err = tls::connect(addr, "127.0.0.1", client_tls, config(), NotFound).await.unwrap_err();
    assert!(matches!(err, tls::TlsError::Handshake { .. }) && err.to_string().contains("UnknownIssuer"), "{err}");
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = driver::ServerConfig { connection: config(), max_connections: 1 };
    tokio::spawn(driver::serve(listener, server, |_| Echo));
    let first = driver::connect(addr, config(), NotFound).await.unwrap();
    first.request(Request::with_path(Code::GET, "/a")).await.unwrap();
    let second = driver::connect(addr, config(), NotFound).await.unwrap();
    let err = second.request(Request::with_path(Code::GET, "/b")).await.unwrap_err();
    assert!(matches!(err, Error::Exchange(ExchangeError::Closed(_))), "{err:?}");
    // Once the first is released its slot is free again.
    first.release();
    first.closed().await;
    // (The server frees the slot when it has seen the Release; allow it a moment.)
    assert!(a_new_client_gets_a_slot(addr).await, "the slot was never freed");
}

/// Whether a new client gets served within about a second (the server frees a closed
/// connection's slot asynchronously).
async fn a_new_client_gets_a_slot(addr: std::net::SocketAddr) -> bool {
    for _ in 0..50 {
        let client = driver::connect(addr, config(), NotFound).await.unwrap();
        if client.request(Request::with_path(Code::GET, "/slot")).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn a_silent_peer_is_released_after_the_idle_timeout_and_frees_its_slot() {
    use lwm2m_transport::Token;
    use lwm2m_transport::tcp::connection::{CSM, RELEASE};
    use lwm2m_transport::tcp::{Frame, FrameDecoder};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let idle = Duration::from_millis(300);
    let connection = ConnectionConfig { idle_timeout: Some(idle), ..config() };
    tokio::spawn(driver::serve(listener, driver::ServerConfig { connection, max_connections: 1 }, |_| Echo));

    // A peer that sends its CSM and then nothing holds the only slot...
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    // Taken before the CSM is sent, so before the server can have seen it.
    let started = tokio::time::Instant::now();
    silent.write_all(&Frame::new(CSM, Token::EMPTY).to_bytes().unwrap()).await.unwrap();
    // ...until the server releases it: the stream ends after the server's CSM and a Release.
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), silent.read_to_end(&mut received)).await.unwrap().unwrap();
    assert!(started.elapsed() >= idle, "released after {:?}", started.elapsed());
    let mut decoder = FrameDecoder::new(usize::MAX);
    decoder.push(&received);
    let codes: Vec<_> = std::iter::from_fn(|| decoder.next_frame().unwrap()).map(|f| f.code).collect();
    assert_eq!(codes, vec![CSM, RELEASE]);

    // The slot is free again for a client that talks.
    assert!(a_new_client_gets_a_slot(addr).await, "the silent peer's slot was never freed");
}

/// Remembers the observation and its connection, and reports deregistrations.
struct Observed {
    registered: tokio::sync::mpsc::UnboundedSender<(driver::ConnectionHandle, lwm2m_transport::ObservationId)>,
    deregistered: tokio::sync::mpsc::UnboundedSender<()>,
}

impl Handler for Observed {
    fn handle(&mut self, incoming: IncomingRequest, responder: Responder) {
        match incoming.observe {
            ObserveRequest::Register(obs) => {
                let _ = self.registered.send((responder.connection(), obs));
            }
            ObserveRequest::Deregister => {
                let _ = self.deregistered.send(());
            }
            _ => {}
        }
        responder.respond(Response::new(Code::CONTENT));
    }
}

#[tokio::test]
async fn dropping_an_observation_deregisters_it_at_the_next_notification() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (registered, mut registrations) = tokio::sync::mpsc::unbounded_channel();
    let (deregistered, mut deregistrations) = tokio::sync::mpsc::unbounded_channel();
    let handler = Observed { registered, deregistered };
    let mut handler = Some(handler);
    tokio::spawn(driver::serve(listener, config(), move |_| handler.take().expect("one connection")));
    let c = driver::connect(addr, config(), NotFound).await.unwrap();
    let obs = c.observe(Request::with_path(Code::GET, "/o")).await.unwrap();
    let (connection, id) = registrations.recv().await.unwrap();
    drop(obs);
    // Over TCP there is no RST: the client's driver answers the next notification with a
    // deregistration (GET with Observe: 1) instead of letting the server notify forever.
    connection.notify(id, Response::with_payload(Code::CONTENT, ContentFormat::TEXT, "after drop")).unwrap();
    tokio::time::timeout(Duration::from_secs(5), deregistrations.recv()).await.unwrap().unwrap();
}
