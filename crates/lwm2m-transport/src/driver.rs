//! A thin tokio driver: one task runs an [`Endpoint`] over one datagram transport.
//!
//! - [`DatagramTransport`] is what the driver needs from below: `recv_from` / `send_to` and,
//!   for secure transports, the authenticated identity of a peer. tokio's [`UdpSocket`]
//!   implements it (IPv4 or IPv6, whatever it was bound to); the DTLS transport implements it
//!   the same way, so the CoAP engine does not change.
//! - [`Handler`] answers incoming requests, at once or later through its [`Responder`].
//! - [`Handle`] is the async client API ([`Handle::request`], [`Handle::observe`],
//!   [`Handle::ping`]) and the way to send notifications ([`Handle::notify`]) and to shut down.
//!
//! There is no task or thread per peer: the single driver task owns the endpoint, the
//! transport's receive half and every timer.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use crate::engine::{
    Config, Endpoint, Event, IncomingId, IncomingRequest, ObservationEnd, ObservationId, PeerIdentity, PeerKey,
    Request, RequestError, RequestId, Response, StartError,
};
use crate::notifications;
pub use crate::notifications::DEFAULT_NOTIFICATION_QUEUE;
use crate::wire::{Code, OptionNumber};

/// The datagram service under the CoAP engine (UDP, or DTLS records once decrypted).
pub trait DatagramTransport: Send + Sync + 'static {
    /// How peers are addressed.
    type Addr: PeerKey + Send + Sync + 'static;

    /// Receives one datagram.
    fn recv_from(&self, buf: &mut [u8]) -> impl Future<Output = io::Result<(usize, Self::Addr)>> + Send;

    /// Sends one datagram.
    fn send_to(&self, buf: &[u8], addr: &Self::Addr) -> impl Future<Output = io::Result<usize>> + Send;

    /// The identity the transport authenticated for `addr` (none for plain UDP).
    fn peer_identity(&self, _addr: &Self::Addr) -> Option<PeerIdentity> {
        None
    }
}

impl DatagramTransport for UdpSocket {
    type Addr = SocketAddr;

    fn recv_from(&self, buf: &mut [u8]) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + Send {
        UdpSocket::recv_from(self, buf)
    }

    fn send_to(&self, buf: &[u8], addr: &SocketAddr) -> impl Future<Output = io::Result<usize>> + Send {
        UdpSocket::send_to(self, buf, *addr)
    }
}

impl<T: DatagramTransport> DatagramTransport for Arc<T> {
    type Addr = T::Addr;

    fn recv_from(&self, buf: &mut [u8]) -> impl Future<Output = io::Result<(usize, Self::Addr)>> + Send {
        (**self).recv_from(buf)
    }

    fn send_to(&self, buf: &[u8], addr: &Self::Addr) -> impl Future<Output = io::Result<usize>> + Send {
        (**self).send_to(buf, addr)
    }

    fn peer_identity(&self, addr: &Self::Addr) -> Option<PeerIdentity> {
        (**self).peer_identity(addr)
    }
}

/// Answers incoming requests. Called on the driver task: do not block; answer at once with
/// [`Responder::respond`] or move the responder into a spawned task.
pub trait Handler<A>: Send + 'static {
    /// A request arrived. A responder dropped without answering sends 5.00.
    fn handle(&mut self, request: IncomingRequest<A>, responder: Responder<A>);

    /// An observer registered by a 2.xx answer is gone (RST, timeout, deregistration).
    fn observer_removed(&mut self, _observation: ObservationId) {}
}

/// A handler that answers every request 4.04 (for client-only endpoints).
#[derive(Debug, Clone, Copy, Default)]
pub struct NotFound;

impl<A: Send + 'static> Handler<A> for NotFound {
    fn handle(&mut self, _request: IncomingRequest<A>, responder: Responder<A>) {
        responder.respond(Response::new(Code::NOT_FOUND));
    }
}

