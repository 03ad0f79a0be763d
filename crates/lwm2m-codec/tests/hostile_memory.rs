//! Hostile payloads cannot make a decoder allocate much more than the payload itself: each
//! case used to allocate 18-56 times its size before failing (or, for link parameters,
//! succeeding) — found in review. Counted with an instrumented global allocator; this file
//! holds a single test so nothing else allocates concurrently.

use std::alloc::System;

use lwm2m_codec::{Limits, decode, link};
use lwm2m_core::{ContentFormat, NoModel, Path};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes allocated while running `f`, whatever it returns.
fn allocated<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let region = Region::new(GLOBAL);
    let out = f();
    (out, region.change().bytes_allocated)
}

#[test]
fn hostile_payloads_allocate_at_most_their_own_size() {
    let limits = Limits::DEFAULT;
    let path = |s: &str| s.parse::<Path>().unwrap();

    // TLV: an instance of 1M empty resource entries (`C0 00`): reservations stop at max_entries.
    let tlv = [0xC0u8, 0x00].repeat(1 << 20);
    let (result, bytes) = allocated(|| decode(ContentFormat::TLV, &path("/3/0"), &tlv, &NoModel, &limits));
    assert!(result.is_err(), "more entries than max_entries");
    assert!(bytes < tlv.len(), "TLV: {bytes} bytes allocated for a {}-byte payload", tlv.len());

    // LwM2M JSON: `{"e":[{},{},...]}`: the entries are counted before they are built.
    let mut json = String::from("{\"e\":[");
    json.push_str(&"{},".repeat(1 << 20));
    json.push_str("{}]}");
    let (result, bytes) =
        allocated(|| decode(ContentFormat::LWM2M_JSON, &path("/3/0"), json.as_bytes(), &NoModel, &limits));
    assert!(result.is_err());
    assert!(bytes < json.len(), "LwM2M JSON: {bytes} bytes allocated for a {}-byte payload", json.len());

    // Link format: one link with a million parameters: parameters count against max_entries.
    let mut links = String::from("<a>");
    links.push_str(&";a".repeat(1 << 20));
    let (result, bytes) = allocated(|| link::parse(links.as_bytes(), &limits));
    assert!(result.is_err(), "parameters beyond max_entries are refused");
    assert!(bytes < links.len(), "link: {bytes} bytes allocated for a {}-byte payload", links.len());

    // SenML JSON: a name of a million path segments is refused without collecting them.
    let mut senml = String::from("[{\"n\":\"/1");
    senml.push_str(&"/".repeat(1 << 20));
    senml.push_str("\",\"v\":1}]");
    let (result, bytes) =
        allocated(|| decode(ContentFormat::SENML_JSON, &path("/1"), senml.as_bytes(), &NoModel, &limits));
    assert!(result.is_err());
    // The name is copied twice (the resolved name, and the error that quotes it): linear, no
    // longer a per-segment vector (18x the payload before).
    assert!(bytes < 3 * senml.len(), "SenML JSON: {bytes} bytes allocated for a {}-byte payload", senml.len());
}
