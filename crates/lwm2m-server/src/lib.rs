//! The LwM2M **server** role: manages thousands of registered devices.
//!
//! Layering: `lwm2m-core` (model) -> `lwm2m-codec` (formats) -> `lwm2m-transport` (CoAP,
//! DTLS) -> **roles** (`lwm2m-client`, this crate, `lwm2m-bootstrap`) -> `lwm2m-cli`.
//!
//! This crate will hold the registration store and lifetime tracking, the device
//! management and information reporting requests a server sends (Read, Write, Execute,
//! Observe, composites), Send reception and queue-mode delivery. It is part of the
//! workspace from the start so that the layering is visible; its implementation arrives
//! with the server issue of the roadmap.
#![forbid(unsafe_code)]
