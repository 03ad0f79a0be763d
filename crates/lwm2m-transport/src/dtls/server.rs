//! The sans-IO DTLS server endpoint: one socket's worth of sessions keyed by peer address.
//!
//! Feed it every datagram from the socket with [`DtlsServer::handle_datagram`], send what
//! [`DtlsServer::poll_transmit`] returns, call [`DtlsServer::handle_timeout`] when
//! [`DtlsServer::poll_timeout`] says, and read [`DtlsServer::poll_event`]: decrypted datagrams come
//! out with the peer's [`AuthenticatedIdentity`].
//!
//! # Defences
//!
//! - Stateless cookies (RFC 6347 §4.2.1): the endpoint itself answers a ClientHello without a
//!   valid cookie with a HelloVerifyRequest and keeps nothing. The cookie is an HMAC over the
//!   peer's address and port, the client random and the session id under a secret that rotates
//!   every 30 s (the previous secret is still accepted). Only a ClientHello that comes back with
//!   a valid cookie, so from a client that receives datagrams at its source address, creates a
//!   backend session (~4.5 KiB with `dimpl`). A flood of spoofed ClientHellos costs one HMAC each
//!   and no memory.
//! - Anything else from an unknown address is dropped without an answer. The handshake table
//!   holds at most [`ServerLimits::max_handshakes`] entries (oldest evicted) and every handshake
//!   has a deadline.
//! - A ClientHello from a peer that has an established session starts a second, separate
//!   handshake (RFC 6347 §4.2.8); the old session keeps working until the new one completes.
//!   A late duplicate or replay of the ClientHello that built the established session (same
//!   client random) is dropped: it must not start a handshake that takes over the session's
//!   records.
//! - Established sessions are bounded by [`ServerLimits::max_sessions`] (least recently active
//!   evicted) and evicted after [`ServerLimits::idle_timeout`] without traffic.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use super::backend::{BackendOutput, BackendSession, DtlsBackend, ServerSessionKind};
use super::config::{CipherSuite, RawPublicKey, ServerConfig, ServerLimits};
use super::cookie::CookieJar;
use super::dimpl_backend::DimplBackend;
use super::error::{CertificateError, DtlsError};
use super::identity::{AuthenticatedIdentity, CertificateIdentity};
use super::record;
use super::verify::{PeerRole, verify_certificate};

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub destination: SocketAddr,
    /// The UDP payload (one or more DTLS records).
    pub payload: Vec<u8>,
}

/// A decrypted application datagram and who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingDatagram {
    /// The peer address.
    pub peer: SocketAddr,
    /// The identity the handshake authenticated.
    pub identity: Arc<AuthenticatedIdentity>,
    /// The plaintext (a CoAP message, for LwM2M).
    pub payload: Vec<u8>,
}

/// Something that happened on the server endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// A handshake completed; datagrams from `peer` now carry `identity`.
    Connected {
        /// The peer address.
        peer: SocketAddr,
        /// The identity the handshake authenticated.
        identity: Arc<AuthenticatedIdentity>,
    },
    /// Application data arrived.
    Datagram(IncomingDatagram),
    /// A handshake failed (the reason is also sent to the peer as an alert where DTLS has one).
    HandshakeFailed {
        /// The peer address.
        peer: SocketAddr,
        /// Why.
        error: DtlsError,
    },
    /// An established session ended (close_notify, idle timeout, eviction, fatal error).
    Closed {
        /// The peer address.
        peer: SocketAddr,
        /// Why.
        reason: DtlsError,
    },
}

/// Counters of a server endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Established sessions now.
    pub sessions: usize,
    /// Handshakes in progress now.
    pub handshakes: usize,
    /// Handshakes started (ClientHellos with a valid cookie, which create state) since creation.
    pub handshakes_started: u64,
    /// ClientHellos answered with a stateless HelloVerifyRequest since creation.
    pub hello_verify_requests: u64,
    /// Handshakes completed.
    pub handshakes_completed: u64,
    /// Of those, abbreviated handshakes that resumed a cached session (RFC 5246 §7.3).
    pub handshakes_resumed: u64,
    /// Handshakes failed or timed out.
    pub handshakes_failed: u64,
    /// Sessions or handshakes evicted because a limit was reached.
    pub evicted: u64,
    /// Datagrams dropped without reaching a session (unknown peer, not a ClientHello).
    pub dropped_datagrams: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Handshaking { started: Instant, answered_hello: bool },
    Established,
}

