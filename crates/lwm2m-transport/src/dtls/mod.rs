//! DTLS 1.2 for CoAP (`coaps://`): authenticated, encrypted datagrams below the CoAP engine.
//!
//! # Design
//!
//! - [`DtlsServer`] is a sans-IO server endpoint for one UDP socket: many sessions keyed by peer
//!   address, HelloVerifyRequest cookies, handshake deadline, session and handshake limits, idle
//!   eviction. Every decrypted datagram comes out as [`ServerEvent::Datagram`] with the peer's
//!   [`AuthenticatedIdentity`], so the LwM2M server can refuse a Register whose endpoint name is not
//!   bound to the credentials ([`CredentialStore::may_use_endpoint`]).
//! - [`DtlsClient`] is a sans-IO client session: handshake, flight retransmission, deadline,
//!   [`DtlsClient::restart`] for a fresh handshake when the server lost the session.
//! - [`DtlsServerSocket`] and [`DtlsClientSocket`] (feature `tokio`) put them on UDP sockets and
//!   implement the driver's `DatagramTransport`, so `driver::spawn` serves CoAP over `coaps://`.
//! - Both drive a [`DtlsBackend`]; the default is [`DimplBackend`] over the pure-Rust `dimpl`
//!   crate. Certificate validation ([`TrustAnchors`], `rustls-webpki` with pure-Rust ECDSA) and
//!   identity extraction happen here, not in the backend, so they survive a backend change.
//!   Raw public keys (RFC 7250) come from the backend as the peer's SubjectPublicKeyInfo; the
//!   pinning (client) and admission (server, [`CredentialStore::admit_raw_public_key`]) happen
//!   here too. One server endpoint serves all three modes: each ClientHello selects one
//!   ([`ServerSessionKind`]). `docs/dtls-evaluation.md` explains the choice and the gaps (no
//!   Connection ID, no session tickets with the current backend).
//!
//! Security modes map as follows: PSK (mode 0) → [`ClientCredentials::Psk`] /
//! [`CredentialStore::psk_key`]; RPK (mode 1) → [`ClientCredentials::RawPublicKey`] /
//! [`ServerConfig::raw_public_key`] + [`CredentialStore::admit_raw_public_key`]; Certificate
//! (mode 2) → [`ClientCredentials::Certificate`] / [`ServerConfig::certificate`] +
//! [`ServerConfig::client_trust`], with [`ClientConfig::server_certificate_usage`] for the
//! Certificate Usage resource; NoSec (mode 3) → plain CoAP without this module.
//!
//! # Example (in memory)
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use lwm2m_transport::dtls::*;
//!
//! let now = Instant::now();
//! let psk = PskCredential::new(b"urn:dev:1", b"0123456789abcdef").unwrap();
//! let store = MemoryCredentialStore::new();
//! store.insert_psk(&psk, None);
//! let mut server = DtlsServer::new(ServerConfig::psk(Arc::new(store))).unwrap();
//! let mut client = DtlsClient::new(ClientConfig::psk(psk), now).unwrap();
//! let client_addr = "127.0.0.1:5000".parse().unwrap();
//! client.send(b"hello").unwrap(); // queued until the handshake completes
//! for _ in 0..10 {
//!     while let Some(d) = client.poll_transmit() {
//!         server.handle_datagram(now, client_addr, &d);
//!     }
//!     while let Some(t) = server.poll_transmit() {
//!         client.handle_datagram(now, &t.payload);
//!     }
//! }
//! let mut got = None;
//! while let Some(event) = server.poll_event() {
//!     if let ServerEvent::Datagram(d) = event {
//!         got = Some(d);
//!     }
//! }
//! let d = got.unwrap();
//! assert_eq!(d.payload, b"hello");
//! assert_eq!(d.identity.implied_endpoint_name(), Some("urn:dev:1"));
//! ```

mod backend;
mod client;
mod config;
mod cookie;
mod dimpl_backend;
mod error;
mod identity;
mod record;
mod server;
#[cfg(feature = "tokio")]
mod socket;
mod verify;

pub use backend::{BackendOutput, BackendSession, DtlsBackend, ServerSessionKind};
pub use client::{ClientEvent, ClientState, DtlsClient};
pub use config::{
    CertificateUsage, CertifiedKey, CipherSuite, ClientConfig, ClientCredentials, HandshakeTiming,
    MAX_PSK_IDENTITY_LEN, MAX_PSK_KEY_LEN, PskCredential, RawPublicKey, RawPublicKeyPair, ServerConfig, ServerLimits,
    TrustAnchors, WallClock,
};
pub use dimpl_backend::{
    DimplBackend, DimplClientContext, DimplResumption, DimplServerContext, DimplSession, MAX_CACHED_PEER_BYTES,
    ResumptionCache,
};
pub use error::{AlertDescription, CertificateError, DtlsError};
pub use identity::{AuthenticatedIdentity, CertificateIdentity, CredentialStore, MemoryCredentialStore};
pub use server::{DtlsServer, IncomingDatagram, ServerEvent, ServerStats, Transmit};
#[cfg(feature = "tokio")]
pub use socket::{DtlsClientSocket, DtlsServerSocket};
