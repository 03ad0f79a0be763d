//! The LwM2M **bootstrap server** role: provisions clients with their server accounts
//! (Security and Server object instances) and credentials.
//!
//! Layering: `lwm2m-core` (model) -> `lwm2m-codec` (formats) -> `lwm2m-transport` (CoAP,
//! DTLS) -> **roles** (`lwm2m-client`, `lwm2m-server`, this crate) -> `lwm2m-cli`.
//!
//! This crate will hold the bootstrap session state machine (Bootstrap-Request, Discover,
//! Read, Write, Delete, Finish, Pack) and the per-endpoint configuration store. It is part
//! of the workspace from the start so that the layering is visible; its implementation
//! arrives with the bootstrap issue of the roadmap.
#![forbid(unsafe_code)]
