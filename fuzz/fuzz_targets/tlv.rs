//! Fuzzes the tlv decoder through every entry point: no panic, bounded allocation.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use lwm2m_core::ContentFormat;

fuzz_target!(|data: &[u8]| {
    common::drive(ContentFormat::TLV, data);
});
