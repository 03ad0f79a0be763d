//! One CoAP-over-TCP (or TLS) connection as a sans-IO state machine (RFC 8323 §3-§7).
//!
//! Bytes go in with [`Connection::handle_bytes`] in whatever pieces the socket returns; encoded
//! frames come out of [`Connection::poll_transmit`] and what happened out of
//! [`Connection::poll_event`]. Time is an argument; [`Connection::poll_timeout`] says when to
//! call [`Connection::handle_timeout`]. Nothing here touches a socket or a clock.
//!
//! What the connection does:
//!
//! - **CSM** (§5.3): its own Capabilities and Settings Message is the first frame it sends
//!   (Max-Message-Size = [`ConnectionConfig::max_message_size`], Block-Wise-Transfer when
//!   [`ConnectionConfig::block_wise`]). The peer's first frame must be a CSM, else the connection
//!   is aborted; a CSM that does not arrive within [`ConnectionConfig::csm_timeout`] aborts too.
//!   Until the peer's CSM arrives, frames are limited to the base 1152 bytes.
//! - **Ping/Pong** (§5.4): pings are answered at once; a ping with Custody is answered once every
//!   request received before it has been answered.
//! - **Release/Abort** (§5.5, §5.6): a Release from the peer stops new requests and closes the
//!   connection once nothing is outstanding; an Abort closes it at once. Protocol violations
//!   (no CSM, a frame above our Max-Message-Size, a malformed frame, an unknown critical option
//!   in a signaling message) make this side send Abort with a diagnostic payload and close.
//!   With [`ConnectionConfig::idle_timeout`], a connection with no incoming frame for that long
//!   and nothing under way sends Release and closes ([`CloseReason::IdleTimeout`]).
//! - **Requests and responses** are matched by token only: no message ids, no ACKs, no
//!   retransmission (TCP is reliable). A request has one deadline,
//!   [`ConnectionConfig::request_timeout`].
//! - **Observe** (RFC 8323 §7, RFC 7641): notifications travel on the registration's token. TCP
//!   delivers in order, so the client accepts every notification in arrival order and applies no
//!   sequence-number freshness check (§7.1); there is no RST, so a client cancels actively (GET
//!   with `Observe: 1`) or simply forgets the token.
//! - **Block-wise** (RFC 7959 over TCP, §6): a response or request larger than the peer's
//!   Max-Message-Size is sent in blocks when the peer's CSM announced Block-Wise-Transfer
//!   (server: stateless Block2 slicing of the application's whole body; client: Block1 for large
//!   request bodies). Block2 responses are followed automatically and reassembled, and Block1
//!   requests are reassembled before the application sees them. BERT (SZX 7) is not used.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::frame::{BASE_MAX_MESSAGE_SIZE, Frame, FrameDecoder, FrameError};
use crate::engine::{IncomingId, ObservationId, ObserveRequest, PeerIdentity, Request, RequestId, Response};
use crate::wire::{BlockOption, Code, OptionNumber, Options, Token, size_of_szx};

/// Signaling code 7.01 CSM.
pub const CSM: Code = Code(0xE1);
/// Signaling code 7.02 Ping.
pub const PING: Code = Code(0xE2);
/// Signaling code 7.03 Pong.
pub const PONG: Code = Code(0xE3);
/// Signaling code 7.04 Release.
pub const RELEASE: Code = Code(0xE4);
/// Signaling code 7.05 Abort.
pub const ABORT: Code = Code(0xE5);

/// CSM option 2: Max-Message-Size (uint).
pub const OPT_MAX_MESSAGE_SIZE: OptionNumber = OptionNumber(2);
/// CSM option 4: Block-Wise-Transfer (empty).
pub const OPT_BLOCK_WISE_TRANSFER: OptionNumber = OptionNumber(4);
/// Ping/Pong option 2: Custody (empty).
pub const OPT_CUSTODY: OptionNumber = OptionNumber(2);
/// Release option 2: Alternative-Address (string).
pub const OPT_ALTERNATIVE_ADDRESS: OptionNumber = OptionNumber(2);
/// Release option 4: Hold-Off (uint, seconds).
pub const OPT_HOLD_OFF: OptionNumber = OptionNumber(4);
/// Abort option 2: Bad-CSM-Option (uint).
pub const OPT_BAD_CSM_OPTION: OptionNumber = OptionNumber(2);

/// Which end opened the connection (RFC 8323 calls them Connection Initiator and Acceptor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The side that connected (usually the CoAP client, the LwM2M device).
    Initiator,
    /// The side that accepted (usually the CoAP server).
    Acceptor,
}

/// Settings of one connection.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// The largest frame this side accepts, advertised in its CSM. Larger frames abort the
    /// connection. Default 1 MiB (at least [`BASE_MAX_MESSAGE_SIZE`] is always accepted).
    pub max_message_size: usize,
    /// Advertise Block-Wise-Transfer in the CSM (default true).
    pub block_wise: bool,
    /// Seed of the token generator (use OS randomness in production; tokens should be
    /// unpredictable to off-path attackers).
    pub seed: u64,
    /// Token length for requests, 1..=8 (default 8).
    pub token_len: usize,
    /// How long to wait for the peer's CSM (default 10 s).
    pub csm_timeout: Duration,
    /// How long a request (or ping) waits for its response (default 93 s, the UDP
    /// EXCHANGE_LIFETIME-style bound LwM2M servers expect).
    pub request_timeout: Duration,
    /// Largest body reassembled from blocks, either direction (default 16 MiB).
    pub max_body_size: usize,
    /// Preferred block size exponent when this side must split a body (default 6, 1024 bytes).
    pub block_szx: u8,
    /// Most requests of this side in flight (default 1024).
    pub max_requests: usize,
    /// Most requests of the peer awaiting an answer (default 1024); more get 5.03.
    pub max_incoming: usize,
    /// Most concurrent Block1 reassemblies (default 16).
    pub max_block1_transfers: usize,
    /// Most active observations of the peer (default 1024); beyond it a registration is answered
    /// as a plain response, without Observe (RFC 7641 §4.1 allows that).
    pub max_observations: usize,
    /// A Block1 reassembly whose next block does not arrive within this is dropped (default
    /// 247 s, EXCHANGE_LIFETIME, as the UDP engine's `block_lifetime`).
    pub block1_lifetime: Duration,
    /// Release (7.04) and close the connection when no frame has arrived for this long and
    /// nothing is under way (no request of either side awaiting its answer, no observation in
    /// either direction, no Block1 reassembly). Default `None`: a connection stays open until a
    /// side closes it. A server that must not let silent peers hold its
    /// `max_connections` slots sets it; an LwM2M server would pick more than the registration
    /// lifetime, since a queue-mode client may be silent that long and still expect requests.
    pub idle_timeout: Option<Duration>,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            max_message_size: 1 << 20,
            block_wise: true,
            seed: 0x7c9_5eed,
            token_len: 8,
            csm_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(93),
            max_body_size: 16 << 20,
            block_szx: 6,
            max_requests: 1024,
            max_incoming: 1024,
            max_block1_transfers: 16,
            max_observations: 1024,
            block1_lifetime: Duration::from_secs(247),
            idle_timeout: None,
        }
    }
}

