//! CoAP for LwM2M: the message layer, exchanges, Observe and Block-wise as a sans-IO
//! engine, secure transports, and thin tokio drivers.
//!
//! Sits on `lwm2m-core`; the client, server and bootstrap roles sit on it.
#![forbid(unsafe_code)]
