//! Deterministic tests of the sans-IO endpoint over a seeded lossy link (drop, duplicate,
//! reorder, delay), in simulated time, in the style of quinn-proto's in-memory pair.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use lwm2m_transport::engine::{ObservationEnd, ObserverRemoved};
use lwm2m_transport::{
    Code, Config, Endpoint, Event, IncomingRequest, Message, MessageType, ObserveRequest, OptionNumber, Request,
    RequestError, RequestId, Response, TransmissionParams,
};

const CLIENT: u8 = 1;
const SERVER: u8 = 2;

/// xorshift for the link (separate from the endpoints' seeds).
struct LinkRng(u64);
impl LinkRng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() % 1_000_000) as f64 / 1_000_000.0 < p
    }
}

#[derive(Clone, Copy)]
struct LinkParams {
    drop: f64,
    duplicate: f64,
    /// Extra random delay up to this, which reorders datagrams.
    jitter: Duration,
    latency: Duration,
}

impl LinkParams {
    const PERFECT: LinkParams =
        LinkParams { drop: 0.0, duplicate: 0.0, jitter: Duration::ZERO, latency: Duration::from_millis(5) };
    fn lossy(drop: f64) -> LinkParams {
        LinkParams { drop, duplicate: 0.05, jitter: Duration::from_millis(40), latency: Duration::from_millis(10) }
    }
}

struct Pair {
    client: Endpoint<u8>,
    server: Endpoint<u8>,
    now: Instant,
    link: LinkParams,
    rng: LinkRng,
    /// (delivery time, sequence) -> (destination, bytes)
    in_flight: BTreeMap<(Instant, u64), (u8, Bytes)>,
    seq: u64,
    client_events: Vec<Event<u8>>,
    server_events: Vec<Event<u8>>,
    sent_by_client: Vec<Bytes>,
    sent_by_server: Vec<Bytes>,
}

impl Pair {
    fn new(client: Config, server: Config, link: LinkParams, seed: u64) -> Pair {
        Pair {
            client: Endpoint::new(client),
            server: Endpoint::new(server),
            now: Instant::now(),
            link,
            rng: LinkRng(seed | 1),
            in_flight: BTreeMap::new(),
            seq: 0,
            client_events: Vec::new(),
            server_events: Vec::new(),
            sent_by_client: Vec::new(),
            sent_by_server: Vec::new(),
        }
    }

    fn ship(&mut self, to: u8, bytes: &Bytes) {
        if self.rng.chance(self.link.drop) {
            return;
        }
        let copies = if self.rng.chance(self.link.duplicate) { 2 } else { 1 };
        for _ in 0..copies {
            let jitter_ns = self.link.jitter.as_nanos() as u64;
            let extra = if jitter_ns == 0 { 0 } else { self.rng.next() % jitter_ns };
            let at = self.now + self.link.latency + Duration::from_nanos(extra);
            self.seq += 1;
            self.in_flight.insert((at, self.seq), (to, bytes.clone()));
        }
    }

    fn flush(&mut self) {
        while let Some(t) = self.client.poll_transmit() {
            assert_eq!(t.peer, SERVER);
            self.sent_by_client.push(t.payload.clone());
            self.ship(SERVER, &t.payload);
        }
        while let Some(t) = self.server.poll_transmit() {
            assert_eq!(t.peer, CLIENT);
            self.sent_by_server.push(t.payload.clone());
            self.ship(CLIENT, &t.payload);
        }
        while let Some(e) = self.client.poll_event() {
            self.client_events.push(e);
        }
        while let Some(e) = self.server.poll_event() {
            self.server_events.push(e);
        }
    }

    /// Advances to the next thing that happens; false when nothing is left.
    fn step(&mut self) -> bool {
        self.flush();
        let next_msg = self.in_flight.keys().next().map(|k| k.0);
        let candidates = [next_msg, self.client.poll_timeout(), self.server.poll_timeout()];
        let Some(next) = candidates.into_iter().flatten().min() else { return false };
        self.now = self.now.max(next);
        while let Some(entry) = self.in_flight.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let (to, bytes) = entry.remove();
            if to == SERVER {
                self.server.handle_datagram(self.now, CLIENT, &bytes);
            } else {
                self.client.handle_datagram(self.now, SERVER, &bytes);
            }
        }
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        self.flush();
        true
    }

    /// Runs until `done` or until simulated time passes `limit`.
    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Pair) -> bool) {
        let end = self.now + limit;
        while !done(self) && self.now < end {
            if !self.step() {
                break;
            }
        }
    }

    fn take_server_requests(&mut self) -> Vec<IncomingRequest<u8>> {
        let mut out = Vec::new();
        self.server_events.retain(|e| match e {
            Event::Request(r) => {
                out.push(r.clone());
                false
            }
            _ => true,
        });
        out
    }
}

