//! DTLS 1.2 PSK handshake throughput (TLS_PSK_WITH_AES_128_CCM_8, dimpl backend).
//!
//! - `dtls_psk_handshake/in_memory`: a client and a server sans-IO endpoint in one thread,
//!   datagrams handed across directly (no sockets): the full 6-flight handshake including the
//!   HelloVerifyRequest round, both sides' CPU. Each iteration is a new client address, and the
//!   server closes the session afterwards so it stays in steady state. The client forgets its
//!   session before each handshake, so every one is a full handshake.
//! - `dtls_psk_handshake/in_memory_resumed`: the same, but the client offers its last session
//!   and the server resumes it (abbreviated handshake, RFC 5246 §7.3: no key exchange, 5
//!   flights including the HelloVerifyRequest round).
//! - `dtls_psk_handshake/loopback`: the same over real UDP sockets on 127.0.0.1, the server on its
//!   own thread, one handshake at a time (latency-bound; shows the per-handshake round trips);
//!   full handshakes.
//! - `dtls_record/in_memory_roundtrip`: one encrypted 64-byte datagram client -> server -> client
//!   on an established session, for comparison with plain CoAP.
//!
//! - `coap_request/{udp,dtls}`: one CoAP GET -> 2.05 through the tokio driver over loopback, plain
//!   UDP (NoSec) and DTLS (PSK, CCM_8), same client/server code in the same run; the ratio of
//!   the two medians is the DTLS cost at the CoAP layer (sequential requests, one client).
//!   Every exchange has a 10 s timeout, so a stalled exchange fails the run instead of hanging it.
//!   `coap_request/interleaved` (a printed line, not a criterion benchmark) then alternates
//!   batches of both transports and prints both medians and the ratio measured under the same
//!   load, which is steadier on a shared machine than the ratio of the two criterion runs.
//! - `coap_request_concurrent/{udp,dtls}`: the server's request rate under load: 8 clients (8
//!   DTLS sessions) each send 16 sequential GETs at once, 128 requests per iteration, so both
//!   cores stay busy and the rate measures CPU cost rather than wake-up latency (which dominates
//!   one sequential client on an idle VM). `coap_request_concurrent/interleaved` prints the
//!   median rates of alternating rounds of both and their ratio.
//!
//! Run: `cargo bench -p lwm2m-transport --bench dtls_handshake -- --warm-up-time 1 --measurement-time 3`

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lwm2m_transport::driver::{self, Handler, NotFound, Responder};
use lwm2m_transport::dtls::{
    ClientConfig, ClientEvent, ClientState, DtlsClient, DtlsClientSocket, DtlsServer, DtlsServerSocket,
    MemoryCredentialStore, PskCredential, ServerConfig, ServerEvent,
};
use lwm2m_transport::{Code, Config, IncomingRequest, Request, Response};

fn credential() -> PskCredential {
    PskCredential::new(b"bench-device", b"0123456789abcdef").unwrap()
}

fn new_server() -> DtlsServer {
    let store = MemoryCredentialStore::new();
    store.insert_psk(&credential(), None);
    DtlsServer::new(ServerConfig::psk(Arc::new(store))).unwrap()
}

/// Runs one handshake between `client` (already restarted) and `server` for `peer`.
fn handshake_in_memory(client: &mut DtlsClient, server: &mut DtlsServer, peer: SocketAddr, now: Instant) {
    for _ in 0..16 {
        while let Some(d) = client.poll_transmit() {
            server.handle_datagram(now, peer, &d);
        }
        while let Some(t) = server.poll_transmit() {
            client.handle_datagram(now, &t.payload);
        }
        if client.state() == ClientState::Connected {
            // Deliver the client's last flight so the server side completes too.
            while let Some(d) = client.poll_transmit() {
                server.handle_datagram(now, peer, &d);
            }
            break;
        }
    }
    if client.state() != ClientState::Connected {
        let events: Vec<_> = std::iter::from_fn(|| client.poll_event()).collect();
        let server_events: Vec<_> = std::iter::from_fn(|| server.poll_event()).collect();
        panic!("handshake failed: {events:?} {server_events:?}");
    }
    while server.poll_event().is_some() {}
    while client.poll_event().is_some() {}
    server.close(peer);
    while server.poll_transmit().is_some() {}
}

