//! DTLS sockets for the tokio driver: [`DtlsServerSocket`] (one UDP socket, many sessions) and
//! [`DtlsClientSocket`] (one session with one server). Both implement
//! [`DatagramTransport`], so `driver::spawn` runs the CoAP engine over `coaps://` unchanged, and
//! the server side reports each peer's [`AuthenticatedIdentity`] to the engine
//! (`IncomingRequest::identity`).
//!
//! `recv_from` is cancel-safe (the driver polls it inside `select!`): all DTLS state lives behind a
//! mutex that is never held across an await, decrypted datagrams wait in a queue, and DTLS's own
//! packets (handshake flights, alerts) go out with non-blocking sends (a full socket buffer only
//! costs a retransmission). `recv_from` also runs the DTLS timers while it waits.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use super::client::{ClientEvent, ClientState, DtlsClient};
use super::config::ClientConfig;
use super::error::DtlsError;
use super::identity::AuthenticatedIdentity;
use super::server::{DtlsServer, ServerEvent, ServerStats};
use crate::driver::DatagramTransport;
use crate::engine::PeerIdentity;

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

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

struct ServerShared {
    server: DtlsServer,
    inbox: VecDeque<(SocketAddr, Vec<u8>)>,
    failures: VecDeque<(SocketAddr, DtlsError)>,
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
        Self { socket, shared: Mutex::new(ServerShared { server, inbox: VecDeque::new(), failures: VecDeque::new() }) }
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

    /// Collects events and sends DTLS's own packets; returns when the next timer is due.
    fn pump(&self, shared: &mut ServerShared) -> Option<Instant> {
        while let Some(event) = shared.server.poll_event() {
            match event {
                ServerEvent::Datagram(d) => shared.inbox.push_back((d.peer, d.payload)),
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
        shared.server.poll_timeout()
    }
}

impl DatagramTransport for DtlsServerSocket {
    type Addr = SocketAddr;

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let mut raw = [0u8; RECV_BUFFER];
        loop {
            let deadline = {
                let mut shared = self.lock();
                if let Some((peer, payload)) = shared.inbox.pop_front() {
                    return Ok((copy_out(buf, &payload), peer));
                }
                self.pump(&mut shared)
            };
            tokio::select! {
                received = self.socket.recv_from(&mut raw) => {
                    let (n, peer) = received?;
                    let mut shared = self.lock();
                    shared.server.handle_datagram(Instant::now(), peer, raw.get(..n).unwrap_or_default());
                    self.pump(&mut shared);
                }
                () = sleep_until(deadline) => {
                    let mut shared = self.lock();
                    shared.server.handle_timeout(Instant::now());
                    self.pump(&mut shared);
                }
            }
        }
    }

    async fn send_to(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        let transmits: Vec<_> = {
            let mut shared = self.lock();
            shared.server.send(Instant::now(), *addr, buf).map_err(io_error)?;
            std::iter::from_fn(|| shared.server.poll_transmit()).collect()
        };
        for t in transmits {
            self.socket.send_to(&t.payload, t.destination).await?;
        }
        Ok(buf.len())
    }

    fn peer_identity(&self, addr: &SocketAddr) -> Option<PeerIdentity> {
        self.lock().server.identity(*addr).map(|i| i.to_peer_identity())
    }
}

struct ClientShared {
    client: DtlsClient,
    inbox: VecDeque<Vec<u8>>,
    last_received: Instant,
    failure: Option<DtlsError>,
}

/// A DTLS client session on its own UDP socket, for [`crate::driver::spawn`].
///
/// [`Self::connect`] completes the handshake before returning, so a bad key or an untrusted
/// certificate is reported at once. Afterwards, a send after the session has been quiet for
/// longer than the re-handshake interval (default 60 s, see [`Self::set_rehandshake_after`])
/// first runs a new handshake: the server may have dropped the session or a NAT may have
/// re-mapped our port (resumption and Connection ID are not available with this backend).
pub struct DtlsClientSocket {
    socket: UdpSocket,
    server: SocketAddr,
    shared: Mutex<ClientShared>,
    rehandshake_after: Mutex<Option<Duration>>,
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
        let this = Self {
            socket,
            server,
            shared: Mutex::new(ClientShared { client, inbox: VecDeque::new(), last_received: now, failure: None }),
            rehandshake_after: Mutex::new(Some(Duration::from_secs(60))),
        };
        tokio::time::timeout(timeout + Duration::from_secs(1), this.wait_connected())
            .await
            .map_err(|_| DtlsError::HandshakeTimeout(timeout))??;
        Ok(this)
    }

