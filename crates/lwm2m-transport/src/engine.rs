//! The sans-IO CoAP endpoint: messaging (RFC 7252 §4), request/response (§5), Observe
//! (RFC 7641) and Block-wise transfers (RFC 7959) for many peers behind one socket.
//!
//! The [`Endpoint`] owns no socket, clock or entropy source. Feed it datagrams with
//! [`Endpoint::handle_datagram`] and expiries with [`Endpoint::handle_timeout`]; drain what it
//! wants to send with [`Endpoint::poll_transmit`], what happened with [`Endpoint::poll_event`],
//! and when to wake it next with [`Endpoint::poll_timeout`]. Given the same inputs, times and
//! [`Config::seed`], it produces the same outputs.
//!
//! # Roles
//!
//! - Client: [`Endpoint::start_request`] returns a [`RequestId`]; the answer arrives as
//!   [`Event::Response`] or [`Event::RequestFailed`]; notifications of an observation as
//!   [`Event::Notification`]. Block-wise transfers in both directions are automatic: the
//!   application gives and gets whole bodies.
//! - Server: [`Event::Request`] carries an [`IncomingRequest`] with an [`IncomingId`]; answer it
//!   with [`Endpoint::respond`]. A GET/FETCH with `Observe: 0` carries an [`ObservationId`]
//!   which becomes active when the response is 2.xx; send notifications with
//!   [`Endpoint::notify`].
//!
//! # Limits and what happens when they are reached
//!
//! - [`Config::max_peers`]: datagrams from a new peer are refused; a CON request gets a
//!   stateless 5.03 Service Unavailable, anything else is dropped.
//! - [`Config::max_pending_per_peer`]: further requests from that peer get 5.03 until the
//!   application answers some.
//! - [`Config::max_dedup_per_peer`]: the oldest duplicate-detection record of the peer is
//!   evicted (a duplicate of that very old message would be processed again).
//! - [`Config::max_queued_per_peer`] and [`Config::max_requests`]: [`Endpoint::start_request`]
//!   fails with [`StartError`].
//! - [`Config::max_body_size`]: a larger Block1 upload is answered 4.13 with Size1; a larger
//!   Block2 download fails with [`RequestError::BodyTooLarge`].
//! - [`Config::max_observations`]: further registrations are served as plain responses (no
//!   Observe option), which RFC 7641 §4.1 allows.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::wire::{BlockOption, Code, Message, MessageRepr, MessageType, OptionNumber, Options, Token, size_of_szx};

/// A peer key: how the endpoint tells peers apart (a socket address for UDP, a session key for DTLS).
pub trait PeerKey: Clone + Eq + Hash + Debug {}
impl<T: Clone + Eq + Hash + Debug> PeerKey for T {}

/// The identity a secure transport authenticated for a peer, handed to the application with
/// every request (see [`Endpoint::set_peer_identity`]). NoSec peers have none.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PeerIdentity {
    /// A DTLS/TLS PSK identity.
    PskIdentity(Arc<[u8]>),
    /// An X.509 certificate's subject (or the SAN/CN the transport chose to report).
    Certificate(Arc<str>),
    /// The SHA-256 of a raw public key (RFC 7250).
    RawPublicKey([u8; 32]),
}

/// Transmission parameters of RFC 7252 §4.8 (defaults from the RFC).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TransmissionParams {
    /// ACK_TIMEOUT (2 s).
    pub ack_timeout: Duration,
    /// ACK_RANDOM_FACTOR (1.5); values below 1.0 are treated as 1.0.
    pub ack_random_factor: f64,
    /// MAX_RETRANSMIT (4): a CON is sent at most `1 + max_retransmit` times.
    pub max_retransmit: u32,
    /// NSTART (1): outstanding interactions per peer; more requests queue.
    pub nstart: usize,
    /// EXCHANGE_LIFETIME (247 s): how long CON message ids are remembered for deduplication.
    pub exchange_lifetime: Duration,
    /// NON_LIFETIME (145 s): how long NON message ids are remembered.
    pub non_lifetime: Duration,
    /// How long a client waits for a separate response after an empty ACK, or for any response
    /// to a NON request (MAX_TRANSMIT_WAIT, 93 s).
    pub response_timeout: Duration,
}

impl Default for TransmissionParams {
    fn default() -> Self {
        TransmissionParams {
            ack_timeout: Duration::from_secs(2),
            ack_random_factor: 1.5,
            max_retransmit: 4,
            nstart: 1,
            exchange_lifetime: Duration::from_secs(247),
            non_lifetime: Duration::from_secs(145),
            response_timeout: Duration::from_secs(93),
        }
    }
}

/// Endpoint configuration. Every limit has a safe default.
#[derive(Debug, Clone)]
pub struct Config {
    /// RFC 7252 transmission parameters.
    pub transmission: TransmissionParams,
    /// Seed of the endpoint's PRNG (tokens, initial message ids, retransmission jitter).
    /// Use a fresh random seed per process in production; fixed seeds make tests reproducible.
    pub seed: u64,
    /// Length of generated tokens, 0..=8 (default 8).
    pub token_len: usize,
    /// Size exponent for blocks this endpoint sends (Block1 uploads, Block2 responses): 0..=6
    /// for 16..1024 bytes (default 6). A peer asking for smaller blocks is followed.
    pub block_szx: u8,
    /// Early negotiation: when set, GET/FETCH requests carry `Block2: 0/0/szx` so the server
    /// uses that block size for the whole response (RFC 7959 §2.4).
    pub request_block2_szx: Option<u8>,
    /// Largest body reassembled from blocks, either direction (default 16 MiB).
    pub max_body_size: usize,
    /// How long a partial Block1 upload or a cached Block2 body is kept (default 247 s).
    pub block_lifetime: Duration,
    /// If the application has not answered a CON request within this delay, an empty ACK is
    /// sent and the answer follows as a separate CON response (default 1 s).
    pub separate_response_delay: Duration,
    /// Maximum number of peers with state (default 100 000).
    pub max_peers: usize,
    /// Duplicate-detection records per peer (default 4096).
    pub max_dedup_per_peer: usize,
    /// Requests of one peer awaiting the application's answer (default 64).
    pub max_pending_per_peer: usize,
    /// Client requests of one peer waiting for an NSTART slot (default 1024).
    pub max_queued_per_peer: usize,
    /// Client requests and observations in total (default 65 536).
    pub max_requests: usize,
    /// Server-side observations in total (default 65 536).
    pub max_observations: usize,
    /// Concurrent Block1 uploads and cached Block2 bodies per peer (default 16).
    pub max_block_transfers_per_peer: usize,
    /// A notification is sent CON at least every this many notifications (default 20).
    pub con_notification_every: u32,
    /// A notification is sent CON when the last CON one is older than this (RFC 7641 §4.5:
    /// at least every 24 hours).
    pub con_notification_interval: Duration,
    /// Period of the housekeeping timer that expires deduplication records and block state (1 s).
    pub housekeeping_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            transmission: TransmissionParams::default(),
            seed: 0x5eed_c0a9,
            token_len: 8,
            block_szx: 6,
            request_block2_szx: None,
            max_body_size: 16 << 20,
            block_lifetime: Duration::from_secs(247),
            separate_response_delay: Duration::from_secs(1),
            max_peers: 100_000,
            max_dedup_per_peer: 4096,
            max_pending_per_peer: 64,
            max_queued_per_peer: 1024,
            max_requests: 65_536,
            max_observations: 65_536,
            max_block_transfers_per_peer: 16,
            con_notification_every: 20,
            con_notification_interval: Duration::from_secs(24 * 3600),
            housekeeping_interval: Duration::from_secs(1),
        }
    }
}

/// A request as the application sees it: method, options and the whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method (GET, POST, ..., iPATCH).
    pub method: Code,
    /// Options (Uri-Path, Content-Format, Observe, ...). Block1/Block2/Size1 are managed by the
    /// endpoint unless given explicitly.
    pub options: Options,
    /// The whole body.
    pub payload: Bytes,
    /// Send as CON (true, the default for LwM2M) or NON.
    pub confirmable: bool,
}

impl Request {
    /// A CON request with no options or body.
    pub fn new(method: Code) -> Request {
        Request { method, options: Options::new(), payload: Bytes::new(), confirmable: true }
    }

    /// A CON request for a path such as `/3/0/1`.
    pub fn with_path(method: Code, path: &str) -> Request {
        let mut r = Request::new(method);
        r.options.set_uri_path(path);
        r
    }
}

/// A response as the application sees it: code, options and the whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The response code.
    pub code: Code,
    /// Options (Content-Format, Location-Path, Observe in notifications, ...).
    pub options: Options,
    /// The whole body.
    pub payload: Bytes,
}

impl Response {
    /// A response with no options or body.
    pub fn new(code: Code) -> Response {
        Response { code, options: Options::new(), payload: Bytes::new() }
    }

    /// A response with a body in the given content format.
    pub fn with_payload(code: Code, format: lwm2m_core::ContentFormat, payload: impl Into<Bytes>) -> Response {
        let mut r = Response::new(code);
        r.options.set_content_format(format);
        r.payload = payload.into();
        r
    }
}

/// Identifies a request this endpoint sent (and its observation, if any).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// Identifies a request this endpoint received and has not answered yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IncomingId(pub u64);

/// Identifies an observation registered with this endpoint (server side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObservationId(pub u64);

/// What an incoming request asks of Observe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObserveRequest {
    /// No Observe option.
    None,
    /// `Observe: 0`: the id becomes active if the response is 2.xx.
    Register(ObservationId),
    /// `Observe: 1`: any observation by this peer and token was removed.
    Deregister,
}

/// A request received from a peer, reassembled if it came in blocks.
#[derive(Debug, Clone)]
pub struct IncomingRequest<P> {
    /// Answer with [`Endpoint::respond`].
    pub id: IncomingId,
    /// Who sent it.
    pub peer: P,
    /// The authenticated identity of the peer, if the transport set one.
    pub identity: Option<PeerIdentity>,
    /// The request (Block1 and Observe options removed from `options`; see `observe`).
    pub request: Request,
    /// Observe registration or deregistration.
    pub observe: ObserveRequest,
}

/// Why a request produced no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// No ACK or response after every retransmission (MAX_RETRANSMIT) or within the response timeout.
    #[error("no response from the peer after {transmissions} transmission(s)")]
    Timeout {
        /// How many times the last message was sent.
        transmissions: u32,
    },
    /// The peer answered with Reset.
    #[error("the peer answered with Reset (RST)")]
    Reset,
    /// A block-wise response is larger than [`Config::max_body_size`].
    #[error("the response body exceeds the {limit}-byte limit")]
    BodyTooLarge {
        /// The limit.
        limit: usize,
    },
    /// A block-wise transfer went wrong (wrong block number, ETag changed, bad option).
    #[error("block-wise transfer failed: {reason}")]
    Blockwise {
        /// What went wrong.
        reason: &'static str,
    },
    /// The response carried a critical option this endpoint does not understand (RFC 7252
    /// §5.4.1); the response was rejected.
    #[error("the response carries unrecognized critical option {number}")]
    UnrecognizedCriticalOption {
        /// The option number.
        number: u16,
    },
    /// The request could not be encoded (an option too long).
    #[error("the request could not be encoded: {0}")]
    Encode(crate::wire::WireError),
    /// The application cancelled it.
    #[error("the request was cancelled")]
    Cancelled,
}

