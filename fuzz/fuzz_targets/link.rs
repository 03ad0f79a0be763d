//! Fuzzes the CoRE Link Format parser and the registration / Discover helpers; also checks
//! that formatting what was parsed parses back to the same links.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use lwm2m_codec::link::{self, RegistrationPayload};

fuzz_target!(|data: &[u8]| {
    if let Ok(links) = link::parse(data, &common::LIMITS) {
        let text = link::format(&links);
        let again = link::parse(text.as_bytes(), &common::LIMITS).expect("formatted links parse");
        assert_eq!(links.len(), again.len());
        for (a, b) in links.iter().zip(&again) {
            assert_eq!(a.target, b.target);
            assert_eq!(a.params.len(), b.params.len());
            for (p, q) in a.params.iter().zip(&b.params) {
                assert_eq!((&p.name, &p.value), (&q.name, &q.value));
            }
        }
    }
    let _ = link::parse_discover(data, &common::LIMITS);
    let _ = RegistrationPayload::parse(data, &common::LIMITS);
});
