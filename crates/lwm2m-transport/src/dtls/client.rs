//! The sans-IO DTLS client session: one handshake with one server, flight retransmission, and a
//! fresh handshake on demand (after the server lost its state, or after a failure).
//!
//! [`DtlsClient::restart`] offers the session of the last full handshake for resumption (an
//! abbreviated handshake, RFC 5246 §7.3); a server that no longer has it answers with a full
//! handshake.

use std::collections::VecDeque;
use std::time::Instant;

use super::backend::{BackendOutput, BackendSession, DtlsBackend};
use super::config::RawPublicKey;
use super::config::{ClientConfig, ClientCredentials};
use super::dimpl_backend::DimplBackend;
use super::error::{CertificateError, DtlsError};
use super::identity::AuthenticatedIdentity;
use super::record;
use super::verify::verify_server_certificate;

/// Application datagrams queued while a handshake runs.
const MAX_QUEUED: usize = 32;

/// Something that happened on a client session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The handshake completed. For certificate mode `server` is the validated server
    /// certificate, for raw public key mode the pinned server key; for PSK it is our own
    /// identity (the server proved it knows that key).
    Connected {
        /// Who we are talking to.
        server: AuthenticatedIdentity,
    },
    /// Decrypted application data from the server.
    Datagram(Vec<u8>),
    /// The handshake or the session failed; call [`DtlsClient::restart`] to try again.
    Failed(DtlsError),
    /// The server closed the session (close_notify).
    Closed,
}

/// The state of a client session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientState {
    /// A handshake is running.
    Handshaking,
    /// Application data flows.
    Connected,
    /// The last handshake or session failed.
    Failed,
    /// The session was closed.
    Closed,
}

/// A sans-IO DTLS client over backend `B` (default [`DimplBackend`]).
pub struct DtlsClient<B: DtlsBackend = DimplBackend> {
    backend: B,
    context: B::ClientContext,
    config: ClientConfig,
    session: B::Session,
    state: ClientState,
    started: Instant,
    plaintext_sequence: u64,
    queued: VecDeque<Vec<u8>>,
    transmits: VecDeque<Vec<u8>>,
    events: VecDeque<ClientEvent>,
    server: Option<AuthenticatedIdentity>,
    handshakes: u64,
    resumption: Option<B::Resumption>,
    /// The latest `now` passed in (certificates are checked at this time).
    last_now: Instant,
    /// When an authenticated record last arrived (handshake completion or application data).
    last_received: Instant,
}

impl<B: DtlsBackend> std::fmt::Debug for DtlsClient<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DtlsClient").field("backend", &self.backend.name()).field("state", &self.state).finish()
    }
}

impl DtlsClient<DimplBackend> {
    /// A client on the default backend; its first flight is ready in [`Self::poll_transmit`].
    pub fn new(config: ClientConfig, now: Instant) -> Result<Self, DtlsError> {
        Self::with_backend(DimplBackend, config, now)
    }
}

impl<B: DtlsBackend> DtlsClient<B> {
    /// A client on a chosen backend.
    pub fn with_backend(backend: B, config: ClientConfig, now: Instant) -> Result<Self, DtlsError> {
        let context = backend.prepare_client(&config)?;
        let session = backend.new_client_session(&context, now, None)?;
        let mut client = Self {
            backend,
            context,
            config,
            session,
            state: ClientState::Handshaking,
            started: now,
            plaintext_sequence: 0,
            queued: VecDeque::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            server: None,
            handshakes: 1,
            resumption: None,
            last_now: now,
            last_received: now,
        };
        client.pump(Ok(()));
        Ok(client)
    }

    /// The current state.
    pub fn state(&self) -> ClientState {
        self.state
    }

    /// The authenticated server, once connected.
    pub fn server_identity(&self) -> Option<&AuthenticatedIdentity> {
        self.server.as_ref()
    }

    /// How many handshakes this client has started (1 + restarts).
    pub fn handshakes_started(&self) -> u64 {
        self.handshakes
    }

    /// Whether the current (or last) handshake resumed an earlier session: an abbreviated
    /// handshake (RFC 5246 §7.3) without key exchange.
    pub fn is_resumed(&self) -> bool {
        self.session.is_resumed()
    }