/// Why an observation ended (client side).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObservationEnd {
    /// The server sent a final notification (non-2.xx, or without Observe).
    ServerEnded,
    /// Cancelled with [`Endpoint::cancel_observation`].
    Cancelled,
    /// Fetching the blocks of a notification failed.
    Failed(RequestError),
}

/// Why a server-side observer was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObserverRemoved {
    /// The client answered a notification with Reset.
    Reset,
    /// A CON notification was never acknowledged.
    Timeout,
    /// The client deregistered (GET with `Observe: 1`) or re-registered.
    Deregistered,
    /// The application sent a non-2.xx notification.
    Ended,
}

/// What happened; drain with [`Endpoint::poll_event`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event<P> {
    /// A request to answer with [`Endpoint::respond`].
    Request(IncomingRequest<P>),
    /// The (whole) response to a request. For an observation with an Observe option in the
    /// response, notifications follow; without one the server did not register it.
    Response {
        /// The request.
        id: RequestId,
        /// The response, body reassembled.
        response: Response,
    },
    /// A fresh notification of an observation.
    Notification {
        /// The observing request.
        id: RequestId,
        /// The notification, body reassembled.
        response: Response,
    },
    /// An observation ended.
    ObservationEnded {
        /// The observing request.
        id: RequestId,
        /// Why.
        reason: ObservationEnd,
    },
    /// A request failed.
    RequestFailed {
        /// The request.
        id: RequestId,
        /// Why.
        error: RequestError,
    },
    /// A ping ([`Endpoint::ping`]) was answered.
    Pong {
        /// The ping.
        id: RequestId,
    },
    /// A server-side observer is gone; stop calling [`Endpoint::notify`] for it.
    ObserverRemoved {
        /// The observation.
        observation: ObservationId,
        /// Why.
        reason: ObserverRemoved,
    },
}

/// A datagram to send; drain with [`Endpoint::poll_transmit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit<P> {
    /// Destination.
    pub peer: P,
    /// The encoded CoAP message.
    pub payload: Bytes,
}

/// Max-Age, in seconds, of the 5.03 that answers a request arriving while the endpoint shuts down
/// ([`Endpoint::begin_shutdown`]): the peer may try again after that long.
pub const SHUTDOWN_RETRY_AFTER_S: u32 = 5;

/// Why [`Endpoint::start_request`] refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// [`Config::max_requests`] reached.
    #[error("too many requests in flight (limit {limit})")]
    TooManyRequests {
        /// The limit.
        limit: usize,
    },
    /// [`Config::max_queued_per_peer`] reached.
    #[error("too many requests queued for this peer (limit {limit})")]
    QueueFull {
        /// The limit.
        limit: usize,
    },
    /// [`Config::max_peers`] reached.
    #[error("too many peers (limit {limit})")]
    TooManyPeers {
        /// The limit.
        limit: usize,
    },
    /// The request is not a request method.
    #[error("{code:?} is not a request method")]
    NotAMethod {
        /// The code given.
        code: Code,
    },
    /// [`Endpoint::begin_shutdown`] was called: no new exchanges.
    #[error("the endpoint is shutting down")]
    ShuttingDown,
}

/// Why [`Endpoint::respond`] or [`Endpoint::notify`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RespondError {
    /// The id is not (or no longer) a request awaiting an answer.
    #[error("no pending request {0:?}")]
    UnknownRequest(IncomingId),
    /// The id is not (or no longer) an active observation.
    #[error("no active observation {0:?}")]
    UnknownObservation(ObservationId),
    /// The code is not a response code.
    #[error("{0:?} is not a response code")]
    NotAResponse(Code),
    /// The response could not be encoded.
    #[error("the response could not be encoded: {0}")]
    Encode(crate::wire::WireError),
}

/// The endpoint's deterministic PRNG (SplitMix64). Not cryptographic: tokens are unpredictable
/// only to the extent the seed is (RFC 7252 §5.3.1 asks for at least 32 random bits for
/// tokens exposed to off-path attackers; seed from the OS in production).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

type TimerKey = (Instant, u64);

/// Size of the chunks encoded messages and copied payloads are carved from.
const POOL_CHUNK: usize = 16 * 1024;

#[derive(Debug, Clone)]
enum Timer<P> {
    Retransmit(P, u16),
    SeparateAck(IncomingId),
    RequestDeadline(RequestId),
    Housekeeping,
    ShutdownDeadline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConOwner {
    Request(RequestId),
    Ping(RequestId),
    Notification(ObservationId),
    Response,
}

#[derive(Debug)]
struct PendingCon {
    bytes: Bytes,
    transmissions: u32,
    timeout: Duration,
    timer: TimerKey,
    owner: ConOwner,
}

#[derive(Debug)]
struct DedupEntry {
    reply: Option<Bytes>,
    incoming: Option<IncomingId>,
}

#[derive(Debug)]
struct Block1Assembly {
    body: Vec<u8>,
    next_num: u32,
    szx: u8,
    expires: Instant,
}

#[derive(Debug)]
struct CachedBody {
    response: Response,
    expires: Instant,
}

#[derive(Debug)]
struct PeerState {
    next_mid: u16,
    /// EXCHANGE_LIFETIME after the last message id taken from `next_mid`: until then the state
    /// (and with it the counter) is kept, so a message id is never reused within
    /// EXCHANGE_LIFETIME of its last use (RFC 7252 §4.4) by re-drawing a random initial id.
    mids_used_until: Option<Instant>,
    outstanding: usize,
    queue: VecDeque<RequestId>,
    dedup: HashMap<u16, DedupEntry>,
    dedup_order: VecDeque<(Instant, u16)>,
    pending: usize,
    block1: HashMap<u64, Block1Assembly>,
    block2: HashMap<u64, CachedBody>,
    identity: Option<PeerIdentity>,
    refs: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Queued,
    Awaiting,
    Observing,
    Deregistering,
}

#[derive(Debug)]
struct ClientObserve {
    reg_token: Token,
    last_seq: Option<u32>,
    last_time: Instant,
}

#[derive(Debug)]
struct ClientExchange<P> {
    peer: P,
    request: Request,
    is_ping: bool,
    token: Token,
    mid: Option<u16>,
    holds_slot: bool,
    phase: Phase,
    deadline: Option<TimerKey>,
    b1_offset: usize,
    b1_szx: u8,
    b1_num: u32,
    b2_body: Vec<u8>,
    b2_num: u32,
    b2_szx: u8,
    b2_first: Option<Response>,
    b2_etag: Option<Vec<u8>>,
    observe: Option<ClientObserve>,
    /// True while fetching the remaining blocks of a notification (not of the first response).
    notification_fetch: bool,
}

#[derive(Debug)]
struct IncomingState<P> {
    peer: P,
    mid: u16,
    token: Token,
    confirmable: bool,
    separate: bool,
    timer: Option<TimerKey>,
    block1: Option<BlockOption>,
    block2: Option<BlockOption>,
    cache_key: u64,
    observe: ObserveRequest,
}

#[derive(Debug)]
struct Observer<P> {
    peer: P,
    token: Token,
    active: bool,
    seq: u32,
    since_con: u32,
    last_con: Instant,
    pending_mid: Option<u16>,
    last_mid: Option<u16>,
    cache_key: u64,
    block2_szx: Option<u8>,
}

/// The sans-IO CoAP endpoint for many peers. See the [module docs](self).
#[derive(Debug)]
pub struct Endpoint<P: PeerKey> {
    config: Config,
    rng: Rng,
    peers: HashMap<P, PeerState>,
    timers: BTreeMap<TimerKey, Timer<P>>,
    timer_seq: u64,
    housekeeping: Option<TimerKey>,
    transmits: VecDeque<Transmit<P>>,
    events: VecDeque<Event<P>>,
    requests: HashMap<RequestId, ClientExchange<P>>,
    next_request: u64,
    tokens: HashMap<(P, Token), RequestId>,
    cons: HashMap<(P, u16), PendingCon>,
    incoming: HashMap<IncomingId, IncomingState<P>>,
    next_incoming: u64,
    observers: HashMap<ObservationId, Observer<P>>,
    observers_by_token: HashMap<(P, Token), ObservationId>,
    next_observation: u64,
    /// Set by [`Endpoint::begin_shutdown`]: when the grace period ends.
    shutdown_deadline: Option<Instant>,
    /// Pooled output and payload buffers: encoded messages and copied payloads are carved out
    /// of shared chunks, so the steady state does not allocate per message.
    pool: BytesMut,
}

fn fnv(hash: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *hash ^= u64::from(*b);
        *hash = hash.wrapping_mul(0x100_0000_01b3);
    }
}

/// The key of a resource representation for block-wise state: method, Uri-Path, Uri-Query,
/// Accept and (for FETCH) the body.
fn cache_key(method: Code, options: &Options, payload: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    fnv(&mut h, &[method.0]);
    for o in options {
        if matches!(o.number, OptionNumber::URI_PATH | OptionNumber::URI_QUERY | OptionNumber::ACCEPT) {
            fnv(&mut h, &o.number.0.to_be_bytes());
            fnv(&mut h, &(o.value.len() as u32).to_be_bytes());
            fnv(&mut h, &o.value);
        }
    }
    if method == Code::FETCH {
        fnv(&mut h, payload);
    }
    h
}

/// RFC 7641 §3.4: is notification `(v2, t2)` fresher than `(v1, t1)`?
pub fn is_fresher(v1: u32, t1: Instant, v2: u32, t2: Instant) -> bool {
    const HALF: u32 = 1 << 23;
    (v1 < v2 && v2 - v1 < HALF) || (v1 > v2 && v1 - v2 > HALF) || t2 > t1 + Duration::from_secs(128)
}