/// Why a driver call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The exchange failed (timeout, reset, block-wise).
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The endpoint refused to start the request (a limit).
    #[error(transparent)]
    Start(#[from] StartError),
    /// The driver has shut down.
    #[error("the CoAP driver has shut down")]
    Shutdown,
}

enum Command<A> {
    Request { peer: A, request: Request, reply: oneshot::Sender<Result<Response, Error>> },
    Observe { peer: A, request: Request, reply: oneshot::Sender<Result<Observation<A>, Error>>, handle: Handle<A> },
    CancelObservation { id: RequestId, active: bool },
    Ping { peer: A, reply: oneshot::Sender<Result<(), Error>> },
    Respond { id: IncomingId, response: Response },
    Notify { observation: ObservationId, response: Response, confirmable: bool },
    Shutdown { done: oneshot::Sender<()>, grace: Duration },
}

/// Answers one incoming request.
pub struct Responder<A> {
    id: IncomingId,
    tx: mpsc::UnboundedSender<Command<A>>,
    done: bool,
}

impl<A> Responder<A> {
    /// Sends the response (block-wise if large). For an Observe registration a 2.xx response
    /// activates the observation named in the request.
    pub fn respond(mut self, response: Response) {
        self.done = true;
        let _ = self.tx.send(Command::Respond { id: self.id, response });
    }
}

impl<A> Drop for Responder<A> {
    fn drop(&mut self) {
        if !self.done {
            let _ =
                self.tx.send(Command::Respond { id: self.id, response: Response::new(Code::INTERNAL_SERVER_ERROR) });
        }
    }
}

impl<A> std::fmt::Debug for Responder<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder").field("id", &self.id).finish()
    }
}

/// A registered observation (client side): the first response and a stream of notifications.
/// Dropping it cancels passively (the next notification is answered with RST).
pub struct Observation<A> {
    /// The registration response. Without an Observe option the server did not register the
    /// observation and [`next`](Self::next) returns `None` at once.
    pub response: Response,
    id: RequestId,
    notifications: notifications::Receiver<Result<Response, ObservationEnd>>,
    handle: Handle<A>,
    cancelled: bool,
}

impl<A> Observation<A> {
    /// The next fresh notification; `None` once the observation ended (the last item before
    /// that is `Err` when it ended for a reason other than cancellation or a final response).
    pub async fn next(&mut self) -> Option<Result<Response, ObservationEnd>> {
        self.notifications.recv().await
    }

    /// How many notifications were dropped, oldest first, because they arrived while
    /// [`queue_limit`](Self::set_queue_limit) others were waiting to be read. RFC 7641: an
    /// observer wants the current state, so the newest are kept.
    pub fn dropped(&self) -> u64 {
        self.notifications.dropped()
    }

    /// How many unread notifications to keep (default [`DEFAULT_NOTIFICATION_QUEUE`], at least 1);
    /// beyond it the oldest are dropped. The driver never waits for the application.
    pub fn set_queue_limit(&mut self, limit: usize) {
        self.notifications.set_capacity(limit);
    }

    /// Cancels: `active` sends GET with `Observe: 1`, otherwise the next notification gets RST.
    pub fn cancel(&mut self, active: bool) {
        self.cancelled = true;
        let _ = self.handle.tx.send(Command::CancelObservation { id: self.id, active });
    }
}

impl<A> Drop for Observation<A> {
    fn drop(&mut self) {
        if !self.cancelled {
            let _ = self.handle.tx.send(Command::CancelObservation { id: self.id, active: false });
        }
    }
}

impl<A> std::fmt::Debug for Observation<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observation").field("id", &self.id).field("response", &self.response).finish()
    }
}

/// The async API of a running driver. Cheap to clone.
pub struct Handle<A> {
    tx: mpsc::UnboundedSender<Command<A>>,
}