struct Session<S> {
    id: u64,
    backend: S,
    phase: Phase,
    identity: Option<Arc<AuthenticatedIdentity>>,
    certificate: Option<CertificateIdentity>,
    raw_public_key: Option<[u8; 32]>,
    last_activity: Instant,
    plaintext_sequence: u64,
    deadline: Option<Instant>,
    client_random: Option<[u8; 32]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Handshake,
    Established,
}

/// A sans-IO DTLS server endpoint over backend `B` (default [`DimplBackend`]).
pub struct DtlsServer<B: DtlsBackend = DimplBackend> {
    backend: B,
    context: B::ServerContext,
    config: ServerConfig,
    cookies: CookieJar,
    handshakes: HashMap<SocketAddr, Session<B::Session>>,
    established: HashMap<SocketAddr, Session<B::Session>>,
    handshake_order: VecDeque<(SocketAddr, u64)>,
    timers: BinaryHeap<Reverse<(Instant, u64, SocketAddr)>>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<ServerEvent>,
    stats: ServerStats,
    next_id: u64,
}

impl<B: DtlsBackend> std::fmt::Debug for DtlsServer<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DtlsServer").field("backend", &self.backend.name()).field("stats", &self.stats()).finish()
    }
}

impl DtlsServer<DimplBackend> {
    /// A server endpoint on the default backend.
    pub fn new(config: ServerConfig) -> Result<Self, DtlsError> {
        Self::with_backend(DimplBackend, config)
    }
}

impl<B: DtlsBackend> DtlsServer<B> {
    /// A server endpoint on a chosen backend.
    pub fn with_backend(backend: B, config: ServerConfig) -> Result<Self, DtlsError> {
        if config.limits.max_handshakes == 0 || config.limits.max_sessions == 0 {
            return Err(DtlsError::InvalidConfig("max_handshakes and max_sessions must be at least 1".into()));
        }
        let context = backend.prepare_server(&config)?;
        Ok(Self {
            backend,
            context,
            config,
            cookies: CookieJar::new()?,
            handshakes: HashMap::new(),
            established: HashMap::new(),
            handshake_order: VecDeque::new(),
            timers: BinaryHeap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: ServerStats::default(),
            next_id: 0,
        })
    }

    /// The limits in force.
    pub fn limits(&self) -> &ServerLimits {
        &self.config.limits
    }

    /// Counters, including current session and handshake counts.
    pub fn stats(&self) -> ServerStats {
        ServerStats { sessions: self.established.len(), handshakes: self.handshakes.len(), ..self.stats }
    }

    /// The identity of the established session with `peer`.
    pub fn identity(&self, peer: SocketAddr) -> Option<&Arc<AuthenticatedIdentity>> {
        self.established.get(&peer)?.identity.as_ref()
    }

    /// Processes one datagram received from `peer` at `now`.
    pub fn handle_datagram(&mut self, now: Instant, peer: SocketAddr, datagram: &[u8]) {
        let slot = self.route(now, peer, datagram);
        let Some(slot) = slot else {
            self.stats.dropped_datagrams += 1;
            return;
        };
        let table = match slot {
            Slot::Handshake => &mut self.handshakes,
            Slot::Established => &mut self.established,
        };
        let Some(session) = table.get_mut(&peer) else { return };
        // Activity counts only once a record decrypts (`after_backend_call`): a datagram with a
        // forged source address must not keep a session from idling out or from eviction.
        let result = session.backend.handle_datagram(now, datagram);
        self.after_backend_call(now, peer, slot, result);
    }