impl<P: PeerKey> Endpoint<P> {
    /// A new endpoint.
    pub fn new(mut config: Config) -> Endpoint<P> {
        config.token_len = config.token_len.min(8);
        config.block_szx = config.block_szx.min(6);
        config.transmission.nstart = config.transmission.nstart.max(1);
        let rng = Rng(config.seed);
        Endpoint {
            config,
            rng,
            peers: HashMap::new(),
            timers: BTreeMap::new(),
            timer_seq: 0,
            housekeeping: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            requests: HashMap::new(),
            next_request: 1,
            tokens: HashMap::new(),
            cons: HashMap::new(),
            incoming: HashMap::new(),
            next_incoming: 1,
            observers: HashMap::new(),
            observers_by_token: HashMap::new(),
            next_observation: 1,
            shutdown_deadline: None,
            pool: BytesMut::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of peers with state.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Records the authenticated identity of a peer (set by a secure transport); it is attached
    /// to every [`IncomingRequest`] from that peer.
    pub fn set_peer_identity(&mut self, now: Instant, peer: &P, identity: Option<PeerIdentity>) {
        if let Some(state) = self.peer_mut(now, peer) {
            state.identity = identity;
        }
    }

    /// Forgets everything about a peer (its session ended): pending requests to it fail with
    /// [`RequestError::Cancelled`] and its observers are removed.
    pub fn forget_peer(&mut self, now: Instant, peer: &P) {
        let ids: Vec<RequestId> = self.requests.iter().filter(|(_, e)| &e.peer == peer).map(|(id, _)| *id).collect();
        for id in ids {
            self.fail_request_at(now, id, RequestError::Cancelled);
        }
        let obs: Vec<ObservationId> =
            self.observers.iter().filter(|(_, o)| &o.peer == peer).map(|(id, _)| *id).collect();
        for id in obs {
            self.remove_observer(id, ObserverRemoved::Deregistered);
        }
        let inc: Vec<IncomingId> = self.incoming.iter().filter(|(_, i)| &i.peer == peer).map(|(id, _)| *id).collect();
        for id in inc {
            if let Some(state) = self.incoming.remove(&id) {
                self.cancel_timer(state.timer);
            }
        }
        let keys: Vec<(P, u16)> = self.cons.keys().filter(|(p, _)| p == peer).cloned().collect();
        for key in keys {
            if let Some(pc) = self.cons.remove(&key) {
                self.timers.remove(&pc.timer);
            }
        }
        self.peers.remove(peer);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit<P>> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event<P>> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.keys().next().map(|(t, _)| *t)
    }

    fn set_timer(&mut self, at: Instant, timer: Timer<P>) -> TimerKey {
        self.timer_seq += 1;
        let key = (at, self.timer_seq);
        self.timers.insert(key, timer);
        key
    }

    fn cancel_timer(&mut self, key: Option<TimerKey>) {
        if let Some(k) = key {
            self.timers.remove(&k);
        }
    }

    fn ensure_housekeeping(&mut self, now: Instant) {
        if self.housekeeping.is_none() {
            let at = now + self.config.housekeeping_interval;
            self.housekeeping = Some(self.set_timer(at, Timer::Housekeeping));
        }
    }

    fn new_peer_state(&mut self) -> PeerState {
        PeerState {
            next_mid: self.rng.next_u64() as u16,
            mids_used_until: None,
            outstanding: 0,
            queue: VecDeque::new(),
            dedup: HashMap::new(),
            dedup_order: VecDeque::new(),
            pending: 0,
            block1: HashMap::new(),
            block2: HashMap::new(),
            identity: None,
            refs: 0,
        }
    }

    /// The state of a peer, created if there is room.
    fn peer_mut(&mut self, now: Instant, peer: &P) -> Option<&mut PeerState> {
        if !self.peers.contains_key(peer) {
            if self.peers.len() >= self.config.max_peers {
                return None;
            }
            let state = self.new_peer_state();
            self.peers.insert(peer.clone(), state);
            self.ensure_housekeeping(now);
        }
        self.peers.get_mut(peer)
    }

    /// The next message id for a message to `peer` (RFC 7252 §4.4).
    ///
    /// Ids are sequential per peer from a random start. Housekeeping keeps the peer's state, and
    /// with it the counter, for EXCHANGE_LIFETIME after the last id taken: re-drawing a random
    /// start while the peer still remembers recent ids for deduplication would make it answer a
    /// new request from its cache with an older exchange's response. Ids of CON messages still awaiting their ACK are skipped, so
    /// even a sender wrapping the 16-bit space within EXCHANGE_LIFETIME never has two
    /// messages in flight with one id.
    fn next_mid(&mut self, now: Instant, peer: &P) -> u16 {
        let lifetime = self.config.transmission.exchange_lifetime;
        let Some(state) = self.peers.get_mut(peer) else { return self.rng.next_u64() as u16 };
        state.mids_used_until = Some(now + lifetime);
        let mut key = (peer.clone(), state.next_mid);
        // Bounded: at most one full turn of the id space.
        for _ in 0..=u16::MAX {
            if !self.cons.contains_key(&key) {
                break;
            }
            key.1 = key.1.wrapping_add(1);
        }
        state.next_mid = key.1.wrapping_add(1);
        key.1
    }

    fn new_token(&mut self) -> Token {
        let bytes = self.rng.next_u64().to_be_bytes();
        Token::new(&bytes[..self.config.token_len]).unwrap_or_default()
    }

    fn initial_timeout(&mut self) -> Duration {
        let t = &self.config.transmission;
        let factor = t.ack_random_factor.max(1.0);
        let base = t.ack_timeout;
        base.mul_f64(1.0 + self.rng.unit() * (factor - 1.0))
    }

    fn encode(&mut self, repr: &MessageRepr) -> Result<Bytes, crate::wire::WireError> {
        let len = repr.encoded_len();
        self.reserve_pool(len);
        self.pool.resize(len, 0);
        match repr.emit(&mut self.pool[..]) {
            Ok(_) => Ok(self.pool.split().freeze()),
            Err(e) => {
                self.pool.clear();
                Err(e)
            }
        }
    }

    /// A copy of `data` in the pool.
    fn pooled_copy(&mut self, data: &[u8]) -> Bytes {
        if data.is_empty() {
            return Bytes::new();
        }
        self.reserve_pool(data.len());
        self.pool.extend_from_slice(data);
        self.pool.split().freeze()
    }

    fn reserve_pool(&mut self, len: usize) {
        if self.pool.capacity() < len {
            // Start a new chunk; the old one lives until its last message is dropped.
            self.pool = BytesMut::with_capacity(POOL_CHUNK.max(len));
        }
    }

    fn response_from(&mut self, msg: &Message<'_>) -> Response {
        let payload = self.pooled_copy(msg.payload());
        let repr = MessageRepr::parse_with_payload(msg, payload);
        Response { code: repr.code, options: repr.options, payload: repr.payload }
    }

    fn send(&mut self, peer: &P, payload: Bytes) {
        self.transmits.push_back(Transmit { peer: peer.clone(), payload });
    }

    fn send_con(&mut self, now: Instant, peer: &P, mid: u16, bytes: Bytes, owner: ConOwner) {
        let timeout = self.initial_timeout();
        let timer = self.set_timer(now + timeout, Timer::Retransmit(peer.clone(), mid));
        self.cons
            .insert((peer.clone(), mid), PendingCon { bytes: bytes.clone(), transmissions: 1, timeout, timer, owner });
        self.send(peer, bytes);
    }

    fn send_empty(&mut self, peer: &P, message_type: MessageType, mid: u16) -> Bytes {
        let b = self.pooled_copy(&empty_header(message_type, mid));
        self.send(peer, b.clone());
        b
    }

    // ---------------------------------------------------------------- client side

    /// Starts a request to `peer`. Large bodies are sent block-wise; the answer comes as
    /// [`Event::Response`] (or [`Event::RequestFailed`]). With `Observe: 0` in the options the
    /// request registers an observation and notifications follow as [`Event::Notification`].
    pub fn start_request(&mut self, now: Instant, peer: P, request: Request) -> Result<RequestId, StartError> {
        if !request.method.is_request() {
            return Err(StartError::NotAMethod { code: request.method });
        }
        self.start(now, peer, request, false)
    }

    /// Sends a CoAP ping (an empty CON). The peer's RST arrives as [`Event::Pong`]; no answer
    /// after MAX_RETRANSMIT is [`Event::RequestFailed`] with [`RequestError::Timeout`].
    pub fn ping(&mut self, now: Instant, peer: P) -> Result<RequestId, StartError> {
        self.start(now, peer, Request::new(Code::EMPTY), true)
    }

    fn start(&mut self, now: Instant, peer: P, request: Request, is_ping: bool) -> Result<RequestId, StartError> {
        if self.shutdown_deadline.is_some() {
            return Err(StartError::ShuttingDown);
        }
        if self.requests.len() >= self.config.max_requests {
            return Err(StartError::TooManyRequests { limit: self.config.max_requests });
        }
        let limit = self.config.max_peers;
        let nstart = self.config.transmission.nstart;
        let max_queue = self.config.max_queued_per_peer;
        let id = RequestId(self.next_request);
        let state = self.peer_mut(now, &peer).ok_or(StartError::TooManyPeers { limit })?;
        let must_queue = state.outstanding >= nstart;
        if must_queue && state.queue.len() >= max_queue {
            return Err(StartError::QueueFull { limit: max_queue });
        }
        state.refs += 1;
        if must_queue {
            state.queue.push_back(id);
        }
        self.next_request += 1;
        let observe = (request.options.observe() == Some(0) && matches!(request.method, Code::GET | Code::FETCH))
            .then_some(ClientObserve { reg_token: Token::EMPTY, last_seq: None, last_time: now });
        let exchange = ClientExchange {
            peer,
            request,
            is_ping,
            token: Token::EMPTY,
            mid: None,
            holds_slot: false,
            phase: Phase::Queued,
            deadline: None,
            b1_offset: 0,
            b1_szx: self.config.block_szx,
            b1_num: 0,
            b2_body: Vec::new(),
            b2_num: 0,
            b2_szx: self.config.request_block2_szx.unwrap_or(self.config.block_szx).min(6),
            b2_first: None,
            b2_etag: None,
            observe,
            notification_fetch: false,
        };
        self.requests.insert(id, exchange);
        if !must_queue {
            self.take_slot(id);
            self.send_exchange(now, id);
        }
        Ok(id)
    }

    fn take_slot(&mut self, id: RequestId) {
        if let Some(ex) = self.requests.get_mut(&id)
            && !ex.holds_slot
        {
            ex.holds_slot = true;
            if let Some(state) = self.peers.get_mut(&ex.peer) {
                state.outstanding += 1;
            }
        }
    }

    fn release_slot(&mut self, now: Instant, id: RequestId) {
        let Some(ex) = self.requests.get_mut(&id) else { return };
        if !ex.holds_slot {
            return;
        }
        ex.holds_slot = false;
        let peer = ex.peer.clone();
        self.release_peer_slot(now, &peer);
    }

    fn release_peer_slot(&mut self, now: Instant, peer: &P) {
        let nstart = self.config.transmission.nstart;
        let Some(state) = self.peers.get_mut(peer) else { return };
        state.outstanding = state.outstanding.saturating_sub(1);
        while state.outstanding < nstart {
            let Some(next) = state.queue.pop_front() else { break };
            if self.requests.contains_key(&next) {
                self.take_slot(next);
                self.send_exchange(now, next);
                return;
            }
        }
    }

    /// Builds and sends the next message of a client exchange (first message, next Block1
    /// block, next Block2 request, or a deregistration).
    fn send_exchange(&mut self, now: Instant, id: RequestId) {
        let fresh = self.new_token();
        let Some(ex) = self.requests.get_mut(&id) else { return };
        let peer = ex.peer.clone();
        let reg = ex.observe.as_ref().map(|o| o.reg_token).filter(|t| !t.is_empty());
        let old = ex.token;
        let token = if ex.is_ping {
            Token::EMPTY
        } else if ex.phase == Phase::Deregistering {
            reg.unwrap_or(fresh)
        } else {
            fresh
        };
        ex.token = token;
        if ex.phase != Phase::Deregistering {
            ex.phase = Phase::Awaiting;
        }
        if let Some(o) = &mut ex.observe
            && o.reg_token.is_empty()
        {
            o.reg_token = token;
        }
        let confirmable = ex.request.confirmable || ex.is_ping || ex.phase == Phase::Deregistering;
        let is_ping = ex.is_ping;
        let built = build_client_message(ex, &self.config);
        if Some(old) != reg && self.tokens.get(&(peer.clone(), old)) == Some(&id) {
            self.tokens.remove(&(peer.clone(), old));
        }
        let mut repr = match built {
            Ok(r) => r,
            Err(e) => {
                self.fail_request_at(now, id, e);
                return;
            }
        };
        let mid = self.next_mid(now, &peer);
        repr.token = token;
        repr.message_id = mid;
        repr.message_type = if confirmable { MessageType::Confirmable } else { MessageType::NonConfirmable };
        let bytes = match self.encode(&repr) {
            Ok(b) => b,
            Err(e) => {
                self.fail_request_at(now, id, RequestError::Encode(e));
                return;
            }
        };
        if !is_ping {
            self.tokens.insert((peer.clone(), token), id);
        }
        if let Some(ex) = self.requests.get_mut(&id) {
            ex.mid = Some(mid);
        }
        if confirmable {
            let owner = if is_ping { ConOwner::Ping(id) } else { ConOwner::Request(id) };
            self.send_con(now, &peer, mid, bytes, owner);
        } else {
            self.send(&peer, bytes);
            self.arm_deadline(now, id);
        }
    }

    fn arm_deadline(&mut self, now: Instant, id: RequestId) {
        let at = now + self.config.transmission.response_timeout;
        let old = self.requests.get_mut(&id).and_then(|ex| ex.deadline.take());
        self.cancel_timer(old);
        let key = self.set_timer(at, Timer::RequestDeadline(id));
        if let Some(ex) = self.requests.get_mut(&id) {
            ex.deadline = Some(key);
        }
    }

    /// Removes a client exchange and everything pointing at it.
    fn remove_exchange(&mut self, now: Instant, id: RequestId) -> Option<ClientExchange<P>> {
        self.release_slot(now, id);
        let ex = self.requests.remove(&id)?;
        self.cancel_timer(ex.deadline);
        self.tokens.remove(&(ex.peer.clone(), ex.token));
        if let Some(o) = &ex.observe
            && self.tokens.get(&(ex.peer.clone(), o.reg_token)) == Some(&id)
        {
            self.tokens.remove(&(ex.peer.clone(), o.reg_token));
        }
        if let Some(mid) = ex.mid
            && let Some(pc) = self.cons.remove(&(ex.peer.clone(), mid))
        {
            if matches!(pc.owner, ConOwner::Request(r) | ConOwner::Ping(r) if r == id) {
                self.timers.remove(&pc.timer);
            } else {
                self.cons.insert((ex.peer.clone(), mid), pc);
            }
        }
        if let Some(state) = self.peers.get_mut(&ex.peer) {
            state.refs = state.refs.saturating_sub(1);
            state.queue.retain(|q| *q != id);
        }
        Some(ex)
    }

    /// Cancels a request: no event follows. For an observation use
    /// [`cancel_observation`](Self::cancel_observation) instead.
    pub fn cancel_request(&mut self, now: Instant, id: RequestId) {
        self.remove_exchange(now, id);
    }

    /// Ends an observation. `active` sends a GET with `Observe: 1` (RFC 7641 §3.6); otherwise
    /// the state is dropped and the next notification is answered with RST. Either way
    /// [`Event::ObservationEnded`] with [`ObservationEnd::Cancelled`] follows.
    pub fn cancel_observation(&mut self, now: Instant, id: RequestId, active: bool) {
        let Some(ex) = self.requests.get_mut(&id) else { return };
        if active && ex.observe.as_ref().is_some_and(|o| !o.reg_token.is_empty()) && ex.phase != Phase::Deregistering {
            ex.phase = Phase::Deregistering;
            ex.notification_fetch = false;
            ex.request.options.set_uint(OptionNumber::OBSERVE, 1);
            ex.b1_offset = 0;
            ex.b1_num = 0;
            ex.b2_num = 0;
            ex.b2_body.clear();
            ex.b2_first = None;
            let old_mid = ex.mid.take();
            let peer = ex.peer.clone();
            if let Some(mid) = old_mid
                && let Some(pc) = self.cons.remove(&(peer, mid))
            {
                self.timers.remove(&pc.timer);
            }
            self.send_exchange(now, id);
        } else {
            self.remove_exchange(now, id);
            self.events.push_back(Event::ObservationEnded { id, reason: ObservationEnd::Cancelled });
        }
    }

    // ---------------------------------------------------------------- input

    /// Processes one datagram from `peer`. Malformed datagrams are dropped (a malformed CON is
    /// answered with RST, RFC 7252 §4.2).
    #[expect(
        clippy::needless_pass_by_value,
        reason = "peer keys are passed by value throughout the API, like quinn-proto"
    )]
    pub fn handle_datagram(&mut self, now: Instant, peer: P, datagram: &[u8]) {
        let msg = match Message::new_checked(datagram) {
            Ok(m) => m,
            Err(err) => {
                tracing::debug!(?peer, %err, "dropping malformed CoAP message");
                if let Some((MessageType::Confirmable, mid)) = Message::peek_header(datagram) {
                    self.send_empty(&peer, MessageType::Reset, mid);
                }
                return;
            }
        };
        let mtype = msg.message_type();
        let code = msg.code();
        let mid = msg.message_id();
        match mtype {
            MessageType::Acknowledgement | MessageType::Reset => {
                if !self.peers.contains_key(&peer) {
                    return;
                }
                self.handle_ack_or_rst(now, &peer, &msg);
            }
            MessageType::Confirmable | MessageType::NonConfirmable => {
                let con = mtype == MessageType::Confirmable;
                if code.is_empty() {
                    if con {
                        // Ping: RFC 7252 §4.3 — answer an empty CON with RST.
                        self.send_empty(&peer, MessageType::Reset, mid);
                    }
                    return;
                }
                if !code.is_request() && !code.is_response() {
                    // Reserved classes 1, 6, 7: reject.
                    if con {
                        self.send_empty(&peer, MessageType::Reset, mid);
                    }
                    return;
                }
                if !self.peers.contains_key(&peer) && self.peers.len() >= self.config.max_peers {
                    if con && code.is_request() {
                        let bytes = piggyback_bytes(mid, msg.token(), Code::SERVICE_UNAVAILABLE);
                        self.send(&peer, bytes);
                    }
                    return;
                }
                // Deduplication by message id (RFC 7252 §4.5).
                if let Some(state) = self.peer_mut(now, &peer) {
                    expire_dedup(state, now);
                    if let Some(entry) = state.dedup.get(&mid) {
                        match (&entry.reply, entry.incoming) {
                            (Some(reply), _) => {
                                let reply = reply.clone();
                                self.send(&peer, reply);
                            }
                            (None, Some(inc)) if con => {
                                // Still processing: acknowledge now, answer separately later.
                                self.send_separate_ack(inc);
                            }
                            _ => {}
                        }
                        return;
                    }
                }
                let lifetime = if con {
                    self.config.transmission.exchange_lifetime
                } else {
                    self.config.transmission.non_lifetime
                };
                let max_dedup = self.config.max_dedup_per_peer.max(1);
                if let Some(state) = self.peers.get_mut(&peer) {
                    while state.dedup.len() >= max_dedup {
                        let Some((_, old)) = state.dedup_order.pop_front() else { break };
                        state.dedup.remove(&old);
                    }
                    state.dedup.insert(mid, DedupEntry { reply: None, incoming: None });
                    state.dedup_order.push_back((now + lifetime, mid));
                }
                if code.is_request() {
                    self.handle_request(now, &peer, &msg);
                } else {
                    self.handle_separate_response(now, &peer, &msg);
                }
            }
        }
    }