impl<A> Clone for Handle<A> {
    fn clone(&self) -> Self {
        Handle { tx: self.tx.clone() }
    }
}

impl<A> std::fmt::Debug for Handle<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handle")
    }
}

impl<A: PeerKey + Send + 'static> Handle<A> {
    /// Sends a request and waits for the whole response.
    pub async fn request(&self, peer: A, request: Request) -> Result<Response, Error> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Request { peer, request, reply }).map_err(|_| Error::Shutdown)?;
        rx.await.map_err(|_| Error::Shutdown)?
    }

    /// Registers an observation (`Observe: 0` is added to the request) and waits for the
    /// registration response.
    pub async fn observe(&self, peer: A, mut request: Request) -> Result<Observation<A>, Error> {
        request.options.set_uint(OptionNumber::OBSERVE, 0);
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Observe { peer, request, reply, handle: self.clone() }).map_err(|_| Error::Shutdown)?;
        rx.await.map_err(|_| Error::Shutdown)?
    }

    /// Sends a CoAP ping and waits for the RST.
    pub async fn ping(&self, peer: A) -> Result<(), Error> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Ping { peer, reply }).map_err(|_| Error::Shutdown)?;
        rx.await.map_err(|_| Error::Shutdown)?
    }

    /// Sends a notification to an observer (see [`Endpoint::notify`]). Unknown observations
    /// are ignored (the observer may have just gone).
    pub fn notify(&self, observation: ObservationId, response: Response, confirmable: bool) -> Result<(), Error> {
        self.tx.send(Command::Notify { observation, response, confirmable }).map_err(|_| Error::Shutdown)
    }

    /// Stops the driver at once: pending requests fail with [`Error::Shutdown`], queued
    /// datagrams are sent, and the task ends. Returns when it has.
    pub async fn shutdown(&self) {
        self.shutdown_gracefully(Duration::ZERO).await;
    }

    /// Stops the driver gracefully: pending requests of this endpoint fail with
    /// [`Error::Shutdown`] and new ones are refused; new incoming requests get 5.03; answers the
    /// handler still owes are sent and confirmable messages in flight are retransmitted until
    /// acknowledged, for at most `grace`. Returns when the task has ended.
    pub async fn shutdown_gracefully(&self, grace: Duration) {
        let (done, rx) = oneshot::channel();
        if self.tx.send(Command::Shutdown { done, grace }).is_ok() {
            let _ = rx.await;
        }
    }
}

enum Waiter<A> {
    Request(oneshot::Sender<Result<Response, Error>>),
    Observe(oneshot::Sender<Result<Observation<A>, Error>>, Handle<A>),
    Observing(notifications::Sender<Result<Response, ObservationEnd>>),
    Ping(oneshot::Sender<Result<(), Error>>),
}

/// Starts a driver task on the current tokio runtime.
///
/// The task runs until [`Handle::shutdown`] or until every [`Handle`], [`Responder`] and
/// [`Observation`] is dropped.
pub fn spawn<T, H>(transport: T, config: Config, handler: H) -> Handle<T::Addr>
where
    T: DatagramTransport,
    H: Handler<T::Addr>,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = Handle { tx: tx.clone() };
    let driver = Driver {
        endpoint: Endpoint::new(config),
        transport,
        handler,
        tx: tx.downgrade(),
        rx,
        waiters: HashMap::new(),
        observations: HashMap::new(),
        shutdown: Vec::new(),
    };
    drop(tx);
    tokio::spawn(driver.run());
    handle
}

/// Largest datagram accepted (bigger ones are truncated by the OS and then fail to parse).
const RECV_BUFFER: usize = 65_535;

struct Driver<T: DatagramTransport, H> {
    endpoint: Endpoint<T::Addr>,
    transport: T,
    handler: H,
    tx: mpsc::WeakUnboundedSender<Command<T::Addr>>,
    rx: mpsc::UnboundedReceiver<Command<T::Addr>>,
    waiters: HashMap<RequestId, Waiter<T::Addr>>,
    observations: HashMap<ObservationId, ()>,
    shutdown: Vec<oneshot::Sender<()>>,
}