    fn route(&mut self, now: Instant, peer: SocketAddr, datagram: &[u8]) -> Option<Slot> {
        if record::starts_with_client_hello(datagram) {
            // A ClientHello that does not fit one record is not answered (RFC 6347 lets a
            // stateless server require that; OpenSSL's listener does the same).
            let hello = record::parse_client_hello(datagram)?;
            if self.handshakes.get(&peer).is_some_and(|h| h.client_random == Some(hello.random)) {
                // A retransmission of the ClientHello that started this handshake: the session
                // resends its flight.
                return Some(Slot::Handshake);
            }
            if self.established.get(&peer).is_some_and(|s| s.client_random == Some(hello.random)) {
                // A late duplicate (or a replay) of the ClientHello that built the established
                // session. A client that really starts over sends a fresh random; starting a
                // handshake here would take the session's encrypted records away from it.
                return None;
            }
            self.cookies.rotate(now);
            if !self.cookies.verify(peer, &hello) {
                let cookie = self.cookies.cookie(peer, &hello);
                let payload = record::hello_verify_request(&hello, &cookie);
                self.transmits.push_back(Transmit { destination: peer, payload });
                self.stats.hello_verify_requests += 1;
                return None;
            }
            // A valid cookie with a new client random: the client (re)starts a handshake; one in
            // progress from the same address is replaced.
            let kind = session_kind(&self.config, &hello);
            self.start_handshake(now, peer, Some(hello.random), hello.record_sequence, kind);
            return self.handshakes.contains_key(&peer).then_some(Slot::Handshake);
        }
        match (self.handshakes.get(&peer), self.established.contains_key(&peer)) {
            (Some(h), true) if record::has_encrypted_record(datagram) => {
                // Encrypted records belong to the old session until the new handshake has
                // answered a cookie-bearing ClientHello (only then can the client send epoch 1).
                let answered = matches!(h.phase, Phase::Handshaking { answered_hello: true, .. });
                Some(if answered { Slot::Handshake } else { Slot::Established })
            }
            (Some(_), _) => Some(Slot::Handshake),
            (None, true) => Some(Slot::Established),
            (None, false) => None,
        }
    }

    fn start_handshake(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        client_random: Option<[u8; 32]>,
        next_record_sequence: u64,
        kind: ServerSessionKind,
    ) {
        self.handshakes.remove(&peer);
        while self.handshakes.len() >= self.config.limits.max_handshakes {
            let Some((old_peer, old_id)) = self.handshake_order.pop_front() else { break };
            if self.handshakes.get(&old_peer).is_some_and(|s| s.id == old_id) {
                self.handshakes.remove(&old_peer);
                self.stats.evicted += 1;
            }
        }
        let backend = match self.backend.new_server_session(&self.context, now, next_record_sequence, kind) {
            Ok(b) => b,
            Err(error) => {
                self.events.push_back(ServerEvent::HandshakeFailed { peer, error });
                return;
            }
        };
        self.next_id += 1;
        let session = Session {
            id: self.next_id,
            backend,
            phase: Phase::Handshaking { started: now, answered_hello: false },
            identity: None,
            certificate: None,
            raw_public_key: None,
            last_activity: now,
            plaintext_sequence: 0,
            deadline: None,
            client_random,
        };
        self.handshake_order.push_back((peer, session.id));
        if self.handshake_order.len() > 2 * self.config.limits.max_handshakes + 16 {
            let live = &self.handshakes;
            self.handshake_order.retain(|(p, id)| live.get(p).is_some_and(|s| s.id == *id));
        }
        self.handshakes.insert(peer, session);
        self.stats.handshakes_started += 1;
    }