fn params(max_retransmit: u32) -> TransmissionParams {
    TransmissionParams { max_retransmit, ..TransmissionParams::default() }
}

fn responses(events: &[Event<u8>]) -> HashMap<RequestId, Vec<Response>> {
    let mut map: HashMap<RequestId, Vec<Response>> = HashMap::new();
    for e in events {
        if let Event::Response { id, response } = e {
            map.entry(*id).or_default().push(response.clone());
        }
    }
    map
}

/// A server loop that answers every request at once: POST bodies are recorded (to check they
/// are processed once), GET returns `body`, PUT stores.
struct EchoServer {
    posted: Vec<Bytes>,
    stored: Option<Bytes>,
    body: Bytes,
}

impl EchoServer {
    fn serve(&mut self, pair: &mut Pair) {
        for req in pair.take_server_requests() {
            let response = match req.request.method {
                Code::POST => {
                    self.posted.push(req.request.payload.clone());
                    let mut r = Response::new(Code::CHANGED);
                    r.payload = req.request.payload.clone();
                    r
                }
                Code::PUT => {
                    self.stored = Some(req.request.payload.clone());
                    Response::new(Code::CHANGED)
                }
                _ => {
                    let mut r = Response::new(Code::CONTENT);
                    r.payload = self.body.clone();
                    r
                }
            };
            pair.server.respond(pair.now, req.id, response).unwrap();
        }
    }
}

fn run_with_server(pair: &mut Pair, server: &mut EchoServer, limit: Duration, done: impl Fn(&Pair) -> bool) {
    let end = pair.now + limit;
    while !done(pair) && pair.now < end {
        server.serve(pair);
        if !pair.step() {
            server.serve(pair);
            if pair.client.poll_timeout().is_none() && pair.in_flight.is_empty() {
                break;
            }
        }
    }
}

fn settled(ids: &[RequestId]) -> impl Fn(&Pair) -> bool + '_ {
    move |p: &Pair| {
        ids.iter().all(|id| {
            p.client_events
                .iter()
                .any(|e| matches!(e, Event::Response { id: r, .. } | Event::RequestFailed { id: r, .. } if r == id))
        })
    }
}

#[test]
fn every_post_completes_exactly_once_or_fails_under_loss() {
    for seed in [1u64, 7, 42] {
        let cfg = |s| Config { seed: s, transmission: params(4), ..Config::default() };
        let mut pair = Pair::new(cfg(seed), cfg(seed + 100), LinkParams::lossy(0.2), seed);
        let mut server = EchoServer { posted: Vec::new(), stored: None, body: Bytes::new() };
        let mut ids = Vec::new();
        for i in 0..150u32 {
            let mut req = Request::with_path(Code::POST, "/rd");
            req.payload = Bytes::from(format!("request-{i}"));
            ids.push(pair.client.start_request(pair.now, SERVER, req).unwrap());
        }
        run_with_server(&mut pair, &mut server, Duration::from_secs(100_000), settled(&ids));
        let resp = responses(&pair.client_events);
        let mut failed = 0;
        for (i, id) in ids.iter().enumerate() {
            let fails: Vec<_> = pair
                .client_events
                .iter()
                .filter_map(|e| match e {
                    Event::RequestFailed { id: r, error } if r == id => Some(error.clone()),
                    _ => None,
                })
                .collect();
            let got = resp.get(id).map_or(0, Vec::len);
            assert_eq!(got + fails.len(), 1, "request {i} must settle exactly once");
            let body = format!("request-{i}");
            let processed = server.posted.iter().filter(|p| p[..] == *body.as_bytes()).count();
            assert!(processed <= 1, "request {i} processed {processed} times");
            if got == 1 {
                assert_eq!(resp[id][0].payload, body.as_bytes(), "response matches its request");
                assert_eq!(processed, 1);
            } else {
                failed += 1;
                assert_eq!(fails[0], RequestError::Timeout { transmissions: 5 });
            }
        }
        // With 20% loss each way a CON exchange fails after 5 tries with p = 0.36^5 = 0.6%.
        assert!(failed <= 5, "seed {seed}: {failed} of 150 failed");
    }
}