impl<T: DatagramTransport, H: Handler<T::Addr>> Driver<T, H> {
    async fn run(mut self) {
        let mut buf = vec![0u8; RECV_BUFFER];
        loop {
            self.flush().await;
            if self.endpoint.is_drained(Instant::now()) {
                for done in self.shutdown.drain(..) {
                    let _ = done.send(());
                }
                return;
            }
            let deadline = self.endpoint.poll_timeout();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                cmd = self.rx.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => {
                        self.fail_all();
                        self.flush().await;
                        return;
                    }
                },
                received = self.transport.recv_from(&mut buf) => match received {
                    Ok((len, peer)) => {
                        let now = Instant::now();
                        if let Some(identity) = self.transport.peer_identity(&peer) {
                            self.endpoint.set_peer_identity(now, &peer, Some(identity));
                        }
                        self.endpoint.handle_datagram(now, peer, buf.get(..len).unwrap_or_default());
                    }
                    Err(err) => {
                        // ICMP errors surface here on some platforms; they concern one peer only.
                        tracing::debug!(%err, "datagram receive error");
                    }
                },
                () = sleep => {
                    self.endpoint.handle_timeout(Instant::now());
                }
            }
        }
    }

    /// Sends what the endpoint queued, dispatches its events and takes queued commands, until
    /// nothing is left.
    async fn flush(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(t) = self.endpoint.poll_transmit() {
                progressed = true;
                if let Err(err) = self.transport.send_to(&t.payload, &t.peer).await {
                    tracing::debug!(%err, peer = ?t.peer, "datagram send error");
                }
            }
            while let Some(event) = self.endpoint.poll_event() {
                progressed = true;
                self.event(event);
            }
            while let Ok(cmd) = self.rx.try_recv() {
                progressed = true;
                self.command(cmd);
            }
            if !progressed {
                return;
            }
        }
    }

    fn fail_all(&mut self) {
        let now = Instant::now();
        for (id, waiter) in std::mem::take(&mut self.waiters) {
            self.endpoint.cancel_request(now, id);
            match waiter {
                Waiter::Request(tx) => {
                    let _ = tx.send(Err(Error::Shutdown));
                }
                Waiter::Observe(tx, _) => {
                    let _ = tx.send(Err(Error::Shutdown));
                }
                Waiter::Ping(tx) => {
                    let _ = tx.send(Err(Error::Shutdown));
                }
                Waiter::Observing(_) => {}
            }
        }
    }

    fn command(&mut self, cmd: Command<T::Addr>) {
        let now = Instant::now();
        if self.endpoint.is_shutting_down() {
            // Shutting down: no new exchanges of our own.
            match cmd {
                Command::Request { reply, .. } => {
                    let _ = reply.send(Err(Error::Shutdown));
                    return;
                }
                Command::Observe { reply, .. } => {
                    let _ = reply.send(Err(Error::Shutdown));
                    return;
                }
                Command::Ping { reply, .. } => {
                    let _ = reply.send(Err(Error::Shutdown));
                    return;
                }
                other => return self.command_running(other, now),
            }
        }
        self.command_running(cmd, now);
    }

    fn command_running(&mut self, cmd: Command<T::Addr>, now: Instant) {
        match cmd {
            Command::Request { peer, request, reply } => match self.endpoint.start_request(now, peer, request) {
                Ok(id) => {
                    self.waiters.insert(id, Waiter::Request(reply));
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Command::Observe { peer, request, reply, handle } => {
                match self.endpoint.start_request(now, peer, request) {
                    Ok(id) => {
                        self.waiters.insert(id, Waiter::Observe(reply, handle));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Command::CancelObservation { id, active } => {
                if self.waiters.contains_key(&id) {
                    self.endpoint.cancel_observation(now, id, active);
                }
            }
            Command::Ping { peer, reply } => match self.endpoint.ping(now, peer) {
                Ok(id) => {
                    self.waiters.insert(id, Waiter::Ping(reply));
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Command::Respond { id, response } => match self.endpoint.respond(now, id, response) {
                Ok(Some(obs)) => {
                    self.observations.insert(obs, ());
                }
                Ok(None) => {}
                Err(err) => tracing::debug!(%err, "respond failed"),
            },
            Command::Notify { observation, response, confirmable } => {
                if let Err(err) = self.endpoint.notify(now, observation, response, confirmable) {
                    tracing::debug!(%err, "notify failed");
                }
            }
            Command::Shutdown { done, grace } => {
                self.fail_all();
                self.shutdown.push(done);
                // The engine answers new requests 5.03 and says when it has drained.
                self.endpoint.begin_shutdown(now, grace);
            }
        }
    }

    fn event(&mut self, event: Event<T::Addr>) {
        match event {
            Event::Request(request) => {
                let Some(tx) = self.tx.upgrade() else { return };
                let responder = Responder { id: request.id, tx, done: false };
                self.handler.handle(request, responder);
            }
            Event::Response { id, response } => match self.waiters.remove(&id) {
                Some(Waiter::Request(tx)) => {
                    let _ = tx.send(Ok(response));
                }
                Some(Waiter::Observe(tx, handle)) => {
                    let (ntx, nrx) = notifications::queue(DEFAULT_NOTIFICATION_QUEUE);
                    let registered = response.options.observe().is_some() && response.code.is_success();
                    if registered {
                        self.waiters.insert(id, Waiter::Observing(ntx));
                    }
                    let obs = Observation { response, id, notifications: nrx, handle, cancelled: !registered };
                    let _ = tx.send(Ok(obs));
                }
                Some(other) => {
                    self.waiters.insert(id, other);
                }
                None => {}
            },
            Event::Notification { id, response } => {
                if let Some(Waiter::Observing(tx)) = self.waiters.get(&id)
                    && tx.send(Ok(response)).is_err()
                {
                    self.endpoint.cancel_observation(Instant::now(), id, false);
                }
            }
            Event::ObservationEnded { id, reason } => {
                if let Some(Waiter::Observing(tx)) = self.waiters.remove(&id)
                    && !matches!(reason, ObservationEnd::Cancelled | ObservationEnd::ServerEnded)
                {
                    let _ = tx.send(Err(reason));
                }
            }
            Event::RequestFailed { id, error } => match self.waiters.remove(&id) {
                Some(Waiter::Request(tx)) => {
                    let _ = tx.send(Err(error.into()));
                }
                Some(Waiter::Observe(tx, _)) => {
                    let _ = tx.send(Err(error.into()));
                }
                Some(Waiter::Ping(tx)) => {
                    let _ = tx.send(Err(error.into()));
                }
                Some(Waiter::Observing(tx)) => {
                    let _ = tx.send(Err(ObservationEnd::Failed(error)));
                }
                None => {}
            },
            Event::Pong { id } => {
                if let Some(Waiter::Ping(tx)) = self.waiters.remove(&id) {
                    let _ = tx.send(Ok(()));
                }
            }
            Event::ObserverRemoved { observation, .. } => {
                self.observations.remove(&observation);
                self.handler.observer_removed(observation);
            }
        }
    }
}

/// Binds a UDP socket for [`spawn`]: `[::]:port` accepts IPv4 too on dual-stack hosts only if
/// the OS allows; bind the address family you need.
pub async fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    UdpSocket::bind(addr).await
}

/// How long [`Handle::request`] callers typically wait at most with default parameters
/// (MAX_TRANSMIT_WAIT, 93 s); use `tokio::time::timeout` for shorter bounds.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(93);