/// What the peer announced in its CSM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCapabilities {
    /// The largest frame the peer accepts.
    pub max_message_size: usize,
    /// The peer understands Block-wise transfers.
    pub block_wise: bool,
}

impl Default for PeerCapabilities {
    fn default() -> Self {
        PeerCapabilities { max_message_size: BASE_MAX_MESSAGE_SIZE, block_wise: false }
    }
}

/// Why a connection closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer sent Abort (7.05).
    #[error("the peer aborted the connection: {diagnostic}")]
    PeerAborted {
        /// The diagnostic payload.
        diagnostic: String,
        /// The CSM option the peer could not accept, if it said.
        bad_csm_option: Option<u32>,
    },
    /// This side aborted because the peer broke a rule (the diagnostic was sent in the Abort).
    #[error("connection aborted: {0}")]
    ProtocolError(String),
    /// This side aborted on request of the application.
    #[error("connection aborted locally: {0}")]
    LocalAbort(String),
    /// The connection was released (7.04) and nothing was outstanding any more.
    #[error("the connection was released")]
    Released,
    /// The byte stream ended or failed (reported by the driver).
    #[error("the connection was lost: {0}")]
    ConnectionLost(String),
    /// Nothing arrived for [`ConnectionConfig::idle_timeout`] and nothing was under way: this
    /// side sent Release and closed.
    #[error("no frame from the peer for {0:?} and nothing under way: released")]
    IdleTimeout(Duration),
}

/// Why a request of this side got no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// No response within [`ConnectionConfig::request_timeout`].
    #[error("no response within {0:?}")]
    Timeout(Duration),
    /// The connection closed first.
    #[error("{0}")]
    Closed(CloseReason),
    /// The connection is closing (Release sent or received); no new requests.
    #[error("the connection is being released; no new requests")]
    Releasing,
    /// [`ConnectionConfig::max_requests`] reached.
    #[error("too many requests in flight (limit {0})")]
    TooManyRequests(usize),
    /// The request is larger than the peer's Max-Message-Size and cannot be split.
    #[error("the {len}-byte request exceeds the peer's Max-Message-Size of {max} bytes")]
    TooLarge {
        /// The frame length.
        len: usize,
        /// The peer's limit.
        max: usize,
    },
    /// A block-wise response exceeded [`ConnectionConfig::max_body_size`] or broke RFC 7959.
    #[error("block-wise transfer failed: {0}")]
    Blockwise(&'static str),
    /// The code given is not a request method.
    #[error("{0:?} is not a request method")]
    NotAMethod(Code),
    /// The frame could not be encoded.
    #[error(transparent)]
    Encode(FrameError),
    /// Cancelled by the application.
    #[error("the request was cancelled")]
    Cancelled,
}

/// Why [`Connection::respond`] or [`Connection::notify`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RespondError {
    /// No such request awaits an answer.
    #[error("no pending request {0:?}")]
    UnknownRequest(IncomingId),
    /// No such active observation.
    #[error("no active observation {0:?}")]
    UnknownObservation(ObservationId),
    /// Not a response code.
    #[error("{0:?} is not a response code")]
    NotAResponse(Code),
    /// The connection is closed.
    #[error("the connection is closed")]
    Closed,
}

/// A request from the peer.
#[derive(Debug, Clone)]
pub struct IncomingRequest {
    /// Answer with [`Connection::respond`].
    pub id: IncomingId,
    /// The authenticated identity of the peer (TLS client certificate), if any.
    pub identity: Option<PeerIdentity>,
    /// The request, Block1 reassembled (Block1/Block2/Observe removed from the options).
    pub request: Request,
    /// Observe registration or deregistration.
    pub observe: ObserveRequest,
}

/// What happened; drain with [`Connection::poll_event`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ConnectionEvent {
    /// The peer's first CSM arrived: the connection is established.
    Established(PeerCapabilities),
    /// A later CSM changed the peer's capabilities.
    CapabilitiesChanged(PeerCapabilities),
    /// A request to answer.
    Request(IncomingRequest),
    /// The whole response to a request (Block2 reassembled).
    Response {
        /// The request.
        id: RequestId,
        /// The response.
        response: Response,
    },
    /// A notification of an observation started with [`Connection::observe`].
    Notification {
        /// The observing request.
        id: RequestId,
        /// The notification.
        response: Response,
    },
    /// An observation ended (a final notification, a cancellation or the connection closing).
    ObservationEnded {
        /// The observing request.
        id: RequestId,
    },
    /// A request failed.
    RequestFailed {
        /// The request.
        id: RequestId,
        /// Why.
        error: ExchangeError,
    },
    /// A ping was answered.
    Pong {
        /// The ping.
        id: RequestId,
    },
    /// A server-side observer is gone (deregistered, ended, or the connection closed).
    ObserverRemoved {
        /// The observation.
        observation: ObservationId,
    },
    /// The peer sent Release; no new requests are sent.
    ReleaseReceived {
        /// Where the peer suggests reconnecting.
        alternative_address: Option<String>,
        /// Seconds the peer asks to wait before reconnecting.
        hold_off: Option<u32>,
    },
    /// The connection is closed; the driver should flush [`Connection::poll_transmit`] and close
    /// the stream.
    Closed(CloseReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitingCsm,
    Open,
    Releasing,
    Closed,
}