    /// Whether the next [`Self::restart`] offers the last session for resumption.
    pub fn has_resumable_session(&self) -> bool {
        self.resumption.is_some()
    }

    /// Forgets the session kept for resumption, so the next [`Self::restart`] runs a full
    /// handshake.
    pub fn forget_session(&mut self) {
        self.resumption = None;
    }

    /// Drops the current session and starts a new handshake. Queued datagrams are kept and
    /// sent once connected. Use it when the server stopped answering (it may have lost the
    /// session) or after [`ClientEvent::Failed`].
    ///
    /// The handshake offers the last established session for resumption (RFC 5246 §7.3) when
    /// the server gave it an id; a server that still has it answers with an abbreviated
    /// handshake, one that lost it with a full handshake. A failed handshake forgets the
    /// session (RFC 5246 §7.2.2).
    pub fn restart(&mut self, now: Instant) -> Result<(), DtlsError> {
        self.last_now = now;
        self.session = self.backend.new_client_session(&self.context, now, self.resumption.as_ref())?;
        // Flights of the old session must not reach the server after the new ClientHello.
        self.transmits.clear();
        self.state = ClientState::Handshaking;
        self.started = now;
        self.plaintext_sequence = 0;
        self.server = None;
        self.handshakes += 1;
        self.pump(Ok(()));
        Ok(())
    }

    /// Call before [`Self::send`] at `now`: runs a new handshake first (returning true) when the
    /// session failed or closed, or when nothing authenticated arrived for longer than
    /// [`ClientConfig::rehandshake_after`]. The datagram then waits for that handshake.
    pub fn prepare_send(&mut self, now: Instant) -> Result<bool, DtlsError> {
        let quiet = self
            .config
            .rehandshake_after
            .is_some_and(|after| now.saturating_duration_since(self.last_received) > after);
        let broken = matches!(self.state, ClientState::Failed | ClientState::Closed);
        if quiet || broken {
            self.restart(now)?;
            self.last_received = now;
            return Ok(true);
        }
        Ok(false)
    }

    /// Sets (or disables with `None`) [`ClientConfig::rehandshake_after`].
    pub fn set_rehandshake_after(&mut self, after: Option<std::time::Duration>) {
        self.config.rehandshake_after = after;
    }

