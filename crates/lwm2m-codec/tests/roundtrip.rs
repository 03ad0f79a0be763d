//! Property tests: `decode(encode(x)) == x` for every format and every node shape it can
//! carry, typed through a model (object 9999: resource `r` has type `TYPES[r % 9]`).

mod common;

use common::{TYPES, model};
use lwm2m_codec::{
    Limits, TimestampedEntry, decode, decode_composite, decode_timestamped, decode_timestamped_entries, encode,
    encode_composite, encode_timestamped, encode_timestamped_entries,
};
use lwm2m_core::{
    ContentFormat, DataType, Instance, InstanceId, Node, Object, ObjectId, Objlnk, Path, Resource, ResourceId,
    ResourceInstanceId, ResourceValue, Timestamp, TimestampedNode, Value,
};
use proptest::prelude::*;

const OBJ: u16 = 9999;

fn value_of(t: DataType) -> BoxedStrategy<Value> {
    match t {
        DataType::String => "\\PC{0,24}".prop_map(|s| Value::String(s.into())).boxed(),
        DataType::Corelnk => "\\PC{0,24}".prop_map(|s| Value::Corelnk(s.into())).boxed(),
        DataType::Integer => any::<i64>().prop_map(Value::Integer).boxed(),
        DataType::UnsignedInteger => any::<u64>().prop_map(Value::UnsignedInteger).boxed(),
        DataType::Time => any::<i64>().prop_map(Value::Time).boxed(),
        DataType::Float => prop_oneof![
            any::<f64>().prop_filter("finite", |f| f.is_finite()),
            (-1000i32..1000).prop_map(|v| f64::from(v) / 4.0),
            any::<f32>().prop_filter("finite", |f| f.is_finite()).prop_map(f64::from),
        ]
        .prop_map(Value::Float)
        .boxed(),
        DataType::Boolean => any::<bool>().prop_map(Value::Boolean).boxed(),
        DataType::Opaque => prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::Opaque).boxed(),
        DataType::Objlnk => any::<(u16, u16)>().prop_map(|(o, i)| Value::Objlnk(Objlnk::new(o, i))).boxed(),
        DataType::None => unreachable!(),
    }
}

/// A resource with id `rid` (typed by the model); multiple with 0..4 instances (at least one
/// when `flat`, since flat formats cannot carry an empty multiple resource).
fn resource(rid: u16, flat: bool) -> BoxedStrategy<Resource> {
    let t = TYPES[usize::from(rid % 9)];
    let id = ResourceId::new(rid).unwrap();
    let min = usize::from(flat);
    prop_oneof![
        value_of(t).prop_map(move |v| Resource::single(id, v)),
        prop::collection::btree_map(0u16..600, value_of(t), min..4).prop_map(move |m| Resource {
            id,
            value: ResourceValue::Multiple(
                m.into_iter().map(|(k, v)| (ResourceInstanceId::new(k).unwrap(), v)).collect()
            ),
        }),
    ]
    .boxed()
}

fn instance(iid: u16, flat: bool, min: usize) -> BoxedStrategy<Instance> {
    prop::collection::btree_set(0u16..64, min..6)
        .prop_flat_map(move |ids| ids.into_iter().map(|r| resource(r, flat)).collect::<Vec<_>>())
        .prop_map(move |rs| {
            let mut i = Instance::new(InstanceId::new(iid).unwrap());
            for r in rs {
                i.insert(r);
            }
            i
        })
        .boxed()
}

fn object(flat: bool) -> BoxedStrategy<Object> {
    let min = usize::from(flat);
    prop::collection::btree_set(0u16..300, 0..4)
        .prop_flat_map(move |ids| ids.into_iter().map(|i| instance(i, flat, min)).collect::<Vec<_>>())
        .prop_map(|is| {
            let mut o = Object::new(ObjectId::new(OBJ).unwrap());
            for i in is {
                o.insert(i);
            }
            o
        })
        .boxed()
}

/// A node and its path, of any shape a (flat or tree) format can carry.
fn node(flat: bool) -> BoxedStrategy<(Path, Node)> {
    prop_oneof![
        object(flat).prop_map(|o| (Path::object(o.id), Node::Object(o))),
        (0u16..300)
            .prop_flat_map(move |iid| instance(iid, flat, 0))
            .prop_map(|i| (Path::instance(ObjectId::new(OBJ).unwrap(), i.id), Node::Instance(i))),
        (0u16..64).prop_flat_map(move |rid| resource(rid, flat)).prop_map(|r| {
            let p = Path::resource(ObjectId::new(OBJ).unwrap(), InstanceId::new(1).unwrap(), r.id);
            (p, Node::Resource(r))
        }),
        single_value_node(),
    ]
    .boxed()
}

/// A single resource or a resource instance (what single-value formats carry).
fn single_value_node() -> BoxedStrategy<(Path, Node)> {
    (0u16..64, any::<bool>())
        .prop_flat_map(|(rid, ri)| (Just(rid), Just(ri), value_of(TYPES[usize::from(rid % 9)])))
        .prop_map(|(rid, ri, v)| {
            let o = ObjectId::new(OBJ).unwrap();
            let i = InstanceId::new(2).unwrap();
            let r = ResourceId::new(rid).unwrap();
            if ri {
                let id = ResourceInstanceId::new(7).unwrap();
                (Path::resource_instance(o, i, r, id), Node::ResourceInstance { id, value: v })
            } else {
                (Path::resource(o, i, r), Node::Resource(Resource::single(r, v)))
            }
        })
        .boxed()
}

