//! tokio drivers for CoAP over TCP (and TLS, see [`super::tls`]): one task per connection owns a
//! [`Connection`] and its byte stream.
//!
//! - [`spawn_connection`] runs a connection over any `AsyncRead + AsyncWrite` stream and returns
//!   a [`ConnectionHandle`] (async [`request`](ConnectionHandle::request),
//!   [`observe`](ConnectionHandle::observe), [`ping`](ConnectionHandle::ping),
//!   [`notify`](ConnectionHandle::notify), [`release`](ConnectionHandle::release)).
//! - [`connect`] opens a plain TCP client connection; [`serve`] accepts connections on a
//!   listener and runs each with a handler made for it.
//! - [`Handler`] answers incoming requests through a [`Responder`], at once or from a spawned task.
//!
//! The task writes queued frames before it reads again, so a peer that stops reading slows this
//! side down (TCP backpressure) instead of growing a queue without bound; frames are at most the
//! peer's Max-Message-Size, and the read buffer is 16 KiB.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use super::connection::{Connection, ConnectionConfig, ConnectionEvent, ExchangeError, IncomingRequest, Role};
use crate::engine::{IncomingId, ObservationId, PeerIdentity, Request, RequestId, Response};
use crate::notifications::{self, DEFAULT_NOTIFICATION_QUEUE};
use crate::wire::Code;

/// Answers the requests of one connection. Called on the connection's task: do not block.
pub trait Handler: Send + 'static {
    /// A request arrived. A responder dropped without answering sends 5.00.
    fn handle(&mut self, request: IncomingRequest, responder: Responder);

    /// An observer registered by a 2.xx answer is gone.
    fn observer_removed(&mut self, _observation: ObservationId) {}
}

/// Answers every request 4.04 (for client-only connections).
#[derive(Debug, Clone, Copy, Default)]
pub struct NotFound;

impl Handler for NotFound {
    fn handle(&mut self, _request: IncomingRequest, responder: Responder) {
        responder.respond(Response::new(Code::NOT_FOUND));
    }
}

/// Why a driver call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The exchange failed (timeout, connection closed, too large, ...).
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    /// The connection task has ended.
    #[error("the CoAP-over-TCP connection has ended")]
    Shutdown,
}

enum Command {
    Request { request: Request, reply: oneshot::Sender<Result<Response, Error>> },
    Observe { request: Request, reply: oneshot::Sender<Result<Observation, Error>> },
    Cancel { id: RequestId, active: bool },
    Ping { custody: bool, reply: oneshot::Sender<Result<(), Error>> },
    Respond { id: IncomingId, response: Response },
    Notify { observation: ObservationId, response: Response },
    Release,
    Abort { diagnostic: String },
}

/// Answers one incoming request.
pub struct Responder {
    id: IncomingId,
    handle: ConnectionHandle,
    done: bool,
}

impl Responder {
    /// Sends the response (Block2 if larger than the peer accepts).
    pub fn respond(mut self, response: Response) {
        self.done = true;
        let _ = self.handle.tx.send(Command::Respond { id: self.id, response });
    }

    /// The connection the request came on (to send notifications later).
    pub fn connection(&self) -> ConnectionHandle {
        self.handle.clone()
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if !self.done {
            let response = Response::new(Code::INTERNAL_SERVER_ERROR);
            let _ = self.handle.tx.send(Command::Respond { id: self.id, response });
        }
    }
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder").field("id", &self.id).finish()
    }
}

/// A registered observation: the registration response and the notifications that follow.
#[derive(Debug)]
pub struct Observation {
    /// The registration response (without an Observe option the server did not register).
    pub response: Response,
    id: RequestId,
    notifications: notifications::Receiver<Response>,
    handle: ConnectionHandle,
}

impl Observation {
    /// The next notification; `None` once the observation ended.
    pub async fn next(&mut self) -> Option<Response> {
        self.notifications.recv().await
    }