    fn set_dedup_reply(&mut self, peer: &P, mid: u16, reply: Option<Bytes>, incoming: Option<IncomingId>) {
        if let Some(entry) = self.peers.get_mut(peer).and_then(|s| s.dedup.get_mut(&mid)) {
            entry.reply = reply;
            entry.incoming = incoming;
        }
    }

    fn handle_ack_or_rst(&mut self, now: Instant, peer: &P, msg: &Message<'_>) {
        let mid = msg.message_id();
        let reset = msg.message_type() == MessageType::Reset;
        let key = (peer.clone(), mid);
        if let Some(PendingCon { owner: ConOwner::Request(id), .. }) = self.cons.get(&key) {
            let id = *id;
            let stale =
                !reset && !msg.code().is_empty() && self.requests.get(&id).is_some_and(|ex| ex.token != msg.token());
            if stale {
                // RFC 7252 §5.3.2: a piggybacked response must match the request's message id
                // AND token. One that does not is some other exchange's response (typically
                // the peer replaying its deduplication cache for a message id it saw before);
                // it is rejected by silently ignoring it (§4.2), so the request stays
                // unacknowledged and is retransmitted (and fails with a timeout if the peer
                // keeps answering it so) instead of waiting forever for a response that was
                // already delivered.
                tracing::debug!(?peer, mid, "ignoring a piggybacked response with a mismatched token");
                return;
            }
        }
        let Some(pc) = self.cons.remove(&key) else {
            if reset {
                // RST to a NON notification cancels the observation (RFC 7641 §3.6).
                let found = self.observers.iter().find(|(_, o)| &o.peer == peer && o.last_mid == Some(mid));
                if let Some((id, _)) = found {
                    let id = *id;
                    self.remove_observer(id, ObserverRemoved::Reset);
                }
            }
            return;
        };
        self.timers.remove(&pc.timer);
        match pc.owner {
            ConOwner::Response => {}
            ConOwner::Ping(id) => {
                self.remove_exchange(now, id);
                self.events.push_back(Event::Pong { id });
            }
            ConOwner::Notification(obs) => {
                if reset {
                    self.remove_observer(obs, ObserverRemoved::Reset);
                } else if let Some(o) = self.observers.get_mut(&obs)
                    && o.pending_mid == Some(mid)
                {
                    o.pending_mid = None;
                }
            }
            ConOwner::Request(id) => {
                if reset {
                    self.fail_request_at(now, id, RequestError::Reset);
                    return;
                }
                if msg.code().is_empty() {
                    // Separate response follows; the interaction is no longer outstanding.
                    self.release_slot(now, id);
                    self.arm_deadline(now, id);
                    return;
                }
                // The token matches (checked above). RFC 7252 §5.4.1: a piggybacked response
                // with an unrecognized critical option is rejected (for an ACK: ignored); the
                // request fails with the reason.
                if let Some(option) = unrecognized_critical(msg) {
                    self.fail_request_at(now, id, RequestError::UnrecognizedCriticalOption { number: option.0 });
                    return;
                }
                self.on_response(now, id, msg);
            }
        }
    }

