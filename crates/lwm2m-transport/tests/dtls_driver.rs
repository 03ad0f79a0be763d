//! The CoAP engine and tokio driver over DTLS sockets (`coaps://`): our client and server
//! together, each against libcoap's OpenSSL build, and the authenticated identity reaching the
//! request handler.

#![cfg(all(feature = "dtls", feature = "tokio"))]

use std::future::Future;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lwm2m_transport::driver::{self, DatagramTransport, Handler, NotFound, Responder};
use lwm2m_transport::dtls::{
    ClientConfig, DtlsClientSocket, DtlsError, DtlsServer, DtlsServerSocket, MemoryCredentialStore, PskCredential,
    ServerConfig,
};
use lwm2m_transport::{Code, Config, IncomingRequest, PeerIdentity, Request, Response};

/// Answers 2.05 with "hello <identity>" and records the identity of each request.
#[derive(Clone, Default)]
struct Hello {
    seen: Arc<Mutex<Vec<Option<PeerIdentity>>>>,
}

impl Handler<SocketAddr> for Hello {
    fn handle(&mut self, request: IncomingRequest<SocketAddr>, responder: Responder<SocketAddr>) {
        let name = match &request.identity {
            Some(PeerIdentity::PskIdentity(id)) => String::from_utf8_lossy(id).into_owned(),
            other => format!("{other:?}"),
        };
        self.seen.lock().unwrap().push(request.identity.clone());
        let mut response = Response::new(Code::CONTENT);
        response.payload = Bytes::from(format!("hello {name}"));
        responder.respond(response);
    }
}

async fn dtls_server(identity: &[u8], key: &[u8]) -> (DtlsServerSocket, SocketAddr) {
    let store = MemoryCredentialStore::new();
    store.insert_psk(&PskCredential::new(identity, key).unwrap(), None);
    let server = DtlsServer::new(ServerConfig::psk(Arc::new(store))).unwrap();
    let socket = DtlsServerSocket::bind("127.0.0.1:0".parse().unwrap(), server).await.unwrap();
    let addr = socket.local_addr().unwrap();
    (socket, addr)
}

/// Polls one `recv_from` exactly once and drops it: the harshest cancellation the driver's
/// `select!` can inflict (it drops the receive future whenever a command or timer wins).
async fn recv_polled_once<T: DatagramTransport<Addr = SocketAddr>>(
    transport: &T,
    buf: &mut [u8],
) -> Option<std::io::Result<(usize, SocketAddr)>> {
    let mut receive = std::pin::pin!(transport.recv_from(buf));
    std::future::poll_fn(|cx| {
        Poll::Ready(match receive.as_mut().poll(cx) {
            Poll::Ready(result) => Some(result),
            Poll::Pending => None,
        })
    })
    .await
}

/// Receives `count` datagrams through futures that are each polled once and dropped.
async fn receive_with_cancellation<T: DatagramTransport<Addr = SocketAddr>>(
    transport: &T,
    count: usize,
) -> (Vec<(Vec<u8>, SocketAddr)>, usize) {
    let mut got = Vec::new();
    let mut cancelled = 0;
    let mut buf = [0u8; 256];
    while got.len() < count {
        match recv_polled_once(transport, &mut buf).await {
            Some(Ok((n, from))) => got.push((buf[..n].to_vec(), from)),
            Some(Err(err)) => panic!("receive failed: {err}"),
            None => {
                cancelled += 1;
                tokio::task::yield_now().await;
            }
        }
    }
    (got, cancelled)
}

#[tokio::test]
async fn recv_from_is_cancel_safe_on_both_sockets() {
    const COUNT: usize = 200;
    let (server, addr) = dtls_server(b"cancel-device", b"0123456789abcdef").await;
    let server = Arc::new(server);
    // The server task runs the handshake and echoes every datagram, receiving only through
    // futures it drops after one poll.
    let echo = {
        let server = server.clone();
        tokio::spawn(async move {
            let (got, cancelled) = receive_with_cancellation(&*server, COUNT).await;
            for (payload, from) in &got {
                server.send_to(payload, from).await.unwrap();
            }
            (got, cancelled)
        })
    };
    let credential = PskCredential::new(b"cancel-device", b"0123456789abcdef").unwrap();
    let client =
        tokio::time::timeout(Duration::from_secs(10), DtlsClientSocket::connect(addr, ClientConfig::psk(credential)))
            .await
            .expect("handshake timed out")
            .unwrap();
    let sent: Vec<Vec<u8>> = (0..COUNT).map(|i| format!("datagram {i}").into_bytes()).collect();
    for (i, payload) in sent.iter().enumerate() {
        client.send_to(payload, &addr).await.unwrap();
        if i % 20 == 19 {
            // Pauses make the receiver find nothing and cancel between bursts.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let (got, server_cancelled) =
        tokio::time::timeout(Duration::from_secs(10), echo).await.expect("server side stalled").unwrap();
    let received: Vec<Vec<u8>> = got.iter().map(|(payload, _)| payload.clone()).collect();
    assert_eq!(received, sent, "every datagram exactly once, in order");
    let (echoed, client_cancelled) =
        tokio::time::timeout(Duration::from_secs(10), receive_with_cancellation(&client, COUNT))
            .await
            .expect("client side stalled");
    let echoed: Vec<Vec<u8>> = echoed
        .into_iter()
        .map(|(payload, from)| {
            assert_eq!(from, addr);
            payload
        })
        .collect();
    assert_eq!(echoed, sent);
    assert!(
        server_cancelled > 0 && client_cancelled > 0,
        "receives were cancelled ({server_cancelled}, {client_cancelled})"
    );
    assert_eq!(server.take_handshake_failures().len(), 0);
}

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

#[tokio::test]
async fn coap_over_dtls_between_our_client_and_server_with_identity() {
    let (socket, addr) = dtls_server(b"urn:dev:42", b"0123456789abcdef").await;
    let handler = Hello::default();
    let _server = driver::spawn(socket, Config { seed: 1, ..Config::default() }, handler.clone());

    let config = ClientConfig::psk(PskCredential::new(b"urn:dev:42", b"0123456789abcdef").unwrap());
    let transport = DtlsClientSocket::connect(addr, config).await.unwrap();
    let client = driver::spawn(transport, Config { seed: 2, ..Config::default() }, NotFound);
    for _ in 0..3 {
        let r =
            tokio::time::timeout(Duration::from_secs(10), client.request(addr, Request::with_path(Code::GET, "/x")))
                .await
                .unwrap()
                .unwrap();
        assert_eq!(r.code, Code::CONTENT);
        assert_eq!(&r.payload[..], b"hello urn:dev:42");
    }
    let seen = handler.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|i| *i == Some(PeerIdentity::PskIdentity(Arc::from(&b"urn:dev:42"[..])))));
}

