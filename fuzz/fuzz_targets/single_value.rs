//! Fuzzes the single-value decoders (plain text, opaque, CBOR) at every resource type.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use lwm2m_core::ContentFormat;

fuzz_target!(|data: &[u8]| {
    for format in [ContentFormat::TEXT, ContentFormat::OPAQUE, ContentFormat::CBOR] {
        let m = common::model();
        for r in 0..10u16 {
            let p = format!("/9999/1/{r}").parse().unwrap();
            let _ = lwm2m_codec::decode(format, &p, data, m, &common::LIMITS);
        }
    }
});
