//! Loopback request/response benchmark: N concurrent clients against one server on this
//! machine, CoAP (the tokio driver + engine) next to a raw UDP echo server, with the same load
//! generator in the same run.
//!
//! The load generator is deliberately the same for both servers: N tasks, each with its own
//! UDP socket (so N peers), send a pre-encoded CoAP CON GET (fresh message id and token per
//! request), wait for the answer, record the latency, repeat. The echo server returns the
//! datagram; the CoAP server parses it, deduplicates, hands it to a handler that answers
//! 2.05 with a 5-byte payload, and sends the piggybacked ACK. Each server runs on its own
//! OS thread with a current-thread tokio runtime; the generator on another.
//!
//! Heap allocations are counted with a counting global allocator over the whole process; the
//! echo run's count (generator + echo server) is subtracted from the CoAP run's to estimate
//! the CoAP server's allocations per request.
//!
//! Run: `cargo bench -p lwm2m-transport --bench loopback -- [clients] [seconds]`
//! (defaults 16 clients, 3 s per server).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use lwm2m_transport::driver::{self, Handler, Responder};
use lwm2m_transport::{Code, Config, IncomingRequest, MessageRepr, MessageType, Options, Response, Token};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tokio::net::UdpSocket;

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

struct Hello;

impl Handler<SocketAddr> for Hello {
    fn handle(&mut self, _request: IncomingRequest<SocketAddr>, responder: Responder<SocketAddr>) {
        let mut r = Response::new(Code::CONTENT);
        r.payload = Bytes::from_static(b"hello");
        responder.respond(r);
    }
}

/// Starts a server thread; returns its address and a stop flag.
fn start_server(coap: bool) -> (SocketAddr, Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let stop2 = stop.clone();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            tx.send(socket.local_addr().unwrap()).unwrap();
            if coap {
                let mut config = Config { seed: 7, ..Config::default() };
                // Each client sends thousands of requests per second; keep deduplication state
                // for 10 s instead of 247 s so memory stays flat during the run.
                config.transmission.exchange_lifetime = Duration::from_secs(10);
                config.transmission.non_lifetime = Duration::from_secs(10);
                let handle = driver::spawn(socket, config, Hello);
                while !stop2.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                handle.shutdown().await;
            } else {
                let mut buf = vec![0u8; 2048];
                loop {
                    tokio::select! {
                        r = socket.recv_from(&mut buf) => {
                            if let Ok((n, peer)) = r {
                                let _ = socket.send_to(&buf[..n], peer).await;
                            }
                        }
                        () = tokio::time::sleep(Duration::from_millis(20)) => {
                            if stop2.load(Ordering::Relaxed) {
                                return;
                            }
                        }
                    }
                }
            }
        });
    });
    (rx.recv().unwrap(), stop, thread)
}

struct RunResult {
    requests: u64,
    seconds: f64,
    latencies: Vec<Duration>,
    allocations: usize,
}

/// The load generator: `clients` tasks on one current-thread runtime.
fn generate(server: SocketAddr, clients: usize, warmup: Duration, measure: Duration) -> RunResult {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let start = Instant::now();
        let measure_from = start + warmup;
        let end = measure_from + measure;
        let mut tasks = Vec::new();
        for c in 0..clients {
            tasks.push(tokio::spawn(async move {
                let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
                socket.connect(server).await.unwrap();
                let mut lat = Vec::with_capacity(200_000);
                let mut buf = vec![0u8; 2048];
                let mut mid: u16 = (c as u16).wrapping_mul(7919);
                let mut options = Options::new();
                options.set_uri_path("/bench");
                let mut repr = MessageRepr {
                    message_type: MessageType::Confirmable,
                    code: Code::GET,
                    message_id: 0,
                    token: Token::EMPTY,
                    options,
                    payload: Bytes::new(),
                };
                let mut datagram = vec![0u8; 64];
                let mut count = 0u64;
                loop {
                    let now = Instant::now();
                    if now >= end {
                        break;
                    }
                    mid = mid.wrapping_add(1);
                    repr.message_id = mid;
                    repr.token = Token::new(&u64::from(mid).wrapping_mul(0x9E37_79B9).to_be_bytes()[4..]).unwrap();
                    let len = repr.emit(&mut datagram).unwrap();
                    socket.send(&datagram[..len]).await.unwrap();
                    // Wait for the answer with this message id (drop strays).
                    loop {
                        let got = tokio::time::timeout(Duration::from_millis(500), socket.recv(&mut buf)).await;
                        match got {
                            Ok(Ok(n)) if n >= 4 && buf[2..4] == mid.to_be_bytes() => break,
                            Ok(_) => {}
                            Err(_) => break, // lost: count nothing, move on
                        }
                    }
                    let done = Instant::now();
                    if now >= measure_from {
                        lat.push(done - now);
                        count += 1;
                    }
                }
                (count, lat)
            }));
        }
        // Count allocations only during the measured window (roughly: from warm-up end).
        tokio::time::sleep_until(tokio::time::Instant::from_std(measure_from)).await;
        let region = Region::new(GLOBAL);
        let mut requests = 0;
        let mut latencies = Vec::new();
        for t in tasks {
            let (n, lat) = t.await.unwrap();
            requests += n;
            latencies.extend(lat);
        }
        let allocations = region.change().allocations;
        RunResult { requests, seconds: measure.as_secs_f64(), latencies, allocations }
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn run(coap: bool, clients: usize, secs: f64) -> RunResult {
    let (addr, stop, thread) = start_server(coap);
    let mut r = generate(addr, clients, Duration::from_millis(500), Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap();
    r.latencies.sort();
    r
}

fn main() {
    // `cargo bench` passes `--bench`; take the first two numeric arguments.
    let nums: Vec<f64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let clients = nums.first().map_or(16, |n| *n as usize).max(1);
    let secs = nums.get(1).copied().unwrap_or(3.0);
    println!("loopback request/response, {clients} concurrent clients, {secs} s per server");
    let echo = run(false, clients, secs);
    let coap = run(true, clients, secs);
    let rate = |r: &RunResult| r.requests as f64 / r.seconds;
    for (name, r) in [("raw UDP echo", &echo), ("CoAP (engine + tokio driver)", &coap)] {
        println!(
            "{name:30} {:>10.0} req/s   p50 {:>7.1} us   p99 {:>7.1} us   allocations/request {:.4}",
            rate(r),
            percentile(&r.latencies, 0.5).as_secs_f64() * 1e6,
            percentile(&r.latencies, 0.99).as_secs_f64() * 1e6,
            r.allocations as f64 / r.requests.max(1) as f64,
        );
    }
    println!("CoAP / echo rate ratio: {:.2}", rate(&coap) / rate(&echo).max(1.0));
    let extra =
        coap.allocations as f64 / coap.requests.max(1) as f64 - echo.allocations as f64 / echo.requests.max(1) as f64;
    println!("estimated CoAP server heap allocations per request (CoAP run minus echo run): {extra:.4}");
}
