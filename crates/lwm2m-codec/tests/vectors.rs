//! Fixed vectors, byte-exact in both directions: the OMA TS Core appendix examples (the
//! Device object instance in TLV, SenML JSON and LwM2M JSON), the spec digest's TLV shapes
//! and SenML CBOR examples, and the RFC 8428 SenML examples.

mod common;

use std::borrow::Cow;

use common::{hex, model, path};
use lwm2m_codec::senml::{self, Number, Record, RecordValue};
use lwm2m_codec::{DecodeError, Limits, decode, decode_paths, encode, encode_paths};
use lwm2m_core::{
    ContentFormat, Instance, InstanceId, Node, Object, ObjectId, Objlnk, Resource, ResourceId, ResourceInstanceId,
    Value,
};

fn rid(v: u16) -> ResourceId {
    ResourceId::new(v).unwrap()
}
fn riid(v: u16) -> ResourceInstanceId {
    ResourceInstanceId::new(v).unwrap()
}

/// The Device instance of the OMA TS Core TLV/JSON/SenML examples.
fn oma_device() -> Node {
    Node::Instance(
        Instance::new(InstanceId::new(0).unwrap())
            .with(Resource::single(rid(0), "Open Mobile Alliance"))
            .with(Resource::single(rid(1), "Lightweight M2M Client"))
            .with(Resource::single(rid(2), "345000123"))
            .with(Resource::single(rid(3), "1.0"))
            .with(Resource::multiple(rid(6), [(riid(0), Value::Integer(1)), (riid(1), Value::Integer(5))]))
            .with(Resource::multiple(rid(7), [(riid(0), Value::Integer(3800)), (riid(1), Value::Integer(5000))]))
            .with(Resource::multiple(rid(8), [(riid(0), Value::Integer(125)), (riid(1), Value::Integer(900))]))
            .with(Resource::single(rid(9), Value::Integer(100)))
            .with(Resource::single(rid(10), Value::Integer(15)))
            .with(Resource::multiple(rid(11), [(riid(0), Value::Integer(0))]))
            .with(Resource::single(rid(13), Value::Time(1_367_491_215)))
            .with(Resource::single(rid(14), "+02:00"))
            .with(Resource::single(rid(16), "U")),
    )
}

/// OMA TS Core appendix "TLV: Device object instance" (Read /3/0).
const OMA_DEVICE_TLV: &str = "
    C8 00 14 4F 70 65 6E 20 4D 6F 62 69 6C 65 20 41 6C 6C 69 61 6E 63 65
    C8 01 16 4C 69 67 68 74 77 65 69 67 68 74 20 4D 32 4D 20 43 6C 69 65 6E 74
    C8 02 09 33 34 35 30 30 30 31 32 33
    C3 03 31 2E 30
    86 06 41 00 01 41 01 05
    88 07 08 42 00 0E D8 42 01 13 88
    87 08 41 00 7D 42 01 03 84
    C1 09 64
    C1 0A 0F
    83 0B 41 00 00
    C4 0D 51 82 42 8F
    C6 0E 2B 30 32 3A 30 30
    C1 10 55";

/// OMA TS Core 1.1 appendix SenML JSON example of the same instance (whitespace removed).
const OMA_DEVICE_SENML_JSON: &str = concat!(
    r#"[{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},{"n":"1","vs":"Lightweight M2M Client"},"#,
    r#"{"n":"2","vs":"345000123"},{"n":"3","vs":"1.0"},{"n":"6/0","v":1},{"n":"6/1","v":5},"#,
    r#"{"n":"7/0","v":3800},{"n":"7/1","v":5000},{"n":"8/0","v":125},{"n":"8/1","v":900},"#,
    r#"{"n":"9","v":100},{"n":"10","v":15},{"n":"11/0","v":0},{"n":"13","v":1367491215},"#,
    r#"{"n":"14","vs":"+02:00"},{"n":"16","vs":"U"}]"#
);

/// The LwM2M 1.0 JSON form of the same instance (as Wakaama answers Read /3/0).
const OMA_DEVICE_LWM2M_JSON: &str = concat!(
    r#"{"bn":"/3/0/","e":[{"n":"0","sv":"Open Mobile Alliance"},{"n":"1","sv":"Lightweight M2M Client"},"#,
    r#"{"n":"2","sv":"345000123"},{"n":"3","sv":"1.0"},{"n":"6/0","v":1},{"n":"6/1","v":5},"#,
    r#"{"n":"7/0","v":3800},{"n":"7/1","v":5000},{"n":"8/0","v":125},{"n":"8/1","v":900},"#,
    r#"{"n":"9","v":100},{"n":"10","v":15},{"n":"11/0","v":0},{"n":"13","v":1367491215},"#,
    r#"{"n":"14","sv":"+02:00"},{"n":"16","sv":"U"}]}"#
);

