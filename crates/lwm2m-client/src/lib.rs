//! The LwM2M **client** role: what runs on a device (a streetlight, a meter).
//!
//! Layering: `lwm2m-core` (model) -> `lwm2m-codec` (formats) -> `lwm2m-transport` (CoAP,
//! DTLS) -> **roles** (this crate, `lwm2m-server`, `lwm2m-bootstrap`) -> `lwm2m-cli`.
//!
//! This crate will hold the client's sans-IO state machines (bootstrap, registration and
//! update, device management dispatch to object handlers, observe and Send) and a tokio
//! driver. It is part of the workspace from the start so that the layering is visible;
//! its implementation arrives with the client issue of the roadmap.
#![forbid(unsafe_code)]
