//! In-memory DTLS client/server pairs in simulated time: handshakes over a seeded lossy link,
//! failures with typed errors, hostile input, flood limits, certificates, raw public keys.

#![cfg(feature = "dtls")]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lwm2m_transport::dtls::{
    AlertDescription, AuthenticatedIdentity, CertificateError, CertificateUsage, CertifiedKey, CipherSuite,
    ClientConfig, ClientCredentials, ClientEvent, ClientState, CredentialStore, DtlsClient, DtlsError, DtlsServer,
    HandshakeTiming, MemoryCredentialStore, PskCredential, RawPublicKey, RawPublicKeyPair, ServerConfig, ServerEvent,
    ServerLimits, TrustAnchors, WallClock,
};

const KEY: &[u8] = b"0123456789abcdef";

/// xorshift for the link.
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
struct Link {
    drop: f64,
    duplicate: f64,
    jitter: Duration,
    latency: Duration,
}

const PERFECT: Link = Link { drop: 0.0, duplicate: 0.0, jitter: Duration::ZERO, latency: Duration::from_millis(5) };

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum To {
    Server,
    Client,
}

struct Pair {
    client: DtlsClient,
    server: DtlsServer,
    client_addr: SocketAddr,
    now: Instant,
    link: Link,
    rng: LinkRng,
    in_flight: BTreeMap<(Instant, u64), (To, Vec<u8>)>,
    seq: u64,
    client_events: Vec<ClientEvent>,
    server_events: Vec<ServerEvent>,
    datagrams_sent: usize,
    horizon: Option<Instant>,
    /// Flips a byte of the session id in every ClientHello to the server.
    tamper_session_id: bool,
    tamper_session_id_seen: bool,
    /// Every datagram the client sent, before the link touched it.
    to_server_log: Vec<Vec<u8>>,
}

fn timing() -> HandshakeTiming {
    HandshakeTiming {
        initial_retransmit: Duration::from_millis(500),
        max_retransmissions: 8,
        handshake_timeout: Duration::from_secs(60),
    }
}

fn psk_store(identity: &[u8], key: &[u8]) -> Arc<MemoryCredentialStore> {
    let store = MemoryCredentialStore::new();
    store.insert_psk(&PskCredential::new(identity, key).unwrap(), None);
    Arc::new(store)
}

fn psk_server(store: Arc<dyn CredentialStore>) -> DtlsServer {
    let mut config = ServerConfig::psk(store);
    config.timing = timing();
    DtlsServer::new(config).unwrap()
}

fn psk_client(identity: &[u8], key: &[u8], now: Instant) -> DtlsClient {
    let mut config = ClientConfig::psk(PskCredential::new(identity, key).unwrap());
    config.timing = timing();
    DtlsClient::new(config, now).unwrap()
}

impl Pair {
    fn new(client: DtlsClient, server: DtlsServer, now: Instant, link: Link, seed: u64) -> Self {
        Pair {
            client,
            server,
            client_addr: "127.0.0.1:40000".parse().unwrap(),
            now,
            link,
            rng: LinkRng(seed.max(1)),
            in_flight: BTreeMap::new(),
            seq: 0,
            client_events: Vec::new(),
            server_events: Vec::new(),
            datagrams_sent: 0,
            horizon: None,
            tamper_session_id: false,
            tamper_session_id_seen: false,
            to_server_log: Vec::new(),
        }
    }

    fn psk(link: Link, seed: u64) -> Self {
        let now = Instant::now();
        Self::new(psk_client(b"dev1", KEY, now), psk_server(psk_store(b"dev1", KEY)), now, link, seed)
    }

    fn put(&mut self, to: To, bytes: &[u8]) {
        self.datagrams_sent += 1;
        if to == To::Server {
            self.to_server_log.push(bytes.to_vec());
        }
        // Record header 13, handshake header 12, client_version 2, random 32: session id length at 59.
        if self.tamper_session_id && to == To::Server && bytes.len() > 61 && bytes[0] == 22 && bytes[13] == 1 {
            let mut tampered = bytes.to_vec();
            if tampered[59] > 0 {
                tampered[60] ^= 0x5a;
            }
            self.tamper_session_id_seen = true;
            self.put_raw(to, &tampered);
            return;
        }
        self.put_raw(to, bytes);
    }

    fn put_raw(&mut self, to: To, bytes: &[u8]) {
        if self.rng.chance(self.link.drop) {
            return;
        }
        let copies = if self.rng.chance(self.link.duplicate) { 2 } else { 1 };
        for _ in 0..copies {
            let jitter_ms = self.link.jitter.as_millis() as u64;
            let extra = if jitter_ms == 0 { 0 } else { self.rng.next() % jitter_ms };
            let at = self.now + self.link.latency + Duration::from_millis(extra);
            self.seq += 1;
            self.in_flight.insert((at, self.seq), (to, bytes.to_vec()));
        }
    }

    /// Moves outputs onto the link and collects events.
    fn flush(&mut self) {
        while let Some(d) = self.client.poll_transmit() {
            self.put(To::Server, &d);
        }
        while let Some(t) = self.server.poll_transmit() {
            assert_eq!(t.destination, self.client_addr);
            self.put(To::Client, &t.payload);
        }
        while let Some(e) = self.client.poll_event() {
            self.client_events.push(e);
        }
        while let Some(e) = self.server.poll_event() {
            self.server_events.push(e);
        }
    }

