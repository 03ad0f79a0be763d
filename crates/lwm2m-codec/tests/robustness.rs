//! Hostile input: every decoder is fed random and mutated bytes (the same property the
//! `fuzz/` targets check, run here on every `cargo test`), and the limits are enforced.

mod common;

use common::{hex, model, path};
use lwm2m_codec::link::{self, RegistrationPayload};
use lwm2m_codec::{DecodeError, Limits, decode, decode_composite, decode_paths, decode_timestamped, senml};
use lwm2m_core::{ContentFormat, Path};
use proptest::prelude::*;

const FORMATS: [ContentFormat; 8] = [
    ContentFormat::TEXT,
    ContentFormat::OPAQUE,
    ContentFormat::CBOR,
    ContentFormat::TLV,
    ContentFormat::LWM2M_JSON,
    ContentFormat::SENML_JSON,
    ContentFormat::SENML_CBOR,
    ContentFormat::LWM2M_CBOR,
];

fn paths() -> [Path; 6] {
    [path("/3"), path("/3/0"), path("/3/0/7"), path("/3/0/7/1"), path("/9999/0/3"), path("/1/0")]
}

/// Runs every decoder on `bytes`; none may panic.
fn feed(bytes: &[u8]) {
    let m = model();
    let limits = Limits { max_entries: 256, max_depth: 8, ..Limits::default() };
    for f in FORMATS {
        for p in paths() {
            let _ = decode(f, &p, bytes, &m, &limits);
        }
        let _ = decode_composite(f, bytes, &m, &limits);
        let _ = decode_paths(f, bytes, &limits);
        let _ = decode_timestamped(f, &path("/3/0"), bytes, &m, &limits);
    }
    let _ = senml::decode_cbor(bytes, &limits);
    let _ = senml::decode_json(bytes, &limits);
    let _ = link::parse(bytes, &limits);
    let _ = link::parse_discover(bytes, &limits);
    let _ = RegistrationPayload::parse(bytes, &limits);
}

/// Valid payloads of every format, as mutation seeds.
fn seeds() -> Vec<Vec<u8>> {
    let mut s = vec![
        hex("C8 00 14 4F 70 65 6E 20 4D 6F 62 69 6C 65 20 41 6C 6C 69 61 6E 63 65 86 06 41 00 01 41 01 05 C1 09 64"),
        hex("08 01 12 C1 00 03 C1 01 00 87 02 41 65 07 61 01 36 01 C1 03 65"),
        hex("83 A3 21 65 2F332F302F 00 61 39 02 18 5F A2 00 62 3133 02 1A 6553F100 A2 00 62 3232 63 766C6F 63 333A30"),
        hex("A1 82 03 00 A2 00 64 41 43 4D 45 07 A2 00 19 0E D8 01 19 13 88"),
        br#"[{"bn":"/3/0/","n":"0","vs":"ACME"},{"n":"7/0","v":3800},{"n":"9","v":95,"t":5}]"#.to_vec(),
        br#"{"bn":"/3/0/","e":[{"n":"0","sv":"ACME"},{"n":"7/1","v":5000},{"n":"13","v":1,"t":2}]}"#.to_vec(),
        br#"</>;rt="oma.lwm2m";ct="110 112",</1/0>,</3>;ver=1.1,</3/0>,</5>"#.to_vec(),
        b"42".to_vec(),
        hex("1A 51 82 42 8F"),
    ];
    s.push(Vec::new());
    s
}

fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (prop::sample::select(seeds()), prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..6))
        .prop_map(|(mut bytes, edits)| {
            for (idx, byte, op) in edits {
                if bytes.is_empty() {
                    bytes.push(byte);
                    continue;
                }
                let i = idx.index(bytes.len());
                match op {
                    0 => bytes[i] = byte,
                    1 => bytes.truncate(i),
                    2 => bytes.insert(i, byte),
                    _ => bytes[i] ^= 1 << (byte % 8),
                }
            }
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..96)) {
        feed(&bytes);
    }

    #[test]
    fn mutated_payloads_never_panic(bytes in mutated()) {
        feed(&bytes);
    }
}

