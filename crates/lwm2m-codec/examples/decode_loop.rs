//! Decodes one payload many times, for `perf stat` (cycles and instructions per decode are
//! steadier than wall time on a shared machine):
//!
//! `perf stat -e cycles:u,instructions:u target/release/examples/decode_loop tlv 200000`
//!
//! Formats: `tlv`, `senml-cbor`, `lwm2m-cbor`, `senml-json`, `pack` (1,000-entry timestamped
//! SenML CBOR pack), `clone` (clone of the decoded `/3/0` tree: the allocation floor).

use std::borrow::Cow;
use std::hint::black_box;

use lwm2m_codec::{Limits, TimestampedEntry, decode, decode_timestamped_entries, encode, encode_timestamped_entries};
use lwm2m_core::{
    Cardinality, ContentFormat, DataType, Instance, InstanceId, ModelSet, Node, ObjectId, ObjectModel, Operations,
    Path, Resource, ResourceId, ResourceInstanceId, ResourceModel, Timestamp, Value, Version,
};

fn model() -> ModelSet {
    let mut set = ModelSet::new();
    let mut object = |id, types: &[(u16, bool, DataType)]| {
        set.insert(ObjectModel {
            id: ObjectId::new(id).unwrap(),
            name: Cow::Borrowed(""),
            urn: Cow::Borrowed(""),
            version: Version::V1_0,
            lwm2m_version: Version::V1_0,
            cardinality: Cardinality::Multiple,
            mandatory: false,
            resources: types
                .iter()
                .map(|&(r, multiple, data_type)| ResourceModel {
                    id: ResourceId::new(r).unwrap(),
                    name: Cow::Borrowed(""),
                    operations: Operations::R,
                    cardinality: if multiple { Cardinality::Multiple } else { Cardinality::Single },
                    mandatory: false,
                    data_type,
                    range: Cow::Borrowed(""),
                    units: Cow::Borrowed(""),
                    description: Cow::Borrowed(""),
                })
                .collect(),
            description: Cow::Borrowed(""),
        });
    };
    use DataType::*;
    object(
        3,
        &[
            (0, false, String),
            (1, false, String),
            (2, false, String),
            (3, false, String),
            (6, true, Integer),
            (7, true, Integer),
            (8, true, Integer),
            (9, false, Integer),
            (10, false, Integer),
            (11, true, Integer),
            (13, false, Time),
            (14, false, String),
            (15, false, String),
            (16, false, String),
        ],
    );
    object(3303, &[(5700, false, Float)]);
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

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "tlv".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let m = model();
    let limits = Limits::default();
    let p: Path = "/3/0".parse().unwrap();
    let node = device();
    let start = std::time::Instant::now();
    match what.as_str() {
        "pack" => {
            let rp: Path = "/3303/0/5700".parse().unwrap();
            let entries: Vec<TimestampedEntry> = (0..1000)
                .map(|i| TimestampedEntry {
                    timestamp: Some(Timestamp::from_secs(1_700_000_000 + i)),
                    path: rp,
                    value: Value::Float(20.0 + (i as f64) * 0.01),
                })
                .collect();
            let payload = encode_timestamped_entries(ContentFormat::SENML_CBOR, &entries).unwrap();
            for _ in 0..n {
                black_box(
                    decode_timestamped_entries(ContentFormat::SENML_CBOR, black_box(&payload), &m, &limits).unwrap(),
                );
            }
            let secs = start.elapsed().as_secs_f64();
            eprintln!("{} bytes, {:.1} MB/s", payload.len(), (payload.len() * n) as f64 / secs / 1e6);
            return;
        }
        "clone" => {
            for _ in 0..n {
                black_box(black_box(&node).clone());
            }
        }
        name => {
            let format: ContentFormat = name.parse().unwrap();
            let payload = encode(format, &p, &node).unwrap();
            for _ in 0..n {
                black_box(decode(format, &p, black_box(&payload), &m, &limits).unwrap());
            }
        }
    }
    eprintln!("{:.0} ns per iteration", start.elapsed().as_secs_f64() * 1e9 / n as f64);
}