    /// A CON or NON message carrying a response code (separate response or notification).
    fn handle_separate_response(&mut self, now: Instant, peer: &P, msg: &Message<'_>) {
        let con = msg.message_type() == MessageType::Confirmable;
        let mid = msg.message_id();
        let token = msg.token();
        let Some(id) = self.tokens.get(&(peer.clone(), token)).copied() else {
            // Unknown token: reject (this is also the passive observe cancellation).
            let rst = self.send_empty(peer, MessageType::Reset, mid);
            self.set_dedup_reply(peer, mid, Some(rst), None);
            return;
        };
        if let Some(option) = unrecognized_critical(msg) {
            // RFC 7252 §5.4.1: reject the response with RST and fail the exchange.
            let rst = self.send_empty(peer, MessageType::Reset, mid);
            self.set_dedup_reply(peer, mid, Some(rst), None);
            self.fail_request_at(now, id, RequestError::UnrecognizedCriticalOption { number: option.0 });
            return;
        }
        if con {
            let ack = self.send_empty(peer, MessageType::Acknowledgement, mid);
            self.set_dedup_reply(peer, mid, Some(ack), None);
        }
        let Some(ex) = self.requests.get(&id) else { return };
        let is_current = ex.token == token && matches!(ex.phase, Phase::Awaiting | Phase::Deregistering);
        if is_current {
            // The response to our outstanding message (if the piggybacked ACK was lost, the
            // response also acknowledges it).
            if let Some(m) = ex.mid
                && let Some(pc) = self.cons.remove(&(peer.clone(), m))
            {
                self.timers.remove(&pc.timer);
            }
            self.on_response(now, id, msg);
        } else if ex.observe.as_ref().is_some_and(|o| o.reg_token == token)
            && (ex.phase == Phase::Observing || ex.notification_fetch)
        {
            self.on_notification(now, id, msg);
        }
    }

    // ---------------------------------------------------------------- client responses

    fn on_response(&mut self, now: Instant, id: RequestId, msg: &Message<'_>) {
        self.release_slot(now, id);
        let response = self.response_from(msg);
        let max_body = self.config.max_body_size;
        let Some(ex) = self.requests.get_mut(&id) else { return };
        ex.mid = None;
        let old_deadline = ex.deadline.take();
        self.cancel_timer(old_deadline);
        let Some(ex) = self.requests.get_mut(&id) else { return };

        if ex.phase == Phase::Deregistering {
            self.remove_exchange(now, id);
            self.events.push_back(Event::ObservationEnded { id, reason: ObservationEnd::Cancelled });
            return;
        }

        // Block1 upload in progress?
        let total = ex.request.payload.len();
        let b1_size = size_of_szx(ex.b1_szx);
        let uploading = total > b1_size || ex.request.options.contains(OptionNumber::BLOCK1) && ex.b1_offset > 0;
        if uploading && response.code == Code::CONTINUE {
            let Some(b1) = response.options.block1() else {
                self.fail_request_at(now, id, RequestError::Blockwise { reason: "2.31 Continue without Block1" });
                return;
            };
            if b1.num != ex.b1_num && b1.szx >= ex.b1_szx {
                self.fail_request_at(now, id, RequestError::Blockwise { reason: "2.31 Continue for another block" });
                return;
            }
            let szx = b1.szx.min(ex.b1_szx);
            let next = (b1.num as usize + 1) * size_of_szx(szx);
            if next >= total {
                self.fail_request_at(now, id, RequestError::Blockwise { reason: "2.31 Continue after the last block" });
                return;
            }
            ex.b1_szx = szx;
            ex.b1_offset = next;
            ex.b1_num = (next / size_of_szx(szx)) as u32;
            self.take_slot(id);
            self.send_exchange(now, id);
            return;
        }

        // Block2 download.
        if let Some(b2) = response.options.block2()
            && response.code.is_success()
            && (b2.more || b2.num > 0)
        {
            let expected_offset = ex.b2_body.len();
            if b2.offset() != expected_offset {
                if b2.num == 0 && ex.notification_fetch {
                    // The server restarted the representation; not expected on follow-ups.
                }
                self.fail_request_at(now, id, RequestError::Blockwise { reason: "unexpected Block2 block number" });
                return;
            }
            let etag = response.options.get(OptionNumber::ETAG).map(<[u8]>::to_vec);
            if b2.num > 0 && ex.b2_etag.is_some() && etag != ex.b2_etag {
                self.fail_request_at(now, id, RequestError::Blockwise { reason: "ETag changed between blocks" });
                return;
            }
            if expected_offset + response.payload.len() > max_body {
                self.fail_request_at(now, id, RequestError::BodyTooLarge { limit: max_body });
                return;
            }
            if let Some(size2) = response.options.get_uint(OptionNumber::SIZE2)
                && size2 as usize > max_body
            {
                self.fail_request_at(now, id, RequestError::BodyTooLarge { limit: max_body });
                return;
            }
            if b2.more && response.payload.len() != b2.size() {
                self.fail_request_at(
                    now,
                    id,
                    RequestError::Blockwise { reason: "Block2 payload shorter than its SZX" },
                );
                return;
            }
            ex.b2_body.extend_from_slice(&response.payload);
            if b2.num == 0 {
                ex.b2_etag = etag;
                ex.b2_first = Some(response.clone());
            }
            if b2.more {
                let szx = b2.szx.min(ex.b2_szx);
                ex.b2_szx = szx;
                ex.b2_num = (ex.b2_body.len() / size_of_szx(szx)) as u32;
                self.take_slot(id);
                self.send_exchange(now, id);
                return;
            }
            let mut whole = ex.b2_first.take().unwrap_or_else(|| response.clone());
            whole.payload = Bytes::from(std::mem::take(&mut ex.b2_body));
            whole.options.remove(OptionNumber::BLOCK2);
            whole.options.remove(OptionNumber::SIZE2);
            ex.b2_num = 0;
            self.complete(now, id, whole);
            return;
        }
        let mut response = response;
        response.options.remove(OptionNumber::BLOCK1);
        if response.options.block2().is_some_and(|b| b.num == 0 && !b.more) {
            // A single-block representation: nothing to reassemble.
            response.options.remove(OptionNumber::BLOCK2);
            response.options.remove(OptionNumber::SIZE2);
        }
        self.complete(now, id, response);
    }

    /// A whole response (or a whole notification fetched block-wise) is ready.
    fn complete(&mut self, now: Instant, id: RequestId, response: Response) {
        let Some(ex) = self.requests.get_mut(&id) else { return };
        if ex.notification_fetch {
            ex.notification_fetch = false;
            ex.phase = Phase::Observing;
            let peer = ex.peer.clone();
            let fetch_token = ex.token;
            if let Some(o) = &mut ex.observe {
                ex.token = o.reg_token;
                let reg = o.reg_token;
                if fetch_token != reg {
                    self.tokens.remove(&(peer, fetch_token));
                }
            }
            self.events.push_back(Event::Notification { id, response });
            return;
        }
        let registered = ex.observe.is_some() && response.code.is_success() && response.options.observe().is_some();
        if registered {
            ex.phase = Phase::Observing;
            let peer = ex.peer.clone();
            let cur = ex.token;
            if let Some(o) = &mut ex.observe {
                o.last_seq = response.options.observe();
                o.last_time = now;
                if cur != o.reg_token {
                    let reg = o.reg_token;
                    ex.token = reg;
                    self.tokens.remove(&(peer.clone(), cur));
                    self.tokens.insert((peer, reg), id);
                }
            }
            self.events.push_back(Event::Response { id, response });
        } else {
            self.remove_exchange(now, id);
            self.events.push_back(Event::Response { id, response });
        }
    }

    fn on_notification(&mut self, now: Instant, id: RequestId, msg: &Message<'_>) {
        let response = self.response_from(msg);
        let Some(ex) = self.requests.get_mut(&id) else { return };
        let Some(o) = &mut ex.observe else { return };
        let seq = response.options.observe();
        if !response.code.is_success() || seq.is_none() {
            self.remove_exchange(now, id);
            self.events.push_back(Event::Notification { id, response });
            self.events.push_back(Event::ObservationEnded { id, reason: ObservationEnd::ServerEnded });
            return;
        }
        let seq = seq.unwrap_or(0);
        if let Some(last) = o.last_seq
            && !is_fresher(last, o.last_time, seq, now)
        {
            return;
        }
        o.last_time = now;
        o.last_seq = Some(seq);
        let more = response.options.block2().is_some_and(|b| b.more && b.num == 0);
        if ex.notification_fetch {
            // A fresher notification supersedes the one whose blocks are being fetched.
            let peer = ex.peer.clone();
            let (old, old_mid) = (ex.token, ex.mid.take());
            ex.notification_fetch = false;
            ex.phase = Phase::Observing;
            ex.token = o.reg_token;
            ex.b2_body.clear();
            ex.b2_num = 0;
            ex.b2_first = None;
            if old != o.reg_token {
                self.tokens.remove(&(peer.clone(), old));
            }
            if let Some(m) = old_mid
                && let Some(pc) = self.cons.remove(&(peer, m))
            {
                self.timers.remove(&pc.timer);
            }
            let deadline = self.requests.get_mut(&id).and_then(|ex| ex.deadline.take());
            self.cancel_timer(deadline);
            self.release_slot(now, id);
        }
        let Some(ex) = self.requests.get_mut(&id) else { return };
        if more {
            if response.payload.len() > self.config.max_body_size {
                return;
            }
            // Fetch the rest with GET + Block2 and a new token, without Observe (RFC 7959 §2.6).
            ex.notification_fetch = true;
            ex.b2_body.clear();
            ex.b2_body.extend_from_slice(&response.payload);
            ex.b2_etag = response.options.get(OptionNumber::ETAG).map(<[u8]>::to_vec);
            let szx = response.options.block2().map_or(ex.b2_szx, |b| b.szx.min(ex.b2_szx));
            ex.b2_szx = szx;
            ex.b2_num = (ex.b2_body.len() / size_of_szx(szx)) as u32;
            ex.b2_first = Some(response);
            // Keep the registration token mapped; the fetch gets its own.
            if let Some(ex) = self.requests.get_mut(&id) {
                ex.token = Token::EMPTY;
            }
            self.take_slot(id);
            self.send_exchange(now, id);
            return;
        }
        self.events.push_back(Event::Notification { id, response });
    }

    // ---------------------------------------------------------------- server side

    fn reply_to_request(&mut self, now: Instant, peer: &P, mid: u16, token: Token, con: bool, response: Response) {
        let repr = MessageRepr {
            message_type: if con { MessageType::Acknowledgement } else { MessageType::NonConfirmable },
            code: response.code,
            message_id: if con { mid } else { self.next_mid(now, peer) },
            token,
            options: response.options,
            payload: response.payload,
        };
        if let Ok(bytes) = self.encode(&repr) {
            self.send(peer, bytes.clone());
            self.set_dedup_reply(peer, mid, Some(bytes), None);
        }
    }