    /// Advances simulated time to the next delivery or timer; false when nothing is pending.
    fn step(&mut self) -> bool {
        self.flush();
        let delivery = self.in_flight.keys().next().map(|k| k.0);
        let timers = [self.client.poll_timeout(), self.server.poll_timeout()];
        let next = timers.into_iter().flatten().chain(delivery).min();
        let Some(next) = next else { return false };
        if let Some(end) = self.horizon
            && next > end
        {
            self.now = end;
            return false;
        }
        self.now = self.now.max(next);
        while let Some(entry) = self.in_flight.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let (to, bytes) = entry.remove();
            match to {
                To::Server => self.server.handle_datagram(self.now, self.client_addr, &bytes),
                To::Client => self.client.handle_datagram(self.now, &bytes),
            }
        }
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        self.flush();
        true
    }

    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Pair) -> bool) -> bool {
        let end = self.now + limit;
        self.horizon = Some(end);
        while self.now < end {
            if done(self) {
                return true;
            }
            if !self.step() {
                return done(self);
            }
        }
        done(self)
    }

    fn connected(&self) -> bool {
        self.client.state() == ClientState::Connected
            && self.server_events.iter().any(|e| matches!(e, ServerEvent::Connected { .. }))
    }

    fn server_datagrams(&self) -> Vec<(Arc<AuthenticatedIdentity>, Vec<u8>)> {
        self.server_events
            .iter()
            .filter_map(|e| match e {
                ServerEvent::Datagram(d) => Some((d.identity.clone(), d.payload.clone())),
                _ => None,
            })
            .collect()
    }

    fn client_datagrams(&self) -> Vec<Vec<u8>> {
        self.client_events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Datagram(d) => Some(d.clone()),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn psk_handshake_and_data_both_ways() {
    let mut pair = Pair::psk(PERFECT, 1);
    pair.client.send(b"queued before connect").unwrap();
    assert!(pair.run_until(Duration::from_secs(5), Pair::connected));
    assert_eq!(pair.client.server_identity(), Some(&AuthenticatedIdentity::psk(b"dev1")));
    assert!(pair.run_until(Duration::from_secs(1), |p| !p.server_datagrams().is_empty()));
    let got = pair.server_datagrams();
    assert_eq!(got[0].1, b"queued before connect");
    assert_eq!(*got[0].0, AuthenticatedIdentity::psk(b"dev1"));
    assert_eq!(got[0].0.implied_endpoint_name(), Some("dev1"));
    let now = pair.now;
    let peer = pair.client_addr;
    pair.server.send(now, peer, b"reply").unwrap();
    assert!(pair.run_until(Duration::from_secs(1), |p| !p.client_datagrams().is_empty()));
    assert_eq!(pair.client_datagrams(), vec![b"reply".to_vec()]);
    let stats = pair.server.stats();
    assert_eq!((stats.sessions, stats.handshakes, stats.handshakes_completed), (1, 0, 1));
    // The sans-IO server stayed on the HelloVerifyRequest path: two ClientHellos were needed.
    assert_eq!(stats.handshakes_started, 1);
}

#[test]
fn handshake_completes_under_loss_duplication_and_reordering() {
    let link =
        Link { drop: 0.3, duplicate: 0.15, jitter: Duration::from_millis(80), latency: Duration::from_millis(20) };
    let mut total_sent = 0;
    for seed in 1..=12u64 {
        let mut pair = Pair::psk(link, seed * 7919);
        let ok = pair.run_until(Duration::from_secs(50), Pair::connected);
        assert!(
            ok,
            "seed {seed}: handshake did not complete; events {:?} / {:?}",
            pair.client_events, pair.server_events
        );
        // DTLS does not make application data reliable (CoAP does); check the keys agree.
        pair.link = PERFECT;
        pair.client.send(b"ping").unwrap();
        assert!(pair.run_until(Duration::from_secs(1), |p| !p.server_datagrams().is_empty()));
        assert_eq!(pair.server_datagrams().len(), 1, "seed {seed}: delivered exactly once");
        total_sent += pair.datagrams_sent;
    }
    // A clean handshake is 6 datagrams (+1 for the data); the link dropped enough to force resends.
    assert!(total_sent > 12 * 7, "flights were retransmitted ({total_sent} datagrams)");
}

#[test]
fn wrong_psk_fails_on_both_sides_with_typed_errors() {
    let now = Instant::now();
    let server = psk_server(psk_store(b"dev1", KEY));
    let mut pair = Pair::new(psk_client(b"dev1", b"another key 1234", now), server, now, PERFECT, 3);
    pair.client.send(b"Register").unwrap();
    assert!(pair.run_until(Duration::from_secs(10), |p| p.client.state() == ClientState::Failed));
    assert!(
        pair.server_events.contains(&ServerEvent::HandshakeFailed {
            peer: pair.client_addr,
            error: DtlsError::BadPsk { identity: "dev1".into() }
        }),
        "{:?}",
        pair.server_events
    );
    assert!(pair.client_events.contains(&ClientEvent::Failed(DtlsError::PeerAlert(AlertDescription::DECRYPT_ERROR))));
    assert!(pair.server_datagrams().is_empty(), "no application data (no registration) got through");
    assert_eq!(pair.server.stats().sessions, 0);
    assert_eq!(pair.client.send(b"x"), Err(DtlsError::Closed));
}

#[test]
fn unknown_identity_fails_with_unknown_psk_identity() {
    let now = Instant::now();
    let server = psk_server(psk_store(b"dev1", KEY));
    let mut pair = Pair::new(psk_client(b"intruder", KEY, now), server, now, PERFECT, 4);
    assert!(pair.run_until(Duration::from_secs(10), |p| p.client.state() == ClientState::Failed));
    assert!(pair.server_events.iter().any(|e| matches!(e,
        ServerEvent::HandshakeFailed { error: DtlsError::UnknownPskIdentity { identity }, .. } if identity == "intruder")));
    let alert = AlertDescription::UNKNOWN_PSK_IDENTITY;
    assert!(pair.client_events.contains(&ClientEvent::Failed(DtlsError::PeerAlert(alert))));
    assert!(alert.is_permanent_failure(), "LwM2M: do not retry after unknown_psk_identity");
}

#[test]
fn handshake_deadline_frees_state_on_both_sides() {
    // The server's HelloVerifyRequest arrives; everything it sends after that is lost.
    let now = Instant::now();
    let mut client_config = ClientConfig::psk(PskCredential::new(b"dev1", KEY).unwrap());
    client_config.timing = HandshakeTiming { handshake_timeout: Duration::from_secs(20), ..timing() };
    let mut client = DtlsClient::new(client_config, now).unwrap();
    let mut server = psk_server(psk_store(b"dev1", KEY));
    let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let mut t = now;
    let mut client_failed = None;
    while t < now + Duration::from_secs(120) {
        while let Some(d) = client.poll_transmit() {
            server.handle_datagram(t, peer, &d);
        }
        while let Some(transmit) = server.poll_transmit() {
            if server.stats().handshakes == 0 {
                client.handle_datagram(t, &transmit.payload);
            }
        }
        if let Some(ClientEvent::Failed(e)) = client.poll_event() {
            client_failed = Some(e);
        }
        t += Duration::from_millis(250);
        client.handle_timeout(t);
        server.handle_timeout(t);
    }
    assert_eq!(client_failed, Some(DtlsError::HandshakeTimeout(Duration::from_secs(20))));
    assert_eq!(server.stats().handshakes_started, 1, "the cookie came back and created state");
    assert_eq!(server.stats().handshakes, 0, "the half-open handshake was dropped");
    let mut timed_out = false;
    while let Some(e) = server.poll_event() {
        timed_out |= matches!(e, ServerEvent::HandshakeFailed { error: DtlsError::HandshakeTimeout(_), .. });
    }
    assert!(timed_out);
}

#[test]
fn garbage_and_truncated_records_never_panic_and_do_not_break_sessions() {
    let mut pair = Pair::psk(PERFECT, 5);
    assert!(pair.run_until(Duration::from_secs(5), Pair::connected));
    let mut rng = LinkRng(99);
    let mut samples: Vec<Vec<u8>> =
        vec![vec![], vec![22], vec![22, 0xfe, 0xfd], vec![23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 40]];
    // Truncations of a real ClientHello and of real records.
    let mut fresh = psk_client(b"dev1", KEY, pair.now);
    let hello = fresh.poll_transmit().unwrap();
    for cut in 0..hello.len() {
        samples.push(hello[..cut].to_vec());
    }
    for _ in 0..300 {
        let len = (rng.next() % 200) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if let Some(first) = bytes.first_mut() {
            *first = [20u8, 21, 22, 23][(rng.next() % 4) as usize];
        }
        if bytes.len() > 4 {
            bytes[1] = 0xfe;
            bytes[2] = 0xfd;
            bytes[3] = (rng.next() % 2) as u8;
            bytes[4] = 0;
        }
        samples.push(bytes);
    }
    let now = pair.now;
    let stranger: SocketAddr = "127.0.0.1:9".parse().unwrap();
    for s in &samples {
        pair.server.handle_datagram(now, pair.client_addr, s);
        pair.server.handle_datagram(now, stranger, s);
        pair.client.handle_datagram(now, s);
    }
    while pair.server.poll_transmit().is_some() {}
    pair.server_events.clear();
    pair.client.send(b"still alive").unwrap();
    assert!(pair.run_until(Duration::from_secs(2), |p| !p.server_datagrams().is_empty()));
    assert_eq!(pair.server_datagrams()[0].1, b"still alive");
    assert!(pair.server.stats().dropped_datagrams > 0);
}

/// (content type, first byte of the fragment) of each record in a datagram (epoch 0 only).
fn record_types(datagram: &[u8]) -> Vec<(u8, u8)> {
    let mut out = Vec::new();
    let mut rest = datagram;
    while rest.len() >= 13 {
        let len = usize::from(u16::from_be_bytes([rest[11], rest[12]]));
        let Some(body) = rest.get(13..13 + len) else { break };
        if rest[3..5] == [0, 0] {
            out.push((rest[0], body.first().copied().unwrap_or(0)));
        }
        rest = &rest[13 + len..];
    }
    out
}

#[test]
fn client_hello_flood_from_spoofed_ports_creates_no_state() {
    let now = Instant::now();
    let mut config = ServerConfig::psk(psk_store(b"dev1", KEY));
    config.limits = ServerLimits { max_handshakes: 64, ..ServerLimits::default() };
    let mut server = DtlsServer::new(config).unwrap();
    // One real ClientHello, replayed from 5,000 spoofed source ports: each gets a stateless
    // HelloVerifyRequest and nothing is kept.
    let mut spoofer = psk_client(b"dev1", KEY, now);
    let hello = spoofer.poll_transmit().unwrap();
    let spoofed = |port: u16| SocketAddr::from(([10, 0, (port >> 8) as u8, port as u8], 1000 + port));
    for port in 0..5000u16 {
        server.handle_datagram(now, spoofed(port), &hello);
        assert_eq!(server.stats().handshakes, 0);
        assert!(server.poll_transmit().is_some(), "a HelloVerifyRequest per ClientHello");
    }
    // The attacker gets a valid cookie for its own address and replays the cookie-bearing
    // ClientHello from spoofed addresses: the cookie is bound to the address, so still no state.
    let own: SocketAddr = "10.9.9.9:4000".parse().unwrap();
    server.handle_datagram(now, own, &hello);
    let hvr = server.poll_transmit().unwrap();
    spoofer.handle_datagram(now, &hvr.payload);
    let with_cookie = spoofer.poll_transmit().unwrap();
    for port in 0..1000u16 {
        server.handle_datagram(now, spoofed(port), &with_cookie);
        assert_eq!(server.stats().handshakes, 0);
        while server.poll_transmit().is_some() {}
    }
    let stats = server.stats();
    assert_eq!((stats.handshakes, stats.sessions, stats.handshakes_started, stats.evicted), (0, 0, 0, 0));
    assert_eq!(stats.hello_verify_requests, 5000 + 1 + 1000);
    // From its own address the cookie works (that costs the attacker a real round trip).
    server.handle_datagram(now, own, &with_cookie);
    assert_eq!(server.stats().handshakes, 1);
    assert!(record_types(&server.poll_transmit().unwrap().payload).contains(&(22, 2)), "a ServerHello");
    while server.poll_transmit().is_some() {}
    // A real client gets through.
    let mut pair = Pair::new(psk_client(b"dev1", KEY, now), server, now, PERFECT, 6);
    assert!(pair.run_until(Duration::from_secs(5), Pair::connected));
    assert_eq!(pair.server.stats().sessions, 1);
}

#[test]
fn session_limit_and_idle_eviction() {
    let now = Instant::now();
    let mut config = ServerConfig::psk(psk_store(b"dev1", KEY));
    config.limits = ServerLimits { max_sessions: 2, idle_timeout: Duration::from_secs(30), ..ServerLimits::default() };
    let server = DtlsServer::new(config).unwrap();
    let mut pair = Pair::new(psk_client(b"dev1", KEY, now), server, now, PERFECT, 7);
    for port in 1..=3u16 {
        pair.client_addr = SocketAddr::from(([127, 0, 0, 1], port));
        pair.client = psk_client(b"dev1", KEY, pair.now);
        pair.server_events.clear();
        assert!(pair.run_until(Duration::from_secs(5), Pair::connected), "client {port}");
        pair.now += Duration::from_secs(1);
    }
    assert_eq!(pair.server.stats().sessions, 2);
    let evicted: SocketAddr = "127.0.0.1:1".parse().unwrap();
    assert!(
        pair.server_events
            .iter()
            .any(|e| matches!(e, ServerEvent::Closed { peer, reason: DtlsError::Limit { .. } } if *peer == evicted))
    );
    assert!(pair.server.identity(evicted).is_none());
    pair.now += Duration::from_secs(31);
    let now = pair.now;
    pair.server.handle_timeout(now);
    assert_eq!(pair.server.stats().sessions, 0, "idle sessions evicted");
    let mut idle = 0;
    while let Some(e) = pair.server.poll_event() {
        idle += usize::from(matches!(e, ServerEvent::Closed { reason: DtlsError::IdleTimeout(_), .. }));
    }
    assert_eq!(idle, 2);
}

#[test]
fn client_rehandshakes_after_the_server_lost_its_state() {
    let mut pair = Pair::psk(PERFECT, 8);
    assert!(pair.run_until(Duration::from_secs(5), Pair::connected));
    // The server restarts and forgets every session.
    pair.server = psk_server(psk_store(b"dev1", KEY));
    pair.server_events.clear();
    pair.client.send(b"lost").unwrap();
    pair.run_until(Duration::from_secs(2), |_| false);
    assert!(pair.server_datagrams().is_empty());
    assert!(pair.server.stats().dropped_datagrams >= 1, "records of the old session are dropped silently");
    // The CoAP layer's exchange timed out: it asks for a new handshake and resends.
    let now = pair.now;
    pair.client.restart(now).unwrap();
    pair.client.send(b"again").unwrap();
    assert!(pair.run_until(Duration::from_secs(5), |p| !p.server_datagrams().is_empty()));
    assert_eq!(pair.server_datagrams()[0].1, b"again");
    assert_eq!(pair.client.handshakes_started(), 2);
    // The client offered its session; the new server does not know it and ran a full handshake.
    assert!(!pair.client.is_resumed());
    assert_eq!(pair.server.stats().handshakes_resumed, 0);
    assert!(pair.client.has_resumable_session(), "the new full handshake gives a new session to resume");
}

#[test]
fn new_handshake_from_an_established_peer_replaces_the_session() {
    let mut pair = Pair::psk(PERFECT, 9);
    assert!(pair.run_until(Duration::from_secs(5), Pair::connected));
    // The client lost its state (reboot) and handshakes again from the same address.
    let now = pair.now;
    pair.client.restart(now).unwrap();
    pair.server_events.clear();
    pair.client.send(b"after reboot").unwrap();
    assert!(pair.run_until(Duration::from_secs(5), |p| !p.server_datagrams().is_empty()));
    assert_eq!(pair.server.stats().sessions, 1);
    assert_eq!(pair.server.stats().handshakes_completed, 2);
}

#[test]
fn late_duplicate_of_the_client_hello_does_not_disturb_the_established_session() {
    // On a link that duplicates and delays, the cookie-bearing ClientHello can arrive again after
    // the handshake completed (an on-path attacker can replay it too). It must not start a second
    // handshake that would then take the session's encrypted records.
    let mut pair = Pair::psk(PERFECT, 11);
    assert!(pair.run_until(Duration::from_secs(5), Pair::connected));
    let hellos: Vec<Vec<u8>> =
        pair.to_server_log.iter().filter(|d| d.len() > 13 && d[0] == 22 && d[13] == 1).cloned().collect();
    assert_eq!(hellos.len(), 2, "ClientHello, then ClientHello with the cookie");
    let before = pair.server.stats();
    let (now, peer) = (pair.now, pair.client_addr);
    for hello in &hellos {
        pair.server.handle_datagram(now, peer, hello);
    }
    let after = pair.server.stats();
    assert_eq!(after.handshakes_started, before.handshakes_started, "no handshake started: {after:?}");
    assert_eq!(after.handshakes, 0);
    pair.client.send(b"still here").unwrap();
    assert!(pair.run_until(Duration::from_secs(1), |p| !p.server_datagrams().is_empty()));
    assert_eq!(pair.server_datagrams()[0].1, b"still here");
    assert_eq!(pair.server.stats().sessions, 1);
}

// ---- certificates ----

struct Pki {
    ca: rcgen::Issuer<'static, rcgen::KeyPair>,
    ca_der: Vec<u8>,
}

impl Pki {
    fn new(name: &str) -> Self {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        Pki { ca_der: cert.der().to_vec(), ca: rcgen::Issuer::new(params, key) }
    }

    fn leaf(&self, common_name: &str, dns: &[&str], expired: bool) -> CertifiedKey {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params =
            rcgen::CertificateParams::new(dns.iter().map(ToString::to_string).collect::<Vec<_>>()).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = params.signed_by(&key, &self.ca).unwrap();
        CertifiedKey::from_der(cert.der().to_vec(), key.serialize_der())
    }

    fn anchors(&self) -> TrustAnchors {
        TrustAnchors::from_der(vec![self.ca_der.clone()])
    }

    /// An intermediate CA this CA issues (its `ca_der` is the intermediate's certificate).
    fn intermediate(&self, name: &str) -> Pki {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        let cert = params.signed_by(&key, &self.ca).unwrap();
        Pki { ca_der: cert.der().to_vec(), ca: rcgen::Issuer::new(params, key) }
    }
}

fn cert_pair(
    server_key: CertifiedKey,
    client_trust: TrustAnchors,
    client_key: CertifiedKey,
    server_trust: TrustAnchors,
    server_name: Option<&str>,
    seed: u64,
) -> Pair {
    let now = Instant::now();
    let mut config = ServerConfig::psk(Arc::new(MemoryCredentialStore::new()));
    config.certificate = Some(server_key);
    config.client_trust = Some(client_trust);
    config.timing = timing();
    let server = DtlsServer::new(config).unwrap();
    let client = DtlsClient::new(
        ClientConfig {
            credentials: ClientCredentials::Certificate {
                certificate: client_key,
                server_trust,
                server_name: server_name.map(str::to_owned),
            },
            timing: timing(),
            ..ClientConfig::new(ClientCredentials::Psk(PskCredential::new(b"unused", KEY).unwrap()))
        },
        now,
    )
    .unwrap();
    Pair::new(client, server, now, PERFECT, seed)
}

#[test]
fn certificates_mutual_authentication_and_rejections() {
    let pki = Pki::new("LwM2M test CA");
    let server_key = pki.leaf("lwm2m.example", &["lwm2m.example"], false);

    // Valid both ways: the client's identity is its certificate's commonName.
    let mut pair = cert_pair(
        server_key.clone(),
        pki.anchors(),
        pki.leaf("urn:dev:cert-1", &[], false),
        pki.anchors(),
        Some("lwm2m.example"),
        10,
    );
    pair.client.send(b"Register").unwrap();
    assert!(pair.run_until(Duration::from_secs(5), |p| !p.server_datagrams().is_empty()), "{:?}", pair.client_events);
    let (identity, _) = &pair.server_datagrams()[0];
    assert_eq!(identity.implied_endpoint_name(), Some("urn:dev:cert-1"));
    let Some(AuthenticatedIdentity::Certificate(server_cert)) = pair.client.server_identity() else { panic!() };
    assert_eq!(server_cert.dns_names, vec!["lwm2m.example".to_string()]);

    // A client certificate from another CA.
    let rogue = Pki::new("rogue CA");
    let mut pair =
        cert_pair(server_key.clone(), pki.anchors(), rogue.leaf("urn:dev:x", &[], false), pki.anchors(), None, 11);
    assert!(pair.run_until(Duration::from_secs(10), |p| p.client.state() == ClientState::Failed));
    assert!(
        pair.server_events.iter().any(|e| matches!(
            e,
            ServerEvent::HandshakeFailed { error: DtlsError::Certificate(CertificateError::UnknownIssuer), .. }
        )),
        "{:?}",
        pair.server_events
    );

    // An expired client certificate.
    let mut pair =
        cert_pair(server_key.clone(), pki.anchors(), pki.leaf("urn:dev:old", &[], true), pki.anchors(), None, 12);
    assert!(pair.run_until(Duration::from_secs(10), |p| p.client.state() == ClientState::Failed));
    assert!(
        pair.server_events.iter().any(|e| matches!(
            e,
            ServerEvent::HandshakeFailed { error: DtlsError::Certificate(CertificateError::Expired), .. }
        )),
        "{:?}",
        pair.server_events
    );

    // The client does not trust the server's CA.
    let mut pair =
        cert_pair(server_key.clone(), pki.anchors(), pki.leaf("urn:dev:2", &[], false), rogue.anchors(), None, 13);
    assert!(pair.run_until(Duration::from_secs(10), |p| p.client.state() == ClientState::Failed));
    assert!(pair.client_events.contains(&ClientEvent::Failed(DtlsError::Certificate(CertificateError::UnknownIssuer))));

    // The server certificate is for another name.
    let mut pair = cert_pair(
        server_key,
        pki.anchors(),
        pki.leaf("urn:dev:3", &[], false),
        pki.anchors(),
        Some("other.example"),
        14,
    );
    assert!(pair.run_until(Duration::from_secs(10), |p| p.client.state() == ClientState::Failed));
    assert!(
        pair.client_events
            .iter()
            .any(|e| matches!(e, ClientEvent::Failed(DtlsError::Certificate(CertificateError::NameMismatch { .. }))))
    );
}

fn rpk() -> RawPublicKeyPair {
    let key = rcgen::KeyPair::generate().unwrap();
    RawPublicKeyPair::from_private_key_der(&key.serialize_der()).unwrap()
}

/// An RPK server admitting `admitted` (bound to `endpoint`) and an RPK client pinning `pinned`.
fn rpk_pair(
    server_key: &RawPublicKeyPair,
    admitted: Option<(&RawPublicKey, &str)>,
    client_key: &RawPublicKeyPair,
    pinned: &RawPublicKey,
    link: Link,
    seed: u64,
) -> (Pair, Arc<MemoryCredentialStore>) {
    let now = Instant::now();
    let store = Arc::new(MemoryCredentialStore::new());
    if let Some((key, endpoint)) = admitted {
        store.insert_raw_public_key(key, Some(endpoint));
    }
    let mut config = ServerConfig::raw_public_key(store.clone(), server_key.clone());
    config.timing = timing();
    let server = DtlsServer::new(config).unwrap();
    let client = DtlsClient::new(
        ClientConfig {
            timing: timing(),
            ..ClientConfig::new(ClientCredentials::RawPublicKey { key: client_key.clone(), server_key: pinned.clone() })
        },
        now,
    )
    .unwrap();
    (Pair::new(client, server, now, link, seed), store)
}

#[test]
fn raw_public_keys_authenticate_both_sides_and_reach_every_datagram() {
    let (server_key, client_key) = (rpk(), rpk());
    let lossy =
        Link { drop: 0.2, duplicate: 0.1, jitter: Duration::from_millis(40), latency: Duration::from_millis(5) };
    for (link, seed) in [(PERFECT, 20), (lossy, 21)] {
        let (mut pair, store) = rpk_pair(
            &server_key,
            Some((client_key.public_key(), "urn:dev:rpk-1")),
            &client_key,
            server_key.public_key(),
            link,
            seed,
        );
        // Queued before the handshake completes (lost with the handshake flights on the lossy
        // link: DTLS does not make application data reliable, CoAP does).
        pair.client.send(b"Register").unwrap();
        assert!(
            pair.run_until(Duration::from_secs(60), Pair::connected),
            "seed {seed}: {:?} {:?}",
            pair.client_events,
            pair.server_events
        );
        pair.link = PERFECT;
        pair.client.send(b"Update").unwrap();
        assert!(
            pair.run_until(Duration::from_secs(5), |p| p.server_datagrams().iter().any(|(_, d)| d == b"Update")),
            "seed {seed}: {:?}",
            pair.server_events
        );
        if seed == 20 {
            let payloads: Vec<_> = pair.server_datagrams().into_iter().map(|(_, d)| d).collect();
            assert_eq!(payloads, vec![b"Register".to_vec(), b"Update".to_vec()]);
        }
        let expected = AuthenticatedIdentity::RawPublicKey { spki_sha256: client_key.public_key().sha256() };
        for (identity, _) in pair.server_datagrams() {
            assert_eq!(*identity, expected);
        }
        assert!(store.may_use_endpoint(&expected, "urn:dev:rpk-1"));
        assert!(!store.may_use_endpoint(&expected, "urn:dev:other"));
        assert_eq!(
            pair.client.server_identity(),
            Some(&AuthenticatedIdentity::RawPublicKey { spki_sha256: server_key.public_key().sha256() })
        );
        pair.server.send(pair.now, pair.client_addr, b"2.04").unwrap();
        assert!(pair.run_until(Duration::from_secs(60), |p| !p.client_datagrams().is_empty()));
        assert_eq!(pair.client_datagrams(), vec![b"2.04".to_vec()]);
    }
}

#[test]
fn raw_public_key_not_admitted_by_the_server_is_refused() {
    let (server_key, client_key, other) = (rpk(), rpk(), rpk());
    let (mut pair, _) = rpk_pair(
        &server_key,
        Some((other.public_key(), "urn:dev:x")),
        &client_key,
        server_key.public_key(),
        PERFECT,
        22,
    );
    pair.client.send(b"Register").unwrap();
    assert!(pair.run_until(Duration::from_secs(10), |p| p.client.state() == ClientState::Failed));
    let unknown = client_key.public_key().sha256();
    assert!(
        pair.server_events.iter().any(|e| matches!(
            e,
            ServerEvent::HandshakeFailed {
                error: DtlsError::Certificate(CertificateError::UntrustedRawPublicKey { spki_sha256 }), ..
            } if *spki_sha256 == unknown
        )),
        "{:?}",
        pair.server_events
    );
    assert!(pair.server_datagrams().is_empty());
    assert!(pair.client_events.contains(&ClientEvent::Failed(DtlsError::PeerAlert(AlertDescription::BAD_CERTIFICATE))));
    let message = DtlsError::Certificate(CertificateError::UntrustedRawPublicKey { spki_sha256: unknown }).to_string();
    assert!(message.contains(&format!("{:02x}{:02x}", unknown[0], unknown[1])), "{message}");
}

#[test]
fn client_refuses_a_server_key_other_than_the_pinned_one() {
    let (server_key, client_key, pinned) = (rpk(), rpk(), rpk());
    let (mut pair, _) = rpk_pair(
        &server_key,
        Some((client_key.public_key(), "urn:dev:y")),
        &client_key,
        pinned.public_key(),
        PERFECT,
        23,
    );
    pair.client.send(b"Register").unwrap();
    assert!(pair.run_until(Duration::from_secs(10), |p| p.client.state() == ClientState::Failed));
    let presented = server_key.public_key().sha256();
    assert!(
        pair.client_events.contains(&ClientEvent::Failed(DtlsError::Certificate(
            CertificateError::UntrustedRawPublicKey { spki_sha256: presented }
        ))),
        "{:?}",
        pair.client_events
    );
    assert!(pair.server_datagrams().is_empty());
    assert!(!pair.server_events.iter().any(|e| matches!(e, ServerEvent::Connected { .. })));
    // The server learns why: the client's bad_certificate alert, not a generic backend error.
    pair.run_until(Duration::from_secs(1), |p| !p.server_events.is_empty());
    assert!(
        pair.server_events.contains(&ServerEvent::HandshakeFailed {
            peer: pair.client_addr,
            error: DtlsError::PeerAlert(AlertDescription::BAD_CERTIFICATE)
        }),
        "{:?}",
        pair.server_events
    );
}

#[test]
fn raw_public_keys_are_not_negotiated_with_certificate_peers() {
    let pki = Pki::new("LwM2M test CA");
    let server_cert = pki.leaf("lwm2m.example", &["lwm2m.example"], false);
    let client_key = rpk();

    // An RPK client against a certificate server: the ServerHello selects no raw public key.
    let now = Instant::now();
    let mut config = ServerConfig::psk(Arc::new(MemoryCredentialStore::new()));
    config.certificate = Some(server_cert.clone());
    config.client_trust = Some(pki.anchors());
    config.timing = timing();
    let client = DtlsClient::new(
        ClientConfig {
            timing: timing(),
            ..ClientConfig::new(ClientCredentials::RawPublicKey {
                key: client_key.clone(),
                server_key: rpk().public_key().clone(),
            })
        },
        now,
    )
    .unwrap();
    let mut pair = Pair::new(client, DtlsServer::new(config).unwrap(), now, PERFECT, 24);
    assert!(pair.run_until(Duration::from_secs(10), |p| p.client.state() == ClientState::Failed));
    assert!(
        pair.client_events
            .contains(&ClientEvent::Failed(DtlsError::Certificate(CertificateError::RawPublicKeyNotNegotiated))),
        "{:?}",
        pair.client_events
    );

    // A certificate client against an RPK server: the ClientHello offers no raw public key.
    let server_key = rpk();
    let mut pair = cert_pair(server_cert, pki.anchors(), pki.leaf("urn:dev:c", &[], false), pki.anchors(), None, 25);
    let mut config = ServerConfig::raw_public_key(Arc::new(MemoryCredentialStore::new()), server_key);
    config.timing = timing();
    pair.server = DtlsServer::new(config).unwrap();
    assert!(pair.run_until(Duration::from_secs(10), |p| p.client.state() == ClientState::Failed));
    assert!(
        pair.server_events.iter().any(|e| matches!(
            e,
            ServerEvent::HandshakeFailed {
                error: DtlsError::Certificate(CertificateError::RawPublicKeyNotNegotiated),
                ..
            }
        )),
        "{:?}",
        pair.server_events
    );
    assert!(
        pair.client_events
            .contains(&ClientEvent::Failed(DtlsError::PeerAlert(AlertDescription::UNSUPPORTED_CERTIFICATE)))
    );
}

#[test]
fn one_endpoint_serves_psk_certificate_and_raw_public_key_clients() {
    // One server with a PSK store, a certificate and a raw public key, as a Leshan-style server
    // runs: each ClientHello selects the mode.
    let pki = Pki::new("LwM2M test CA");
    let (server_rpk, client_rpk) = (rpk(), rpk());
    let store = psk_store(b"dev1", KEY);
    store.insert_raw_public_key(client_rpk.public_key(), Some("urn:dev:rpk"));
    let mut config = ServerConfig::raw_public_key(store.clone(), server_rpk.clone());
    config.certificate = Some(pki.leaf("lwm2m.example", &["lwm2m.example"], false));
    config.client_trust = Some(pki.anchors());
    config.timing = timing();
    let now = Instant::now();
    let cert_client = ClientCredentials::Certificate {
        certificate: pki.leaf("urn:dev:cert", &[], false),
        server_trust: pki.anchors(),
        server_name: Some("lwm2m.example".into()),
    };
    let rpk_client =
        ClientCredentials::RawPublicKey { key: client_rpk.clone(), server_key: server_rpk.public_key().clone() };
    let clients = [
        (ClientCredentials::Psk(PskCredential::new(b"dev1", KEY).unwrap()), "dev1"),
        (cert_client, "urn:dev:cert"),
        (rpk_client, "urn:dev:rpk"),
    ];
    for (seed, (credentials, endpoint)) in (30..).zip(clients) {
        let client = DtlsClient::new(ClientConfig { timing: timing(), ..ClientConfig::new(credentials) }, now).unwrap();
        let mut pair = Pair::new(client, DtlsServer::new(config.clone()).unwrap(), now, PERFECT, seed);
        pair.client.send(b"Register").unwrap();
        assert!(
            pair.run_until(Duration::from_secs(5), |p| !p.server_datagrams().is_empty()),
            "{endpoint}: {:?} {:?}",
            pair.client_events,
            pair.server_events
        );
        let (identity, payload) = &pair.server_datagrams()[0];
        assert_eq!(payload, b"Register");
        assert!(store.may_use_endpoint(identity, endpoint), "{endpoint}: {identity:?}");
    }
}

#[test]
fn certificate_usage_matches_the_server_certificate_as_the_security_object_says() {
    let pki = Pki::new("LwM2M test CA");
    let rogue = Pki::new("rogue CA");
    let server_key = pki.leaf("lwm2m.example", &["lwm2m.example"], false);
    let server_der = server_key.certificate_der().to_vec();
    let other_leaf = pki.leaf("lwm2m.example", &["lwm2m.example"], false).certificate_der().to_vec();
    let (ca_der, rogue_der) = (pki.ca_der.clone(), rogue.ca_der.clone());
    let no_anchors = || TrustAnchors::from_der(vec![]);
    // Connects a client with `usage` and `trust` (and server name "lwm2m.example") to a server
    // presenting `server_key`; Ok(()) or the client's certificate error.
    let connect = |usage: CertificateUsage, trust: TrustAnchors, seed: u64| -> Result<(), CertificateError> {
        let mut config = ServerConfig::psk(Arc::new(MemoryCredentialStore::new()));
        config.certificate = Some(server_key.clone());
        config.client_trust = Some(pki.anchors());
        config.timing = timing();
        let now = Instant::now();
        let credentials = ClientCredentials::Certificate {
            certificate: pki.leaf("urn:dev:usage", &[], false),
            server_trust: trust,
            server_name: Some("lwm2m.example".into()),
        };
        let client_config =
            ClientConfig { timing: timing(), server_certificate_usage: Some(usage), ..ClientConfig::new(credentials) };
        let client = DtlsClient::new(client_config, now).unwrap();
        let mut pair = Pair::new(client, DtlsServer::new(config).unwrap(), now, PERFECT, seed);
        pair.client.send(b"x").unwrap();
        pair.run_until(Duration::from_secs(10), |p| {
            !p.server_datagrams().is_empty() || p.client.state() == ClientState::Failed
        });
        match pair.client_events.iter().find_map(|e| match e {
            ClientEvent::Failed(DtlsError::Certificate(c)) => Some(c.clone()),
            _ => None,
        }) {
            Some(error) => Err(error),
            None if pair.server_datagrams().len() == 1 => Ok(()),
            None => panic!("neither connected nor a certificate error: {:?}", pair.client_events),
        }
    };
    let mismatch = |usage, rule| Err(CertificateError::UsageMismatch { usage, rule });

    // 3, domain-issued certificate (the LwM2M default): pinned leaf, no trust anchors needed.
    assert_eq!(connect(CertificateUsage::DomainIssued(server_der.clone()), no_anchors(), 40), Ok(()));
    assert_eq!(
        connect(CertificateUsage::DomainIssued(other_leaf.clone()), pki.anchors(), 41),
        mismatch(3, "the given certificate, byte for byte")
    );
    // 2, trust anchor assertion: the given CA is the only anchor.
    assert_eq!(connect(CertificateUsage::TrustAnchor(ca_der.clone()), no_anchors(), 42), Ok(()));
    assert_eq!(
        connect(CertificateUsage::TrustAnchor(rogue_der.clone()), pki.anchors(), 43),
        Err(CertificateError::UnknownIssuer)
    );
    // 1, service certificate constraint: PKIX and the pinned leaf.
    assert_eq!(connect(CertificateUsage::ServiceCertificate(server_der.clone()), pki.anchors(), 44), Ok(()));
    assert_eq!(
        connect(CertificateUsage::ServiceCertificate(other_leaf), pki.anchors(), 45),
        mismatch(1, "the given certificate")
    );
    assert_eq!(
        connect(CertificateUsage::ServiceCertificate(server_der), no_anchors(), 46),
        Err(CertificateError::UnknownIssuer),
        "PKIX still applies"
    );
    // 0, CA constraint: PKIX and issued by the given CA.
    assert_eq!(connect(CertificateUsage::CaConstraint(ca_der), pki.anchors(), 47), Ok(()));
    assert_eq!(
        connect(CertificateUsage::CaConstraint(rogue_der), pki.anchors(), 48),
        mismatch(0, "issued by the given CA")
    );
    assert_eq!(CertificateUsage::from_resources(3, vec![1]), Some(CertificateUsage::DomainIssued(vec![1])));
    assert_eq!(CertificateUsage::from_resources(4, vec![1]), None);
}

// ---- session resumption (RFC 5246 §7.3) ----

/// Restarts the client of a connected pair and runs until the server got a datagram over the
/// new session; returns the client datagrams sent from the restart to the connection.
fn restart_and_send(pair: &mut Pair, payload: &[u8]) -> usize {
    pair.server_events.clear();
    let now = pair.now;
    let sent_before = pair.datagrams_sent;
    pair.client.restart(now).unwrap();
    pair.client.send(payload).unwrap();
    assert!(
        pair.run_until(Duration::from_secs(10), |p| !p.server_datagrams().is_empty()),
        "client {:?} server {:?}",
        pair.client_events,
        pair.server_events
    );
    pair.datagrams_sent - sent_before
}

#[test]
fn psk_session_resumes_with_an_abbreviated_handshake_and_the_same_identity() {
    let mut pair = Pair::psk(PERFECT, 21);
    assert!(pair.run_until(Duration::from_secs(5), Pair::connected));
    assert!(!pair.client.is_resumed());
    assert!(pair.client.has_resumable_session());
    let sent = restart_and_send(&mut pair, b"resumed");
    assert!(pair.client.is_resumed());
    assert_eq!(pair.server.stats().handshakes_resumed, 1);
    assert_eq!(pair.server.stats().handshakes_completed, 2);
    let (identity, payload) = &pair.server_datagrams()[0];
    assert_eq!(payload, b"resumed");
    assert_eq!(**identity, AuthenticatedIdentity::psk(b"dev1"));
    assert_eq!(
        pair.server.identity(pair.client_addr).map(|i| (**i).clone()),
        Some(AuthenticatedIdentity::psk(b"dev1"))
    );
    // ClientHello, HelloVerifyRequest, ClientHello, ServerHello+CCS+Finished, CCS+Finished, data.
    assert!(sent <= 6, "{sent} datagrams for an abbreviated handshake");
    // Data flows both ways, and the resumed session can be resumed again.
    pair.server.send(pair.now, pair.client_addr, b"ack").unwrap();
    assert!(pair.run_until(Duration::from_secs(5), |p| !p.client_datagrams().is_empty()));
    restart_and_send(&mut pair, b"twice");
    assert!(pair.client.is_resumed());
    assert_eq!(pair.server.stats().handshakes_resumed, 2);
}

#[test]
fn resumption_completes_over_a_lossy_link() {
    let lossy =
        Link { drop: 0.2, duplicate: 0.1, jitter: Duration::from_millis(40), latency: Duration::from_millis(20) };
    for seed in 1..=8 {
        let mut pair = Pair::psk(PERFECT, seed);
        assert!(pair.run_until(Duration::from_secs(5), Pair::connected));
        pair.link = lossy;
        pair.server_events.clear();
        let now = pair.now;
        pair.client.restart(now).unwrap();
        // Application data is not retransmitted (CoAP does that), so wait for both sides.
        assert!(
            pair.run_until(Duration::from_secs(60), Pair::connected),
            "seed {seed}: {:?} {:?}",
            pair.client_events,
            pair.server_events
        );
        assert!(pair.client.is_resumed(), "seed {seed}");
        assert_eq!(pair.server.stats().handshakes_resumed, 1, "seed {seed}");
    }
}

#[test]
fn revoked_psk_identity_cannot_resume() {
    let now = Instant::now();
    let store = psk_store(b"dev1", KEY);
    let mut pair = Pair::new(psk_client(b"dev1", KEY, now), psk_server(store.clone()), now, PERFECT, 22);
    assert!(pair.run_until(Duration::from_secs(5), Pair::connected));
    store.remove_psk(b"dev1");
    pair.server_events.clear();
    let now = pair.now;
    pair.client.restart(now).unwrap();
    assert!(pair.run_until(Duration::from_secs(10), |p| p.client.state() == ClientState::Failed));
    assert!(!pair.client.is_resumed());
    assert_eq!(pair.server.stats().handshakes_resumed, 0);
    assert!(
        pair.server_events
            .iter()
            .any(|e| matches!(e, ServerEvent::HandshakeFailed { error: DtlsError::UnknownPskIdentity { .. }, .. })),
        "{:?}",
        pair.server_events
    );
    assert!(!pair.client.has_resumable_session(), "a failed handshake forgets the session");
}

#[test]
fn tampered_session_id_is_not_resumed_and_the_handshake_fails_cleanly() {
    let mut pair = Pair::psk(PERFECT, 23);
    assert!(pair.run_until(Duration::from_secs(5), Pair::connected));
    // An on-path attacker changes the offered session id: the server does not know it and
    // starts a full handshake, which the Finished check (over the real ClientHello) rejects.
    pair.tamper_session_id = true;
    pair.server_events.clear();
    let now = pair.now;
    pair.client.restart(now).unwrap();
    assert!(pair.run_until(Duration::from_secs(10), |p| p.client.state() == ClientState::Failed));
    assert!(pair.tamper_session_id_seen);
    assert!(!pair.client.is_resumed());
    assert_eq!(pair.server.stats().handshakes_resumed, 0);
    assert!(
        pair.server_events.iter().any(|e| matches!(e, ServerEvent::HandshakeFailed { .. })),
        "{:?}",
        pair.server_events
    );
    // The client forgot the session; the next handshake is a full one and succeeds.
    assert!(!pair.client.has_resumable_session());
    pair.tamper_session_id = false;
    restart_and_send(&mut pair, b"full");
    assert!(!pair.client.is_resumed());
    assert_eq!(*pair.server_datagrams()[0].0, AuthenticatedIdentity::psk(b"dev1"));
}

#[test]
fn resumption_can_be_disabled_and_expires() {
    let now = Instant::now();
    // max_resumable_sessions 0: no session ids, every handshake is a full one.
    let mut config = ServerConfig::psk(psk_store(b"dev1", KEY));
    config.timing = timing();
    config.limits = ServerLimits { max_resumable_sessions: 0, ..ServerLimits::default() };
    let mut pair = Pair::new(psk_client(b"dev1", KEY, now), DtlsServer::new(config).unwrap(), now, PERFECT, 24);
    assert!(pair.run_until(Duration::from_secs(5), Pair::connected));
    assert!(!pair.client.has_resumable_session());
    restart_and_send(&mut pair, b"x");
    assert!(!pair.client.is_resumed());

    // A lifetime of 10 s: resumed at once, full after it passed.
    let mut config = ServerConfig::psk(psk_store(b"dev1", KEY));
    config.timing = timing();
    config.limits = ServerLimits { resumption_lifetime: Duration::from_secs(10), ..ServerLimits::default() };
    let mut pair = Pair::new(psk_client(b"dev1", KEY, now), DtlsServer::new(config).unwrap(), now, PERFECT, 25);
    assert!(pair.run_until(Duration::from_secs(5), Pair::connected));
    restart_and_send(&mut pair, b"y");
    assert!(pair.client.is_resumed());
    pair.run_until(Duration::from_secs(11), |_| false);
    restart_and_send(&mut pair, b"z");
    assert!(!pair.client.is_resumed());
    assert_eq!(pair.server.stats().handshakes_resumed, 1);
}

#[test]
fn certificate_and_raw_public_key_sessions_resume_with_their_identities() {
    let pki = Pki::new("LwM2M test CA");
    let mut pair = cert_pair(
        pki.leaf("lwm2m.example", &["lwm2m.example"], false),
        pki.anchors(),
        pki.leaf("urn:dev:cert-1", &[], false),
        pki.anchors(),
        Some("lwm2m.example"),
        26,
    );
    assert!(pair.run_until(Duration::from_secs(5), Pair::connected));
    restart_and_send(&mut pair, b"cert");
    assert!(pair.client.is_resumed());
    assert_eq!(pair.server.stats().handshakes_resumed, 1);
    assert_eq!(pair.server_datagrams()[0].0.implied_endpoint_name(), Some("urn:dev:cert-1"));
    let Some(AuthenticatedIdentity::Certificate(server_cert)) = pair.client.server_identity() else { panic!() };
    assert_eq!(server_cert.dns_names, vec!["lwm2m.example".to_string()]);

    let (server_key, client_key) = (rpk(), rpk());
    let (mut pair, _store) = rpk_pair(
        &server_key,
        Some((client_key.public_key(), "urn:dev:rpk-1")),
        &client_key,
        server_key.public_key(),
        PERFECT,
        27,
    );
    assert!(pair.run_until(Duration::from_secs(5), Pair::connected));
    restart_and_send(&mut pair, b"rpk");
    assert!(pair.client.is_resumed());
    assert_eq!(pair.server.stats().handshakes_resumed, 1);
    assert_eq!(*pair.server_datagrams()[0].0, AuthenticatedIdentity::raw_public_key(client_key.public_key()));
    assert_eq!(pair.client.server_identity(), Some(&AuthenticatedIdentity::raw_public_key(server_key.public_key())));
}

#[test]
fn certificate_validity_is_checked_at_the_time_passed_in() {
    // The endpoints read no clock: a certificate valid only in 2020 is accepted when the server's
    // wall clock maps `now` into 2020, and refused with the system clock (see the expired case in
    // certificates_mutual_authentication_and_rejections).
    let pki = Pki::new("LwM2M test CA");
    let mut pair = cert_pair(
        pki.leaf("lwm2m.example", &["lwm2m.example"], false),
        pki.anchors(),
        pki.leaf("urn:dev:2020", &[], true),
        pki.anchors(),
        None,
        50,
    );
    let june_2020 = std::time::UNIX_EPOCH + Duration::from_secs(1_590_969_600);
    let mut config = ServerConfig::psk(Arc::new(MemoryCredentialStore::new()));
    config.certificate = Some(pki.leaf("lwm2m.example", &["lwm2m.example"], false));
    config.client_trust = Some(pki.anchors());
    config.timing = timing();
    config.wall_clock = WallClock::at(pair.now, june_2020);
    pair.server = DtlsServer::new(config).unwrap();
    pair.client.send(b"from 2020").unwrap();
    assert!(pair.run_until(Duration::from_secs(5), |p| !p.server_datagrams().is_empty()), "{:?}", pair.server_events);
}

#[test]
fn a_send_after_a_quiet_period_rehandshakes_first() {
    // The re-handshake policy lives in the sans-IO client (the socket only calls prepare_send).
    let mut pair = Pair::psk(PERFECT, 60);
    assert!(pair.run_until(Duration::from_secs(5), Pair::connected));
    let now = pair.now;
    assert_eq!(pair.client.prepare_send(now + Duration::from_secs(59)), Ok(false));
    let started = pair.client.handshakes_started();
    assert_eq!(pair.client.prepare_send(now + Duration::from_secs(61)), Ok(true));
    assert_eq!(pair.client.handshakes_started(), started + 1);
    pair.client.set_rehandshake_after(None);
    assert_eq!(pair.client.prepare_send(now + Duration::from_secs(3600)), Ok(false), "disabled");
}

// ---- CBC suites (dimpl patch 6: AES-128-CBC + HMAC-SHA-256, Encrypt-then-MAC only) ----

/// Data both ways over an established pair, `n` datagrams each way of growing size (every
/// padding length of the CBC records).
fn exchange(pair: &mut Pair, n: usize) {
    for i in 0..n {
        let payload: Vec<u8> = (0..i as u8).collect();
        pair.client.send(&payload).unwrap();
        let now = pair.now;
        let peer = pair.client_addr;
        pair.server.send(now, peer, &payload).unwrap();
    }
    assert!(
        pair.run_until(Duration::from_secs(5), |p| p.server_datagrams().len() == n && p.client_datagrams().len() == n)
    );
    let expected: Vec<Vec<u8>> = (0..n).map(|i| (0..i as u8).collect()).collect();
    assert_eq!(pair.server_datagrams().into_iter().map(|d| d.1).collect::<Vec<_>>(), expected);
    assert_eq!(pair.client_datagrams(), expected);
}

/// A PSK client (`dev1`) that offers only TLS_PSK_WITH_AES_128_CBC_SHA256.
fn cbc_psk_client(now: Instant) -> DtlsClient {
    let mut config = ClientConfig::psk(PskCredential::new(b"dev1", KEY).unwrap());
    config.timing = timing();
    config.cipher_suites = vec![CipherSuite::PskAes128CbcSha256];
    DtlsClient::new(config, now).unwrap()
}

#[test]
fn cbc_suites_carry_data_both_ways_and_resume() {
    // PSK: a client that offers only TLS_PSK_WITH_AES_128_CBC_SHA256, a default server.
    let now = Instant::now();
    let client = cbc_psk_client(now);
    let mut pair = Pair::new(client, psk_server(psk_store(b"dev1", KEY)), now, PERFECT, 70);
    assert!(
        pair.run_until(Duration::from_secs(5), Pair::connected),
        "{:?} {:?}",
        pair.client_events,
        pair.server_events
    );
    exchange(&mut pair, 40);
    restart_and_send(&mut pair, b"resumed over CBC");
    assert!(pair.client.is_resumed());

    // Certificates: TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 alone.
    let pki = Pki::new("LwM2M test CA");
    let mut pair = cert_pair(
        pki.leaf("lwm2m.example", &["lwm2m.example"], false),
        pki.anchors(),
        pki.leaf("urn:dev:cbc", &[], false),
        pki.anchors(),
        Some("lwm2m.example"),
        71,
    );
    let mut config = ClientConfig::new(ClientCredentials::Certificate {
        certificate: pki.leaf("urn:dev:cbc", &[], false),
        server_trust: pki.anchors(),
        server_name: Some("lwm2m.example".into()),
    });
    config.timing = timing();
    config.cipher_suites = vec![CipherSuite::EcdheEcdsaAes128CbcSha256];
    pair.client = DtlsClient::new(config, pair.now).unwrap();
    assert!(
        pair.run_until(Duration::from_secs(5), Pair::connected),
        "{:?} {:?}",
        pair.client_events,
        pair.server_events
    );
    exchange(&mut pair, 20);
    assert_eq!(pair.server_datagrams()[0].0.implied_endpoint_name(), Some("urn:dev:cbc"));
}

#[test]
fn cbc_suites_complete_over_a_lossy_link() {
    let link =
        Link { drop: 0.2, duplicate: 0.1, jitter: Duration::from_millis(40), latency: Duration::from_millis(20) };
    for seed in 1..=6u64 {
        let now = Instant::now();
        let client = cbc_psk_client(now);
        let mut pair = Pair::new(client, psk_server(psk_store(b"dev1", KEY)), now, link, seed * 31);
        assert!(pair.run_until(Duration::from_secs(50), Pair::connected), "seed {seed}");
    }
}

#[test]
fn a_server_without_cbc_refuses_a_cbc_only_client() {
    let now = Instant::now();
    let client = cbc_psk_client(now);
    let mut server_config = ServerConfig::psk(psk_store(b"dev1", KEY));
    server_config.timing = timing();
    server_config.cipher_suites = CipherSuite::CLIENT_DEFAULT.to_vec();
    let server = DtlsServer::new(server_config).unwrap();
    let mut pair = Pair::new(client, server, now, PERFECT, 72);
    assert!(pair.run_until(Duration::from_secs(10), |p| p.client.state() == ClientState::Failed));
    assert!(pair.server_datagrams().is_empty());
    assert_eq!(pair.server.stats().sessions, 0);
}

// ---- certificate chains (dimpl patch 7) ----

/// A root CA, an intermediate CA it issued, and leaves the intermediate issues; only the root
/// is a trust anchor.
struct ChainPki {
    root: Pki,
    intermediate: Pki,
}

impl ChainPki {
    fn new() -> Self {
        let root = Pki::new("LwM2M test root");
        ChainPki { intermediate: root.intermediate("LwM2M test intermediate"), root }
    }

    /// A leaf issued by the intermediate, with the intermediate as its chain when `chain`.
    fn leaf(&self, common_name: &str, dns: &[&str], chain: bool) -> CertifiedKey {
        let leaf = self.intermediate.leaf(common_name, dns, false);
        if chain { leaf.with_chain(vec![self.intermediate.ca_der.clone()]) } else { leaf }
    }

    /// A certificate pair (server `lwm2m.example`, client `client_name`) where both trust only
    /// the root and each sends its chain when told to.
    fn pair(&self, server_chain: bool, client_name: &str, client_chain: bool, seed: u64) -> Pair {
        cert_pair(
            self.leaf("lwm2m.example", &["lwm2m.example"], server_chain),
            self.root.anchors(),
            self.leaf(client_name, &[], client_chain),
            self.root.anchors(),
            Some("lwm2m.example"),
            seed,
        )
    }
}

#[test]
fn certificate_chains_are_sent_and_validated_to_the_root_both_ways_and_on_resumption() {
    let pki = ChainPki::new();
    let mut pair = pki.pair(true, "urn:dev:chained", true, 80);
    assert!(
        pair.run_until(Duration::from_secs(5), Pair::connected),
        "{:?} {:?}",
        pair.client_events,
        pair.server_events
    );
    pair.client.send(b"via intermediate").unwrap();
    assert!(pair.run_until(Duration::from_secs(1), |p| !p.server_datagrams().is_empty()));
    assert_eq!(pair.server_datagrams()[0].0.implied_endpoint_name(), Some("urn:dev:chained"));
    restart_and_send(&mut pair, b"resumed");
    assert!(pair.client.is_resumed(), "the resumed session re-validates the stored chain");
    assert_eq!(pair.server_datagrams()[0].0.implied_endpoint_name(), Some("urn:dev:chained"));
}

#[test]
fn a_leaf_without_its_chain_does_not_reach_the_root() {
    let pki = ChainPki::new();
    // The client sends its leaf alone: the server, trusting only the root, cannot build a path.
    let mut pair = pki.pair(true, "urn:dev:alone", false, 81);
    assert!(pair.run_until(Duration::from_secs(10), |p| p.client.state() == ClientState::Failed));
    assert!(
        pair.server_events.iter().any(|e| matches!(
            e,
            ServerEvent::HandshakeFailed { error: DtlsError::Certificate(CertificateError::UnknownIssuer), .. }
        )),
        "{:?}",
        pair.server_events
    );
    // The server sends its leaf alone: the client cannot either.
    let mut pair = pki.pair(false, "urn:dev:chained", true, 82);
    assert!(pair.run_until(Duration::from_secs(10), |p| p.client.state() == ClientState::Failed));
    assert!(pair.client_events.contains(&ClientEvent::Failed(DtlsError::Certificate(CertificateError::UnknownIssuer))));
}

#[test]
fn a_configured_chain_longer_than_peers_validate_is_refused() {
    let pki = ChainPki::new();
    let too_long =
        pki.leaf("lwm2m.example", &["lwm2m.example"], false).with_chain(vec![pki.intermediate.ca_der.clone(); 9]);
    let mut config = ServerConfig::psk(Arc::new(MemoryCredentialStore::new()));
    config.certificate = Some(too_long.clone());
    config.client_trust = Some(pki.root.anchors());
    let err = DtlsServer::new(config).unwrap_err();
    assert!(matches!(&err, DtlsError::InvalidConfig(m) if m.contains("9 intermediates")), "{err}");
    let client = ClientConfig::new(ClientCredentials::Certificate {
        certificate: too_long,
        server_trust: pki.root.anchors(),
        server_name: None,
    });
    assert!(matches!(DtlsClient::new(client, Instant::now()), Err(DtlsError::InvalidConfig(_))));
}
