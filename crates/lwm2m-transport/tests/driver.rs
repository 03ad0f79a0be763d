//! The tokio driver over real UDP sockets on loopback (IPv4 and IPv6).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use lwm2m_transport::driver::{self, Handle, Handler, NotFound, Responder};
use lwm2m_transport::{Code, Config, IncomingRequest, ObservationId, ObserveRequest, Request, Response};
use tokio::net::UdpSocket;

/// GET returns the stored body; PUT stores; Observe registrations are remembered.
#[derive(Clone, Default)]
struct Store {
    body: Arc<Mutex<Bytes>>,
    observers: Arc<Mutex<Vec<ObservationId>>>,
}

impl Handler<SocketAddr> for Store {
    fn handle(&mut self, request: IncomingRequest<SocketAddr>, responder: Responder<SocketAddr>) {
        match request.request.method {
            Code::PUT => {
                *self.body.lock().unwrap() = request.request.payload;
                responder.respond(Response::new(Code::CHANGED));
            }
            Code::GET => {
                if let ObserveRequest::Register(id) = request.observe {
                    self.observers.lock().unwrap().push(id);
                }
                let mut r = Response::new(Code::CONTENT);
                r.payload = self.body.lock().unwrap().clone();
                responder.respond(r);
            }
            _ => responder.respond(Response::new(Code::METHOD_NOT_ALLOWED)),
        }
    }
}

async fn pair(bind: &str) -> (Handle<SocketAddr>, Handle<SocketAddr>, SocketAddr, Store) {
    let server_sock = UdpSocket::bind(bind).await.unwrap();
    let server_addr = server_sock.local_addr().unwrap();
    let store = Store::default();
    let server = driver::spawn(server_sock, Config { seed: 1, ..Config::default() }, store.clone());
    let client_sock = UdpSocket::bind(bind).await.unwrap();
    let client = driver::spawn(client_sock, Config { seed: 2, ..Config::default() }, NotFound);
    (server, client, server_addr, store)
}

#[tokio::test]
async fn request_blockwise_and_observe_over_udp() {
    for bind in ["127.0.0.1:0", "[::1]:0"] {
        let (server, client, addr, store) = pair(bind).await;
        let body: Bytes = (0..100_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>().into();
        let mut put = Request::with_path(Code::PUT, "/big");
        put.payload = body.clone();
        let r = tokio::time::timeout(Duration::from_secs(20), client.request(addr, put)).await.unwrap().unwrap();
        assert_eq!(r.code, Code::CHANGED);
        let r = client.request(addr, Request::with_path(Code::GET, "/big")).await.unwrap();
        assert_eq!(r.payload, body, "{bind}: byte-exact block-wise round trip");
        client.ping(addr).await.unwrap();

        *store.body.lock().unwrap() = Bytes::from_static(b"v0");
        let mut obs = client.observe(addr, Request::with_path(Code::GET, "/v")).await.unwrap();
        assert_eq!(&obs.response.payload[..], b"v0");
        let id = store.observers.lock().unwrap()[0];
        for i in 1..=3 {
            server
                .notify(
                    id,
                    Response::with_payload(Code::CONTENT, lwm2m_core::ContentFormat::TEXT, format!("v{i}")),
                    false,
                )
                .unwrap();
            let n = tokio::time::timeout(Duration::from_secs(5), obs.next()).await.unwrap().unwrap().unwrap();
            assert_eq!(n.payload, format!("v{i}").as_bytes());
        }
        obs.cancel(true);
        client.shutdown().await;
        server.shutdown().await;
        assert!(matches!(client.request(addr, Request::new(Code::GET)).await, Err(driver::Error::Shutdown)));
    }
}

#[tokio::test]
async fn an_application_that_does_not_read_notifications_keeps_only_the_newest() {
    let (server, client, addr, store) = pair("127.0.0.1:0").await;
    let mut obs = client.observe(addr, Request::with_path(Code::GET, "/v")).await.unwrap();
    let id = store.observers.lock().unwrap()[0];
    let total = 200u64;
    let limit = driver::DEFAULT_NOTIFICATION_QUEUE as u64;
    for i in 0..total {
        let n = Response::with_payload(Code::CONTENT, lwm2m_core::ContentFormat::TEXT, format!("n{i}"));
        server.notify(id, n, false).unwrap();
    }
    // The application reads nothing while they arrive: the queue keeps the newest `limit`.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while obs.dropped() < total - limit {
        assert!(tokio::time::Instant::now() < deadline, "only {} dropped", obs.dropped());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(obs.dropped(), total - limit);
    for i in total - limit..total {
        let n = tokio::time::timeout(Duration::from_secs(5), obs.next()).await.unwrap().unwrap().unwrap();
        assert_eq!(n.payload, format!("n{i}").as_bytes());
    }
    // A smaller limit applies to what arrives next.
    obs.set_queue_limit(1);
    for i in 0..3 {
        let n = Response::with_payload(Code::CONTENT, lwm2m_core::ContentFormat::TEXT, format!("m{i}"));
        server.notify(id, n, false).unwrap();
    }
    while obs.dropped() < total - limit + 2 {
        assert!(tokio::time::Instant::now() < deadline, "only {} dropped", obs.dropped());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let n = tokio::time::timeout(Duration::from_secs(5), obs.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(&n.payload[..], b"m2");
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn request_to_silent_peer_times_out_with_short_parameters() {
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let mut config = Config::default();
    config.transmission.ack_timeout = Duration::from_millis(20);
    config.transmission.max_retransmit = 2;
    let client = driver::spawn(UdpSocket::bind("127.0.0.1:0").await.unwrap(), config, NotFound);
    let err = client.request(addr, Request::new(Code::GET)).await.unwrap_err();
    assert_eq!(err.to_string(), "no response from the peer after 3 transmission(s)");
    let mut buf = [0u8; 64];
    let (n, _) = silent.recv_from(&mut buf).await.unwrap();
    assert!(n >= 4);
}

/// Answers after a delay, from a spawned task.
struct Slow;

impl Handler<SocketAddr> for Slow {
    fn handle(&mut self, _request: IncomingRequest<SocketAddr>, responder: Responder<SocketAddr>) {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            responder.respond(Response::new(Code::CHANGED));
        });
    }
}

#[tokio::test]
async fn graceful_shutdown_finishes_owed_answers_and_refuses_new_work() {
    let server_sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = server_sock.local_addr().unwrap();
    let server = driver::spawn(server_sock, Config { seed: 5, ..Config::default() }, Slow);
    let client = driver::spawn(UdpSocket::bind("127.0.0.1:0").await.unwrap(), Config::default(), NotFound);
    let pending = {
        let client = client.clone();
        tokio::spawn(async move { client.request(addr, Request::with_path(Code::POST, "/x")).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    server.shutdown_gracefully(Duration::from_secs(5)).await;
    assert!(started.elapsed() < Duration::from_secs(2), "returns once the owed answer is out");
    let answer = pending.await.unwrap().unwrap();
    assert_eq!(answer.code, Code::CHANGED);
    assert!(matches!(server.request(addr, Request::new(Code::GET)).await, Err(driver::Error::Shutdown)));
    client.shutdown().await;
}