    /// How many notifications were dropped, oldest first, because they arrived while
    /// [`queue_limit`](Self::set_queue_limit) others were waiting to be read (RFC 7641: the
    /// newest state is what an observer wants).
    pub fn dropped(&self) -> u64 {
        self.notifications.dropped()
    }

    /// How many unread notifications to keep (default
    /// [`DEFAULT_NOTIFICATION_QUEUE`], at least 1);
    /// beyond it the oldest are dropped. The connection task never waits for the application.
    pub fn set_queue_limit(&mut self, limit: usize) {
        self.notifications.set_capacity(limit);
    }

    /// Cancels: `active` sends GET with `Observe: 1`, otherwise notifications are ignored.
    pub fn cancel(&mut self, active: bool) {
        let _ = self.handle.tx.send(Command::Cancel { id: self.id, active });
    }
}

/// The async API of one running connection. Cheap to clone.
#[derive(Clone)]
pub struct ConnectionHandle {
    tx: mpsc::UnboundedSender<Command>,
    peer: Option<SocketAddr>,
    identity: Option<PeerIdentity>,
}

impl std::fmt::Debug for ConnectionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionHandle").field("peer", &self.peer).finish()
    }
}

impl ConnectionHandle {
    /// The remote address, when known.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The authenticated identity of the peer (TLS client certificate), if any.
    pub fn peer_identity(&self) -> Option<&PeerIdentity> {
        self.identity.as_ref()
    }

    /// Sends a request and waits for the whole response.
    pub async fn request(&self, request: Request) -> Result<Response, Error> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Request { request, reply }).map_err(|_| Error::Shutdown)?;
        rx.await.map_err(|_| Error::Shutdown)?
    }

    /// Registers an observation and waits for the registration response.
    pub async fn observe(&self, request: Request) -> Result<Observation, Error> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Observe { request, reply }).map_err(|_| Error::Shutdown)?;
        rx.await.map_err(|_| Error::Shutdown)?
    }

    /// Sends a Ping (optionally with Custody) and waits for the Pong.
    pub async fn ping(&self, custody: bool) -> Result<(), Error> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Ping { custody, reply }).map_err(|_| Error::Shutdown)?;
        rx.await.map_err(|_| Error::Shutdown)?
    }

    /// Sends a notification to an observer of this connection.
    pub fn notify(&self, observation: ObservationId, response: Response) -> Result<(), Error> {
        self.tx.send(Command::Notify { observation, response }).map_err(|_| Error::Shutdown)
    }

    /// Sends Release: the connection closes once nothing is outstanding.
    pub fn release(&self) {
        let _ = self.tx.send(Command::Release);
    }

    /// Sends Abort with a diagnostic and closes at once.
    pub fn abort(&self, diagnostic: &str) {
        let _ = self.tx.send(Command::Abort { diagnostic: diagnostic.to_string() });
    }

    /// True once the connection task has ended.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Waits until the connection task has ended.
    pub async fn closed(&self) {
        self.tx.closed().await;
    }
}

enum Waiter {
    Request(oneshot::Sender<Result<Response, Error>>),
    Observe(oneshot::Sender<Result<Observation, Error>>),
    Observing(notifications::Sender<Response>),
    Ping(oneshot::Sender<Result<(), Error>>),
}

/// Runs a connection over `stream` on a new task.
pub fn spawn_connection<S, H>(
    stream: S,
    role: Role,
    config: ConnectionConfig,
    peer: Option<SocketAddr>,
    identity: Option<PeerIdentity>,
    handler: H,
) -> ConnectionHandle
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    H: Handler,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = ConnectionHandle { tx, peer, identity: identity.clone() };
    let mut connection = Connection::new(role, config, Instant::now());
    connection.set_peer_identity(identity);
    let task = Task { connection, handler, rx, handle: handle.clone(), waiters: Default::default() };
    tokio::spawn(task.run(stream));
    handle
}