fn round_trip(format: ContentFormat, path: &Path, node: &Node) -> Result<(), TestCaseError> {
    let m = model();
    let bytes = encode(format, path, node).map_err(|e| TestCaseError::fail(format!("{format} encode: {e}")))?;
    let back = decode(format, path, &bytes, &m, &Limits::default())
        .map_err(|e| TestCaseError::fail(format!("{format} decode: {e} of {bytes:02x?}")))?;
    prop_assert_eq!(&back, node, "{}", format);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn tlv((path, node) in node(false)) {
        round_trip(ContentFormat::TLV, &path, &node)?;
    }

    #[test]
    fn senml_json((path, node) in node(true)) {
        round_trip(ContentFormat::SENML_JSON, &path, &node)?;
    }

    #[test]
    fn senml_cbor((path, node) in node(true)) {
        round_trip(ContentFormat::SENML_CBOR, &path, &node)?;
    }

    #[test]
    fn lwm2m_json((path, node) in node(true)) {
        round_trip(ContentFormat::LWM2M_JSON, &path, &node)?;
    }

    #[test]
    fn lwm2m_cbor((path, node) in node(true)) {
        round_trip(ContentFormat::LWM2M_CBOR, &path, &node)?;
    }

    #[test]
    fn text_and_cbor_single((path, node) in single_value_node()) {
        round_trip(ContentFormat::TEXT, &path, &node)?;
        round_trip(ContentFormat::CBOR, &path, &node)?;
        let is_opaque = matches!(&node, Node::Resource(Resource { value: ResourceValue::Single(Value::Opaque(_)), .. })
            | Node::ResourceInstance { value: Value::Opaque(_), .. });
        if is_opaque {
            round_trip(ContentFormat::OPAQUE, &path, &node)?;
        } else {
            prop_assert!(encode(ContentFormat::OPAQUE, &path, &node).is_err());
        }
    }

    #[test]
    fn composite(obj in object(true), fmt in prop::sample::select(vec![
        ContentFormat::SENML_JSON, ContentFormat::SENML_CBOR, ContentFormat::LWM2M_CBOR, ContentFormat::LWM2M_JSON,
    ])) {
        let node = Node::Object(obj);
        let p = Path::object(ObjectId::new(OBJ).unwrap());
        let entries = node.to_entries(&p).unwrap();
        let bytes = encode_composite(fmt, &entries).unwrap();
        let back = decode_composite(fmt, &bytes, &model(), &Limits::default()).unwrap();
        let expected: Vec<(Path, Value)> = entries.iter().map(|(p, v)| (*p, (*v).clone())).collect();
        prop_assert_eq!(back, expected);
    }

    #[test]
    fn time_series(
        base in -1_000_000i64..2_000_000_000,
        steps in prop::collection::vec((1u32..100_000, any::<bool>()), 1..5),
        instances in prop::collection::vec(instance(0, true, 1), 5),
        fmt in prop::sample::select(vec![ContentFormat::SENML_JSON, ContentFormat::SENML_CBOR, ContentFormat::LWM2M_JSON]),
    ) {
        let p = Path::instance(ObjectId::new(OBJ).unwrap(), InstanceId::new(0).unwrap());
        let mut t = base as f64;
        let mut series = Vec::new();
        for ((step, frac), inst) in steps.iter().zip(instances) {
            t += f64::from(*step) + if *frac { 0.25 } else { 0.0 };
            if t == 0.0 { t = 0.5; }
            series.push(TimestampedNode { timestamp: Some(Timestamp::from_secs_f64(t).unwrap()), path: p, node: Node::Instance(inst) });
        }
        let bytes = encode_timestamped(fmt, &series).unwrap();
        let back = decode_timestamped(fmt, &p, &bytes, &model(), &Limits::default()).unwrap();
        prop_assert_eq!(back, series);
    }

    #[test]
    fn send_entries(
        values in prop::collection::btree_map((0u16..5, 0u16..64), any::<u16>(), 1..12),
        fmt in prop::sample::select(vec![ContentFormat::SENML_JSON, ContentFormat::SENML_CBOR, ContentFormat::LWM2M_JSON]),
    ) {
        // Integer resources of object 9999 are ids ≡ 1 (mod 9); time alternates between none and a value.
        let entries: Vec<TimestampedEntry> = values.into_iter().enumerate().map(|(n, ((i, r), v))| {
            let rid = r / 9 * 9 + 1;
            TimestampedEntry {
                timestamp: (n % 3 != 0).then(|| Timestamp::from_secs(1_700_000_000 + (n as i64 / 2))),
                path: Path::resource(ObjectId::new(OBJ).unwrap(), InstanceId::new(i).unwrap(), ResourceId::new(rid).unwrap()),
                value: Value::Integer(i64::from(v)),
            }
        }).collect();
        let bytes = encode_timestamped_entries(fmt, &entries).unwrap();
        let back = decode_timestamped_entries(fmt, &bytes, &model(), &Limits::default()).unwrap();
        prop_assert_eq!(back, entries);
    }
}

#[test]
fn empty_nodes() {
    let m = model();
    let p = Path::instance(ObjectId::new(OBJ).unwrap(), InstanceId::new(3).unwrap());
    let empty = Node::Instance(Instance::new(InstanceId::new(3).unwrap()));
    for f in [
        ContentFormat::TLV,
        ContentFormat::SENML_JSON,
        ContentFormat::SENML_CBOR,
        ContentFormat::LWM2M_CBOR,
        ContentFormat::LWM2M_JSON,
    ] {
        let bytes = encode(f, &p, &empty).unwrap();
        assert_eq!(decode(f, &p, &bytes, &m, &Limits::default()).unwrap(), empty, "{f}");
    }
}
