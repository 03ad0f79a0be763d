//! Request rate of CoAP over TCP and over TLS next to CoAP over UDP, in the same run, on
//! loopback.
//!
//! Each transport gets the same load: N client tasks, each with its own connection (TCP/TLS) or
//! its own UDP endpoint, sending GET /bench and waiting for the 2.05 answer (5-byte payload)
//! before the next one. Clients use the public async APIs (`driver::Handle::request` for UDP,
//! `tcp::driver::ConnectionHandle::request` for TCP/TLS), so both sides of each stack are
//! measured. The server runs on its own OS thread with a current-thread tokio runtime, the
//! clients on another.
//!
//! Run: `cargo bench -p lwm2m-transport --bench tcp_loopback -- [clients] [seconds]`
//! (defaults 16 clients, 3 s per transport).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use lwm2m_transport::tcp::{ConnectionConfig, driver as tcp_driver, tls};
use lwm2m_transport::{Code, Config, Request, Response, driver};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Transport {
    Udp,
    Tcp,
    Tls,
}

fn hello() -> Response {
    let mut r = Response::new(Code::CONTENT);
    r.payload = Bytes::from_static(b"hello");
    r
}

struct UdpHello;
impl driver::Handler<SocketAddr> for UdpHello {
    fn handle(&mut self, _r: lwm2m_transport::IncomingRequest<SocketAddr>, responder: driver::Responder<SocketAddr>) {
        responder.respond(hello());
    }
}

struct TcpHello;
impl tcp_driver::Handler for TcpHello {
    fn handle(&mut self, _r: lwm2m_transport::tcp::IncomingRequest, responder: tcp_driver::Responder) {
        responder.respond(hello());
    }
}

struct Pki {
    server: Arc<tls::rustls::ServerConfig>,
    client: Arc<tls::rustls::ClientConfig>,
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "bench CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap().signed_by(&key, &issuer).unwrap();
    let mut roots = tls::rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let server_key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Pki {
        server: tls::server_config(vec![cert.der().clone()], server_key, None).unwrap(),
        client: tls::client_config(roots, None).unwrap(),
    }
}

fn start_server(t: Transport, pki: &Pki) -> (SocketAddr, Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let stop2 = stop.clone();
    let server_tls = pki.server.clone();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let task = match t {
                Transport::Udp => {
                    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
                    tx.send(socket.local_addr().unwrap()).unwrap();
                    let mut config = Config { seed: 7, ..Config::default() };
                    config.transmission.exchange_lifetime = Duration::from_secs(10);
                    config.transmission.non_lifetime = Duration::from_secs(10);
                    let handle = driver::spawn(socket, config, UdpHello);
                    tokio::spawn(async move {
                        std::future::pending::<()>().await;
                        drop(handle);
                    })
                }
                Transport::Tcp | Transport::Tls => {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                    tx.send(listener.local_addr().unwrap()).unwrap();
                    let config = ConnectionConfig::default();
                    if t == Transport::Tcp {
                        tokio::spawn(async move {
                            let _ = tcp_driver::serve(listener, config, |_| TcpHello).await;
                        })
                    } else {
                        tokio::spawn(async move {
                            let _ = tls::serve(listener, server_tls, config, |_| TcpHello).await;
                        })
                    }
                }
            };
            while !stop2.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            task.abort();
        });
    });
    (rx.recv().unwrap(), stop, thread)
}

/// Runs the clients; returns measured requests and the p50 latency.
fn generate(t: Transport, server: SocketAddr, pki: &Pki, clients: usize, measure: Duration) -> (u64, Duration) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client_tls = pki.client.clone();
    rt.block_on(async move {
        let warmup = Duration::from_millis(500);
        let measure_from = Instant::now() + warmup;
        let end = measure_from + measure;
        let mut tasks = Vec::new();
        // UDP: one endpoint per client, as separate peers.
        for c in 0..clients {
            let client_tls = client_tls.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let request = Request::with_path(Code::GET, "/bench");
                match t {
                    Transport::Udp => {
                        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
                        let h =
                            driver::spawn(socket, Config { seed: c as u64 + 1, ..Config::default() }, driver::NotFound);
                        while Instant::now() < end {
                            let t0 = Instant::now();
                            // A datagram lost on an overloaded loopback socket would wait for
                            // CoAP retransmission (seconds): count it as nothing and move on.
                            let r =
                                tokio::time::timeout(Duration::from_millis(500), h.request(server, request.clone()));
                            if r.await.is_ok_and(|r| r.is_ok()) && t0 >= measure_from {
                                lat.push(t0.elapsed());
                            }
                        }
                        h.shutdown().await;
                    }
                    Transport::Tcp | Transport::Tls => {
                        let config = ConnectionConfig { seed: c as u64 + 1, ..ConnectionConfig::default() };
                        let h = if t == Transport::Tcp {
                            tcp_driver::connect(server, config, tcp_driver::NotFound).await.unwrap()
                        } else {
                            tls::connect(server, "127.0.0.1", client_tls, config, tcp_driver::NotFound).await.unwrap()
                        };
                        while Instant::now() < end {
                            let t0 = Instant::now();
                            h.request(request.clone()).await.unwrap();
                            if t0 >= measure_from {
                                lat.push(t0.elapsed());
                            }
                        }
                        h.release();
                    }
                }
                lat
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        all.sort();
        let p50 = all.get(all.len() / 2).copied().unwrap_or_default();
        (all.len() as u64, p50)
    })
}

fn main() {
    let nums: Vec<f64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let clients = nums.first().map_or(16, |n| *n as usize).max(1);
    let secs = nums.get(1).copied().unwrap_or(3.0);
    println!("CoAP request/response on loopback, {clients} concurrent clients, {secs} s per transport");
    let pki = pki();
    let mut rates = Vec::new();
    for t in [Transport::Udp, Transport::Tcp, Transport::Tls] {
        let (addr, stop, thread) = start_server(t, &pki);
        let (n, p50) = generate(t, addr, &pki, clients, Duration::from_secs_f64(secs));
        stop.store(true, Ordering::Relaxed);
        thread.join().unwrap();
        let rate = n as f64 / secs;
        println!("{:<5} {:>10.0} req/s   p50 {:>7.1} us", format!("{t:?}"), rate, p50.as_secs_f64() * 1e6);
        rates.push(rate);
    }
    println!("TCP / UDP rate ratio: {:.2}", rates[1] / rates[0].max(1.0));
    println!("TLS / UDP rate ratio: {:.2}", rates[2] / rates[0].max(1.0));
}