#[derive(Debug)]
enum Kind {
    Request,
    Observe { registered: bool },
    Ping,
}

#[derive(Debug)]
struct Pending {
    id: RequestId,
    kind: Kind,
    request: Request,
    body: BytesMut,
    /// Block2 follow-up of a notification (the observation keeps its own token).
    notification: bool,
    /// The Observe value of the first block of a block-wise registration response or notification.
    observe: Option<u32>,
    /// Remaining request body blocks (Block1), with the block size exponent.
    block1: Option<(Bytes, u8)>,
    deadline: Option<Instant>,
}

#[derive(Debug)]
struct Incoming {
    token: Token,
    block2: Option<BlockOption>,
    block1_echo: Option<BlockOption>,
    observe: ObserveRequest,
}

#[derive(Debug)]
struct Observer {
    token: Token,
    seq: u32,
}

/// One CoAP-over-TCP connection. See the [module docs](self).
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: ConnectionConfig,
    state: State,
    decoder: FrameDecoder,
    peer: PeerCapabilities,
    identity: Option<PeerIdentity>,
    rng: u64,
    next_id: u64,
    transmit: VecDeque<Bytes>,
    events: VecDeque<ConnectionEvent>,
    csm_deadline: Option<Instant>,
    /// With [`ConnectionConfig::idle_timeout`]: when to check whether the connection is idle.
    idle_deadline: Option<Instant>,
    pending: HashMap<Token, Pending>,
    incoming: HashMap<IncomingId, Incoming>,
    observers: HashMap<ObservationId, Observer>,
    /// Block1 reassemblies by (method, URI), each with the time it expires unless a block comes.
    block1: HashMap<(u8, String), (BytesMut, Instant)>,
    custody_pongs: VecDeque<(Token, IncomingId)>,
    release_received: bool,
    /// Requests too large for the base Max-Message-Size, waiting for the peer's CSM.
    deferred: Vec<Pending>,
}

fn signal(code: Code) -> Frame {
    Frame::new(code, Token::EMPTY)
}

impl Connection {
    /// A new connection; its CSM is queued at once. `now` starts the CSM timer.
    pub fn new(role: Role, mut config: ConnectionConfig, now: Instant) -> Connection {
        config.max_message_size = config.max_message_size.max(BASE_MAX_MESSAGE_SIZE);
        config.token_len = config.token_len.clamp(1, 8);
        config.block_szx = config.block_szx.min(6);
        let mut csm = signal(CSM);
        csm.options.set_uint(OPT_MAX_MESSAGE_SIZE, u32::try_from(config.max_message_size).unwrap_or(u32::MAX));
        if config.block_wise {
            csm.options.push(OPT_BLOCK_WISE_TRANSFER, []);
        }
        let mut c = Connection {
            role,
            decoder: FrameDecoder::new(config.max_message_size),
            state: State::AwaitingCsm,
            peer: PeerCapabilities::default(),
            identity: None,
            rng: config.seed,
            next_id: 0,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            csm_deadline: Some(now + config.csm_timeout),
            idle_deadline: config.idle_timeout.map(|d| now + d),
            pending: HashMap::new(),
            incoming: HashMap::new(),
            observers: HashMap::new(),
            block1: HashMap::new(),
            custody_pongs: VecDeque::new(),
            release_received: false,
            deferred: Vec::new(),
            config,
        };
        c.send(&csm);
        c
    }

    /// Which end this is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// What the peer's CSM announced (the RFC defaults until it arrives).
    pub fn peer_capabilities(&self) -> PeerCapabilities {
        self.peer
    }

    /// True once the peer's CSM arrived and until the connection closes.
    pub fn is_established(&self) -> bool {
        matches!(self.state, State::Open | State::Releasing)
    }

    /// True once closed (Abort sent or received, released, or lost).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Sets the authenticated identity attached to every incoming request (the TLS driver calls
    /// this after the handshake with the client certificate's name).
    pub fn set_peer_identity(&mut self, identity: Option<PeerIdentity>) {
        self.identity = identity;
    }