fn both_ways(format: ContentFormat, p: &str, node: &Node, bytes: &[u8]) {
    let m = model();
    let p = path(p);
    assert_eq!(encode(format, &p, node).unwrap(), bytes, "encode {format}");
    assert_eq!(&decode(format, &p, bytes, &m, &Limits::default()).unwrap(), node, "decode {format}");
}

#[test]
fn oma_device_tlv() {
    both_ways(ContentFormat::TLV, "/3/0", &oma_device(), &hex(OMA_DEVICE_TLV));
    // Legacy 1542 decodes the same.
    let m = model();
    let n = decode(ContentFormat::LEGACY_TLV, &path("/3/0"), &hex(OMA_DEVICE_TLV), &m, &Limits::default()).unwrap();
    assert_eq!(n, oma_device());
}

#[test]
fn oma_device_senml_json() {
    both_ways(ContentFormat::SENML_JSON, "/3/0", &oma_device(), OMA_DEVICE_SENML_JSON.as_bytes());
}

#[test]
fn oma_device_lwm2m_json() {
    both_ways(ContentFormat::LWM2M_JSON, "/3/0", &oma_device(), OMA_DEVICE_LWM2M_JSON.as_bytes());
    let m = model();
    let n = decode(ContentFormat::LEGACY_JSON, &path("/3/0"), OMA_DEVICE_LWM2M_JSON.as_bytes(), &m, &Limits::default());
    assert_eq!(n.unwrap(), oma_device());
}

#[test]
fn oma_device_senml_cbor_matches_json_records() {
    // The SenML CBOR form is the JSON example with integer labels; decode both generically
    // and compare record by record.
    let m = model();
    let cbor = encode(ContentFormat::SENML_CBOR, &path("/3/0"), &oma_device()).unwrap();
    let limits = Limits::default();
    let from_cbor = senml::decode_cbor(&cbor, &limits).unwrap();
    let from_json = senml::decode_json(OMA_DEVICE_SENML_JSON.as_bytes(), &limits).unwrap();
    assert_eq!(from_cbor, from_json);
    assert_eq!(senml::encode_cbor(&from_json), cbor);
    assert_eq!(decode(ContentFormat::SENML_CBOR, &path("/3/0"), &cbor, &m, &limits).unwrap(), oma_device());
    // Header: array(16), map(3), -2, text(5) "/3/0/", 0, text(1) "0", 3, text(20).
    assert_eq!(&cbor[..14], &hex("90 A3 21 65 2F 33 2F 30 2F 00 61 30 03 74")[..]);
}

#[test]
fn digest_access_control_tlv() {
    // Read /2 of ACL instance 1: Object ID 3, Instance 0, ACL {101: 7, 310: 1}, owner 101.
    let node = Node::Object(
        Object::new(ObjectId::new(2).unwrap()).with(
            Instance::new(InstanceId::new(1).unwrap())
                .with(Resource::single(rid(0), Value::Integer(3)))
                .with(Resource::single(rid(1), Value::Integer(0)))
                .with(Resource::multiple(rid(2), [(riid(101), Value::Integer(7)), (riid(310), Value::Integer(1))]))
                .with(Resource::single(rid(3), Value::Integer(101))),
        ),
    );
    both_ways(ContentFormat::TLV, "/2", &node, &hex("08 01 12 C1 00 03 C1 01 00 87 02 41 65 07 61 01 36 01 C1 03 65"));
}

#[test]
fn digest_tlv_shapes() {
    both_ways(
        ContentFormat::TLV,
        "/1/0/1",
        &Node::Resource(Resource::single(rid(1), Value::Integer(86_400))),
        &hex("C4 01 00 01 51 80"),
    );
    // Object 9999 resource 7 is an Objlnk in the test model.
    both_ways(
        ContentFormat::TLV,
        "/9999/0/7",
        &Node::Resource(Resource::single(rid(7), Value::Objlnk(Objlnk::new(3, 0)))),
        &hex("C4 07 00 03 00 00"),
    );
    both_ways(
        ContentFormat::TLV,
        "/3303/0/5700",
        &Node::Resource(Resource::single(rid(5700), Value::Float(21.5))),
        &hex("E8 16 44 08 40 35 80 00 00 00 00 00"),
    );
    // A lone resource instance.
    both_ways(
        ContentFormat::TLV,
        "/3/0/7/1",
        &Node::ResourceInstance { id: riid(1), value: Value::Integer(5000) },
        &hex("42 01 13 88"),
    );
}