    /// Drains the backend's outputs for one session and applies errors and deadlines.
    fn after_backend_call(&mut self, now: Instant, peer: SocketAddr, slot: Slot, result: Result<(), DtlsError>) {
        let mut outcome = result;
        let mut connected = false;
        let mut closed = false;
        {
            let table = match slot {
                Slot::Handshake => &mut self.handshakes,
                Slot::Established => &mut self.established,
            };
            let Some(session) = table.get_mut(&peer) else { return };
            while let Some(output) = session.backend.poll_output() {
                match output {
                    BackendOutput::Transmit(payload) => {
                        if let Some(seq) = record::max_plaintext_sequence(&payload) {
                            session.plaintext_sequence = session.plaintext_sequence.max(seq);
                        }
                        if let Phase::Handshaking { answered_hello, .. } = &mut session.phase
                            && record::contains_server_hello(&payload)
                        {
                            *answered_hello = true;
                        }
                        self.transmits.push_back(Transmit { destination: peer, payload });
                    }
                    BackendOutput::PeerCertificate { leaf, intermediates } => {
                        match check_client_certificate(&self.config, &leaf, &intermediates, now) {
                            Ok(identity) => session.certificate = Some(identity),
                            Err(e) => {
                                outcome = Err(DtlsError::Certificate(e));
                                break;
                            }
                        }
                    }
                    BackendOutput::PeerRawPublicKey(der) => match check_client_raw_public_key(&self.config, &der) {
                        Ok(spki_sha256) => session.raw_public_key = Some(spki_sha256),
                        Err(e) => {
                            outcome = Err(DtlsError::Certificate(e));
                            break;
                        }
                    },
                    BackendOutput::Connected => connected = true,
                    BackendOutput::ApplicationData(payload) => {
                        session.last_activity = now;
                        if let Some(identity) = &session.identity {
                            self.events.push_back(ServerEvent::Datagram(IncomingDatagram {
                                peer,
                                identity: identity.clone(),
                                payload,
                            }));
                        }
                    }
                    BackendOutput::CloseNotify => closed = true,
                }
            }
            if connected && outcome.is_ok() {
                let identity = match (session.certificate.take(), session.raw_public_key, session.backend.psk_lookup())
                {
                    (Some(cert), _, _) => Some(AuthenticatedIdentity::Certificate(cert)),
                    (None, Some(spki_sha256), _) => Some(AuthenticatedIdentity::RawPublicKey { spki_sha256 }),
                    (None, None, Some((id, true))) => Some(AuthenticatedIdentity::psk(id)),
                    _ => None,
                };
                match identity {
                    Some(identity) => session.identity = Some(Arc::new(identity)),
                    None => {
                        outcome = Err(DtlsError::Protocol {
                            backend: self.backend.name(),
                            reason: "handshake completed without an authenticated identity".into(),
                        });
                    }
                }
            }
        }
        if let Err(error) = outcome {
            self.fail(peer, slot, error);
            return;
        }
        if connected {
            self.promote(now, peer);
            return;
        }
        if closed {
            self.remove(peer, slot, DtlsError::Closed);
            return;
        }
        self.reschedule(peer, slot);
    }

    fn promote(&mut self, now: Instant, peer: SocketAddr) {
        let Some(mut session) = self.handshakes.remove(&peer) else { return };
        session.phase = Phase::Established;
        session.last_activity = now;
        if !self.established.contains_key(&peer) && self.established.len() >= self.config.limits.max_sessions {
            let oldest = self.established.iter().min_by_key(|(_, s)| s.last_activity).map(|(p, _)| *p);
            if let Some(oldest) = oldest {
                self.established.remove(&oldest);
                self.stats.evicted += 1;
                let max = self.config.limits.max_sessions;
                self.events.push_back(ServerEvent::Closed {
                    peer: oldest,
                    reason: DtlsError::Limit { what: "sessions", limit: max },
                });
            }
        }
        self.stats.handshakes_completed += 1;
        if session.backend.is_resumed() {
            self.stats.handshakes_resumed += 1;
        }
        if let Some(identity) = session.identity.clone() {
            self.events.push_back(ServerEvent::Connected { peer, identity });
        }
        self.established.insert(peer, session);
        self.reschedule(peer, Slot::Established);
    }

    fn fail(&mut self, peer: SocketAddr, slot: Slot, error: DtlsError) {
        let table = match slot {
            Slot::Handshake => &mut self.handshakes,
            Slot::Established => &mut self.established,
        };
        let Some(session) = table.remove(&peer) else { return };
        match slot {
            Slot::Handshake => {
                if let Some(alert) = error.alert() {
                    let payload = record::fatal_alert_record(session.plaintext_sequence + 1, alert.0);
                    self.transmits.push_back(Transmit { destination: peer, payload });
                }
                self.stats.handshakes_failed += 1;
                self.events.push_back(ServerEvent::HandshakeFailed { peer, error });
            }
            Slot::Established => self.events.push_back(ServerEvent::Closed { peer, reason: error }),
        }
    }

    fn remove(&mut self, peer: SocketAddr, slot: Slot, reason: DtlsError) {
        match slot {
            Slot::Handshake => {
                if self.handshakes.remove(&peer).is_some() {
                    self.stats.handshakes_failed += 1;
                    self.events.push_back(ServerEvent::HandshakeFailed { peer, error: reason });
                }
            }
            Slot::Established => {
                if self.established.remove(&peer).is_some() {
                    self.events.push_back(ServerEvent::Closed { peer, reason });
                }
            }
        }
    }