    fn handle_request(&mut self, now: Instant, peer: &P, msg: &Message<'_>) {
        let con = msg.message_type() == MessageType::Confirmable;
        let mid = msg.message_id();
        let token = msg.token();
        let payload = self.pooled_copy(msg.payload());
        let repr = MessageRepr::parse_with_payload(msg, payload);
        let mut request = Request { method: repr.code, options: repr.options, payload: repr.payload, confirmable: con };
        if let Some(bad) = request.options.first_unrecognized_critical() {
            // RFC 7252 §5.4.1: 4.02 for a CON request; a NON message is rejected (RST).
            if con {
                let mut r = Response::new(Code::BAD_OPTION);
                r.payload = Bytes::from(format!("unrecognized critical option {}", bad.0));
                self.reply_to_request(now, peer, mid, token, con, r);
            } else {
                let rst = self.send_empty(peer, MessageType::Reset, mid);
                self.set_dedup_reply(peer, mid, Some(rst), None);
            }
            return;
        }
        let key = cache_key(request.method, &request.options, &request.payload);
        let block2 = match request.options.get_uint(OptionNumber::BLOCK2).map(BlockOption::decode) {
            Some(Err(_)) => {
                self.reply_to_request(now, peer, mid, token, con, Response::new(Code::BAD_OPTION));
                return;
            }
            Some(Ok(b)) => Some(b),
            None => None,
        };
        let block1 = match request.options.get_uint(OptionNumber::BLOCK1).map(BlockOption::decode) {
            Some(Err(_)) => {
                self.reply_to_request(now, peer, mid, token, con, Response::new(Code::BAD_OPTION));
                return;
            }
            Some(Ok(b)) => Some(b),
            None => None,
        };

        // Observe: deregistration or re-registration replaces any observer with this token.
        let observe_value = request.options.observe();
        let observable = matches!(request.method, Code::GET | Code::FETCH);
        let mut observe = ObserveRequest::None;
        if observable
            && block2.is_none_or(|b| b.num == 0)
            && let Some(0 | 1) = observe_value
        {
            if let Some(old) = self.observers_by_token.get(&(peer.clone(), token)).copied() {
                self.remove_observer(old, ObserverRemoved::Deregistered);
            }
            if observe_value == Some(1) {
                observe = ObserveRequest::Deregister;
            } else if self.observers.len() < self.config.max_observations {
                let id = ObservationId(self.next_observation);
                self.next_observation += 1;
                observe = ObserveRequest::Register(id);
            }
        }
        request.options.remove(OptionNumber::OBSERVE);

        // Block2 follow-up served from the cached representation.
        if let Some(b2) = block2
            && b2.num > 0
        {
            let cached = self
                .peers
                .get(peer)
                .and_then(|s| s.block2.get(&key))
                .filter(|c| c.expires > now)
                .map(|c| c.response.clone());
            if let Some(resp) = cached {
                let out = slice_block2(resp, b2.num, b2.szx, None);
                self.reply_to_request(now, peer, mid, token, con, out);
                return;
            }
        }

        // Block1 reassembly.
        let mut final_block1 = None;
        if let Some(b1) = block1 {
            let max_body = self.config.max_body_size;
            let our_szx = self.config.block_szx;
            let lifetime = self.config.block_lifetime;
            let max_transfers = self.config.max_block_transfers_per_peer;
            let size1 = request.options.get_uint(OptionNumber::SIZE1);
            let Some(state) = self.peers.get_mut(peer) else { return };
            if size1.is_some_and(|s| s as usize > max_body) {
                state.block1.remove(&key);
                let mut r = Response::new(Code::REQUEST_ENTITY_TOO_LARGE);
                r.options.set_uint(OptionNumber::SIZE1, max_body as u32);
                self.reply_to_request(now, peer, mid, token, con, r);
                return;
            }
            if b1.num == 0 {
                if state.block1.len() >= max_transfers && !state.block1.contains_key(&key) {
                    state.block1.retain(|_, a| a.expires > now);
                    if state.block1.len() >= max_transfers {
                        self.reply_to_request(now, peer, mid, token, con, Response::new(Code::SERVICE_UNAVAILABLE));
                        return;
                    }
                }
                state.block1.insert(key, Block1Assembly { body: Vec::new(), next_num: 0, szx: b1.szx, expires: now });
            }
            let Some(asm) = state.block1.get_mut(&key) else {
                self.reply_to_request(now, peer, mid, token, con, Response::new(Code::REQUEST_ENTITY_INCOMPLETE));
                return;
            };
            // Blocks are numbered in the size the client uses now; translate to bytes.
            let offset = b1.offset();
            if offset != asm.body.len() || (b1.more && request.payload.len() != b1.size()) {
                state.block1.remove(&key);
                self.reply_to_request(now, peer, mid, token, con, Response::new(Code::REQUEST_ENTITY_INCOMPLETE));
                return;
            }
            // Ask for smaller blocks when the client's are larger than ours (RFC 7959 §2.5).
            let (take, reply_szx) = if b1.szx > our_szx && b1.more {
                (size_of_szx(our_szx), our_szx)
            } else {
                (request.payload.len(), b1.szx)
            };
            let take = take.min(request.payload.len());
            if asm.body.len() + take > max_body {
                state.block1.remove(&key);
                let mut r = Response::new(Code::REQUEST_ENTITY_TOO_LARGE);
                r.options.set_uint(OptionNumber::SIZE1, max_body as u32);
                self.reply_to_request(now, peer, mid, token, con, r);
                return;
            }
            asm.body.extend_from_slice(&request.payload[..take]);
            asm.expires = now + lifetime;
            asm.szx = reply_szx;
            let reply_num = (asm.body.len() / size_of_szx(reply_szx)).saturating_sub(1) as u32;
            asm.next_num = reply_num + 1;
            if b1.more {
                let mut r = Response::new(Code::CONTINUE);
                if let Ok(b) = BlockOption::new(reply_num, true, reply_szx) {
                    r.options.set_uint(OptionNumber::BLOCK1, b.encode());
                }
                self.reply_to_request(now, peer, mid, token, con, r);
                return;
            }
            let Some(asm) = state.block1.remove(&key) else { return };
            request.payload = Bytes::from(asm.body);
            request.options.remove(OptionNumber::BLOCK1);
            request.options.remove(OptionNumber::SIZE1);
            final_block1 = Some(b1);
        }

        // Hand the request to the application, unless the endpoint is shutting down.
        if self.shutdown_deadline.is_some() {
            let mut r = Response::new(Code::SERVICE_UNAVAILABLE);
            r.options.set_uint(OptionNumber::MAX_AGE, SHUTDOWN_RETRY_AFTER_S);
            self.reply_to_request(now, peer, mid, token, con, r);
            return;
        }
        let max_pending = self.config.max_pending_per_peer;
        let Some(state) = self.peers.get_mut(peer) else { return };
        if state.pending >= max_pending {
            let mut r = Response::new(Code::SERVICE_UNAVAILABLE);
            r.options.set_uint(OptionNumber::MAX_AGE, 1);
            self.reply_to_request(now, peer, mid, token, con, r);
            return;
        }
        state.pending += 1;
        state.refs += 1;
        let identity = state.identity.clone();
        let id = IncomingId(self.next_incoming);
        self.next_incoming += 1;
        let timer = con.then(|| self.set_timer(now + self.config.separate_response_delay, Timer::SeparateAck(id)));
        self.incoming.insert(
            id,
            IncomingState {
                peer: peer.clone(),
                mid,
                token,
                confirmable: con,
                separate: false,
                timer,
                block1: final_block1,
                block2,
                cache_key: key,
                observe,
            },
        );
        self.set_dedup_reply(peer, mid, None, Some(id));
        self.events.push_back(Event::Request(IncomingRequest { id, peer: peer.clone(), identity, request, observe }));
    }

    fn send_separate_ack(&mut self, id: IncomingId) {
        let Some(inc) = self.incoming.get_mut(&id) else { return };
        if !inc.confirmable {
            return;
        }
        inc.separate = true;
        let timer = inc.timer.take();
        let (peer, mid) = (inc.peer.clone(), inc.mid);
        self.cancel_timer(timer);
        let ack = self.send_empty(&peer, MessageType::Acknowledgement, mid);
        self.set_dedup_reply(&peer, mid, Some(ack), None);
    }

    /// Answers an incoming request. Bodies larger than the block size are sent block-wise
    /// (the rest is served from a cache without involving the application). Returns the
    /// observation id when the request registered an observation and the response is 2.xx.
    pub fn respond(
        &mut self,
        now: Instant,
        id: IncomingId,
        response: Response,
    ) -> Result<Option<ObservationId>, RespondError> {
        if !response.code.is_response() {
            return Err(RespondError::NotAResponse(response.code));
        }
        let inc = self.incoming.remove(&id).ok_or(RespondError::UnknownRequest(id))?;
        self.cancel_timer(inc.timer);
        let lifetime = self.config.block_lifetime;
        let max_transfers = self.config.max_block_transfers_per_peer;
        if let Some(state) = self.peers.get_mut(&inc.peer) {
            state.pending = state.pending.saturating_sub(1);
            state.refs = state.refs.saturating_sub(1);
        }
        let mut response = response;
        let mut observation = None;
        if let ObserveRequest::Register(obs) = inc.observe {
            if response.code.is_success() {
                let seq = 2;
                response.options.set_uint(OptionNumber::OBSERVE, seq);
                self.observers.insert(
                    obs,
                    Observer {
                        peer: inc.peer.clone(),
                        token: inc.token,
                        active: true,
                        seq,
                        since_con: 0,
                        last_con: now,
                        pending_mid: None,
                        last_mid: None,
                        cache_key: inc.cache_key,
                        block2_szx: inc.block2.map(|b| b.szx),
                    },
                );
                self.observers_by_token.insert((inc.peer.clone(), inc.token), obs);
                if let Some(state) = self.peers.get_mut(&inc.peer) {
                    state.refs += 1;
                }
                observation = Some(obs);
            } else {
                response.options.remove(OptionNumber::OBSERVE);
            }
        }
        if let Some(b1) = inc.block1
            && let Ok(b) = BlockOption::new(b1.num, false, b1.szx)
        {
            response.options.set_uint(OptionNumber::BLOCK1, b.encode());
        }
        let szx = inc.block2.map_or(self.config.block_szx, |b| b.szx.min(self.config.block_szx));
        let num = inc.block2.map_or(0, |b| b.num);
        let needs_blocks = response.payload.len() > size_of_szx(szx) || num > 0;
        if needs_blocks && response.code.is_success() {
            if let Some(state) = self.peers.get_mut(&inc.peer) {
                if state.block2.len() >= max_transfers {
                    state.block2.retain(|_, c| c.expires > now);
                }
                if state.block2.len() < max_transfers || state.block2.contains_key(&inc.cache_key) {
                    let mut cached = response.clone();
                    cached.options.remove(OptionNumber::OBSERVE);
                    state.block2.insert(inc.cache_key, CachedBody { response: cached, expires: now + lifetime });
                }
            }
            response = slice_block2(response, num, szx, None);
        }
        let message_type = if !inc.confirmable {
            MessageType::NonConfirmable
        } else if inc.separate {
            MessageType::Confirmable
        } else {
            MessageType::Acknowledgement
        };
        let mid = if message_type == MessageType::Acknowledgement { inc.mid } else { self.next_mid(now, &inc.peer) };
        let repr = MessageRepr {
            message_type,
            code: response.code,
            message_id: mid,
            token: inc.token,
            options: response.options,
            payload: response.payload,
        };
        let bytes = self.encode(&repr).map_err(RespondError::Encode)?;
        match message_type {
            MessageType::Confirmable => self.send_con(now, &inc.peer, mid, bytes, ConOwner::Response),
            MessageType::Acknowledgement => {
                self.send(&inc.peer, bytes.clone());
                self.set_dedup_reply(&inc.peer, inc.mid, Some(bytes), None);
            }
            _ => {
                self.send(&inc.peer, bytes.clone());
                self.set_dedup_reply(&inc.peer, inc.mid, Some(bytes), None);
            }
        }
        Ok(observation)
    }