#[test]
fn digest_senml_cbor_example() {
    // [{"bn":"/3/0/","n":"9","v":95},{"n":"13","v":1700000000},{"n":"22","vlo":"3:0"}]
    let bytes =
        hex("83 A3 21 65 2F332F302F 00 61 39 02 18 5F A2 00 62 3133 02 1A 6553F100 A2 00 62 3232 63 766C6F 63 333A30");
    let node = Node::Instance(
        Instance::new(InstanceId::new(0).unwrap())
            .with(Resource::single(rid(9), Value::Integer(95)))
            .with(Resource::single(rid(13), Value::Time(1_700_000_000)))
            .with(Resource::multiple(rid(22), [])),
    );
    // Resource 22 is multiple in the model, but the record names it without an instance id,
    // so it decodes as a single Objlnk resource.
    let m = model();
    let decoded = decode(ContentFormat::SENML_CBOR, &path("/3/0"), &bytes, &m, &Limits::default()).unwrap();
    let Node::Instance(inst) = &decoded else { panic!() };
    assert_eq!(inst.resources.len(), 3);
    assert_eq!(inst.resource(rid(22)).unwrap().as_single(), Some(&Value::Objlnk(Objlnk::new(3, 0))));
    assert_eq!(inst.resource(rid(13)).unwrap().as_single(), Some(&Value::Time(1_700_000_000)));
    assert_ne!(decoded, node);
    assert_eq!(encode(ContentFormat::SENML_CBOR, &path("/3/0"), &decoded).unwrap(), bytes);
    // JSON form of the same.
    let json = br#"[{"bn":"/3/0/","n":"9","v":95},{"n":"13","v":1700000000},{"n":"22","vlo":"3:0"}]"#;
    assert_eq!(encode(ContentFormat::SENML_JSON, &path("/3/0"), &decoded).unwrap(), json);
}

#[test]
fn read_composite_request_bodies() {
    let paths = [path("/3/0/9"), path("/1/0/1")];
    let cbor = hex("82 A1 00 66 2F332F302F39 A1 00 66 2F312F302F31");
    assert_eq!(encode_paths(ContentFormat::SENML_CBOR, &paths).unwrap(), cbor);
    assert_eq!(decode_paths(ContentFormat::SENML_CBOR, &cbor, &Limits::default()).unwrap(), paths);
    let json = br#"[{"n":"/3/0/9"},{"n":"/1/0/1"}]"#;
    assert_eq!(encode_paths(ContentFormat::SENML_JSON, &paths).unwrap(), json);
    assert_eq!(decode_paths(ContentFormat::SENML_JSON, json, &Limits::default()).unwrap(), paths);
    // Base names apply to the n-only form too.
    let with_bn = br#"[{"bn":"/3/0/","n":"9"},{"bn":"/1/","n":"0/1"},{"n":"0"}]"#;
    assert_eq!(
        decode_paths(ContentFormat::SENML_JSON, with_bn, &Limits::default()).unwrap(),
        [path("/3/0/9"), path("/1/0/1"), path("/1/0")]
    );
}

#[test]
fn lwm2m_cbor_spec_example() {
    // Read /3/0/0 → {[3,0,0]: "Open Mobile Alliance"}; {3:{0:{0:..}}} is equally valid.
    let node = Node::Resource(Resource::single(rid(0), "Open Mobile Alliance"));
    let mut bytes = hex("A1 83 03 00 00 74");
    bytes.extend_from_slice(b"Open Mobile Alliance");
    both_ways(ContentFormat::LWM2M_CBOR, "/3/0/0", &node, &bytes);
    let mut nested = hex("A1 03 A1 00 A1 00 74");
    nested.extend_from_slice(b"Open Mobile Alliance");
    let m = model();
    assert_eq!(decode(ContentFormat::LWM2M_CBOR, &path("/3/0/0"), &nested, &m, &Limits::default()).unwrap(), node);
    // The Device instance: {[3,0]: {0: "...", 6: {0: 1, 1: 5}, ...}}.
    let enc = encode(ContentFormat::LWM2M_CBOR, &path("/3/0"), &oma_device()).unwrap();
    assert_eq!(&enc[..6], &hex("A1 82 03 00 AD 00")[..]);
    assert_eq!(decode(ContentFormat::LWM2M_CBOR, &path("/3/0"), &enc, &m, &Limits::default()).unwrap(), oma_device());
}