    /// Processes one datagram from the server.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) {
        self.last_now = now;
        match self.state {
            ClientState::Failed | ClientState::Closed => return,
            ClientState::Handshaking => {
                if let Some(alert) = record::plaintext_fatal_alert(datagram) {
                    self.fail(DtlsError::PeerAlert(super::AlertDescription(alert)));
                    return;
                }
            }
            ClientState::Connected => {}
        }
        let result = self.session.handle_datagram(now, datagram);
        self.pump(result);
    }

    /// When [`Self::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            ClientState::Handshaking => {
                let deadline = self.started + self.config.timing.handshake_timeout;
                Some(self.session.poll_timeout().map_or(deadline, |t| t.min(deadline)))
            }
            ClientState::Connected => self.session.poll_timeout(),
            ClientState::Failed | ClientState::Closed => None,
        }
    }

    /// Retransmits flights and enforces the handshake deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = now;
        let timeout = self.config.timing.handshake_timeout;
        match self.state {
            ClientState::Failed | ClientState::Closed => {}
            ClientState::Handshaking if now >= self.started + timeout => {
                self.fail(DtlsError::HandshakeTimeout(timeout));
            }
            _ => {
                let result = self.session.handle_timeout(now).map_err(|e| match e {
                    DtlsError::HandshakeTimeout(_) => DtlsError::HandshakeTimeout(timeout),
                    other => other,
                });
                self.pump(result);
            }
        }
    }

    /// The next datagram to send to the server.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Encrypts an application datagram; during a handshake it is queued (up to 32) and sent on
    /// connection.
    pub fn send(&mut self, payload: &[u8]) -> Result<(), DtlsError> {
        match self.state {
            ClientState::Connected => {
                let result = self.session.send(payload);
                let failed = result.clone();
                self.pump(result);
                failed
            }
            ClientState::Handshaking => {
                if self.queued.len() >= MAX_QUEUED {
                    return Err(DtlsError::Limit { what: "datagrams queued during the handshake", limit: MAX_QUEUED });
                }
                self.queued.push_back(payload.to_vec());
                Ok(())
            }
            ClientState::Failed | ClientState::Closed => Err(DtlsError::Closed),
        }
    }

    /// Sends close_notify; the session cannot be used afterwards (except through [`Self::restart`]).
    pub fn close(&mut self) {
        self.session.close();
        self.pump(Ok(()));
        self.state = ClientState::Closed;
    }

    fn fail(&mut self, error: DtlsError) {
        if self.state == ClientState::Handshaking
            && let Some(alert) = error.alert()
            && !matches!(error, DtlsError::PeerAlert(_))
        {
            self.transmits.push_back(record::fatal_alert_record(self.plaintext_sequence + 1, alert.0));
        }
        self.state = ClientState::Failed;
        self.resumption = None;
        self.events.push_back(ClientEvent::Failed(error));
    }

    fn pump(&mut self, result: Result<(), DtlsError>) {
        if let Err(error) = result {
            self.fail(error);
            return;
        }
        let mut connected = false;
        while let Some(output) = self.session.poll_output() {
            match output {
                BackendOutput::Transmit(payload) => {
                    if let Some(seq) = record::max_plaintext_sequence(&payload) {
                        self.plaintext_sequence = self.plaintext_sequence.max(seq);
                    }
                    self.transmits.push_back(payload);
                }
                BackendOutput::PeerCertificate { leaf, intermediates } => {
                    if let ClientCredentials::Certificate { server_trust, server_name, .. } = &self.config.credentials {
                        match verify_server_certificate(
                            &leaf,
                            &intermediates,
                            server_trust,
                            self.config.wall_clock.unix_time(self.last_now),
                            server_name.as_deref(),
                            self.config.server_certificate_usage.as_ref(),
                        ) {
                            Ok(identity) => self.server = Some(AuthenticatedIdentity::Certificate(identity)),
                            Err(e) => {
                                self.fail(DtlsError::Certificate(e));
                                return;
                            }
                        }
                    }
                }
                BackendOutput::PeerRawPublicKey(der) => {
                    if let ClientCredentials::RawPublicKey { server_key, .. } = &self.config.credentials {
                        match check_server_raw_public_key(server_key, &der) {
                            Ok(identity) => self.server = Some(identity),
                            Err(e) => {
                                self.fail(DtlsError::Certificate(e));
                                return;
                            }
                        }
                    }
                }
                BackendOutput::Connected => {
                    connected = true;
                    self.last_received = self.last_now;
                }
                BackendOutput::ApplicationData(data) => {
                    self.last_received = self.last_now;
                    self.events.push_back(ClientEvent::Datagram(data));
                }
                BackendOutput::CloseNotify => {
                    self.state = ClientState::Closed;
                    self.events.push_back(ClientEvent::Closed);
                }
            }
        }
        if connected {
            let server = match (&self.config.credentials, self.server.clone()) {
                (ClientCredentials::Psk(psk), _) => AuthenticatedIdentity::psk(psk.identity()),
                (ClientCredentials::Certificate { .. } | ClientCredentials::RawPublicKey { .. }, Some(server)) => {
                    server
                }
                (ClientCredentials::Certificate { .. } | ClientCredentials::RawPublicKey { .. }, None) => {
                    self.fail(DtlsError::Protocol {
                        backend: self.backend.name(),
                        reason: "connected without a validated server certificate or key".into(),
                    });
                    return;
                }
            };
            self.server = Some(server.clone());
            self.resumption = self.backend.resumption(&self.session);
            self.state = ClientState::Connected;
            self.events.push_back(ClientEvent::Connected { server });
            while let Some(datagram) = self.queued.pop_front() {
                let result = self.session.send(&datagram);
                if result.is_err() {
                    self.pump(result);
                    return;
                }
            }
            self.pump(Ok(()));
        }
    }
}

/// The server's raw public key must be exactly the pinned one (compared in canonical DER form).
fn check_server_raw_public_key(pinned: &RawPublicKey, der: &[u8]) -> Result<AuthenticatedIdentity, CertificateError> {
    let key = RawPublicKey::canonical(der).map_err(CertificateError::Malformed)?;
    if key != *pinned {
        return Err(CertificateError::UntrustedRawPublicKey { spki_sha256: key.sha256() });
    }
    Ok(AuthenticatedIdentity::raw_public_key(&key))
}