    /// The next encoded frame to write to the stream.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmit.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ConnectionEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == State::Closed {
            return None;
        }
        let block1 = self.block1.values().map(|(_, expires)| *expires);
        let own = self.csm_deadline.into_iter().chain(self.idle_deadline);
        self.pending.values().filter_map(|p| p.deadline).chain(own).chain(block1).min()
    }

    /// Fails expired requests and aborts a connection whose CSM did not come.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        if self.csm_deadline.is_some_and(|d| d <= now) {
            self.protocol_error("no CSM received within the CSM timeout".into(), None);
            return;
        }
        if let (Some(deadline), Some(idle)) = (self.idle_deadline, self.config.idle_timeout)
            && deadline <= now
        {
            let busy = !self.pending.is_empty()
                || !self.deferred.is_empty()
                || !self.incoming.is_empty()
                || !self.observers.is_empty()
                || self.block1.values().any(|(_, expires)| *expires > now);
            if !busy {
                self.send(&signal(RELEASE));
                self.close(CloseReason::IdleTimeout(idle));
                return;
            }
            self.idle_deadline = Some(now + idle);
        }
        // A Block1 transfer whose next block did not come within block1_lifetime is dropped.
        self.block1.retain(|_, (_, expires)| *expires > now);
        let expired: Vec<Token> =
            self.pending.iter().filter(|(_, p)| p.deadline.is_some_and(|d| d <= now)).map(|(t, _)| *t).collect();
        for token in expired {
            if let Some(p) = self.pending.remove(&token) {
                let error = ExchangeError::Timeout(self.config.request_timeout);
                self.events.push_back(ConnectionEvent::RequestFailed { id: p.id, error });
            }
        }
        self.check_released();
    }

    /// Reports that the byte stream ended or failed: everything outstanding fails.
    pub fn handle_stream_closed(&mut self, reason: &str) {
        if self.state != State::Closed {
            let why = if self.release_received || self.state == State::Releasing {
                CloseReason::Released
            } else {
                CloseReason::ConnectionLost(reason.to_string())
            };
            self.close(why);
        }
    }

    /// Feeds bytes read from the stream (any fragmentation).
    pub fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) {
        if self.state == State::Closed {
            return;
        }
        self.decoder.push(bytes);
        loop {
            match self.decoder.next_frame() {
                Ok(Some(frame)) => self.handle_frame(now, frame),
                Ok(None) => break,
                Err(FrameError::TooLarge { len, max }) => {
                    self.protocol_error(format!("frame of {len} bytes exceeds Max-Message-Size {max}"), None);
                    break;
                }
                Err(e) => {
                    self.protocol_error(format!("malformed frame: {e}"), None);
                    break;
                }
            }
            if self.state == State::Closed {
                break;
            }
        }
    }

    fn handle_frame(&mut self, now: Instant, frame: Frame) {
        if let Some(idle) = self.config.idle_timeout {
            self.idle_deadline = Some(now + idle);
        }
        if self.state == State::AwaitingCsm && frame.code != CSM {
            self.protocol_error(format!("the first message must be a CSM (7.01), got {}", frame.code), None);
            return;
        }
        match frame.code.class() {
            7 => self.handle_signal(&frame),
            0 if frame.code.is_empty() => {} // Empty messages are ignored (RFC 8323 §3.4).
            0 => self.handle_request(now, frame),
            2 | 4 | 5 => self.handle_response(now, frame),
            _ => tracing::debug!(code = ?frame.code, "ignoring a frame with a reserved code class"),
        }
    }

    fn unknown_critical(options: &Options, known: &[u16]) -> Option<u16> {
        options.iter().map(|o| o.number.0).find(|n| n % 2 == 1 && !known.contains(n))
    }

    fn handle_signal(&mut self, frame: &Frame) {
        match frame.code {
            CSM => {
                if let Some(n) = Self::unknown_critical(&frame.options, &[]) {
                    self.protocol_error(format!("CSM carries unknown critical option {n}"), Some(u32::from(n)));
                    return;
                }
                let max = frame.options.get_uint(OPT_MAX_MESSAGE_SIZE).map_or(BASE_MAX_MESSAGE_SIZE, |v| v as usize);
                let caps = PeerCapabilities {
                    max_message_size: max,
                    block_wise: self.peer.block_wise || frame.options.contains(OPT_BLOCK_WISE_TRANSFER),
                };
                self.peer = caps;
                self.csm_deadline = None;
                if self.state == State::AwaitingCsm {
                    self.state = State::Open;
                    self.events.push_back(ConnectionEvent::Established(caps));
                    for p in std::mem::take(&mut self.deferred) {
                        let id = p.id;
                        if let Err(error) = self.send_new(p) {
                            self.events.push_back(ConnectionEvent::RequestFailed { id, error });
                        }
                    }
                } else {
                    self.events.push_back(ConnectionEvent::CapabilitiesChanged(caps));
                }
            }
            PING => {
                if let Some(n) = Self::unknown_critical(&frame.options, &[]) {
                    self.protocol_error(format!("Ping carries unknown critical option {n}"), None);
                    return;
                }
                let custody = frame.options.contains(OPT_CUSTODY);
                // Custody (RFC 8323 §5.4): the Pong waits until every request received before
                // the Ping is answered. Request ids only grow, so the newest one now waiting is
                // all a pending Pong needs to remember.
                let owed = if custody { self.incoming.keys().max().copied() } else { None };
                match owed {
                    None => self.send_pong(frame.token, custody),
                    Some(_) if self.custody_pongs.len() >= self.config.max_incoming => {
                        self.protocol_error("too many custody Pings waiting for answers".into(), None);
                    }
                    Some(newest) => self.custody_pongs.push_back((frame.token, newest)),
                }
            }
            PONG => {
                if let Some(p) = self.pending.get(&frame.token)
                    && matches!(p.kind, Kind::Ping)
                {
                    let id = p.id;
                    self.pending.remove(&frame.token);
                    self.events.push_back(ConnectionEvent::Pong { id });
                }
            }
            RELEASE => {
                if let Some(n) = Self::unknown_critical(&frame.options, &[]) {
                    self.protocol_error(format!("Release carries unknown critical option {n}"), None);
                    return;
                }
                let alternative_address =
                    frame.options.get(OPT_ALTERNATIVE_ADDRESS).map(|v| String::from_utf8_lossy(v).into_owned());
                let hold_off = frame.options.get_uint(OPT_HOLD_OFF);
                self.release_received = true;
                if self.state == State::Open {
                    self.state = State::Releasing;
                }
                self.events.push_back(ConnectionEvent::ReleaseReceived { alternative_address, hold_off });
                self.check_released();
            }
            ABORT => {
                let diagnostic = String::from_utf8_lossy(&frame.payload).into_owned();
                let bad_csm_option = frame.options.get_uint(OPT_BAD_CSM_OPTION);
                self.close(CloseReason::PeerAborted { diagnostic, bad_csm_option });
            }
            other => tracing::debug!(code = ?other, "ignoring an unknown signaling message"),
        }
    }

    fn send_pong(&mut self, token: Token, custody: bool) {
        let mut pong = Frame::new(PONG, token);
        if custody {
            pong.options.push(OPT_CUSTODY, []);
        }
        self.send(&pong);
    }

    fn handle_request(&mut self, now: Instant, frame: Frame) {
        if self.incoming.len() >= self.config.max_incoming || self.release_received {
            self.send_response_frame(frame.token, Response::new(Code::SERVICE_UNAVAILABLE));
            return;
        }
        if let Some(n) = frame.options.first_unrecognized_critical() {
            let mut r = Response::new(Code::BAD_OPTION);
            r.payload = Bytes::from(format!("unrecognized critical option {}", n.0));
            self.send_response_frame(frame.token, r);
            return;
        }
        let mut options = frame.options;
        let mut payload = frame.payload;
        let block1 = options.block1();
        let block1_echo = if let Some(b) = block1 {
            let key = (frame.code.0, format!("{}?{}", options.uri_path(), options.uri_query()));
            if b.num == 0 {
                if !self.block1.contains_key(&key) && self.block1.len() >= self.config.max_block1_transfers {
                    self.send_response_frame(frame.token, Response::new(Code::SERVICE_UNAVAILABLE));
                    return;
                }
                self.block1.insert(key.clone(), (BytesMut::new(), now));
            }
            let lifetime = self.config.block1_lifetime;
            let Some((buf, expires)) = self.block1.get_mut(&key) else {
                self.send_response_frame(frame.token, Response::new(Code::REQUEST_ENTITY_INCOMPLETE));
                return;
            };
            // A block before the last carries exactly its size (RFC 7959 §2.3), or for BERT
            // (szx 7, RFC 8323 §6) a whole number of 1024-byte blocks.
            let whole = if b.szx == 7 {
                !payload.is_empty() && payload.len().is_multiple_of(1024)
            } else {
                payload.len() == b.size()
            };
            if b.more && !whole {
                self.block1.remove(&key);
                self.send_response_frame(frame.token, Response::new(Code::REQUEST_ENTITY_INCOMPLETE));
                return;
            }
            if buf.len() != b.offset() || buf.len() + payload.len() > self.config.max_body_size {
                let code = if buf.len() == b.offset() {
                    Code::REQUEST_ENTITY_TOO_LARGE
                } else {
                    Code::REQUEST_ENTITY_INCOMPLETE
                };
                self.block1.remove(&key);
                self.send_response_frame(frame.token, Response::new(code));
                return;
            }
            buf.extend_from_slice(&payload);
            *expires = now + lifetime;
            if b.more {
                let mut r = Response::new(Code::CONTINUE);
                r.options.set_uint(OptionNumber::BLOCK1, b.encode());
                self.send_response_frame(frame.token, r);
                return;
            }
            payload = self.block1.remove(&key).map(|(body, _)| body).unwrap_or_default().freeze();
            options.remove(OptionNumber::BLOCK1);
            options.remove(OptionNumber::SIZE1);
            Some(b)
        } else {
            None
        };
        let block2 = options.block2();
        options.remove(OptionNumber::BLOCK2);
        let observe = match (frame.code, options.observe()) {
            (Code::GET | Code::FETCH, Some(0)) if block2.is_none_or(|b| b.num == 0) => {
                self.next_id += 1;
                ObserveRequest::Register(ObservationId(self.next_id))
            }
            (Code::GET | Code::FETCH, Some(1)) => {
                let gone: Vec<ObservationId> =
                    self.observers.iter().filter(|(_, o)| o.token == frame.token).map(|(k, _)| *k).collect();
                for observation in gone {
                    self.observers.remove(&observation);
                    self.events.push_back(ConnectionEvent::ObserverRemoved { observation });
                }
                ObserveRequest::Deregister
            }
            _ => ObserveRequest::None,
        };
        options.remove(OptionNumber::OBSERVE);
        self.next_id += 1;
        let id = IncomingId(self.next_id);
        self.incoming.insert(id, Incoming { token: frame.token, block2, block1_echo, observe });
        let request = Request { method: frame.code, options, payload, confirmable: true };
        self.events.push_back(ConnectionEvent::Request(IncomingRequest {
            id,
            identity: self.identity.clone(),
            request,
            observe,
        }));
    }

    fn handle_response(&mut self, now: Instant, frame: Frame) {
        let Some(mut p) = self.pending.remove(&frame.token) else {
            tracing::debug!(token = ?frame.token, "response for an unknown token ignored");
            return;
        };
        let token = frame.token;
        let mut response = Response { code: frame.code, options: frame.options, payload: frame.payload };
        // Block1: the server asks for the next block of our request body.
        if response.code == Code::CONTINUE
            && let Some((body, szx)) = p.block1.take()
        {
            let b = response.options.block1().unwrap_or(BlockOption { num: 0, more: true, szx });
            // The server may ask for smaller blocks (RFC 7959 §2.5).
            let szx = b.szx.min(szx);
            let next = (b.offset() + b.size()) / size_of_szx(szx);
            self.send_request_block1(now, p, body, szx, next as u32);
            return;
        }
        if let Some(b2) = response.options.block2() {
            if p.body.len() != b2.offset() {
                self.fail_pending(&p, ExchangeError::Blockwise("Block2 response out of order"));
                return;
            }
            if p.body.len() + response.payload.len() > self.config.max_body_size {
                self.fail_pending(&p, ExchangeError::Blockwise("the response body exceeds max_body_size"));
                return;
            }
            p.body.extend_from_slice(&response.payload);
            if b2.more {
                // Ask for the next block with a fresh token; observations keep their own token.
                let mut next = p.request.clone();
                next.options.remove(OptionNumber::OBSERVE);
                next.options.remove(OptionNumber::BLOCK1);
                next.payload = Bytes::new();
                next.options
                    .set_uint(OptionNumber::BLOCK2, BlockOption { num: b2.num + 1, more: false, szx: b2.szx }.encode());
                let follow = Pending {
                    id: p.id,
                    kind: Kind::Request,
                    request: p.request.clone(),
                    body: std::mem::take(&mut p.body),
                    notification: p.notification || matches!(p.kind, Kind::Observe { registered: true }),
                    observe: p.observe.or(response.options.observe()),
                    block1: None,
                    deadline: Some(now + self.config.request_timeout),
                };
                if let Kind::Observe { .. } = p.kind {
                    // The observation stays registered under its token.
                    p.kind = Kind::Observe { registered: response.options.observe().is_some() };
                    if response.options.observe().is_some() {
                        p.deadline = None;
                        self.pending.insert(token, p);
                    }
                }
                let t = self.new_token();
                if let Err(e) = self.send_frame_checked(&Frame {
                    code: next.method,
                    token: t,
                    options: next.options,
                    payload: Bytes::new(),
                }) {
                    self.events.push_back(ConnectionEvent::RequestFailed { id: follow.id, error: e });
                    return;
                }
                self.pending.insert(t, follow);
                return;
            }
            response.payload = std::mem::take(&mut p.body).freeze();
            response.options.remove(OptionNumber::BLOCK2);
            // The later blocks were fetched without Observe: report the first block's value.
            if let Some(v) = p.observe {
                response.options.set_uint(OptionNumber::OBSERVE, v);
            }
        }
        let id = p.id;
        match p.kind {
            Kind::Ping => {}
            Kind::Request if p.notification => {
                self.events.push_back(ConnectionEvent::Notification { id, response });
            }
            Kind::Request => self.events.push_back(ConnectionEvent::Response { id, response }),
            Kind::Observe { registered } => {
                let observing = response.code.is_success() && response.options.observe().is_some();
                if registered {
                    self.events.push_back(ConnectionEvent::Notification { id, response });
                } else {
                    self.events.push_back(ConnectionEvent::Response { id, response });
                }
                if observing {
                    p.kind = Kind::Observe { registered: true };
                    p.deadline = None;
                    p.body = BytesMut::new();
                    self.pending.insert(token, p);
                } else if registered {
                    self.events.push_back(ConnectionEvent::ObservationEnded { id });
                }
            }
        }
        self.check_released();
    }

    fn fail_pending(&mut self, p: &Pending, error: ExchangeError) {
        if let Kind::Observe { registered: true } = p.kind {
            tracing::debug!(%error, "observation ended: a notification could not be reassembled");
            self.events.push_back(ConnectionEvent::ObservationEnded { id: p.id });
            return;
        }
        self.events.push_back(ConnectionEvent::RequestFailed { id: p.id, error });
    }

    fn new_token(&mut self) -> Token {
        loop {
            self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.rng;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let bytes = z.to_be_bytes();
            let token = Token::new(&bytes[..self.config.token_len]).unwrap_or_default();
            if !self.pending.contains_key(&token) {
                return token;
            }
        }
    }

    fn can_start(&self) -> Result<(), ExchangeError> {
        match self.state {
            State::Closed => Err(ExchangeError::Closed(CloseReason::Released)),
            State::Releasing => Err(ExchangeError::Releasing),
            _ if self.release_received => Err(ExchangeError::Releasing),
            _ if self.pending.len() >= self.config.max_requests => {
                Err(ExchangeError::TooManyRequests(self.config.max_requests))
            }
            _ => Ok(()),
        }
    }

    /// Sends a request; its response arrives as [`ConnectionEvent::Response`] (or
    /// [`ConnectionEvent::RequestFailed`]). Requests may be sent before the peer's CSM arrives
    /// (RFC 8323 §5.3), limited to the base Max-Message-Size meanwhile. A body too large for
    /// one frame is sent with Block1 when the peer announced Block-Wise-Transfer.
    pub fn start_request(&mut self, now: Instant, request: Request) -> Result<RequestId, ExchangeError> {
        self.start(now, request, Kind::Request)
    }

    /// Registers an observation (`Observe: 0` is added): the registration response arrives as
    /// [`ConnectionEvent::Response`], then [`ConnectionEvent::Notification`]s.
    pub fn observe(&mut self, now: Instant, mut request: Request) -> Result<RequestId, ExchangeError> {
        request.options.set_uint(OptionNumber::OBSERVE, 0);
        self.start(now, request, Kind::Observe { registered: false })
    }

    fn start(&mut self, now: Instant, request: Request, kind: Kind) -> Result<RequestId, ExchangeError> {
        self.can_start()?;
        if !request.method.is_request() {
            return Err(ExchangeError::NotAMethod(request.method));
        }
        self.next_id += 1;
        let id = RequestId(self.next_id);
        let deadline = Some(now + self.config.request_timeout);
        let p = Pending {
            id,
            kind,
            request,
            body: BytesMut::new(),
            notification: false,
            observe: None,
            block1: None,
            deadline,
        };
        if self.state == State::AwaitingCsm && self.encoded_request_len(&p.request) > self.peer.max_message_size {
            // Too large for the base size: wait for the CSM, which may allow it or Block-wise.
            self.deferred.push(p);
            return Ok(id);
        }
        self.send_new(p)?;
        Ok(id)
    }

    fn encoded_request_len(&self, request: &Request) -> usize {
        let token = Token::new(&[0; 8][..self.config.token_len]).unwrap_or_default();
        Frame { code: request.method, token, options: request.options.clone(), payload: request.payload.clone() }
            .encoded_len()
    }

    /// Sends the first frame of a new request (Block1 when it is too large for the peer).
    fn send_new(&mut self, p: Pending) -> Result<(), ExchangeError> {
        let token = self.new_token();
        let request = &p.request;
        let frame =
            Frame { code: request.method, token, options: request.options.clone(), payload: request.payload.clone() };
        let len = frame.encoded_len();
        let max = self.peer.max_message_size;
        if len > max {
            if !self.peer.block_wise {
                return Err(ExchangeError::TooLarge { len, max });
            }
            let overhead = len - frame.payload.len();
            let szx = Self::fitting_szx(self.config.block_szx, max, overhead + 8)
                .ok_or(ExchangeError::TooLarge { len, max })?;
            let body = p.request.payload.clone();
            return self.send_request_block1_with(token, p, body, szx, 0);
        }
        self.send_frame_checked(&frame)?;
        self.pending.insert(token, p);
        Ok(())
    }

    /// The largest block size exponent up to `preferred` whose block plus `overhead` fits `max`.
    fn fitting_szx(preferred: u8, max: usize, overhead: usize) -> Option<u8> {
        (0..=preferred).rev().find(|s| size_of_szx(*s) + overhead <= max)
    }

    fn send_request_block1(&mut self, _now: Instant, p: Pending, body: Bytes, szx: u8, num: u32) {
        let token = self.new_token();
        let id = p.id;
        if let Err(error) = self.send_request_block1_with(token, p, body, szx, num) {
            self.events.push_back(ConnectionEvent::RequestFailed { id, error });
        }
    }

    fn send_request_block1_with(
        &mut self,
        token: Token,
        mut p: Pending,
        body: Bytes,
        szx: u8,
        num: u32,
    ) -> Result<(), ExchangeError> {
        let size = size_of_szx(szx);
        let start = (num as usize).saturating_mul(size);
        if start > body.len() {
            return Err(ExchangeError::Blockwise("the server asked for a Block1 past the body"));
        }
        let end = (start + size).min(body.len());
        let more = end < body.len();
        let block = BlockOption::new(num, more, szx)
            .map_err(|_| ExchangeError::Blockwise("request body too large for Block1"))?;
        let mut options = p.request.options.clone();
        options.set_uint(OptionNumber::BLOCK1, block.encode());
        if num == 0 {
            options.set_uint(OptionNumber::SIZE1, u32::try_from(body.len()).unwrap_or(u32::MAX));
        }
        if more {
            // Observe registration and response blocks wait for the last request block.
            options.remove(OptionNumber::OBSERVE);
        }
        let frame = Frame { code: p.request.method, token, options, payload: body.slice(start..end) };
        self.send_frame_checked(&frame)?;
        p.block1 = more.then_some((body, szx));
        self.pending.insert(token, p);
        Ok(())
    }

    /// Cancels a request or observation. `active` deregisters an observation with GET
    /// `Observe: 1` on its token; otherwise later notifications are ignored.
    pub fn cancel(&mut self, id: RequestId, active: bool) {
        if let Some(i) = self.deferred.iter().position(|p| p.id == id) {
            self.deferred.remove(i);
            self.events.push_back(ConnectionEvent::RequestFailed { id, error: ExchangeError::Cancelled });
        }
        let tokens: Vec<Token> = self.pending.iter().filter(|(_, p)| p.id == id).map(|(t, _)| *t).collect();
        for token in tokens {
            let Some(p) = self.pending.remove(&token) else { continue };
            if let Kind::Observe { registered: true } = p.kind {
                if active && self.state != State::Closed {
                    let mut options = p.request.options.clone();
                    options.set_uint(OptionNumber::OBSERVE, 1);
                    let frame = Frame { code: p.request.method, token, options, payload: p.request.payload.clone() };
                    // The deregistration's response is not awaited.
                    let _ = self.send_frame_checked(&frame);
                }
                self.events.push_back(ConnectionEvent::ObservationEnded { id });
            } else {
                self.events.push_back(ConnectionEvent::RequestFailed { id, error: ExchangeError::Cancelled });
            }
        }
        self.check_released();
    }

    /// Sends a Ping (with Custody if asked); the answer is [`ConnectionEvent::Pong`].
    pub fn ping(&mut self, now: Instant, custody: bool) -> Result<RequestId, ExchangeError> {
        if self.state == State::Closed {
            return Err(ExchangeError::Closed(CloseReason::Released));
        }
        self.next_id += 1;
        let id = RequestId(self.next_id);
        let token = self.new_token();
        let mut ping = Frame::new(PING, token);
        if custody {
            ping.options.push(OPT_CUSTODY, []);
        }
        self.send(&ping);
        let deadline = Some(now + self.config.request_timeout);
        let request = Request::new(Code::EMPTY);
        self.pending.insert(
            token,
            Pending {
                id,
                kind: Kind::Ping,
                request,
                body: BytesMut::new(),
                notification: false,
                observe: None,
                block1: None,
                deadline,
            },
        );
        Ok(id)
    }

    /// Answers a request. Large bodies are split with Block2 when the peer supports it (or asked
    /// for a block); a 2.xx answer to an Observe registration activates the observation.
    pub fn respond(&mut self, id: IncomingId, response: Response) -> Result<(), RespondError> {
        if self.state == State::Closed {
            return Err(RespondError::Closed);
        }
        if !response.code.is_response() {
            return Err(RespondError::NotAResponse(response.code));
        }
        let inc = self.incoming.remove(&id).ok_or(RespondError::UnknownRequest(id))?;
        let mut response = response;
        if let Some(b1) = inc.block1_echo {
            response.options.set_uint(OptionNumber::BLOCK1, BlockOption { more: false, ..b1 }.encode());
        }
        if let ObserveRequest::Register(obs) = inc.observe
            && response.code.is_success()
        {
            // A registration with the token of an active one replaces it (RFC 7641 §4.1).
            let replaced: Vec<ObservationId> =
                self.observers.iter().filter(|(_, o)| o.token == inc.token).map(|(k, _)| *k).collect();
            for observation in replaced {
                self.observers.remove(&observation);
                self.events.push_back(ConnectionEvent::ObserverRemoved { observation });
            }
            if self.observers.len() < self.config.max_observations {
                self.observers.insert(obs, Observer { token: inc.token, seq: 1 });
                response.options.set_uint(OptionNumber::OBSERVE, 0);
            }
        }
        self.send_response_with_block2(inc.token, response, inc.block2);
        self.release_custody(id);
        self.check_released();
        Ok(())
    }

    fn release_custody(&mut self, _answered: IncomingId) {
        // Pongs are queued in the order of their Pings, so their marks only grow: send every
        // Pong whose requests (ids up to its mark) have all been answered.
        let oldest_waiting = self.incoming.keys().min().copied();
        while let Some(&(token, newest)) = self.custody_pongs.front() {
            if oldest_waiting.is_some_and(|oldest| oldest <= newest) {
                break;
            }
            self.custody_pongs.pop_front();
            self.send_pong(token, true);
        }
    }

    /// Sends a notification to an active observer. A non-2.xx notification ends it.
    pub fn notify(&mut self, observation: ObservationId, mut response: Response) -> Result<(), RespondError> {
        if self.state == State::Closed {
            return Err(RespondError::Closed);
        }
        if !response.code.is_response() {
            return Err(RespondError::NotAResponse(response.code));
        }
        let o = self.observers.get_mut(&observation).ok_or(RespondError::UnknownObservation(observation))?;
        let token = o.token;
        if response.code.is_success() {
            response.options.set_uint(OptionNumber::OBSERVE, o.seq & 0xff_ffff);
            o.seq = o.seq.wrapping_add(1);
        } else {
            self.observers.remove(&observation);
            self.events.push_back(ConnectionEvent::ObserverRemoved { observation });
        }
        self.send_response_with_block2(token, response, None);
        Ok(())
    }

    fn send_response_with_block2(&mut self, token: Token, mut response: Response, asked: Option<BlockOption>) {
        let body = response.payload.clone();
        let whole = Frame { code: response.code, token, options: response.options.clone(), payload: body.clone() };
        let len = whole.encoded_len();
        let max = self.peer.max_message_size;
        if asked.is_none() && len <= max {
            self.send_or_500(&whole, token);
            return;
        }
        if asked.is_none() && !self.peer.block_wise {
            tracing::warn!(len, max, "response exceeds the peer's Max-Message-Size and the peer has no block-wise");
            self.send_response_frame(token, Response::new(Code::INTERNAL_SERVER_ERROR));
            return;
        }
        let overhead = len - body.len() + 12;
        let fit = Self::fitting_szx(self.config.block_szx, max, overhead).unwrap_or(0);
        let (num, szx) = match asked {
            Some(b) => {
                let szx = b.szx.min(fit);
                // A smaller size than asked: the block number scales (RFC 7959 §2.4).
                (b.offset() / size_of_szx(szx), szx)
            }
            None => (0, fit),
        };
        let size = size_of_szx(szx);
        let start = num.saturating_mul(size);
        if start >= body.len() && !(start == 0 && body.is_empty()) {
            self.send_response_frame(token, Response::new(Code::BAD_OPTION));
            return;
        }
        let end = (start + size).min(body.len());
        let Ok(block) = BlockOption::new(num as u32, end < body.len(), szx) else {
            self.send_response_frame(token, Response::new(Code::REQUEST_ENTITY_TOO_LARGE));
            return;
        };
        response.options.set_uint(OptionNumber::BLOCK2, block.encode());
        if num == 0 {
            response.options.set_uint(OptionNumber::SIZE2, u32::try_from(body.len()).unwrap_or(u32::MAX));
        }
        let frame = Frame { code: response.code, token, options: response.options, payload: body.slice(start..end) };
        self.send_or_500(&frame, token);
    }

    fn send_or_500(&mut self, frame: &Frame, token: Token) {
        if let Err(e) = self.send_frame_checked(frame) {
            tracing::warn!(error = %e, "response could not be sent");
            self.send_response_frame(token, Response::new(Code::INTERNAL_SERVER_ERROR));
        }
    }

    fn send_response_frame(&mut self, token: Token, response: Response) {
        let frame = Frame { code: response.code, token, options: response.options, payload: response.payload };
        self.send(&frame);
    }

    /// Sends Release (7.04): no new requests from either side; the connection closes once
    /// nothing is outstanding (the peer usually closes it).
    pub fn release(&mut self, alternative_address: Option<&str>, hold_off: Option<u32>) {
        if matches!(self.state, State::Closed) {
            return;
        }
        let mut f = signal(RELEASE);
        if let Some(a) = alternative_address {
            f.options.push(OPT_ALTERNATIVE_ADDRESS, a.as_bytes());
        }
        if let Some(h) = hold_off {
            f.options.set_uint(OPT_HOLD_OFF, h);
        }
        self.send(&f);
        self.state = State::Releasing;
        self.check_released();
    }

    /// Sends Abort (7.05) with a diagnostic and closes at once.
    pub fn abort(&mut self, diagnostic: &str) {
        if self.state == State::Closed {
            return;
        }
        self.send_abort(diagnostic, None);
        self.close(CloseReason::LocalAbort(diagnostic.to_string()));
    }

    fn send_abort(&mut self, diagnostic: &str, bad_csm_option: Option<u32>) {
        let mut f = signal(ABORT);
        if let Some(o) = bad_csm_option {
            f.options.set_uint(OPT_BAD_CSM_OPTION, o);
        }
        f.payload = Bytes::from(diagnostic.to_string());
        self.send(&f);
    }

    fn protocol_error(&mut self, diagnostic: String, bad_csm_option: Option<u32>) {
        tracing::debug!(%diagnostic, "aborting the connection");
        self.send_abort(&diagnostic, bad_csm_option);
        self.close(CloseReason::ProtocolError(diagnostic));
    }

    fn check_released(&mut self) {
        let releasing = self.state == State::Releasing || (self.release_received && self.state == State::Open);
        if releasing && self.pending.is_empty() && self.incoming.is_empty() {
            self.close(CloseReason::Released);
        }
    }

    fn close(&mut self, reason: CloseReason) {
        self.state = State::Closed;
        self.csm_deadline = None;
        self.idle_deadline = None;
        let mut pending: Vec<Pending> = self.pending.drain().map(|(_, p)| p).collect();
        pending.append(&mut self.deferred);
        pending.sort_by_key(|p| p.id);
        for p in pending {
            match p.kind {
                Kind::Observe { registered: true } => {
                    self.events.push_back(ConnectionEvent::ObservationEnded { id: p.id });
                }
                _ => self.events.push_back(ConnectionEvent::RequestFailed {
                    id: p.id,
                    error: ExchangeError::Closed(reason.clone()),
                }),
            }
        }
        let mut observers: Vec<ObservationId> = self.observers.drain().map(|(k, _)| k).collect();
        observers.sort();
        for observation in observers {
            self.events.push_back(ConnectionEvent::ObserverRemoved { observation });
        }
        self.incoming.clear();
        self.block1.clear();
        self.custody_pongs.clear();
        self.events.push_back(ConnectionEvent::Closed(reason));
    }

    fn send_frame_checked(&mut self, frame: &Frame) -> Result<(), ExchangeError> {
        let bytes = frame.to_bytes().map_err(ExchangeError::Encode)?;
        if bytes.len() > self.peer.max_message_size {
            return Err(ExchangeError::TooLarge { len: bytes.len(), max: self.peer.max_message_size });
        }
        self.transmit.push_back(bytes);
        Ok(())
    }

    /// Queues a frame this module built (signaling, small responses); encoding cannot fail for
    /// them, and if it did the frame is dropped with a log line.
    fn send(&mut self, frame: &Frame) {
        match frame.to_bytes() {
            Ok(b) => self.transmit.push_back(b),
            Err(e) => tracing::warn!(error = %e, "frame could not be encoded"),
        }
    }
}