    /// Sends a notification to an observer. The sequence number is managed here; the message is
    /// CON when `confirmable` is set, every [`Config::con_notification_every`] notifications, or
    /// when the last CON one is older than [`Config::con_notification_interval`]. A non-2.xx
    /// response ends the observation. A notification replacing an unacknowledged CON one takes
    /// over its retransmission state (RFC 7641 §4.5.2).
    pub fn notify(
        &mut self,
        now: Instant,
        observation: ObservationId,
        response: Response,
        confirmable: bool,
    ) -> Result<(), RespondError> {
        if !response.code.is_response() {
            return Err(RespondError::NotAResponse(response.code));
        }
        let every = self.config.con_notification_every.max(1);
        let interval = self.config.con_notification_interval;
        let lifetime = self.config.block_lifetime;
        let block_szx = self.config.block_szx;
        let o = self.observers.get_mut(&observation).filter(|o| o.active);
        let o = o.ok_or(RespondError::UnknownObservation(observation))?;
        let ending = !response.code.is_success();
        o.seq = (o.seq + 1) & 0xff_ffff;
        let con = confirmable
            || ending
            || o.pending_mid.is_some()
            || o.since_con + 1 >= every
            || now >= o.last_con + interval;
        if con {
            o.since_con = 0;
            o.last_con = now;
        } else {
            o.since_con += 1;
        }
        let (peer, token, seq, key) = (o.peer.clone(), o.token, o.seq, o.cache_key);
        let szx = o.block2_szx.map_or(block_szx, |s| s.min(block_szx));
        let pending = o.pending_mid.take();
        let mut response = response;
        if response.payload.len() > size_of_szx(szx) && !ending {
            if let Some(state) = self.peers.get_mut(&peer) {
                state.block2.insert(key, CachedBody { response: response.clone(), expires: now + lifetime });
            }
            response = slice_block2(response, 0, szx, None);
        }
        if !ending {
            response.options.set_uint(OptionNumber::OBSERVE, seq);
        }
        let mid = self.next_mid(now, &peer);
        let repr = MessageRepr {
            message_type: if con { MessageType::Confirmable } else { MessageType::NonConfirmable },
            code: response.code,
            message_id: mid,
            token,
            options: response.options,
            payload: response.payload,
        };
        let bytes = self.encode(&repr).map_err(RespondError::Encode)?;
        // Take over an in-flight CON notification's retransmission state.
        let previous = pending.and_then(|m| self.cons.remove(&(peer.clone(), m)));
        if let Some(prev) = &previous {
            self.timers.remove(&prev.timer);
        }
        if con {
            match previous {
                Some(prev) => {
                    let at = prev.timer.0;
                    let timer = self.set_timer(at, Timer::Retransmit(peer.clone(), mid));
                    self.cons.insert(
                        (peer.clone(), mid),
                        PendingCon {
                            bytes: bytes.clone(),
                            transmissions: prev.transmissions,
                            timeout: prev.timeout,
                            timer,
                            owner: ConOwner::Notification(observation),
                        },
                    );
                    self.send(&peer, bytes);
                }
                None => self.send_con(now, &peer, mid, bytes, ConOwner::Notification(observation)),
            }
        } else {
            self.send(&peer, bytes);
        }
        if let Some(o) = self.observers.get_mut(&observation) {
            o.last_mid = Some(mid);
            if con {
                o.pending_mid = Some(mid);
            }
        }
        if ending {
            if let Some(o) = self.observers.get_mut(&observation) {
                // Keep the CON in flight but stop accepting notifications.
                o.active = false;
            }
            self.remove_observer(observation, ObserverRemoved::Ended);
        }
        Ok(())
    }

    /// Confirmable messages sent and not yet acknowledged (requests, separate responses,
    /// notifications).
    pub fn outstanding_confirmables(&self) -> usize {
        self.cons.len()
    }

    /// Incoming requests the application has not answered yet.
    pub fn pending_requests(&self) -> usize {
        self.incoming.len()
    }

    /// Number of active server-side observations.
    pub fn observer_count(&self) -> usize {
        self.observers.len()
    }

    // ---------------------------------------------------------------- shutdown

    /// Begins a graceful shutdown at `now`. From now on incoming requests are answered
    /// 5.03 Service Unavailable with Max-Age [`SHUTDOWN_RETRY_AFTER_S`] without reaching the
    /// application, and [`start_request`](Self::start_request) and [`ping`](Self::ping) fail with
    /// [`StartError::ShuttingDown`]. What is under way goes on: answers the application still owes
    /// can be sent ([`respond`](Self::respond)), notifications too, and confirmable messages are
    /// retransmitted until acknowledged, until [`is_drained`](Self::is_drained) or `now + grace`.
    /// A second call can only bring the end closer.
    pub fn begin_shutdown(&mut self, now: Instant, grace: Duration) {
        let until = now + grace;
        let until = self.shutdown_deadline.map_or(until, |u| u.min(until));
        if self.shutdown_deadline != Some(until) {
            self.timers.retain(|_, t| !matches!(t, Timer::ShutdownDeadline));
            self.set_timer(until, Timer::ShutdownDeadline);
            self.shutdown_deadline = Some(until);
        }
    }

    /// Whether [`begin_shutdown`](Self::begin_shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown_deadline.is_some()
    }

    /// Whether a shutdown is complete at `now`: no answer owed to the application's peers, no
    /// confirmable message unacknowledged, or the grace period is over. False before
    /// [`begin_shutdown`](Self::begin_shutdown).
    pub fn is_drained(&self, now: Instant) -> bool {
        self.shutdown_deadline.is_some_and(|until| now >= until || (self.cons.is_empty() && self.incoming.is_empty()))
    }

    fn remove_observer(&mut self, id: ObservationId, reason: ObserverRemoved) {
        let Some(o) = self.observers.remove(&id) else { return };
        if self.observers_by_token.get(&(o.peer.clone(), o.token)) == Some(&id) {
            self.observers_by_token.remove(&(o.peer.clone(), o.token));
        }
        if let Some(state) = self.peers.get_mut(&o.peer) {
            state.refs = state.refs.saturating_sub(1);
        }
        if reason != ObserverRemoved::Ended
            && let Some(m) = o.pending_mid
            && let Some(pc) = self.cons.remove(&(o.peer.clone(), m))
        {
            self.timers.remove(&pc.timer);
        }
        self.events.push_back(Event::ObserverRemoved { observation: id, reason });
    }

    // ---------------------------------------------------------------- timers

    /// Processes every timer due at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let timer = entry.remove();
            match timer {
                Timer::Retransmit(peer, mid) => self.on_retransmit(now, &peer, mid),
                Timer::SeparateAck(id) => {
                    if let Some(inc) = self.incoming.get_mut(&id) {
                        inc.timer = None;
                    }
                    self.send_separate_ack(id);
                }
                Timer::RequestDeadline(id) => {
                    if let Some(ex) = self.requests.get_mut(&id) {
                        ex.deadline = None;
                        if matches!(ex.phase, Phase::Awaiting | Phase::Deregistering) {
                            self.fail_request_at(now, id, RequestError::Timeout { transmissions: 1 });
                        }
                    }
                }
                Timer::Housekeeping => {
                    self.housekeeping = None;
                    self.housekeep(now);
                }
                // Only wakes the caller, who then finds `is_drained`.
                Timer::ShutdownDeadline => {}
            }
        }
    }

    fn fail_request_at(&mut self, now: Instant, id: RequestId, error: RequestError) {
        let Some(ex) = self.requests.get(&id) else { return };
        let observing = ex.observe.is_some() && matches!(ex.phase, Phase::Observing | Phase::Deregistering)
            || ex.notification_fetch;
        if self.remove_exchange(now, id).is_some() {
            if observing {
                self.events.push_back(Event::ObservationEnded { id, reason: ObservationEnd::Failed(error) });
            } else {
                self.events.push_back(Event::RequestFailed { id, error });
            }
        }
    }

    fn on_retransmit(&mut self, now: Instant, peer: &P, mid: u16) {
        let key = (peer.clone(), mid);
        let max = self.config.transmission.max_retransmit;
        let Some(pc) = self.cons.get_mut(&key) else { return };
        if pc.transmissions > max {
            let Some(pc) = self.cons.remove(&key) else { return };
            match pc.owner {
                ConOwner::Request(id) | ConOwner::Ping(id) => {
                    self.fail_request_at(now, id, RequestError::Timeout { transmissions: pc.transmissions });
                }
                ConOwner::Notification(obs) => self.remove_observer(obs, ObserverRemoved::Timeout),
                ConOwner::Response => {}
            }
            return;
        }
        pc.transmissions += 1;
        // Exponential back-off, capped so absurd parameters cannot overflow the clock.
        pc.timeout = pc.timeout.saturating_mul(2).min(Duration::from_secs(86_400));
        let bytes = pc.bytes.clone();
        let at = now + pc.timeout;
        let timer = self.set_timer(at, Timer::Retransmit(peer.clone(), mid));
        if let Some(pc) = self.cons.get_mut(&key) {
            pc.timer = timer;
        }
        self.send(peer, bytes);
    }

    fn housekeep(&mut self, now: Instant) {
        let mut empty = Vec::new();
        for (peer, state) in &mut self.peers {
            expire_dedup(state, now);
            state.block1.retain(|_, a| a.expires > now);
            state.block2.retain(|_, c| c.expires > now);
            if state.dedup.is_empty()
                && state.block1.is_empty()
                && state.block2.is_empty()
                && state.refs == 0
                && state.outstanding == 0
                && state.queue.is_empty()
                && state.identity.is_none()
                && state.mids_used_until.is_none_or(|t| t <= now)
            {
                empty.push(peer.clone());
            }
        }
        for peer in empty {
            if !self.cons.keys().any(|(p, _)| *p == peer) {
                self.peers.remove(&peer);
            }
        }
        if !self.peers.is_empty() {
            self.ensure_housekeeping(now);
        }
    }
}

fn expire_dedup(state: &mut PeerState, now: Instant) {
    while let Some((exp, mid)) = state.dedup_order.front().copied() {
        if exp > now {
            break;
        }
        state.dedup_order.pop_front();
        // Only drop the entry if it is still waiting for no answer.
        if state.dedup.get(&mid).is_some_and(|e| e.incoming.is_none()) {
            state.dedup.remove(&mid);
        } else if state.dedup.contains_key(&mid) {
            state.dedup_order.push_back((now + Duration::from_secs(1), mid));
            break;
        }
    }
}

