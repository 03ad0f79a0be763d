//! DTLS sockets for the tokio driver: [`DtlsServerSocket`] (one UDP socket, many sessions) and
//! [`DtlsClientSocket`] (one session with one server). Both implement
//! [`DatagramTransport`], so `driver::spawn` runs the CoAP engine over `coaps://` unchanged, and
//! the server side reports each peer's [`AuthenticatedIdentity`] to the engine
//! (`IncomingRequest::identity`).
//!
//! `recv_from` is cancel-safe (the driver polls it inside `select!` and drops it whenever a
//! command or a timer wins): it is a plain poll function over state that lives behind a mutex
//! held only within one poll. Each poll reads datagrams into a buffer the socket owns until one
//! decrypts to application data or the socket is empty, runs the DTLS timers, and returns a
//! decrypted datagram in the same poll that dequeues it, so nothing is ever half-received in a
//! dropped future. The DTLS timer is one
//! tokio `Sleep` per socket, re-armed only when the deadline moves earlier. Records go out with
//! non-blocking sends; only a full socket buffer makes `send_to` wait (DTLS's own handshake
//! flights and alerts are never waited for: a lost one only costs a retransmission).

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::ReadBuf;
use tokio::net::UdpSocket;
use tokio::time::Sleep;

use super::client::{ClientEvent, ClientState, DtlsClient};
use super::config::ClientConfig;
use super::error::DtlsError;
use super::identity::AuthenticatedIdentity;
use super::server::{DtlsServer, ServerEvent, ServerStats};
use crate::driver::DatagramTransport;
use crate::engine::PeerIdentity;

/// Largest UDP datagram read from the socket (bigger ones are truncated and fail to decrypt).
const RECV_BUFFER: usize = 2048;

fn io_error(error: DtlsError) -> io::Error {
    let kind = match error {
        DtlsError::NoSession(_) | DtlsError::Closed => io::ErrorKind::NotConnected,
        DtlsError::DatagramTooLarge { .. } => io::ErrorKind::InvalidInput,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, error)
}

fn copy_out(buf: &mut [u8], payload: &[u8]) -> usize {
    let n = payload.len().min(buf.len());
    if let (Some(dst), Some(src)) = (buf.get_mut(..n), payload.get(..n)) {
        dst.copy_from_slice(src);
    }
    n
}

/// The DTLS timer of one socket: a single tokio [`Sleep`], kept between `recv_from` calls and
/// re-armed only when the DTLS deadline moves earlier than the armed instant. A later deadline
/// (the idle deadline moves with every datagram) keeps the earlier instant: when it fires the
/// endpoint's `handle_timeout` finds nothing due and the timer is re-armed at the real deadline.
#[derive(Default)]
struct DtlsTimer {
    sleep: Option<Pin<Box<Sleep>>>,
    armed: Option<Instant>,
}

impl DtlsTimer {
    /// Ready once `deadline` (or the earlier armed instant) has passed.
    fn poll(&mut self, cx: &mut Context<'_>, deadline: Option<Instant>) -> Poll<()> {
        let Some(deadline) = deadline else { return Poll::Pending };
        let at = tokio::time::Instant::from_std(deadline);
        let sleep = match (&mut self.sleep, self.armed) {
            (Some(sleep), Some(armed)) if armed <= deadline => sleep,
            (Some(sleep), _) => {
                sleep.as_mut().reset(at);
                self.armed = Some(deadline);
                sleep
            }
            (slot @ None, _) => {
                self.armed = Some(deadline);
                slot.insert(Box::pin(tokio::time::sleep_until(at)))
            }
        };
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.armed = None;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

struct ServerShared {
    server: DtlsServer,
    inbox: VecDeque<(SocketAddr, Arc<AuthenticatedIdentity>, Vec<u8>)>,
    failures: VecDeque<(SocketAddr, DtlsError)>,
    /// The peer and identity of the datagram `recv_from` returned last (the driver asks for the
    /// identity right after each datagram).
    last: Option<(SocketAddr, Arc<AuthenticatedIdentity>)>,
    timer: DtlsTimer,
    raw: Box<[u8]>,
}

/// A DTLS server on one UDP socket, for [`crate::driver::spawn`].
pub struct DtlsServerSocket {
    socket: UdpSocket,
    shared: Mutex<ServerShared>,
}

impl std::fmt::Debug for DtlsServerSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DtlsServerSocket").field("socket", &self.socket).finish_non_exhaustive()
    }
}