#[test]
fn nstart_one_keeps_one_interaction_outstanding() {
    let mut pair = Pair::new(Config::default(), Config { seed: 9, ..Config::default() }, LinkParams::PERFECT, 3);
    let ids: Vec<_> = (0..5)
        .map(|_| pair.client.start_request(pair.now, SERVER, Request::with_path(Code::GET, "/a")).unwrap())
        .collect();
    pair.flush();
    assert_eq!(pair.sent_by_client.len(), 1, "only the first request is sent");
    let mut server = EchoServer { posted: Vec::new(), stored: None, body: Bytes::from_static(b"x") };
    run_with_server(&mut pair, &mut server, Duration::from_secs(60), settled(&ids));
    let order: Vec<RequestId> = pair
        .client_events
        .iter()
        .filter_map(|e| match e {
            Event::Response { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(order, ids, "queued requests complete in order");
    assert_eq!(pair.sent_by_client.len(), 5);
}

#[test]
fn gives_up_after_max_retransmit_with_exponential_backoff() {
    let mut pair = Pair::new(Config::default(), Config::default(), LinkParams { drop: 1.0, ..LinkParams::PERFECT }, 5);
    let start = pair.now;
    let id = pair.client.start_request(pair.now, SERVER, Request::with_path(Code::GET, "/x")).unwrap();
    pair.flush();
    let mut times = vec![Duration::ZERO];
    while pair.client_events.is_empty() {
        let before = pair.sent_by_client.len();
        assert!(pair.step());
        if pair.sent_by_client.len() > before {
            times.push(pair.now - start);
        }
    }
    assert_eq!(times.len(), 5, "1 transmission + MAX_RETRANSMIT 4");
    let gaps: Vec<f64> = times.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
    // First timeout in [2, 3) s, doubling each time.
    assert!((2.0..3.0).contains(&gaps[0]), "{gaps:?}");
    for w in gaps.windows(2) {
        assert!((w[1] / w[0] - 2.0).abs() < 1e-6, "{gaps:?}");
    }
    let give_up = pair.now - start;
    assert!(give_up >= Duration::from_secs(62) && give_up <= Duration::from_secs(93), "{give_up:?}");
    assert!(matches!(
        &pair.client_events[0],
        Event::RequestFailed { id: r, error: RequestError::Timeout { transmissions: 5 } } if *r == id
    ));
}

#[test]
fn duplicate_post_is_processed_once_and_cached_response_resent() {
    let mut pair = Pair::new(Config::default(), Config { seed: 11, ..Config::default() }, LinkParams::PERFECT, 3);
    let mut req = Request::with_path(Code::POST, "/rd");
    req.payload = Bytes::from_static(b"ep=dev");
    pair.client.start_request(pair.now, SERVER, req).unwrap();
    let datagram = pair.client.poll_transmit().unwrap().payload;
    pair.server.handle_datagram(pair.now, CLIENT, &datagram);
    pair.flush();
    let reqs = pair.take_server_requests();
    assert_eq!(reqs.len(), 1);
    pair.server.respond(pair.now, reqs[0].id, Response::new(Code::CREATED)).unwrap();
    let first = pair.server.poll_transmit().unwrap().payload;
    for _ in 0..3 {
        pair.server.handle_datagram(pair.now + Duration::from_secs(10), CLIENT, &datagram);
        assert_eq!(pair.server.poll_transmit().unwrap().payload, first, "cached response resent");
    }
    assert!(pair.server.poll_event().is_none(), "not processed again");
    // After EXCHANGE_LIFETIME the message id is forgotten.
    let later = pair.now + Duration::from_secs(248);
    pair.server.handle_timeout(later);
    pair.server.handle_datagram(later, CLIENT, &datagram);
    assert!(matches!(pair.server.poll_event(), Some(Event::Request(_))));
}

#[test]
fn separate_response_after_empty_ack() {
    let mut pair = Pair::new(Config::default(), Config { seed: 12, ..Config::default() }, LinkParams::PERFECT, 3);
    let id = pair.client.start_request(pair.now, SERVER, Request::with_path(Code::POST, "/slow")).unwrap();
    // Let the separate-response delay pass without answering.
    pair.run_until(Duration::from_secs(2), |p| p.sent_by_server.len() == 1);
    let ack = Message::new_checked(&pair.sent_by_server[0]).unwrap();
    assert_eq!(ack.message_type(), MessageType::Acknowledgement);
    assert!(ack.code().is_empty());
    let reqs = pair.take_server_requests();
    pair.now += Duration::from_secs(30);
    pair.server.respond(pair.now, reqs[0].id, Response::new(Code::CHANGED)).unwrap();
    pair.run_until(Duration::from_secs(10), |p| !p.client_events.is_empty());
    let resp = Message::new_checked(&pair.sent_by_server[1]).unwrap();
    assert_eq!(resp.message_type(), MessageType::Confirmable);
    assert!(
        matches!(&pair.client_events[0], Event::Response { id: r, response } if *r == id && response.code == Code::CHANGED)
    );
    // The client ACKed the CON response, so the server stops retransmitting.
    pair.run_until(Duration::from_secs(100), |_| false);
    assert_eq!(pair.sent_by_server.len(), 2);
}

#[test]
fn ping_gets_reset() {
    let mut pair = Pair::new(Config::default(), Config { seed: 13, ..Config::default() }, LinkParams::PERFECT, 3);
    let id = pair.client.ping(pair.now, SERVER).unwrap();
    pair.run_until(Duration::from_secs(5), |p| !p.client_events.is_empty());
    assert!(matches!(pair.client_events[0], Event::Pong { id: r } if r == id));
    assert_eq!(&pair.sent_by_client[0][..], &pair.sent_by_client[0][..4], "empty CON is 4 bytes");
    assert_eq!(Message::new_checked(&pair.sent_by_server[0]).unwrap().message_type(), MessageType::Reset);
}

#[test]
fn unknown_critical_option_gets_bad_option_and_elective_is_ignored() {
    let mut server: Endpoint<u8> = Endpoint::new(Config::default());
    let now = Instant::now();
    // CON GET mid 1, option 1953 (critical, unknown) "x"
    let bad = [0x40, 0x01, 0, 1, 0xe1, 0x06, 0x94, b'x'];
    server.handle_datagram(now, CLIENT, &bad);
    let reply = server.poll_transmit().unwrap().payload;
    let m = Message::new_checked(&reply).unwrap();
    assert_eq!((m.message_type(), m.code(), m.message_id()), (MessageType::Acknowledgement, Code::BAD_OPTION, 1));
    assert!(server.poll_event().is_none());
    // In a NON request the message is rejected with RST instead.
    server.handle_datagram(now, CLIENT, &[0x50, 0x01, 0, 9, 0xe1, 0x06, 0x94, b'x']);
    let m = server.poll_transmit().unwrap().payload;
    assert_eq!(Message::new_checked(&m).unwrap().message_type(), MessageType::Reset);
    // Same with elective 1952: delivered.
    let ok = [0x40, 0x01, 0, 2, 0xe1, 0x06, 0x93, b'x'];
    server.handle_datagram(now, CLIENT, &ok);
    assert!(matches!(server.poll_event(), Some(Event::Request(_))));
    // A CON response carrying an unknown critical option or an unknown token is rejected with RST.
    let stray = [0x40, 0x45, 0, 3];
    server.handle_datagram(now, CLIENT, &stray);
    let rst = server.poll_transmit().unwrap().payload;
    assert_eq!(Message::new_checked(&rst).unwrap().message_type(), MessageType::Reset);
    // Malformed CON: RST; malformed NON: silence.
    server.handle_datagram(now, CLIENT, &[0x40, 0x01, 0, 4, 0xff]);
    assert_eq!(
        Message::new_checked(&server.poll_transmit().unwrap().payload).unwrap().message_type(),
        MessageType::Reset
    );
    server.handle_datagram(now, CLIENT, &[0x50, 0x01, 0, 5, 0xff]);
    assert!(server.poll_transmit().is_none());
}

fn big_body(len: usize) -> Bytes {
    let mut x = 0x1234_5678u32;
    Bytes::from(
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect::<Vec<u8>>(),
    )
}

fn lossy_block_configs(seed: u64) -> (Config, Config) {
    // With 20% loss each way an exchange needs both datagrams through (p = 0.64); 1024 blocks
    // with the RFC's MAX_RETRANSMIT 4 would fail with p ~ 0.998, so these tests allow 12.
    let t = TransmissionParams { max_retransmit: 12, ..TransmissionParams::default() };
    (
        Config { seed, transmission: t, block_szx: 6, ..Config::default() },
        Config { seed: seed + 1, transmission: t, block_szx: 6, ..Config::default() },
    )
}

#[test]
fn block2_download_of_1_mib_under_20_percent_loss() {
    let (c, s) = lossy_block_configs(21);
    let mut pair = Pair::new(c, s, LinkParams::lossy(0.2), 77);
    let body = big_body(1 << 20);
    let mut server = EchoServer { posted: Vec::new(), stored: None, body: body.clone() };
    let id = pair.client.start_request(pair.now, SERVER, Request::with_path(Code::GET, "/fw")).unwrap();
    run_with_server(&mut pair, &mut server, Duration::from_secs(10_000_000), settled(&[id]));
    let resp = responses(&pair.client_events);
    let got = &resp.get(&id).unwrap_or_else(|| panic!("failed: {:?}", pair.client_events))[0];
    assert_eq!(got.code, Code::CONTENT);
    assert!(got.payload == body, "byte-exact");
    assert!(!got.options.contains(OptionNumber::BLOCK2));
    // The application saw one request, the rest came from the block cache.
    assert_eq!(pair.server_events.iter().filter(|e| matches!(e, Event::Request(_))).count(), 0);
}

#[test]
fn block1_upload_of_1_mib_under_20_percent_loss() {
    let (c, s) = lossy_block_configs(31);
    let mut pair = Pair::new(c, s, LinkParams::lossy(0.2), 78);
    let body = big_body(1 << 20);
    let mut server = EchoServer { posted: Vec::new(), stored: None, body: Bytes::new() };
    let mut req = Request::with_path(Code::PUT, "/fw/package");
    req.payload = body.clone();
    let id = pair.client.start_request(pair.now, SERVER, req).unwrap();
    run_with_server(&mut pair, &mut server, Duration::from_secs(10_000_000), settled(&[id]));
    let resp = responses(&pair.client_events);
    let got = &resp.get(&id).unwrap_or_else(|| panic!("failed: {:?}", pair.client_events))[0];
    assert_eq!(got.code, Code::CHANGED);
    assert!(server.stored.as_ref() == Some(&body), "byte-exact upload");
}

#[test]
fn block1_follows_smaller_server_block_size_and_block2_early_negotiation() {
    let client = Config { seed: 40, block_szx: 6, request_block2_szx: Some(2), ..Config::default() };
    let server = Config { seed: 41, block_szx: 4, ..Config::default() };
    let mut pair = Pair::new(client, server, LinkParams::PERFECT, 4);
    let body = big_body(3000);
    let mut server = EchoServer { posted: Vec::new(), stored: None, body: big_body(500) };
    let mut req = Request::with_path(Code::PUT, "/f");
    req.payload = body.clone();
    let put = pair.client.start_request(pair.now, SERVER, req).unwrap();
    let get = pair.client.start_request(pair.now, SERVER, Request::with_path(Code::GET, "/f")).unwrap();
    run_with_server(&mut pair, &mut server, Duration::from_secs(100), settled(&[put, get]));
    assert_eq!(server.stored.as_ref(), Some(&body));
    // After the first 1024-byte block the client uses 256-byte blocks.
    let szx: Vec<u8> = pair
        .sent_by_client
        .iter()
        .filter_map(|b| Message::new_checked(b).ok()?.option(OptionNumber::BLOCK1).map(|v| v.last().unwrap() & 7))
        .collect();
    assert_eq!(szx[0], 6);
    assert!(szx[1..].iter().all(|s| *s == 4), "{szx:?}");
    let resp = responses(&pair.client_events);
    assert_eq!(resp[&get][0].payload, big_body(500));
    // Early negotiation: 500 bytes in 64-byte blocks = 8 GET messages.
    let gets = pair.sent_by_client.iter().filter(|b| Message::new_checked(b).unwrap().code() == Code::GET).count();
    assert_eq!(gets, 8);
}

#[test]
fn block1_too_large_gets_4_13() {
    let client = Config { seed: 50, ..Config::default() };
    let server = Config { seed: 51, max_body_size: 2048, ..Config::default() };
    let mut pair = Pair::new(client, server, LinkParams::PERFECT, 4);
    let mut server = EchoServer { posted: Vec::new(), stored: None, body: Bytes::new() };
    let mut req = Request::with_path(Code::PUT, "/f");
    req.payload = big_body(5000);
    let id = pair.client.start_request(pair.now, SERVER, req).unwrap();
    run_with_server(&mut pair, &mut server, Duration::from_secs(100), settled(&[id]));
    let r = &responses(&pair.client_events)[&id][0];
    assert_eq!(r.code, Code::REQUEST_ENTITY_TOO_LARGE);
    assert_eq!(r.options.get_uint(OptionNumber::SIZE1), Some(2048));
    assert!(server.stored.is_none());
}

/// Observe: registration, notifications in order with loss, freshness, CON every N, block-wise
/// notifications, and cancellation by RST.
#[test]
fn observe_under_loss_delivers_fresh_notifications_in_order() {
    let client = Config { seed: 60, transmission: params(8), ..Config::default() };
    let server = Config { seed: 61, transmission: params(8), con_notification_every: 3, ..Config::default() };
    let mut pair = Pair::new(client, server, LinkParams::lossy(0.2), 99);
    let mut req = Request::with_path(Code::GET, "/temp");
    req.options.set_uint(OptionNumber::OBSERVE, 0);
    let id = pair.client.start_request(pair.now, SERVER, req).unwrap();
    pair.run_until(Duration::from_secs(600), |p| p.server_events.iter().any(|e| matches!(e, Event::Request(_))));
    let reqs = pair.take_server_requests();
    let ObserveRequest::Register(obs) = reqs[0].observe else { panic!("not a registration") };
    let got = pair.server.respond(pair.now, reqs[0].id, Response::new(Code::CONTENT)).unwrap();
    assert_eq!(got, Some(obs));
    pair.run_until(Duration::from_secs(600), |p| !p.client_events.is_empty());
    assert!(matches!(&pair.client_events[0], Event::Response { response, .. } if response.options.observe().is_some()));
    let mut sent_values = Vec::new();
    for i in 0..40u32 {
        pair.now += Duration::from_secs(1);
        let mut n = Response::new(Code::CONTENT);
        // Every 10th notification is large and goes block-wise.
        n.payload = if i % 10 == 9 { big_body(3000 + i as usize) } else { Bytes::from(format!("{i}")) };
        sent_values.push(n.payload.clone());
        pair.server.notify(pair.now, obs, n, false).unwrap();
        pair.flush();
        pair.run_until(Duration::from_millis(900), |_| false);
    }
    pair.run_until(Duration::from_secs(300), |_| false);
    let notifications: Vec<Bytes> = pair
        .client_events
        .iter()
        .filter_map(|e| match e {
            Event::Notification { id: r, response } if *r == id => Some(response.payload.clone()),
            _ => None,
        })
        .collect();
    // Delivered notifications are a subsequence of what was sent, in order (stale ones dropped).
    let mut it = sent_values.iter();
    for n in &notifications {
        assert!(it.any(|s| s == n), "out of order or corrupted notification");
    }
    assert!(notifications.len() >= 20, "only {} of 40 notifications arrived", notifications.len());
    assert!(notifications.iter().any(|n| n.len() > 1024), "a block-wise notification arrived whole");
    // CON at least every 3rd notification.
    let types: Vec<MessageType> = pair
        .sent_by_server
        .iter()
        .filter_map(|b| {
            let m = Message::new_checked(b).ok()?;
            (m.option(OptionNumber::OBSERVE).is_some() && m.code() == Code::CONTENT).then(|| m.message_type())
        })
        .collect();
    assert!(types.contains(&MessageType::Confirmable) && types.contains(&MessageType::NonConfirmable));

    // Passive cancel: the next notification gets RST and the server removes the observer.
    pair.client.cancel_observation(pair.now, id, false);
    pair.link = LinkParams::PERFECT;
    pair.server.notify(pair.now, obs, Response::new(Code::CONTENT), true).unwrap();
    pair.run_until(Duration::from_secs(10), |p| {
        p.server_events.iter().any(|e| matches!(e, Event::ObserverRemoved { reason: ObserverRemoved::Reset, .. }))
    });
    assert!(
        pair.client_events
            .iter()
            .any(|e| matches!(e, Event::ObservationEnded { reason: ObservationEnd::Cancelled, .. }))
    );
    assert!(pair.server.notify(pair.now, obs, Response::new(Code::CONTENT), false).is_err());
}

#[test]
fn active_cancel_and_failed_con_notification_remove_observers() {
    let mut pair = Pair::new(
        Config { seed: 70, ..Config::default() },
        Config { seed: 71, ..Config::default() },
        LinkParams::PERFECT,
        5,
    );
    let mut req = Request::with_path(Code::GET, "/a");
    req.options.set_uint(OptionNumber::OBSERVE, 0);
    let id = pair.client.start_request(pair.now, SERVER, req).unwrap();
    pair.run_until(Duration::from_secs(5), |p| !p.server_events.is_empty());
    let reqs = pair.take_server_requests();
    let obs = pair.server.respond(pair.now, reqs[0].id, Response::new(Code::CONTENT)).unwrap().unwrap();
    pair.run_until(Duration::from_secs(5), |p| !p.client_events.is_empty());
    // Active cancel: GET with Observe 1 on the same token.
    pair.client.cancel_observation(pair.now, id, true);
    pair.run_until(Duration::from_secs(5), |p| !p.server_events.is_empty());
    let reqs = pair.take_server_requests();
    assert_eq!(reqs[0].observe, ObserveRequest::Deregister);
    assert!(pair.server_events.iter().any(|e| matches!(e, Event::ObserverRemoved { observation, reason: ObserverRemoved::Deregistered } if *observation == obs)));
    pair.server.respond(pair.now, reqs[0].id, Response::new(Code::CONTENT)).unwrap();
    pair.run_until(Duration::from_secs(5), |p| p.client_events.len() >= 2);
    assert!(matches!(pair.client_events[1], Event::ObservationEnded { reason: ObservationEnd::Cancelled, .. }));

    // A CON notification that is never acknowledged removes the observer.
    let mut req = Request::with_path(Code::GET, "/b");
    req.options.set_uint(OptionNumber::OBSERVE, 0);
    pair.client.start_request(pair.now, SERVER, req).unwrap();
    pair.run_until(Duration::from_secs(5), |p| p.server_events.iter().any(|e| matches!(e, Event::Request(_))));
    let reqs = pair.take_server_requests();
    let obs = pair.server.respond(pair.now, reqs[0].id, Response::new(Code::CONTENT)).unwrap().unwrap();
    pair.run_until(Duration::from_secs(5), |_| false);
    pair.link = LinkParams { drop: 1.0, ..LinkParams::PERFECT };
    pair.server.notify(pair.now, obs, Response::new(Code::CONTENT), true).unwrap();
    pair.run_until(Duration::from_secs(200), |p| {
        p.server_events.iter().any(|e| matches!(e, Event::ObserverRemoved { reason: ObserverRemoved::Timeout, .. }))
    });
    assert!(pair.server_events.iter().any(
        |e| matches!(e, Event::ObserverRemoved { observation, reason: ObserverRemoved::Timeout } if *observation == obs)
    ));
}

#[test]
fn freshness_rule_drops_stale_reordered_notifications() {
    use lwm2m_transport::engine::is_fresher;
    let t = Instant::now();
    assert!(is_fresher(5, t, 6, t));
    assert!(!is_fresher(6, t, 5, t));
    assert!(is_fresher(0xff_fffe, t, 1, t), "wrap-around");
    assert!(is_fresher(6, t, 5, t + Duration::from_secs(129)), "128 s rule");
}

#[test]
fn peer_limit_refuses_new_peers_with_5_03() {
    let mut server: Endpoint<u8> = Endpoint::new(Config { max_peers: 1, ..Config::default() });
    let now = Instant::now();
    server.handle_datagram(now, 1, &[0x40, 0x01, 0, 1]);
    assert!(matches!(server.poll_event(), Some(Event::Request(_))));
    server.handle_datagram(now, 2, &[0x41, 0x01, 0, 1, 7]);
    let reply = server.poll_transmit().unwrap();
    assert_eq!(reply.peer, 2);
    let m = Message::new_checked(&reply.payload).unwrap();
    assert_eq!((m.code(), m.token_bytes()), (Code::SERVICE_UNAVAILABLE, &[7u8][..]));
    assert_eq!(server.peer_count(), 1);
}

#[test]
fn deterministic_given_seed() {
    let run = || {
        let mut pair = Pair::new(
            Config { seed: 5, ..Config::default() },
            Config { seed: 6, ..Config::default() },
            LinkParams::lossy(0.3),
            8,
        );
        let mut server = EchoServer { posted: Vec::new(), stored: None, body: big_body(5000) };
        let ids: Vec<_> = (0..10)
            .map(|_| pair.client.start_request(pair.now, SERVER, Request::with_path(Code::GET, "/x")).unwrap())
            .collect();
        run_with_server(&mut pair, &mut server, Duration::from_secs(10_000), settled(&ids));
        pair.sent_by_client.iter().chain(&pair.sent_by_server).cloned().collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn response_with_unknown_critical_option_is_rejected() {
    let mut client: Endpoint<u8> = Endpoint::new(Config::default());
    let now = Instant::now();
    // Separate CON response path.
    let id = client.start_request(now, SERVER, Request::with_path(Code::GET, "/x")).unwrap();
    let sent = client.poll_transmit().unwrap().payload;
    let req = Message::new_checked(&sent).unwrap();
    client.handle_datagram(now, SERVER, &[0x60, 0x00, sent[2], sent[3]]); // empty ACK
    let mut con = vec![0x40 | req.token_bytes().len() as u8, 0x45, 0x12, 0x34];
    con.extend_from_slice(req.token_bytes());
    con.extend_from_slice(&[0xe1, 0x06, 0x94, b'x']); // option 1953 (269 + 0x0694), critical and unknown
    client.handle_datagram(now, SERVER, &con);
    let rst = client.poll_transmit().unwrap().payload;
    assert_eq!(Message::new_checked(&rst).unwrap().message_type(), MessageType::Reset);
    assert!(matches!(
        client.poll_event(),
        Some(Event::RequestFailed { id: r, error: RequestError::UnrecognizedCriticalOption { number: 1953 } }) if r == id
    ));
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn datagram() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..80),
            // Mostly-valid headers with random options/payloads, to get past the parser.
            (0u8..4, 0u8..9, any::<u8>(), any::<u16>(), proptest::collection::vec(any::<u8>(), 0..60)).prop_map(
                |(t, tkl, code, mid, rest)| {
                    let mut v = vec![0x40 | (t << 4) | tkl, code, (mid >> 8) as u8, mid as u8];
                    v.extend(rest);
                    v
                }
            ),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Arbitrary datagrams at a client with requests and an observation in flight, and at a
        /// server with pending requests and observers, never panic, and timers keep working.
        #[test]
        fn endpoints_survive_arbitrary_datagrams(inputs in proptest::collection::vec((any::<bool>(), datagram()), 1..40)) {
            let mut pair = Pair::new(Config { seed: 3, ..Config::default() }, Config { seed: 4, ..Config::default() }, LinkParams::PERFECT, 9);
            let mut req = Request::with_path(Code::GET, "/o");
            req.options.set_uint(OptionNumber::OBSERVE, 0);
            pair.client.start_request(pair.now, SERVER, req).unwrap();
            let mut put = Request::with_path(Code::PUT, "/big");
            put.payload = big_body(4000);
            pair.client.start_request(pair.now, SERVER, put).unwrap();
            pair.run_until(Duration::from_millis(50), |_| false);
            for (to_server, bytes) in inputs {
                if to_server {
                    pair.server.handle_datagram(pair.now, CLIENT, &bytes);
                } else {
                    pair.client.handle_datagram(pair.now, SERVER, &bytes);
                }
                for r in pair.take_server_requests() {
                    let _ = pair.server.respond(pair.now, r.id, Response::new(Code::CONTENT));
                }
                pair.now += Duration::from_millis(300);
                pair.client.handle_timeout(pair.now);
                pair.server.handle_timeout(pair.now);
                pair.flush();
            }
            pair.run_until(Duration::from_secs(400), |_| false);
        }
    }
}

/// One endpoint serving thousands of peers: every request answered, state forgotten once
/// EXCHANGE_LIFETIME has passed.
#[test]
fn thousands_of_peers_on_one_endpoint() {
    let mut server: Endpoint<u32> = Endpoint::new(Config::default());
    let now = Instant::now();
    for peer in 0..5000u32 {
        let m = (peer as u16).to_be_bytes();
        server.handle_datagram(now, peer, &[0x41, 0x01, m[0], m[1], 0xaa, 0xb1, b'x']);
    }
    assert_eq!(server.peer_count(), 5000);
    let mut answered = 0;
    while let Some(event) = server.poll_event() {
        let Event::Request(r) = event else { panic!("{event:?}") };
        assert_eq!(r.request.options.uri_path(), "/x");
        server.respond(now, r.id, Response::new(Code::CONTENT)).unwrap();
        answered += 1;
    }
    assert_eq!(answered, 5000);
    let mut replies = 0;
    while let Some(t) = server.poll_transmit() {
        let m = Message::new_checked(&t.payload).unwrap();
        assert_eq!(
            (m.message_type(), m.code(), m.message_id()),
            (MessageType::Acknowledgement, Code::CONTENT, t.peer as u16)
        );
        replies += 1;
    }
    assert_eq!(replies, 5000);
    server.handle_timeout(now + Duration::from_secs(250));
    assert_eq!(server.peer_count(), 0);
    assert!(server.poll_timeout().is_none(), "no timers left once idle");
}
