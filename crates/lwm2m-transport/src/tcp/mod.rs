//! CoAP over TCP and TLS (RFC 8323; the LwM2M 1.1 `T` binding, URI schemes `coap+tcp://` and
//! `coaps+tcp://`).
//!
//! Same split as the UDP side of the crate:
//!
//! - [`frame`] is the length-prefixed message format (parse / emit, and a stream decoder that
//!   checks the announced length against Max-Message-Size before buffering).
//! - [`connection`] is one connection as a sans-IO state machine: CSM exchange, Ping/Pong,
//!   Release/Abort, token matching, Observe and Block-wise over a reliable stream.
//! - [`driver`] (feature `tokio`) runs connections on tokio over any byte stream: a client
//!   connection and a server that accepts many (one task per connection). With the `tls` feature,
//!   [`tls`] adds rustls: server certificate + key, client verification against a CA, optional
//!   client certificates whose name reaches every request as a
//!   [`PeerIdentity`](crate::PeerIdentity).
//!
//! Not supported: BERT (SZX 7), and PSK over TLS (rustls has no TLS-PSK cipher suites; use
//! DTLS-PSK from [`crate::dtls`] or certificates).

pub mod connection;
pub mod frame;

#[cfg(feature = "tokio")]
pub mod driver;
#[cfg(feature = "tls")]
pub mod tls;

pub use connection::{
    CloseReason, Connection, ConnectionConfig, ConnectionEvent, ExchangeError, IncomingRequest, PeerCapabilities,
    RespondError, Role,
};
pub use frame::{BASE_MAX_MESSAGE_SIZE, Frame, FrameDecoder, FrameError};