/// RFC 8428 §5.1.1 and §5.1.2 (whitespace removed) and §6 (the CBOR form of §5.1.2).
#[test]
fn rfc8428_examples() {
    let limits = Limits::default();
    let single = br#"[{"n":"urn:dev:ow:10e2073a01080063","u":"Cel","v":23.1}]"#;
    let recs = senml::decode_json(single, &limits).unwrap();
    assert_eq!(
        recs,
        [Record {
            name: Some(Cow::Borrowed("urn:dev:ow:10e2073a01080063")),
            unit: Some(Cow::Borrowed("Cel")),
            value: Some(RecordValue::Number(Number::Float(23.1))),
            ..Record::default()
        }]
    );
    assert_eq!(senml::encode_json(&recs), single);

    let multiple = concat!(
        r#"[{"bn":"urn:dev:ow:10e2073a01080063:","n":"voltage","u":"V","v":120.1},"#,
        r#"{"n":"current","u":"A","v":1.2}]"#
    )
    .as_bytes();
    let recs = senml::decode_json(multiple, &limits).unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(senml::encode_json(&recs), multiple);
    // §6: the same pack in CBOR: labels -2 (bn), 0 (n), 1 (u), 2 (v); doubles for 120.1 and 1.2.
    let mut cbor = hex("82 A4 21 78 1C");
    cbor.extend_from_slice(b"urn:dev:ow:10e2073a01080063:");
    cbor.extend_from_slice(&hex("00 67"));
    cbor.extend_from_slice(b"voltage");
    cbor.extend_from_slice(&hex("01 61 56 02 FB 40 5E 06 66 66 66 66 66 A3 00 67"));
    cbor.extend_from_slice(b"current");
    cbor.extend_from_slice(&hex("01 61 41 02 FB 3F F3 33 33 33 33 33 33"));
    assert_eq!(senml::encode_cbor(&recs), cbor);
    assert_eq!(senml::decode_cbor(&cbor, &limits).unwrap(), recs);

    // §5.1.4-style multiple measurements with base time and relative times.
    let series = concat!(
        r#"[{"bn":"urn:dev:ow:10e2073a0108006:","bt":1276020076.001,"bu":"A","bver":5,"n":"voltage","u":"V","v":120.1},"#,
        r#"{"n":"current","v":1.2,"t":-5},{"n":"current","v":1.3,"t":-4}]"#
    )
    .as_bytes();
    let recs = senml::decode_json(series, &limits).unwrap();
    assert_eq!(recs[0].base_time, Some(Number::Float(1_276_020_076.001)));
    assert_eq!(recs[0].base_version, Some(5));
    assert_eq!(recs[2].time, Some(Number::Int(-4)));
    assert_eq!(senml::encode_json(&recs), series);
    assert_eq!(senml::decode_cbor(&senml::encode_cbor(&recs), &limits).unwrap(), recs);
}

#[test]
fn senml_label_rules() {
    let limits = Limits::default();
    // Unknown labels are ignored, must-understand ones (ending in '_') refused.
    assert_eq!(senml::decode_json(br#"[{"n":"a","foo":[1,{"x":2}],"v":1}]"#, &limits).unwrap().len(), 1);
    assert!(matches!(
        senml::decode_json(br#"[{"n":"a","foo_":1}]"#, &limits),
        Err(DecodeError::UnknownLabel { label, .. }) if label == "foo_"
    ));
    assert!(matches!(
        senml::decode_json(br#"[{"n":"a","n":"b"}]"#, &limits),
        Err(DecodeError::DuplicateLabel { label, .. }) if label == "n"
    ));
    assert!(matches!(
        senml::decode_json(br#"[{"n":"a","v":1,"vs":"x"}]"#, &limits),
        Err(DecodeError::InvalidLabelValue { .. })
    ));
    // vd is base64url without padding.
    let recs = senml::decode_json(br#"[{"n":"a","vd":"-_8"}]"#, &limits).unwrap();
    assert_eq!(recs[0].value, Some(RecordValue::Data(Cow::Owned(vec![0xfb, 0xff]))));
    assert_eq!(senml::encode_json(&recs), br#"[{"n":"a","vd":"-_8"}]"#);
    // CBOR: unknown integer label skipped, text label "vlo" understood.
    let cbor = hex("81 A3 00 61 61 18 63 82 01 02 63 766C6F 63 333A30");
    let recs = senml::decode_cbor(&cbor, &limits).unwrap();
    assert_eq!(recs[0].value, Some(RecordValue::ObjectLink(Cow::Borrowed("3:0"))));
}