    /// Sets (or disables with None) the quiet interval after which a send re-handshakes first.
    pub fn set_rehandshake_after(&self, after: Option<Duration>) {
        if let Ok(mut value) = self.rehandshake_after.lock() {
            *value = after;
        }
    }

    /// The server address.
    pub fn server_addr(&self) -> SocketAddr {
        self.server
    }

    /// The authenticated server identity.
    pub fn server_identity(&self) -> Option<AuthenticatedIdentity> {
        self.lock().client.server_identity().cloned()
    }

    /// Starts a new full handshake now and waits for it.
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

    fn pump(&self, shared: &mut ClientShared) -> Option<Instant> {
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
        shared.client.poll_timeout()
    }

    /// Drives the socket until the handshake completes or fails.
    async fn wait_connected(&self) -> Result<(), DtlsError> {
        let mut raw = [0u8; RECV_BUFFER];
        loop {
            let deadline = {
                let mut shared = self.lock();
                let deadline = self.pump(&mut shared);
                if let Some(error) = shared.failure.take() {
                    return Err(error);
                }
                if shared.client.state() == ClientState::Connected {
                    return Ok(());
                }
                deadline
            };
            self.step(&mut raw, deadline).await;
        }
    }

    /// Waits for one datagram or timer and feeds it to the session.
    async fn step(&self, raw: &mut [u8], deadline: Option<Instant>) {
        tokio::select! {
            received = self.socket.recv(raw) => {
                if let Ok(n) = received {
                    let mut shared = self.lock();
                    let now = Instant::now();
                    shared.last_received = now;
                    shared.client.handle_datagram(now, raw.get(..n).unwrap_or_default());
                    self.pump(&mut shared);
                }
            }
            () = sleep_until(deadline) => {
                let mut shared = self.lock();
                shared.client.handle_timeout(Instant::now());
                self.pump(&mut shared);
            }
        }
    }
}

impl DatagramTransport for DtlsClientSocket {
    type Addr = SocketAddr;

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let mut raw = [0u8; RECV_BUFFER];
        loop {
            let deadline = {
                let mut shared = self.lock();
                if let Some(payload) = shared.inbox.pop_front() {
                    return Ok((copy_out(buf, &payload), self.server));
                }
                self.pump(&mut shared)
            };
            self.step(&mut raw, deadline).await;
        }
    }

    async fn send_to(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        if *addr != self.server {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("this DTLS session is with {}, not {addr}", self.server),
            ));
        }
        let rehandshake_after = self.rehandshake_after.lock().ok().and_then(|v| *v);
        let transmits: Vec<Vec<u8>> = {
            let mut shared = self.lock();
            let now = Instant::now();
            let quiet = rehandshake_after.is_some_and(|after| now.duration_since(shared.last_received) > after);
            let broken = matches!(shared.client.state(), ClientState::Failed | ClientState::Closed);
            if quiet || broken {
                // Queue the datagram behind a new handshake (recv_from drives it).
                shared.failure = None;
                shared.last_received = now;
                shared.client.restart(now).map_err(io_error)?;
            }
            shared.client.send(buf).map_err(io_error)?;
            std::iter::from_fn(|| shared.client.poll_transmit()).collect()
        };
        for d in transmits {
            self.socket.send(&d).await?;
        }
        Ok(buf.len())
    }
}