/// The first critical option of a message this endpoint does not understand (see
/// [`Options::first_unrecognized_critical`]), checked on the view without allocating.
fn unrecognized_critical(msg: &Message<'_>) -> Option<OptionNumber> {
    msg.options().find_map(|(n, v)| {
        if !n.is_critical() {
            return None;
        }
        match n.format() {
            Some((_, min, max)) if (min..=max).contains(&v.len()) => None,
            _ => Some(n),
        }
    })
}

fn empty_header(message_type: MessageType, mid: u16) -> [u8; 4] {
    let id = mid.to_be_bytes();
    [0x40 | (message_type.to_bits() << 4), 0, id[0], id[1]]
}

fn piggyback_bytes(mid: u16, token: Token, code: Code) -> Bytes {
    let repr = MessageRepr {
        message_type: MessageType::Acknowledgement,
        code,
        message_id: mid,
        token,
        options: Options::new(),
        payload: Bytes::new(),
    };
    Bytes::from(repr.to_bytes().unwrap_or_default())
}

/// One block of a whole response: sets Block2 (and Size2 on block 0). A block past the end is
/// 4.02 Bad Option.
fn slice_block2(mut response: Response, num: u32, szx: u8, _etag: Option<&[u8]>) -> Response {
    let size = size_of_szx(szx);
    let total = response.payload.len();
    let start = num as usize * size;
    if start >= total && !(start == 0 && total == 0) {
        let mut r = Response::new(Code::BAD_OPTION);
        r.payload = Bytes::from_static(b"Block2 number past the end of the representation");
        return r;
    }
    let end = (start + size).min(total);
    let more = end < total;
    response.payload = response.payload.slice(start..end);
    if let Ok(b) = BlockOption::new(num, more, szx) {
        response.options.set_uint(OptionNumber::BLOCK2, b.encode());
    }
    if num == 0 {
        response.options.set_uint(OptionNumber::SIZE2, total as u32);
    } else {
        response.options.remove(OptionNumber::SIZE2);
    }
    response
}

/// The message for the exchange's current step (type and id are set by the caller).
fn build_client_message<P>(ex: &ClientExchange<P>, config: &Config) -> Result<MessageRepr, RequestError> {
    if ex.is_ping {
        return Ok(MessageRepr::empty(MessageType::Confirmable, 0));
    }
    let mut options = ex.request.options.clone();
    let mut payload = ex.request.payload.clone();
    let total = payload.len();
    let b1_size = size_of_szx(ex.b1_szx);
    let fetching_blocks = ex.b2_num > 0 || ex.notification_fetch;
    if fetching_blocks {
        // GET (or FETCH with its body) for the next Block2 block, without Observe.
        options.remove(OptionNumber::OBSERVE);
        options.remove(OptionNumber::BLOCK1);
        options.remove(OptionNumber::SIZE1);
        let b = BlockOption::new(ex.b2_num, false, ex.b2_szx)
            .map_err(|_| RequestError::Blockwise { reason: "Block2 number past 2^20-1" })?;
        options.set_uint(OptionNumber::BLOCK2, b.encode());
        if ex.request.method != Code::FETCH {
            payload = Bytes::new();
        }
        if ex.notification_fetch && ex.request.method != Code::FETCH {
            let method = Code::GET;
            return Ok(MessageRepr {
                message_type: MessageType::Confirmable,
                code: method,
                message_id: 0,
                token: Token::EMPTY,
                options,
                payload,
            });
        }
    } else if total > b1_size && !options.contains(OptionNumber::BLOCK1) {
        let start = ex.b1_offset;
        let end = (start + b1_size).min(total);
        let more = end < total;
        let b = BlockOption::new(ex.b1_num, more, ex.b1_szx)
            .map_err(|_| RequestError::Blockwise { reason: "Block1 number past 2^20-1" })?;
        options.set_uint(OptionNumber::BLOCK1, b.encode());
        if ex.b1_num == 0 {
            options.set_uint(OptionNumber::SIZE1, total as u32);
        } else {
            options.remove(OptionNumber::SIZE1);
        }
        if more {
            options.remove(OptionNumber::BLOCK2);
        } else if let Some(szx) = config.request_block2_szx
            && let Ok(b) = BlockOption::new(0, false, szx)
        {
            options.set_uint(OptionNumber::BLOCK2, b.encode());
        }
        payload = payload.slice(start..end);
    } else if let Some(szx) = config.request_block2_szx
        && matches!(ex.request.method, Code::GET | Code::FETCH)
        && !options.contains(OptionNumber::BLOCK2)
        && let Ok(b) = BlockOption::new(0, false, szx)
    {
        options.set_uint(OptionNumber::BLOCK2, b.encode());
    }
    Ok(MessageRepr {
        message_type: MessageType::Confirmable,
        code: ex.request.method,
        message_id: 0,
        token: Token::EMPTY,
        options,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_jitter_in_range() {
        let mut a: Endpoint<u8> = Endpoint::new(Config { seed: 9, ..Config::default() });
        let mut b: Endpoint<u8> = Endpoint::new(Config { seed: 9, ..Config::default() });
        assert_eq!(a.new_token(), b.new_token());
        for _ in 0..1000 {
            let t = a.initial_timeout();
            assert!(t >= Duration::from_secs(2) && t <= Duration::from_secs(3), "{t:?}");
        }
        let mut short: Endpoint<u8> = Endpoint::new(Config { token_len: 2, ..Config::default() });
        assert_eq!(short.new_token().len(), 2);
    }

    #[test]
    fn block2_slicing() {
        let mut r = Response::new(Code::CONTENT);
        r.payload = Bytes::from(vec![7u8; 100]);
        let first = slice_block2(r.clone(), 0, 1, None);
        assert_eq!(first.payload.len(), 32);
        assert_eq!(first.options.block2(), Some(BlockOption { num: 0, more: true, szx: 1 }));
        assert_eq!(first.options.get_uint(OptionNumber::SIZE2), Some(100));
        let last = slice_block2(r.clone(), 3, 1, None);
        assert_eq!(last.payload.len(), 4);
        assert_eq!(last.options.block2(), Some(BlockOption { num: 3, more: false, szx: 1 }));
        assert!(!last.options.contains(OptionNumber::SIZE2));
        assert_eq!(slice_block2(r, 4, 1, None).code, Code::BAD_OPTION);
    }

    #[test]
    fn cache_key_covers_path_query_accept_not_observe() {
        let mut a = Options::new();
        a.set_uri_path("/a/b");
        let mut b = a.clone();
        b.set_uint(OptionNumber::OBSERVE, 0);
        b.set_uint(OptionNumber::BLOCK2, 0x16);
        assert_eq!(cache_key(Code::GET, &a, b""), cache_key(Code::GET, &b, b""));
        b.set_uint(OptionNumber::ACCEPT, 60);
        assert_ne!(cache_key(Code::GET, &a, b""), cache_key(Code::GET, &b, b""));
        let mut c = Options::new();
        c.set_uri_path("/ab");
        assert_ne!(cache_key(Code::GET, &a, b""), cache_key(Code::GET, &c, b""), "segment boundaries count");
        assert_ne!(cache_key(Code::FETCH, &a, b"x"), cache_key(Code::FETCH, &a, b"y"));
    }

    #[test]
    fn graceful_shutdown_refuses_new_work_and_drains_what_is_under_way() {
        let now = Instant::now();
        let mut ep: Endpoint<u8> = Endpoint::new(Config { seed: 3, ..Config::default() });
        // A confirmable GET from peer 1, handed to the application and not yet answered.
        ep.handle_datagram(now, 1, &[0x40, 0x01, 0x00, 0x07]);
        let Some(Event::Request(owed)) = ep.poll_event() else { panic!("the request reaches the application") };
        assert!(!ep.is_drained(now), "no shutdown begun");

        ep.begin_shutdown(now, Duration::from_secs(30));
        assert!(ep.is_shutting_down() && !ep.is_drained(now), "an answer is still owed");
        assert_eq!(ep.start_request(now, 2, Request::new(Code::GET)), Err(StartError::ShuttingDown));
        assert_eq!(ep.ping(now, 2), Err(StartError::ShuttingDown));

        // A new request gets 5.03 with Max-Age from the engine; the application never sees it.
        ep.handle_datagram(now, 1, &[0x40, 0x01, 0x00, 0x08]);
        assert!(ep.poll_event().is_none());
        let answers: Vec<_> = std::iter::from_fn(|| ep.poll_transmit()).collect();
        let busy = answers.iter().map(|t| Message::new_checked(&t.payload).unwrap()).find(|m| m.message_id() == 8);
        let busy = busy.expect("an answer to message 8");
        assert_eq!(busy.code(), Code::SERVICE_UNAVAILABLE);
        let max_age = busy.options().find(|(n, _)| *n == OptionNumber::MAX_AGE).map(|(_, v)| v.to_vec());
        assert_eq!(max_age, Some(vec![5]));

        // The owed answer still goes out; then the endpoint has drained.
        ep.respond(now, owed.id, Response::new(Code::CONTENT)).unwrap();
        assert!(ep.is_drained(now));
    }

    #[test]
    fn graceful_shutdown_ends_at_the_grace_deadline_with_work_left() {
        let now = Instant::now();
        let mut ep: Endpoint<u8> = Endpoint::new(Config { seed: 4, ..Config::default() });
        ep.start_request(now, 9, Request::new(Code::GET)).unwrap();
        ep.begin_shutdown(now, Duration::from_secs(10));
        ep.begin_shutdown(now, Duration::from_secs(20));
        assert!(!ep.is_drained(now), "a confirmable is unacknowledged");
        let deadline = now + Duration::from_secs(10);
        let mut t = now;
        while let Some(next) = ep.poll_timeout().filter(|&n| n <= deadline) {
            t = next;
            ep.handle_timeout(t);
        }
        assert_eq!(t, deadline, "the grace deadline (the earlier of the two) is in the timer table");
        assert!(ep.is_drained(t));
    }

    #[test]
    fn dedup_records_expire_and_are_bounded() {
        let now = Instant::now();
        let mut ep: Endpoint<u8> = Endpoint::new(Config { max_dedup_per_peer: 3, ..Config::default() });
        for mid in 0..5u16 {
            let m = mid.to_be_bytes();
            ep.handle_datagram(now, 1, &[0x50, 0x01, m[0], m[1]]);
        }
        assert_eq!(ep.peers[&1].dedup.len(), 3);
        // Answer them so they stop being pending, then let NON_LIFETIME pass.
        while let Some(Event::Request(r)) = ep.poll_event() {
            ep.respond(now, r.id, Response::new(Code::CONTENT)).unwrap();
        }
        ep.handle_timeout(now + Duration::from_secs(146));
        assert!(ep.peers.get(&1).is_none_or(|p| p.dedup.is_empty()));
        // The NON responses took message ids from the peer's counter: the state is kept until
        // EXCHANGE_LIFETIME after that, so no id is reused with a fresh random start.
        ep.handle_timeout(now + Duration::from_secs(150));
        assert_eq!(ep.peer_count(), 1, "message ids used less than EXCHANGE_LIFETIME ago");
        ep.handle_timeout(now + Duration::from_secs(248));
        assert_eq!(ep.peer_count(), 0, "idle peers are forgotten");
    }
}
