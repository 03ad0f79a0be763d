//! The seam between our session management and a DTLS 1.2 implementation.
//!
//! A backend turns one peer's datagrams into handshake progress and plaintext. Everything around
//! it — routing by peer, stateless cookies and limits, timers, identities, certificate validation — lives
//! in [`super::server`] and [`super::client`], so replacing the backend means implementing these
//! two traits (see [`super::DimplBackend`] for the current one).

use std::time::Instant;

use super::config::{ClientConfig, ServerConfig};
use super::error::DtlsError;

/// Something a backend session produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendOutput {
    /// A datagram to send to the peer.
    Transmit(Vec<u8>),
    /// The handshake completed.
    Connected,
    /// The peer's certificate chain, to be validated by the caller before trusting anything.
    PeerCertificate {
        /// The peer's leaf certificate (DER).
        leaf: Vec<u8>,
        /// The certificates the peer sent after it (DER, intermediates toward a trust anchor).
        intermediates: Vec<Vec<u8>>,
    },
    /// Raw public key mode (RFC 7250): the peer's DER SubjectPublicKeyInfo, whose private key
    /// signed the handshake; the caller decides whether the key is trusted.
    PeerRawPublicKey(Vec<u8>),
    /// Decrypted application data.
    ApplicationData(Vec<u8>),
    /// The peer sent close_notify.
    CloseNotify,
}

/// The kind of server session a ClientHello calls for, when one endpoint serves clients of
/// several security modes (the server picks it from the client's first acceptable suite and,
/// for ECDHE suites, the certificate types it accepts; see [`super::DtlsServer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerSessionKind {
    /// Security mode 0: a PSK suite.
    Psk,
    /// Security mode 1: an ECDHE_ECDSA suite with raw public keys (RFC 7250).
    RawPublicKey,
    /// Security mode 2: an ECDHE_ECDSA suite with X.509 certificates.
    Certificate,
}

/// A DTLS implementation.
pub trait DtlsBackend: Send + Sync + 'static {
    /// One peer's DTLS state machine.
    type Session: BackendSession;
    /// Server-wide state prepared once from a [`ServerConfig`] (e.g. the backend's own config).
    type ServerContext: Send + Sync + 'static;
    /// Client state prepared once from a [`ClientConfig`] and reused by every (re-)handshake.
    type ClientContext: Send + Sync + 'static;

    /// What a client keeps of a completed handshake to resume it later (RFC 5246 §7.3).
    type Resumption: Send + Sync + Clone + 'static;

    /// The backend's name, for error messages.
    fn name(&self) -> &'static str;

    /// Prepares the server-wide state.
    fn prepare_server(&self, config: &ServerConfig) -> Result<Self::ServerContext, DtlsError>;

    /// A server session for one peer whose ClientHello came back with a cookie the endpoint
    /// verified (the endpoint answers cookie-less ClientHellos itself, statelessly, RFC 6347
    /// §4.2.1). The next datagram is that ClientHello (handshake message_seq 1); the session must
    /// not ask for another cookie, must answer with message_seq 1, and must number its epoch-0
    /// records from `next_record_sequence` (the ClientHello's record sequence number, above the
    /// one the HelloVerifyRequest echoed).
    /// `kind` is the security mode the ClientHello selected among those the config has.
    fn new_server_session(
        &self,
        context: &Self::ServerContext,
        now: Instant,
        next_record_sequence: u64,
        kind: ServerSessionKind,
    ) -> Result<Self::Session, DtlsError>;

    /// Prepares the client state.
    fn prepare_client(&self, config: &ClientConfig) -> Result<Self::ClientContext, DtlsError>;

    /// A client session that starts its handshake at once (its first flight is ready to poll),
    /// offering `resume` for an abbreviated handshake when given (the server may decline and
    /// run a full one).
    fn new_client_session(
        &self,
        context: &Self::ClientContext,
        now: Instant,
        resume: Option<&Self::Resumption>,
    ) -> Result<Self::Session, DtlsError>;

    /// What a connected client `session` can offer on its next handshake, if the server gave
    /// the session an id.
    fn resumption(&self, session: &Self::Session) -> Option<Self::Resumption>;
}

/// One peer's DTLS state machine (sans-IO).
pub trait BackendSession: Send + 'static {
    /// Feeds one received datagram at `now`.
    fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) -> Result<(), DtlsError>;
    /// Advances timers (flight retransmission) to `now`.
    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsError>;
    /// The next output, if any.
    fn poll_output(&mut self) -> Option<BackendOutput>;
    /// When [`Self::handle_timeout`] must next be called.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Encrypts and queues application data (only after `Connected`).
    fn send(&mut self, data: &[u8]) -> Result<(), DtlsError>;
    /// Sends close_notify.
    fn close(&mut self);
    /// On a server: the PSK identity the client sent and whether the store knew it.
    fn psk_lookup(&self) -> Option<(&[u8], bool)>;
    /// Whether the handshake resumed an earlier session (abbreviated handshake).
    fn is_resumed(&self) -> bool;
}