/// Connects over plain TCP (`coap+tcp://`).
pub async fn connect<H: Handler>(
    addr: SocketAddr,
    config: ConnectionConfig,
    handler: H,
) -> io::Result<ConnectionHandle> {
    let stream = TcpStream::connect(addr).await?;
    let _ = stream.set_nodelay(true);
    Ok(spawn_connection(stream, Role::Initiator, config, Some(addr), None, handler))
}

/// Settings of a server: the per-connection settings and how many connections at once.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Settings of every accepted connection.
    pub connection: ConnectionConfig,
    /// Most connections open at once (default 10 000). Connections accepted beyond it are
    /// closed at once, before any byte is read.
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig { connection: ConnectionConfig::default(), max_connections: 10_000 }
    }
}

impl From<ConnectionConfig> for ServerConfig {
    fn from(connection: ConnectionConfig) -> Self {
        ServerConfig { connection, ..ServerConfig::default() }
    }
}

/// Counts open connections against [`ServerConfig::max_connections`].
#[derive(Debug, Clone)]
pub(crate) struct ConnectionLimit(Arc<Semaphore>);

impl ConnectionLimit {
    pub(crate) fn new(max: usize) -> Self {
        ConnectionLimit(Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS))))
    }

    /// A slot, or `None` when the server is full.
    pub(crate) fn try_acquire(&self) -> Option<OwnedSemaphorePermit> {
        self.0.clone().try_acquire_owned().ok()
    }
}

/// Holds `permit` until the connection behind `handle` has ended.
pub(crate) fn hold_until_closed(handle: ConnectionHandle, permit: OwnedSemaphorePermit) {
    tokio::spawn(async move {
        handle.closed().await;
        drop(permit);
    });
}