#[tokio::test]
async fn rehandshake_resumes_the_session_and_keeps_the_identity() {
    let (socket, addr) = dtls_server(b"urn:dev:42", b"0123456789abcdef").await;
    let handler = Hello::default();
    let _server = driver::spawn(socket, Config { seed: 3, ..Config::default() }, handler.clone());
    let config = ClientConfig::psk(PskCredential::new(b"urn:dev:42", b"0123456789abcdef").unwrap());
    let transport = Arc::new(DtlsClientSocket::connect(addr, config).await.unwrap());
    assert!(!transport.is_resumed());
    tokio::time::timeout(Duration::from_secs(10), transport.rehandshake()).await.unwrap().unwrap();
    assert!(transport.is_resumed(), "the server resumed the session");
    let client = driver::spawn(transport.clone(), Config { seed: 4, ..Config::default() }, NotFound);
    let r = tokio::time::timeout(Duration::from_secs(10), client.request(addr, Request::with_path(Code::GET, "/x")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&r.payload[..], b"hello urn:dev:42");
}

#[tokio::test]
async fn connect_with_a_wrong_key_fails_with_a_clear_error() {
    let (socket, addr) = dtls_server(b"urn:dev:42", b"0123456789abcdef").await;
    let _server = driver::spawn(socket, Config::default(), Hello::default());
    let config = ClientConfig::psk(PskCredential::new(b"urn:dev:42", b"not the right key").unwrap());
    let error = DtlsClientSocket::connect(addr, config).await.unwrap_err();
    assert_eq!(error, DtlsError::PeerAlert(lwm2m_transport::dtls::AlertDescription::DECRYPT_ERROR));
    assert_eq!(error.to_string(), "the peer sent fatal alert decrypt_error (51)");
}

#[tokio::test]
async fn our_driver_client_gets_time_from_coap_server_openssl() {
    let Some(bin) = peer("coap-server-openssl") else { return };
    // libcoap listens for DTLS on port+1; find a free pair.
    let port = loop {
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = probe.local_addr().unwrap().port();
        drop(probe);
        if p < 65000
            && [p, p + 1].iter().all(|q| {
                std::net::UdpSocket::bind(("127.0.0.1", *q)).is_ok()
                    && std::net::TcpListener::bind(("127.0.0.1", *q)).is_ok()
            })
        {
            break p;
        }
    };
    let mut child = Command::new(bin)
        .args(["-A", "127.0.0.1", "-p", &port.to_string(), "-k", "driver-secret", "-v", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr: SocketAddr = ([127, 0, 0, 1], port + 1).into();
    let start = Instant::now();
    let transport = loop {
        let config = ClientConfig::psk(PskCredential::new(b"lwm2m-rs", b"driver-secret").unwrap());
        let mut config = config;
        config.timing.handshake_timeout = Duration::from_secs(3);
        match DtlsClientSocket::connect(addr, config).await {
            Ok(t) => break t,
            Err(e) if start.elapsed() < Duration::from_secs(10) => {
                eprintln!("retrying handshake: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => {
                let _ = child.kill();
                panic!("no DTLS handshake with coap-server-openssl: {e}");
            }
        }
    };
    let client = driver::spawn(transport, Config { seed: 3, ..Config::default() }, NotFound);
    let r = tokio::time::timeout(Duration::from_secs(10), client.request(addr, Request::with_path(Code::GET, "/time")))
        .await;
    let _ = child.kill();
    let _ = child.wait();
    let r = r.unwrap().unwrap();
    assert_eq!(r.code, Code::CONTENT);
    assert!(!r.payload.is_empty(), "/time has a body");
}

#[tokio::test]
async fn coap_client_openssl_against_our_driver_server() {
    let Some(bin) = peer("coap-client-openssl") else { return };
    let (socket, addr) = dtls_server(b"libcoap-client", b"driver-secret").await;
    let handler = Hello::default();
    let _server = driver::spawn(socket, Config { seed: 4, ..Config::default() }, handler.clone());
    let uri = format!("coaps://127.0.0.1:{}/anything", addr.port());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(bin)
            .args(["-u", "libcoap-client", "-k", "driver-secret", "-B", "10", &uri])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(text.contains("hello libcoap-client"), "coap-client output: {text}");
    assert_eq!(handler.seen.lock().unwrap().len(), 1);
}