fn in_memory(c: &mut Criterion) {
    let mut group = c.benchmark_group("dtls_psk_handshake");
    group.throughput(Throughput::Elements(1));
    let now = Instant::now();
    let mut server = new_server();
    let mut client = DtlsClient::new(ClientConfig::psk(credential()), now).unwrap();
    let mut port = 0u16;
    group.bench_function("in_memory", |b| {
        b.iter(|| {
            port = port.wrapping_add(1);
            let peer = SocketAddr::from(([10, 0, 0, 1], port));
            client.forget_session();
            client.restart(now).unwrap();
            handshake_in_memory(&mut client, &mut server, peer, now);
        });
    });
    group.bench_function("in_memory_resumed", |b| {
        b.iter(|| {
            port = port.wrapping_add(1);
            let peer = SocketAddr::from(([10, 0, 0, 1], port));
            client.restart(now).unwrap();
            handshake_in_memory(&mut client, &mut server, peer, now);
            assert!(client.is_resumed(), "the server resumed the session");
        });
    });

    // Loopback: a server thread on a real socket.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut server = new_server();
            socket.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                if let Ok((n, peer)) = socket.recv_from(&mut buf) {
                    server.handle_datagram(Instant::now(), peer, &buf[..n]);
                }
                server.handle_timeout(Instant::now());
                while let Some(event) = server.poll_event() {
                    if let ServerEvent::Connected { peer, .. } = event {
                        server.close(peer);
                    }
                }
                while let Some(t) = server.poll_transmit() {
                    let _ = socket.send_to(&t.payload, t.destination);
                }
            }
        })
    };
    let client_socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    client_socket.connect(addr).unwrap();
    client_socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    group.bench_function("loopback", |b| {
        b.iter(|| {
            client.forget_session();
            client.restart(Instant::now()).unwrap();
            let mut buf = [0u8; 2048];
            loop {
                while let Some(d) = client.poll_transmit() {
                    client_socket.send(&d).unwrap();
                }
                if client.state() == ClientState::Connected {
                    break;
                }
                if let Ok(n) = client_socket.recv(&mut buf) {
                    client.handle_datagram(Instant::now(), &buf[..n]);
                }
                client.handle_timeout(Instant::now());
            }
            while client.poll_event().is_some() {}
        });
    });
    group.finish();
    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap();

    // Record round trip on an established session.
    let mut group = c.benchmark_group("dtls_record");
    group.throughput(Throughput::Elements(1));
    let mut server = new_server();
    let peer = SocketAddr::from(([10, 0, 0, 2], 5684));
    client.restart(now).unwrap();
    for _ in 0..16 {
        while let Some(d) = client.poll_transmit() {
            server.handle_datagram(now, peer, &d);
        }
        while let Some(t) = server.poll_transmit() {
            client.handle_datagram(now, &t.payload);
        }
    }
    while server.poll_event().is_some() {}
    while client.poll_event().is_some() {}
    assert_eq!(client.state(), ClientState::Connected);
    let payload = [0x42u8; 64];
    group.bench_function("in_memory_roundtrip", |b| {
        b.iter(|| {
            client.send(&payload).unwrap();
            while let Some(d) = client.poll_transmit() {
                server.handle_datagram(now, peer, &d);
            }
            while let Some(event) = server.poll_event() {
                if let ServerEvent::Datagram(d) = event {
                    server.send(now, peer, &d.payload).unwrap();
                }
            }
            while let Some(t) = server.poll_transmit() {
                client.handle_datagram(now, &t.payload);
            }
            let Some(ClientEvent::Datagram(echo)) = client.poll_event() else { panic!("no echo") };
            assert_eq!(echo.len(), 64);
        });
    });
    group.finish();
}

struct Content;

impl Handler<SocketAddr> for Content {
    fn handle(&mut self, _request: IncomingRequest<SocketAddr>, responder: Responder<SocketAddr>) {
        let mut response = Response::new(Code::CONTENT);
        response.payload = bytes::Bytes::from_static(b"hello");
        responder.respond(response);
    }
}

fn coap_request(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut group = c.benchmark_group("coap_request");
    group.throughput(Throughput::Elements(1));
    group.sample_size(30);
    let (udp_client, udp_addr) = runtime.block_on(async {
        let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        std::mem::forget(driver::spawn(server, Config { seed: 1, ..Config::default() }, Content));
        let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        (driver::spawn(client, Config { seed: 2, ..Config::default() }, NotFound), addr)
    });
    let (dtls_client, dtls_addr) = runtime.block_on(async {
        let store = MemoryCredentialStore::new();
        store.insert_psk(&credential(), None);
        let server = DtlsServer::new(ServerConfig::psk(Arc::new(store))).unwrap();
        let socket = DtlsServerSocket::bind("127.0.0.1:0".parse().unwrap(), server).await.unwrap();
        let addr = socket.local_addr().unwrap();
        std::mem::forget(driver::spawn(socket, Config { seed: 3, ..Config::default() }, Content));
        let transport = DtlsClientSocket::connect(addr, ClientConfig::psk(credential())).await.unwrap();
        (driver::spawn(transport, Config { seed: 4, ..Config::default() }, NotFound), addr)
    });
    // A stalled exchange must fail the run, not hang it.
    let request = |handle: &driver::Handle<SocketAddr>, addr: SocketAddr| {
        let r = runtime
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(10), handle.request(addr, Request::with_path(Code::GET, "/x")))
                    .await
            })
            .expect("CoAP exchange stalled for 10 s")
            .unwrap();
        assert_eq!(r.code, Code::CONTENT);
    };
    group.bench_function("udp", |b| b.iter(|| request(&udp_client, udp_addr)));
    group.bench_function("dtls", |b| b.iter(|| request(&dtls_client, dtls_addr)));
    group.finish();

    // The two criterion runs above are seconds apart, so on a shared machine a load change
    // between them moves the ratio. Alternating short batches of both transports puts both under
    // the same conditions; the medians of the individually timed requests give a steadier ratio.
    let (rounds, batch) = (20, 250);
    let mut times: [Vec<f64>; 2] = [Vec::with_capacity(rounds * batch), Vec::with_capacity(rounds * batch)];
    for _ in 0..rounds {
        for (samples, (handle, addr)) in times.iter_mut().zip([(&udp_client, udp_addr), (&dtls_client, dtls_addr)]) {
            for _ in 0..batch {
                let started = Instant::now();
                request(handle, addr);
                samples.push(started.elapsed().as_secs_f64() * 1e6);
            }
        }
    }
    let [udp, dtls] = times.map(|mut samples| {
        samples.sort_by(f64::total_cmp);
        samples[samples.len() / 2]
    });
    println!(
        "coap_request/interleaved: {} requests each, median udp {udp:.1} µs, dtls {dtls:.1} µs, DTLS rate = {:.2} x NoSec",
        rounds * batch,
        udp / dtls
    );
}