    fn reschedule(&mut self, peer: SocketAddr, slot: Slot) {
        let limits = self.config.limits;
        let timing = self.config.timing;
        let table = match slot {
            Slot::Handshake => &mut self.handshakes,
            Slot::Established => &mut self.established,
        };
        let Some(session) = table.get_mut(&peer) else { return };
        let own = match session.phase {
            Phase::Handshaking { started, .. } => started + timing.handshake_timeout,
            Phase::Established => session.last_activity + limits.idle_timeout,
        };
        let deadline = session.backend.poll_timeout().map_or(own, |t| t.min(own));
        // Only an earlier deadline needs a new heap entry. A later one (the idle deadline moves
        // with every datagram) waits for the armed entry to fire: `handle_timeout` then finds
        // nothing due and reschedules. This keeps the heap from growing per datagram.
        if session.deadline.is_none_or(|armed| deadline < armed) {
            session.deadline = Some(deadline);
            self.timers.push(Reverse((deadline, session.id, peer)));
        }
        let live = self.handshakes.len() + self.established.len();
        if self.timers.len() > 4 * live + 64 {
            self.rebuild_timers();
        }
    }

    fn rebuild_timers(&mut self) {
        self.timers.clear();
        for (peer, s) in self.handshakes.iter().chain(self.established.iter()) {
            if let Some(deadline) = s.deadline {
                self.timers.push(Reverse((deadline, s.id, *peer)));
            }
        }
    }

    fn slot_of(&self, peer: SocketAddr, id: u64) -> Option<Slot> {
        if self.handshakes.get(&peer).is_some_and(|s| s.id == id) {
            Some(Slot::Handshake)
        } else if self.established.get(&peer).is_some_and(|s| s.id == id) {
            Some(Slot::Established)
        } else {
            None
        }
    }

    fn session_deadline(&self, peer: SocketAddr, slot: &Slot) -> Option<Instant> {
        match slot {
            Slot::Handshake => self.handshakes.get(&peer)?.deadline,
            Slot::Established => self.established.get(&peer)?.deadline,
        }
    }

    /// When [`Self::handle_timeout`] must next be called.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(Reverse((deadline, id, peer))) = self.timers.peek().copied() {
            match self.slot_of(peer, id) {
                Some(slot) if self.session_deadline(peer, &slot) == Some(deadline) => return Some(deadline),
                _ => {
                    self.timers.pop();
                }
            }
        }
        None
    }

    /// Runs every timer due at `now`: flight retransmission, handshake deadlines, idle eviction.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((deadline, id, peer))) = self.timers.peek().copied() {
            if deadline > now {
                break;
            }
            self.timers.pop();
            let Some(slot) = self.slot_of(peer, id) else { continue };
            if self.session_deadline(peer, &slot) != Some(deadline) {
                continue;
            }
            let limits = self.config.limits;
            let timing = self.config.timing;
            let table = match slot {
                Slot::Handshake => &mut self.handshakes,
                Slot::Established => &mut self.established,
            };
            let Some(session) = table.get_mut(&peer) else { continue };
            session.deadline = None;
            match session.phase {
                Phase::Handshaking { started, .. } if now >= started + timing.handshake_timeout => {
                    self.fail(peer, slot, DtlsError::HandshakeTimeout(timing.handshake_timeout));
                    continue;
                }
                Phase::Established if now >= session.last_activity + limits.idle_timeout => {
                    session.backend.close();
                    while let Some(output) = session.backend.poll_output() {
                        if let BackendOutput::Transmit(payload) = output {
                            self.transmits.push_back(Transmit { destination: peer, payload });
                        }
                    }
                    self.stats.evicted += 1;
                    self.remove(peer, slot, DtlsError::IdleTimeout(limits.idle_timeout));
                    continue;
                }
                _ => {}
            }
            let result = session.backend.handle_timeout(now).map_err(|e| match e {
                DtlsError::HandshakeTimeout(_) => DtlsError::HandshakeTimeout(timing.handshake_timeout),
                other => other,
            });
            self.after_backend_call(now, peer, slot, result);
        }
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// Encrypts `payload` for the established session with `peer`.
    pub fn send(&mut self, now: Instant, peer: SocketAddr, payload: &[u8]) -> Result<(), DtlsError> {
        let max = self.config.limits.max_datagram;
        if payload.len() > max {
            return Err(DtlsError::DatagramTooLarge { len: payload.len(), max });
        }
        let session = self.established.get_mut(&peer).ok_or(DtlsError::NoSession(peer))?;
        session.last_activity = now;
        let result = session.backend.send(payload);
        let failed = result.clone();
        self.after_backend_call(now, peer, Slot::Established, result);
        failed
    }

    /// Sends close_notify to `peer` and forgets its session.
    pub fn close(&mut self, peer: SocketAddr) {
        if let Some(mut session) = self.established.remove(&peer) {
            session.backend.close();
            while let Some(output) = session.backend.poll_output() {
                if let BackendOutput::Transmit(payload) = output {
                    self.transmits.push_back(Transmit { destination: peer, payload });
                }
            }
        }
        self.handshakes.remove(&peer);
    }
}

