//! LwM2M content formats: encoders and decoders between payload bytes and the
//! `lwm2m-core` node tree.
//!
//! Sits on `lwm2m-core` and under the transport and the roles. `no_std` + `alloc` when the
//! default `std` feature is disabled.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
