//! CoAP for LwM2M: the message layer, exchanges, Observe and Block-wise as a sans-IO
//! engine, and a thin tokio driver.
//!
//! Sits on `lwm2m-core`; the client, server and bootstrap roles sit on it.
//!
//! # Design
//!
//! The crate follows the quinn-proto split between protocol logic and I/O:
//!
//! - [`wire`] is the RFC 7252 message format: a zero-copy validated view ([`wire::Message`])
//!   and an owned form ([`wire::MessageRepr`]) with parse / emit / encoded length, plus the
//!   Block option codec of RFC 7959.
//! - [`engine`] is the protocol: an [`Endpoint`] serving many peers from one socket, with
//!   CON/NON/ACK/RST messaging, retransmission with exponential back-off, deduplication with a
//!   response cache, NSTART queueing, Observe (RFC 7641) and Block-wise transfers (RFC 7959) on
//!   both the client and the server side. It has no clock, socket or OS entropy: time is an
//!   argument of every call, randomness comes from a seed in [`Config`], and all timers live in
//!   one table, so every run is reproducible.
//! - [`driver`] (feature `tokio`, on by default) runs an endpoint on one task over any
//!   [`driver::DatagramTransport`] (tokio's `UdpSocket` implements it; the DTLS transport of the
//!   next layer plugs in the same way), with an async request API, a handler trait for incoming
//!   requests and a stream of notifications per observation.
//!
//! The engine is generic over the peer key `P` (a `SocketAddr` for UDP; a session key for
//! DTLS). A secure transport reports the authenticated identity with
//! [`Endpoint::set_peer_identity`]; it is attached to every incoming request.
//!
//! # Example (sans-IO)
//!
//! ```
//! use std::time::Instant;
//! use lwm2m_transport::{Code, Config, Endpoint, Event, Request, Response};
//!
//! let now = Instant::now();
//! let mut client: Endpoint<&str> = Endpoint::new(Config { seed: 1, ..Config::default() });
//! let mut server: Endpoint<&str> = Endpoint::new(Config { seed: 2, ..Config::default() });
//! let id = client.start_request(now, "server", Request::with_path(Code::GET, "/3/0/0")).unwrap();
//! let t = client.poll_transmit().unwrap();
//! server.handle_datagram(now, "client", &t.payload);
//! let Some(Event::Request(req)) = server.poll_event() else { panic!() };
//! assert_eq!(req.request.options.uri_path(), "/3/0/0");
//! server.respond(now, req.id, Response::new(Code::CONTENT)).unwrap();
//! let t = server.poll_transmit().unwrap();
//! client.handle_datagram(now, "server", &t.payload);
//! assert!(matches!(client.poll_event(), Some(Event::Response { id: got, .. }) if got == id));
//! ```
#![forbid(unsafe_code)]

pub mod engine;
pub mod wire;

#[cfg(feature = "tokio")]
pub mod driver;
#[cfg(feature = "dtls")]
pub mod dtls;
#[cfg(feature = "tokio")]
mod notifications;
#[cfg(feature = "tcp")]
pub mod tcp;
#[cfg(any(feature = "dtls", feature = "tls"))]
mod x509;

pub use engine::{
    Config, Endpoint, Event, IncomingId, IncomingRequest, ObservationId, ObserveRequest, PeerIdentity, Request,
    RequestError, RequestId, Response, TransmissionParams, Transmit,
};
pub use wire::{BlockOption, Code, Message, MessageRepr, MessageType, OptionNumber, Options, Token, WireError};