/// Whether the peer of a session that completed a handshake may be cached for resumption: its
/// certificate (with chain) or raw public key passes the same checks as in a full handshake at
/// `now`. PSK sessions are admitted (dimpl finished them with a key the store gave).
pub(super) fn admits_cached_peer(config: &ServerConfig, session: &dimpl::ResumableSession, now: Instant) -> bool {
    match (&session.peer_identity, session.raw_public_key) {
        (None, _) => true,
        (Some(spki), true) => check_client_raw_public_key(config, spki).is_ok(),
        (Some(leaf), false) => check_client_certificate(config, leaf, &session.peer_chain, now).is_ok(),
    }
}

/// Canonicalises a client's raw public key and asks the credential store whether it is admitted.
fn check_client_raw_public_key(config: &ServerConfig, der: &[u8]) -> Result<[u8; 32], CertificateError> {
    let key = RawPublicKey::canonical(der).map_err(CertificateError::Malformed)?;
    let spki_sha256 = key.sha256();
    if !config.credentials.admit_raw_public_key(&spki_sha256) {
        return Err(CertificateError::UntrustedRawPublicKey { spki_sha256 });
    }
    Ok(spki_sha256)
}

/// The security mode a ClientHello selects: the client's first offered suite the config
/// accepts decides PSK or ECDHE_ECDSA; for ECDHE_ECDSA, the client's `server_certificate_type`
/// preference (RFC 7250: 0 X.509, 2 raw public key) decides between our certificate and our raw
/// public key. With nothing in common the session is still created and fails with the proper
/// alert.
fn session_kind(config: &ServerConfig, hello: &record::ClientHelloView<'_>) -> ServerSessionKind {
    let (has_certificate, has_raw_key) = (config.certificate.is_some(), config.raw_public_key.is_some());
    let ecdhe = || {
        let types = hello.server_certificate_types();
        let preferred = types.and_then(|types| {
            types.iter().find_map(|t| match t {
                0 if has_certificate => Some(ServerSessionKind::Certificate),
                2 if has_raw_key => Some(ServerSessionKind::RawPublicKey),
                _ => None,
            })
        });
        preferred.unwrap_or(if has_certificate && types.is_none() {
            ServerSessionKind::Certificate
        } else if has_raw_key {
            ServerSessionKind::RawPublicKey
        } else {
            ServerSessionKind::Certificate
        })
    };
    let has_ecdhe = has_certificate || has_raw_key;
    for suite in hello.offered_suites().filter_map(CipherSuite::from_iana) {
        if !config.cipher_suites.contains(&suite) {
            continue;
        }
        if suite.is_psk() {
            return ServerSessionKind::Psk;
        }
        if has_ecdhe {
            return ecdhe();
        }
    }
    if has_ecdhe { ecdhe() } else { ServerSessionKind::Psk }
}

fn check_client_certificate(
    config: &ServerConfig,
    leaf: &[u8],
    intermediates: &[Vec<u8>],
    now: Instant,
) -> Result<CertificateIdentity, CertificateError> {
    let trust = config.client_trust.as_ref().ok_or(CertificateError::UnknownIssuer)?;
    let unix_time = config.wall_clock.unix_time(now);
    let identity = verify_certificate(leaf, intermediates, trust, unix_time, PeerRole::Client, None)?;
    if !config.credentials.admit_certificate(&identity) {
        return Err(CertificateError::NotProvisioned);
    }
    Ok(identity)
}
