//! Fuzzes the senml_json decoder through every entry point: no panic, bounded allocation.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use lwm2m_core::ContentFormat;

fuzz_target!(|data: &[u8]| {
    common::drive(ContentFormat::SENML_JSON, data);
    let _ = lwm2m_codec::senml::decode_json(data, &common::LIMITS);
});