/// Accepts plain TCP connections until the listener fails; each runs with `make_handler(peer)`
/// on its own task.
pub async fn serve<H, F>(listener: TcpListener, config: impl Into<ServerConfig>, mut make_handler: F) -> io::Result<()>
where
    H: Handler,
    F: FnMut(SocketAddr) -> H,
{
    let config = config.into();
    let limit = ConnectionLimit::new(config.max_connections);
    loop {
        let (stream, peer) = listener.accept().await?;
        let Some(permit) = limit.try_acquire() else {
            tracing::warn!(%peer, limit = config.max_connections, "connection refused: too many connections");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let handler = make_handler(peer);
        let handle = spawn_connection(stream, Role::Acceptor, config.connection.clone(), Some(peer), None, handler);
        hold_until_closed(handle, permit);
    }
}

struct Task<H> {
    connection: Connection,
    handler: H,
    rx: mpsc::UnboundedReceiver<Command>,
    handle: ConnectionHandle,
    waiters: std::collections::HashMap<RequestId, Waiter>,
}

impl<H: Handler> Task<H> {
    async fn run<S: AsyncRead + AsyncWrite + Send + Unpin>(mut self, stream: S) {
        let (mut reader, mut writer) = tokio::io::split(stream);
        let mut buf = vec![0u8; 16 * 1024];
        // The task keeps a sender (for responders), so it runs until the connection closes:
        // the peer closes or aborts it, or a handle calls release/abort.
        loop {
            // Events first: dispatching one can queue frames (a deregistration when the
            // application dropped its Observation), which the writes below then send.
            self.dispatch_events();
            while let Some(bytes) = self.connection.poll_transmit() {
                if let Err(e) = writer.write_all(&bytes).await {
                    self.connection.handle_stream_closed(&e.to_string());
                    break;
                }
            }
            let _ = writer.flush().await;
            self.dispatch_events();
            if self.connection.is_closed() {
                while let Some(bytes) = self.connection.poll_transmit() {
                    if writer.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                let _ = writer.shutdown().await;
                self.dispatch_events();
                break;
            }
            let timeout = self.connection.poll_timeout();
            let sleep = sleep_until(timeout);
            tokio::select! {
                r = reader.read(&mut buf) => match r {
                    Ok(0) => self.connection.handle_stream_closed("the peer closed the stream"),
                    Ok(n) => self.connection.handle_bytes(Instant::now(), &buf[..n]),
                    Err(e) => self.connection.handle_stream_closed(&e.to_string()),
                },
                cmd = self.rx.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => self.connection.release(None, None),
                },
                () = sleep => self.connection.handle_timeout(Instant::now()),
            }
        }
        self.rx.close();
    }

    fn command(&mut self, cmd: Command) {
        let now = Instant::now();
        match cmd {
            Command::Request { request, reply } => match self.connection.start_request(now, request) {
                Ok(id) => {
                    self.waiters.insert(id, Waiter::Request(reply));
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Command::Observe { request, reply } => match self.connection.observe(now, request) {
                Ok(id) => {
                    self.waiters.insert(id, Waiter::Observe(reply));
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Command::Cancel { id, active } => {
                self.waiters.remove(&id);
                self.connection.cancel(id, active);
            }
            Command::Ping { custody, reply } => match self.connection.ping(now, custody) {
                Ok(id) => {
                    self.waiters.insert(id, Waiter::Ping(reply));
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Command::Respond { id, response } => {
                if let Err(e) = self.connection.respond(id, response) {
                    tracing::debug!(error = %e, "response dropped");
                }
            }
            Command::Notify { observation, response } => {
                if let Err(e) = self.connection.notify(observation, response) {
                    tracing::debug!(error = %e, "notification dropped");
                }
            }
            Command::Release => self.connection.release(None, None),
            Command::Abort { diagnostic } => self.connection.abort(&diagnostic),
        }
    }

    fn dispatch_events(&mut self) {
        while let Some(event) = self.connection.poll_event() {
            match event {
                ConnectionEvent::Request(request) => {
                    let responder = Responder { id: request.id, handle: self.handle.clone(), done: false };
                    self.handler.handle(request, responder);
                }
                ConnectionEvent::Response { id, response } => match self.waiters.remove(&id) {
                    Some(Waiter::Request(reply)) => {
                        let _ = reply.send(Ok(response));
                    }
                    Some(Waiter::Observe(reply)) => {
                        let (tx, notifications) = notifications::queue(DEFAULT_NOTIFICATION_QUEUE);
                        if response.options.observe().is_some() && response.code.is_success() {
                            self.waiters.insert(id, Waiter::Observing(tx));
                        }
                        let obs = Observation { response, id, notifications, handle: self.handle.clone() };
                        let _ = reply.send(Ok(obs));
                    }
                    Some(other) => {
                        self.waiters.insert(id, other);
                    }
                    None => {}
                },
                ConnectionEvent::Notification { id, response } => {
                    if let Some(Waiter::Observing(tx)) = self.waiters.get(&id)
                        && tx.send(response).is_err()
                    {
                        // The application dropped its Observation. TCP has no RST, so deregister
                        // (GET with Observe: 1) rather than let the server notify forever.
                        self.waiters.remove(&id);
                        self.connection.cancel(id, true);
                    }
                }
                ConnectionEvent::ObservationEnded { id } => {
                    self.waiters.remove(&id);
                }
                ConnectionEvent::RequestFailed { id, error } => match self.waiters.remove(&id) {
                    Some(Waiter::Request(reply)) => {
                        let _ = reply.send(Err(error.into()));
                    }
                    Some(Waiter::Observe(reply)) => {
                        let _ = reply.send(Err(error.into()));
                    }
                    Some(Waiter::Ping(reply)) => {
                        let _ = reply.send(Err(error.into()));
                    }
                    Some(Waiter::Observing(_)) | None => {}
                },
                ConnectionEvent::Pong { id } => {
                    if let Some(Waiter::Ping(reply)) = self.waiters.remove(&id) {
                        let _ = reply.send(Ok(()));
                    }
                }
                ConnectionEvent::ObserverRemoved { observation } => self.handler.observer_removed(observation),
                ConnectionEvent::Closed(reason) => {
                    tracing::debug!(%reason, "CoAP-over-TCP connection closed");
                }
                _ => {}
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}