/// Handshake failures kept for [`DtlsServerSocket::take_handshake_failures`].
const MAX_FAILURES: usize = 256;

impl DtlsServerSocket {
    /// Serves DTLS on an already bound socket.
    pub fn new(socket: UdpSocket, server: DtlsServer) -> Self {
        let shared = ServerShared {
            server,
            inbox: VecDeque::new(),
            failures: VecDeque::new(),
            last: None,
            timer: DtlsTimer::default(),
            raw: vec![0; RECV_BUFFER].into_boxed_slice(),
        };
        Self { socket, shared: Mutex::new(shared) }
    }

    /// Binds `addr` and serves DTLS on it.
    pub async fn bind(addr: SocketAddr, server: DtlsServer) -> io::Result<Self> {
        Ok(Self::new(UdpSocket::bind(addr).await?, server))
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Counters of the DTLS endpoint.
    pub fn stats(&self) -> ServerStats {
        self.lock().server.stats()
    }

    /// The most recent handshake failures (up to 256), oldest first, for logging.
    pub fn take_handshake_failures(&self) -> Vec<(SocketAddr, DtlsError)> {
        self.lock().failures.drain(..).collect()
    }

    /// The identity of the session with `peer`.
    pub fn identity(&self, peer: SocketAddr) -> Option<AuthenticatedIdentity> {
        self.lock().server.identity(peer).map(|i| (**i).clone())
    }

    fn lock(&self) -> MutexGuard<'_, ServerShared> {
        self.shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Collects events and sends DTLS's own packets (handshake flights, alerts) without waiting:
    /// a full socket buffer only costs a retransmission.
    fn pump(&self, shared: &mut ServerShared) {
        while let Some(event) = shared.server.poll_event() {
            match event {
                ServerEvent::Datagram(d) => shared.inbox.push_back((d.peer, d.identity, d.payload)),
                ServerEvent::HandshakeFailed { peer, error } => {
                    tracing::debug!(%peer, %error, "DTLS handshake failed");
                    if shared.failures.len() >= MAX_FAILURES {
                        shared.failures.pop_front();
                    }
                    shared.failures.push_back((peer, error));
                }
                ServerEvent::Connected { peer, identity } => tracing::debug!(%peer, ?identity, "DTLS session up"),
                ServerEvent::Closed { peer, reason } => tracing::debug!(%peer, %reason, "DTLS session closed"),
            }
        }
        while let Some(t) = shared.server.poll_transmit() {
            if let Err(err) = self.socket.try_send_to(&t.payload, t.destination) {
                tracing::debug!(%err, peer = %t.destination, "DTLS send failed");
            }
        }
    }

    /// One poll of `recv_from`: every state change happens under the lock inside this call and a
    /// decrypted datagram is returned in the same call that dequeues it, so dropping the
    /// `recv_from` future between polls (the driver's `select!`) loses nothing.
    fn poll_recv_from(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<(usize, SocketAddr)>> {
        let mut guard = self.lock();
        let shared = &mut *guard;
        loop {
            if let Some((peer, identity, payload)) = shared.inbox.pop_front() {
                shared.last = Some((peer, identity));
                return Poll::Ready(Ok((copy_out(buf, &payload), peer)));
            }
            // Read everything the socket holds before sleeping (tokio's cooperative budget
            // bounds this loop).
            let mut raw = ReadBuf::new(&mut shared.raw);
            match self.socket.poll_recv_from(cx, &mut raw) {
                Poll::Ready(Ok(peer)) => {
                    shared.server.handle_datagram(Instant::now(), peer, raw.filled());
                    self.pump(shared);
                    continue;
                }
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => {}
            }
            let deadline = shared.server.poll_timeout();
            match shared.timer.poll(cx, deadline) {
                Poll::Ready(()) => {
                    shared.server.handle_timeout(Instant::now());
                    self.pump(shared);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl DatagramTransport for DtlsServerSocket {
    type Addr = SocketAddr;

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_recv_from(cx, buf)).await
    }

    async fn send_to(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        // Records go out at once with non-blocking sends; only what a full socket buffer refuses
        // waits for the socket.
        let mut blocked = Vec::new();
        {
            let mut shared = self.lock();
            shared.server.send(Instant::now(), *addr, buf).map_err(io_error)?;
            while let Some(t) = shared.server.poll_transmit() {
                if blocked.is_empty() {
                    match self.socket.try_send_to(&t.payload, t.destination) {
                        Ok(_) => continue,
                        Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                        Err(err) => return Err(err),
                    }
                }
                blocked.push(t);
            }
        }
        for t in blocked {
            self.socket.send_to(&t.payload, t.destination).await?;
        }
        Ok(buf.len())
    }

    fn peer_identity(&self, addr: &SocketAddr) -> Option<PeerIdentity> {
        let shared = self.lock();
        match &shared.last {
            Some((peer, identity)) if peer == addr => Some(identity.to_peer_identity()),
            _ => shared.server.identity(*addr).map(|i| i.to_peer_identity()),
        }
    }
}

struct ClientShared {
    client: DtlsClient,
    inbox: VecDeque<Vec<u8>>,
    failure: Option<DtlsError>,
    timer: DtlsTimer,
    raw: Box<[u8]>,
}

/// A DTLS client session on its own UDP socket, for [`crate::driver::spawn`].
///
/// [`Self::connect`] completes the handshake before returning, so a bad key or an untrusted
/// certificate is reported at once. Afterwards, a send after the session has been quiet for
/// longer than the re-handshake interval (default 60 s, see [`Self::set_rehandshake_after`])
/// first runs a new handshake: the server may have dropped the session or a NAT may have
/// re-mapped our port (Connection ID is not available with this backend; the new handshake
/// resumes the session when the server still has it).
pub struct DtlsClientSocket {
    socket: UdpSocket,
    server: SocketAddr,
    shared: Mutex<ClientShared>,
}

impl std::fmt::Debug for DtlsClientSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DtlsClientSocket").field("server", &self.server).finish_non_exhaustive()
    }
}

impl DtlsClientSocket {
    /// Binds an ephemeral local port, handshakes with `server` and returns once connected (or
    /// with the handshake error).
    pub async fn connect(server: SocketAddr, config: ClientConfig) -> Result<Self, DtlsError> {
        let timeout = config.timing.handshake_timeout;
        let local: SocketAddr = if server.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
        let socket = UdpSocket::bind(local)
            .await
            .map_err(|e| DtlsError::InvalidConfig(format!("cannot bind a UDP socket: {e}")))?;
        socket.connect(server).await.map_err(|e| DtlsError::InvalidConfig(format!("cannot reach {server}: {e}")))?;
        let now = Instant::now();
        let client = DtlsClient::new(config, now)?;
        let shared = ClientShared {
            client,
            inbox: VecDeque::new(),
            failure: None,
            timer: DtlsTimer::default(),
            raw: vec![0; RECV_BUFFER].into_boxed_slice(),
        };
        let this = Self { socket, server, shared: Mutex::new(shared) };
        tokio::time::timeout(timeout + Duration::from_secs(1), this.wait_connected())
            .await
            .map_err(|_| DtlsError::HandshakeTimeout(timeout))??;
        Ok(this)
    }

    /// Sets (or disables with None) the quiet interval after which a send re-handshakes first.
    pub fn set_rehandshake_after(&self, after: Option<Duration>) {
        self.lock().client.set_rehandshake_after(after);
    }

    /// The server address.
    pub fn server_addr(&self) -> SocketAddr {
        self.server
    }

    /// The authenticated server identity.
    pub fn server_identity(&self) -> Option<AuthenticatedIdentity> {
        self.lock().client.server_identity().cloned()
    }

    /// Whether the current session came from an abbreviated handshake that resumed the previous
    /// one (RFC 5246 §7.3; see [`DtlsClient::restart`]).
    pub fn is_resumed(&self) -> bool {
        self.lock().client.is_resumed()
    }

    /// Starts a new handshake now and waits for it. It offers the last session for resumption;
    /// a server that lost it runs a full handshake.
    pub async fn rehandshake(&self) -> Result<(), DtlsError> {
        {
            let mut shared = self.lock();
            shared.failure = None;
            shared.client.restart(Instant::now())?;
        }
        self.wait_connected().await
    }

    fn lock(&self) -> MutexGuard<'_, ClientShared> {
        self.shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Collects events and sends DTLS's own packets without waiting.
    fn pump(&self, shared: &mut ClientShared) {
        while let Some(event) = shared.client.poll_event() {
            match event {
                ClientEvent::Datagram(d) => shared.inbox.push_back(d),
                ClientEvent::Failed(e) => shared.failure = Some(e),
                ClientEvent::Closed => shared.failure = Some(DtlsError::Closed),
                ClientEvent::Connected { .. } => {}
            }
        }
        while let Some(d) = shared.client.poll_transmit() {
            if let Err(err) = self.socket.try_send(&d) {
                tracing::debug!(%err, "DTLS send failed");
            }
        }
    }

    /// Feeds one datagram or one due timer to the session; `Pending` when there is neither.
    /// Receive errors (ICMP unreachable on a connected socket) are not fatal here: the handshake
    /// deadline or the CoAP layer decides.
    fn poll_step(&self, cx: &mut Context<'_>, shared: &mut ClientShared) -> Poll<()> {
        let mut raw = ReadBuf::new(&mut shared.raw);
        match self.socket.poll_recv(cx, &mut raw) {
            Poll::Ready(Ok(())) => {
                shared.client.handle_datagram(Instant::now(), raw.filled());
                self.pump(shared);
                return Poll::Ready(());
            }
            Poll::Ready(Err(err)) => {
                tracing::debug!(%err, "DTLS receive error");
                return Poll::Ready(());
            }
            Poll::Pending => {}
        }
        let deadline = shared.client.poll_timeout();
        match shared.timer.poll(cx, deadline) {
            Poll::Ready(()) => {
                shared.client.handle_timeout(Instant::now());
                self.pump(shared);
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// Drives the socket until the handshake completes or fails.
    async fn wait_connected(&self) -> Result<(), DtlsError> {
        std::future::poll_fn(|cx| {
            let mut guard = self.lock();
            let shared = &mut *guard;
            loop {
                self.pump(shared);
                if let Some(error) = shared.failure.take() {
                    return Poll::Ready(Err(error));
                }
                if shared.client.state() == ClientState::Connected {
                    return Poll::Ready(Ok(()));
                }
                if self.poll_step(cx, shared).is_pending() {
                    return Poll::Pending;
                }
            }
        })
        .await
    }

    /// One poll of `recv_from`; cancel-safe for the same reasons as the server's.
    fn poll_recv_from(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<(usize, SocketAddr)>> {
        let mut guard = self.lock();
        let shared = &mut *guard;
        loop {
            if let Some(payload) = shared.inbox.pop_front() {
                return Poll::Ready(Ok((copy_out(buf, &payload), self.server)));
            }
            if self.poll_step(cx, shared).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

impl DatagramTransport for DtlsClientSocket {
    type Addr = SocketAddr;

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_recv_from(cx, buf)).await
    }

    async fn send_to(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        if *addr != self.server {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("this DTLS session is with {}, not {addr}", self.server),
            ));
        }
        let mut blocked = Vec::new();
        {
            let mut shared = self.lock();
            // A quiet or broken session re-handshakes first (the client decides); the datagram
            // waits behind the new handshake, which recv_from drives.
            if shared.client.prepare_send(Instant::now()).map_err(io_error)? {
                shared.failure = None;
            }
            shared.client.send(buf).map_err(io_error)?;
            while let Some(d) = shared.client.poll_transmit() {
                if blocked.is_empty() {
                    match self.socket.try_send(&d) {
                        Ok(_) => continue,
                        Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                        Err(err) => return Err(err),
                    }
                }
                blocked.push(d);
            }
        }
        for d in blocked {
            self.socket.send(&d).await?;
        }
        Ok(buf.len())
    }
}