#[test]
fn limits_are_enforced_before_allocating() {
    let m = model();
    let tiny = Limits { max_payload_size: 8, ..Limits::default() };
    assert!(matches!(
        decode(ContentFormat::TLV, &path("/3/0"), &[0; 9], &m, &tiny),
        Err(DecodeError::LimitExceeded { what: "payload size", max: 8, found: 9 })
    ));
    // A CBOR array claiming 2^32 records: refused from its length, not by allocating.
    let huge = hex("9A FF FF FF FF A0");
    assert!(matches!(
        decode(ContentFormat::SENML_CBOR, &path("/3/0"), &huge, &m, &Limits::default()),
        Err(DecodeError::LengthOverflow { offset: 0, .. })
    ));
    // Entry count.
    let few = Limits { max_entries: 2, ..Limits::default() };
    let three = hex("C1 00 01 C1 01 01 C1 02 01");
    assert!(matches!(
        decode(ContentFormat::TLV, &path("/9999/0"), &three, &m, &few),
        Err(DecodeError::LimitExceeded { what: "entry count", .. })
    ));
    // Nesting depth (LwM2M CBOR maps nested deeper than allowed).
    let shallow = Limits { max_depth: 2, ..Limits::default() };
    let nested = hex("A1 03 A1 00 A1 00 61 41");
    assert!(matches!(
        decode(ContentFormat::LWM2M_CBOR, &path("/3/0"), &nested, &m, &shallow),
        Err(DecodeError::LimitExceeded { what: "nesting depth", .. })
    ));
    // Value length.
    let short = Limits { max_value_len: 3, ..Limits::default() };
    assert!(matches!(
        decode(ContentFormat::SENML_CBOR, &path("/3/0"), &hex("81 A2 00 61 30 03 64 41 43 4D 45"), &m, &short),
        Err(DecodeError::LimitExceeded { what: "value length", .. })
    ));
}

#[test]
fn errors_say_what_and_where() {
    let m = model();
    let l = Limits::default();
    let p = path("/3/0");
    // Truncated TLV header at byte 3.
    assert_eq!(
        decode(ContentFormat::TLV, &p, &hex("C1 09 64 C8"), &m, &l),
        Err(DecodeError::Truncated { format: ContentFormat::TLV, offset: 3, needed: 3, available: 1 })
    );
    // Length beyond the payload.
    assert_eq!(
        decode(ContentFormat::TLV, &p, &hex("C8 00 14 41"), &m, &l),
        Err(DecodeError::LengthOverflow { format: ContentFormat::TLV, offset: 2, length: 20, available: 1 })
    );
    // Integer of width 3.
    assert!(matches!(
        decode(ContentFormat::TLV, &p, &hex("C3 09 00 00 01"), &m, &l),
        Err(DecodeError::InvalidWidth { width: 3, .. })
    ));
    // Invalid UTF-8 in a String resource, at the byte that is wrong.
    assert_eq!(
        decode(ContentFormat::TLV, &p, &hex("C3 00 41 FF 42"), &m, &l),
        Err(DecodeError::InvalidUtf8 { format: ContentFormat::TLV, offset: 3 })
    );
    // Duplicate resource.
    assert_eq!(
        decode(ContentFormat::TLV, &p, &hex("C1 09 64 C1 09 65"), &m, &l),
        Err(DecodeError::Duplicate { path: path("/3/0/9") })
    );
    // Wrong instance in the wrapper / resource outside the requested one.
    assert_eq!(
        decode(ContentFormat::TLV, &p, &hex("03 01 C1 09 64"), &m, &l),
        Err(DecodeError::OutsideRequestedPath { requested: p, entry: path("/3/1") })
    );
    assert_eq!(
        decode(ContentFormat::SENML_JSON, &p, br#"[{"n":"/3/1/9","v":1}]"#, &m, &l),
        Err(DecodeError::OutsideRequestedPath { requested: p, entry: path("/3/1/9") })
    );
    // Type mismatch: a string where the model says Integer.
    assert_eq!(
        decode(ContentFormat::SENML_JSON, &p, br#"[{"n":"/3/0/9","vs":"x"}]"#, &m, &l),
        Err(DecodeError::TypeMismatch {
            path: path("/3/0/9"),
            expected: lwm2m_core::DataType::Integer,
            found: "a text string"
        })
    );
    // Unknown label in LwM2M JSON names the key.
    let e = decode(ContentFormat::LWM2M_JSON, &p, br#"{"bn":"/3/0/","e":[{"n":"9","x":1}]}"#, &m, &l).unwrap_err();
    assert!(e.to_string().contains("unknown field `x`"), "{e}");
    // A record name that is not a path.
    assert!(matches!(
        decode(ContentFormat::SENML_JSON, &p, br#"[{"n":"temp","v":1}]"#, &m, &l),
        Err(DecodeError::InvalidPath { .. })
    ));
    // A value above resource level in a composite payload.
    assert!(matches!(
        lwm2m_codec::decode_composite(ContentFormat::SENML_JSON, br#"[{"n":"/3/0","v":1}]"#, &m, &l),
        Err(DecodeError::Node(lwm2m_core::error::NodeError::NoValueAtLevel { .. }))
    ));
    // Trailing bytes after a CBOR item.
    assert!(matches!(
        decode(ContentFormat::SENML_CBOR, &p, &hex("80 00"), &m, &l),
        Err(DecodeError::TrailingBytes { offset: 1, count: 1, .. })
    ));
    // Unknown resource in TLV: kept as opaque bytes.
    let n = decode(ContentFormat::TLV, &path("/3/0/99"), &hex("C2 63 01 02"), &m, &l).unwrap();
    assert_eq!(
        n,
        lwm2m_core::Node::Resource(lwm2m_core::Resource::single(
            lwm2m_core::ResourceId::new(99).unwrap(),
            lwm2m_core::Value::Opaque(vec![1, 2])
        ))
    );
}