/// Clients per transport and sequential requests per client in one concurrent round.
const CLIENTS: usize = 8;
const PER_CLIENT: usize = 16;

/// `CLIENTS` client drivers for one server address.
type Clients = (Vec<driver::Handle<SocketAddr>>, SocketAddr);

fn concurrent_clients(runtime: &tokio::runtime::Runtime) -> (Clients, Clients) {
    runtime.block_on(async {
        let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let udp_addr = server.local_addr().unwrap();
        std::mem::forget(driver::spawn(server, Config { seed: 11, ..Config::default() }, Content));
        let store = MemoryCredentialStore::new();
        store.insert_psk(&credential(), None);
        let server = DtlsServer::new(ServerConfig::psk(Arc::new(store))).unwrap();
        let socket = DtlsServerSocket::bind("127.0.0.1:0".parse().unwrap(), server).await.unwrap();
        let dtls_addr = socket.local_addr().unwrap();
        std::mem::forget(driver::spawn(socket, Config { seed: 12, ..Config::default() }, Content));
        let (mut udp, mut dtls) = (Vec::new(), Vec::new());
        for i in 0..CLIENTS as u64 {
            let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            udp.push(driver::spawn(socket, Config { seed: 100 + i, ..Config::default() }, NotFound));
            let transport = DtlsClientSocket::connect(dtls_addr, ClientConfig::psk(credential())).await.unwrap();
            dtls.push(driver::spawn(transport, Config { seed: 200 + i, ..Config::default() }, NotFound));
        }
        ((udp, udp_addr), (dtls, dtls_addr))
    })
}

/// One round: every client sends `PER_CLIENT` sequential GETs, all clients at once.
fn concurrent_round(runtime: &tokio::runtime::Runtime, (handles, addr): &Clients) {
    runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for handle in handles {
            let (handle, addr) = (handle.clone(), *addr);
            tasks.spawn(async move {
                for _ in 0..PER_CLIENT {
                    let request = handle.request(addr, Request::with_path(Code::GET, "/x"));
                    let response = tokio::time::timeout(Duration::from_secs(10), request)
                        .await
                        .expect("CoAP exchange stalled for 10 s")
                        .unwrap();
                    assert_eq!(response.code, Code::CONTENT);
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
    });
}

fn coap_request_concurrent(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (udp, dtls) = concurrent_clients(&runtime);
    let mut group = c.benchmark_group("coap_request_concurrent");
    group.throughput(Throughput::Elements((CLIENTS * PER_CLIENT) as u64));
    group.sample_size(20);
    group.bench_function("udp", |b| b.iter(|| concurrent_round(&runtime, &udp)));
    group.bench_function("dtls", |b| b.iter(|| concurrent_round(&runtime, &dtls)));
    group.finish();

    // As for coap_request: alternate rounds so both transports run under the same load.
    let rounds = 40;
    let mut rates: [Vec<f64>; 2] = [Vec::with_capacity(rounds), Vec::with_capacity(rounds)];
    for _ in 0..rounds {
        for (samples, clients) in rates.iter_mut().zip([&udp, &dtls]) {
            let started = Instant::now();
            concurrent_round(&runtime, clients);
            samples.push((CLIENTS * PER_CLIENT) as f64 / started.elapsed().as_secs_f64());
        }
    }
    let [udp, dtls] = rates.map(|mut samples| {
        samples.sort_by(f64::total_cmp);
        samples[samples.len() / 2]
    });
    println!(
        "coap_request_concurrent/interleaved: {rounds} rounds of {} requests each, median udp {udp:.0}/s, dtls {dtls:.0}/s, DTLS rate = {:.2} x NoSec",
        CLIENTS * PER_CLIENT,
        dtls / udp
    );
}

criterion_group!(benches, in_memory, coap_request, coap_request_concurrent);
criterion_main!(benches);
