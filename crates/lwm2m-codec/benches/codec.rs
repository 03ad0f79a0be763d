//! Codec benchmarks: the Device instance `/3/0` in every multi-value format, a 1,000-entry
//! timestamped SenML CBOR pack, and a 50-link registration payload. The `ciborium` rows
//! decode the same CBOR bytes into `ciborium::Value` as a baseline.
//!
//! `cargo bench -p lwm2m-codec --bench codec -- --warm-up-time 1 --measurement-time 3`
#![allow(missing_docs)]

use std::borrow::Cow;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lwm2m_codec::link::RegistrationPayload;
use lwm2m_codec::{Limits, TimestampedEntry, decode, decode_timestamped_entries, encode, encode_timestamped_entries};
use lwm2m_core::{
    Cardinality, ContentFormat, DataType, Instance, InstanceId, ModelSet, Node, ObjectId, ObjectModel, Operations,
    Path, Resource, ResourceId, ResourceInstanceId, ResourceModel, Timestamp, Value, Version,
};

fn res(id: u16, multiple: bool, data_type: DataType) -> ResourceModel {
    ResourceModel {
        id: ResourceId::new(id).unwrap(),
        name: Cow::Borrowed(""),
        operations: Operations::R,
        cardinality: if multiple { Cardinality::Multiple } else { Cardinality::Single },
        mandatory: false,
        data_type,
        range: Cow::Borrowed(""),
        units: Cow::Borrowed(""),
        description: Cow::Borrowed(""),
    }
}

fn model() -> ModelSet {
    use DataType::*;
    let mut set = ModelSet::new();
    let object = |id, resources| ObjectModel {
        id: ObjectId::new(id).unwrap(),
        name: Cow::Borrowed(""),
        urn: Cow::Borrowed(""),
        version: Version::V1_0,
        lwm2m_version: Version::V1_0,
        cardinality: Cardinality::Multiple,
        mandatory: false,
        resources: Cow::Owned(resources),
        description: Cow::Borrowed(""),
    };
    set.insert(object(
        3,
        vec![
            res(0, false, String),
            res(1, false, String),
            res(2, false, String),
            res(3, false, String),
            res(6, true, Integer),
            res(7, true, Integer),
            res(8, true, Integer),
            res(9, false, Integer),
            res(10, false, Integer),
            res(11, true, Integer),
            res(13, false, Time),
            res(14, false, String),
            res(15, false, String),
            res(16, false, String),
        ],
    ));
    set.insert(object(3303, vec![res(5700, false, Float)]));
    set
}

fn device() -> Node {
    let rid = |v| ResourceId::new(v).unwrap();
    let ri = |v| ResourceInstanceId::new(v).unwrap();
    Node::Instance(
        Instance::new(InstanceId::new(0).unwrap())
            .with(Resource::single(rid(0), "Open Mobile Alliance"))
            .with(Resource::single(rid(1), "Lightweight M2M Client"))
            .with(Resource::single(rid(2), "345000123"))
            .with(Resource::single(rid(3), "1.0"))
            .with(Resource::multiple(rid(6), [(ri(0), Value::Integer(1)), (ri(1), Value::Integer(5))]))
            .with(Resource::multiple(rid(7), [(ri(0), Value::Integer(3800)), (ri(1), Value::Integer(5000))]))
            .with(Resource::multiple(rid(8), [(ri(0), Value::Integer(125)), (ri(1), Value::Integer(900))]))
            .with(Resource::single(rid(9), Value::Integer(100)))
            .with(Resource::single(rid(10), Value::Integer(15)))
            .with(Resource::multiple(rid(11), [(ri(0), Value::Integer(0))]))
            .with(Resource::single(rid(13), Value::Time(1_367_491_215)))
            .with(Resource::single(rid(14), "+02:00"))
            .with(Resource::single(rid(15), "Europe/Berlin"))
            .with(Resource::single(rid(16), "U")),
    )
}

const FORMATS: [(&str, ContentFormat); 5] = [
    ("tlv", ContentFormat::TLV),
    ("senml-cbor", ContentFormat::SENML_CBOR),
    ("lwm2m-cbor", ContentFormat::LWM2M_CBOR),
    ("senml-json", ContentFormat::SENML_JSON),
    ("lwm2m-json", ContentFormat::LWM2M_JSON),
];

fn device_instance(c: &mut Criterion) {
    let m = model();
    let limits = Limits::default();
    let p: Path = "/3/0".parse().unwrap();
    let node = device();
    let mut g = c.benchmark_group("device_3_0/decode");
    for (name, f) in FORMATS {
        let payload = encode(f, &p, &node).unwrap();
        g.throughput(Throughput::Bytes(payload.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(name), &payload, |b, payload| {
            b.iter(|| decode(f, &p, black_box(payload), &m, &limits).unwrap());
        });
    }
    g.bench_function("clone-tree-baseline", |b| b.iter(|| black_box(&node).clone()));
    let cbor = encode(ContentFormat::SENML_CBOR, &p, &node).unwrap();
    g.bench_function("ciborium-value-baseline", |b| {
        b.iter(|| ciborium::from_reader::<ciborium::Value, _>(black_box(cbor.as_slice())).unwrap());
    });
    g.finish();
    let mut g = c.benchmark_group("device_3_0/encode");
    for (name, f) in FORMATS {
        g.bench_function(name, |b| b.iter(|| encode(f, &p, black_box(&node)).unwrap()));
    }
    g.finish();
}

fn pack_1000(c: &mut Criterion) {
    let m = model();
    let limits = Limits::default();
    let p: Path = "/3303/0/5700".parse().unwrap();
    let entries: Vec<TimestampedEntry> = (0..1000)
        .map(|i| TimestampedEntry {
            timestamp: Some(Timestamp::from_secs(1_700_000_000 + i)),
            path: p,
            value: Value::Float(20.0 + (i as f64) * 0.01),
        })
        .collect();
    let payload = encode_timestamped_entries(ContentFormat::SENML_CBOR, &entries).unwrap();
    let mut g = c.benchmark_group("senml_cbor_pack_1000");
    g.throughput(Throughput::Bytes(payload.len() as u64));
    g.bench_function("decode", |b| {
        b.iter(|| decode_timestamped_entries(ContentFormat::SENML_CBOR, black_box(&payload), &m, &limits).unwrap());
    });
    g.bench_function("ciborium-value-baseline", |b| {
        b.iter(|| ciborium::from_reader::<ciborium::Value, _>(black_box(payload.as_slice())).unwrap());
    });
    g.bench_function("encode", |b| {
        b.iter(|| encode_timestamped_entries(ContentFormat::SENML_CBOR, black_box(&entries)).unwrap());
    });
    g.finish();
}

fn registration_50(c: &mut Criterion) {
    let mut text = String::from(r#"</>;rt="oma.lwm2m";ct="110 112 11544""#);
    for i in 0..49 {
        text.push_str(&format!(",</{}/{}>", 3300 + i / 4, i % 4));
        if i % 5 == 0 {
            text.push_str(";ver=1.1");
        }
    }
    let limits = Limits::default();
    let parsed = RegistrationPayload::parse(text.as_bytes(), &limits).unwrap();
    assert_eq!(parsed.objects.len(), 49);
    let mut g = c.benchmark_group("registration_50_links");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("parse", |b| b.iter(|| RegistrationPayload::parse(black_box(text.as_bytes()), &limits).unwrap()));
    g.bench_function("format", |b| b.iter(|| black_box(&parsed).to_link_format()));
    g.finish();
}

criterion_group!(benches, device_instance, pack_1000, registration_50);
criterion_main!(benches);
