//! N sequential CoAP GETs through the tokio driver over plain UDP and over DTLS (PSK, CCM_8),
//! printing the per-request median, mean, p10 and p90 and the DTLS/NoSec rate ratio. The
//! instruction counts and CPU times per request in `docs/performance.md` come from this program:
//!
//! ```console
//! cargo build --release -p lwm2m-transport --example dtls_request_loop
//! # CPU time per request: a current-thread runtime (client and server on one thread), p10
//! CT=1 target/release/examples/dtls_request_loop both 20000
//! # instructions per request: (Ir at 3000 - Ir at 1000) / 2000, for `udp` and for `dtls`
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/dtls_request_loop dtls 3000
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/dtls_request_loop dtls 1000
//! ```
//!
//! Arguments: `udp|dtls|both` (default both) and the request count (default 20000); set `CT`
//! for a single-threaded runtime.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lwm2m_transport::driver::{self, Handler, NotFound, Responder};
use lwm2m_transport::dtls::{
    ClientConfig, DtlsClientSocket, DtlsServer, DtlsServerSocket, MemoryCredentialStore, PskCredential, ServerConfig,
};
use lwm2m_transport::{Code, Config, IncomingRequest, Request, Response};

struct Content;
impl Handler<SocketAddr> for Content {
    fn handle(&mut self, _request: IncomingRequest<SocketAddr>, responder: Responder<SocketAddr>) {
        let mut response = Response::new(Code::CONTENT);
        response.payload = bytes::Bytes::from_static(b"hello");
        responder.respond(response);
    }
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "both".into());
    let n: usize = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(20000);
    let runtime = if std::env::var("CT").is_ok() {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
    };
    let cred = PskCredential::new(b"bench-device", b"0123456789abcdef").unwrap();
    let (udp_client, udp_addr) = runtime.block_on(async {
        let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        std::mem::forget(driver::spawn(server, Config { seed: 1, ..Config::default() }, Content));
        let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        (driver::spawn(client, Config { seed: 2, ..Config::default() }, NotFound), addr)
    });
    let (dtls_client, dtls_addr) = runtime.block_on(async {
        let store = MemoryCredentialStore::new();
        store.insert_psk(&cred, None);
        let server = DtlsServer::new(ServerConfig::psk(Arc::new(store))).unwrap();
        let socket = DtlsServerSocket::bind("127.0.0.1:0".parse().unwrap(), server).await.unwrap();
        let addr = socket.local_addr().unwrap();
        std::mem::forget(driver::spawn(socket, Config { seed: 3, ..Config::default() }, Content));
        let transport = DtlsClientSocket::connect(addr, ClientConfig::psk(cred.clone())).await.unwrap();
        (driver::spawn(transport, Config { seed: 4, ..Config::default() }, NotFound), addr)
    });
    let run = |name: &str, handle: &driver::Handle<SocketAddr>, addr: SocketAddr| {
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let r = runtime
                .block_on(async {
                    tokio::time::timeout(
                        Duration::from_secs(10),
                        handle.request(addr, Request::with_path(Code::GET, "/x")),
                    )
                    .await
                })
                .expect("stall")
                .unwrap();
            assert_eq!(r.code, Code::CONTENT);
            samples.push(t.elapsed().as_nanos() as f64 / 1000.0);
        }
        samples.sort_by(f64::total_cmp);
        let mean: f64 = samples.iter().sum::<f64>() / n as f64;
        println!(
            "{name}: n={n} median {:.1} µs mean {:.1} p10 {:.1} p90 {:.1}",
            samples[n / 2],
            mean,
            samples[n / 10],
            samples[9 * n / 10]
        );
        samples[n / 2]
    };
    let mut u = 0.0;
    let mut d = 0.0;
    if which == "both" || which == "udp" {
        u = run("udp", &udp_client, udp_addr);
    }
    if which == "both" || which == "dtls" {
        d = run("dtls", &dtls_client, dtls_addr);
    }
    if which == "both" {
        println!("ratio (udp/dtls time = dtls rate / udp rate): {:.2}", u / d);
    }
}
