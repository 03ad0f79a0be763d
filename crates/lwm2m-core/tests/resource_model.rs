//! Integration tests of the public API of `lwm2m-core`, as the codec and roles use it.

use std::borrow::Cow;

use lwm2m_core::error::{AttributeError, NodeError, PathError};
use lwm2m_core::{
    AlternateRoot, Attribute, BindingMode, Cardinality, ContentFormat, DataType, Error, Instance, InstanceId,
    LwM2mVersion, ModelRegistry, ModelSet, Node, NotificationAttributes, ObjectId, ObjectModel, Objlnk, Operations,
    Path, PathLevel, Resource, ResourceId, ResourceInstanceId, ResourceModel, ResponseCode, ShortServerId, Value,
    Version,
};

fn rid(v: u16) -> ResourceId {
    ResourceId::new(v).unwrap()
}

/// A server-side walk: a request arrives for `/lwm2m/3/0/7/1` from a client that
/// registered the alternate root `/lwm2m`; the server strips the root, checks the level,
/// and builds the node it answers with.
#[test]
fn alternate_root_request_to_node() {
    let root = AlternateRoot::parse("/lwm2m").unwrap();
    let path = root.strip(["lwm2m", "3", "0", "7", "1"]).unwrap();
    assert_eq!(path.level(), PathLevel::ResourceInstance);
    assert_eq!(path.to_string(), "/3/0/7/1");
    let node = Node::from_entries(&path, [(path, Value::Integer(3800))]).unwrap();
    assert_eq!(node, Node::ResourceInstance { id: ResourceInstanceId::new(1).unwrap(), value: Value::Integer(3800) });
    // Bootstrap paths never carry the alternate root: the plain form is refused under it.
    assert!(matches!(root.strip(["3", "0"]), Err(PathError::NotUnderRoot { .. })));
}

/// Every error converts into the umbrella `Error` and keeps a message naming the input.
#[test]
fn umbrella_error_keeps_the_details() {
    let errors: Vec<Error> = vec![
        "/3/x".parse::<Path>().unwrap_err().into(),
        "0".parse::<ShortServerId>().unwrap_err().into(),
        Value::Integer(-1).convert(DataType::UnsignedInteger).unwrap_err().into(),
        Attribute::parse("pmin=abc").unwrap_err().into(),
        BindingMode::parse("UQ", false, LwM2mVersion::V1_1).unwrap_err().into(),
        "1.7".parse::<LwM2mVersion>().unwrap_err().into(),
        "nope".parse::<ContentFormat>().unwrap_err().into(),
    ];
    let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let expected = ["\"/3/x\"", "short server id 0", "-1", "pmin", "\"UQ\"", "\"1.7\"", "\"nope\""];
    for (text, needle) in texts.iter().zip(expected) {
        assert!(text.contains(needle), "{text:?} should mention {needle}");
    }
}

/// A Write-Attributes sequence on one resource: set, partially unset, refuse an
/// inconsistent change without modifying the stored set.
#[test]
fn write_attributes_sequence() {
    let mut stored = NotificationAttributes::default();
    stored.apply(&Attribute::parse_query_items(["pmin=10", "pmax=60", "gt=50", "lt=20", "st=5"]).unwrap()).unwrap();
    assert_eq!(stored.to_string(), "pmin=10&pmax=60&gt=50&lt=20&st=5");
    stored.apply(&Attribute::parse_query("st&pmax").unwrap()).unwrap();
    assert_eq!(stored.to_string(), "pmin=10&gt=50&lt=20");
    let err = stored.apply(&Attribute::parse_query("lt=60").unwrap()).unwrap_err();
    assert_eq!(err, AttributeError::LtNotBelowGt { lt: 60.0, gt: 50.0 });
    assert_eq!(stored.to_string(), "pmin=10&gt=50&lt=20");
}

/// Runtime (vendor) models extend a static registry through `ModelSet`.
#[test]
fn model_set_types_values() {
    let lamp = ObjectModel {
        id: ObjectId::new(33_000).unwrap(),
        name: Cow::Borrowed("Street Lamp"),
        urn: Cow::Borrowed("urn:oma:lwm2m:x:33000"),
        version: Version::new(1, 1),
        lwm2m_version: LwM2mVersion::V1_1.version(),
        cardinality: Cardinality::Multiple,
        mandatory: false,
        resources: Cow::Owned(vec![
            ResourceModel {
                id: rid(0),
                name: Cow::Borrowed("Dimming"),
                operations: Operations::RW,
                cardinality: Cardinality::Single,
                mandatory: true,
                data_type: DataType::Integer,
                range: Cow::Borrowed("0..100"),
                units: Cow::Borrowed("%"),
                description: Cow::Borrowed(""),
            },
            ResourceModel {
                id: rid(5),
                name: Cow::Borrowed("Peer"),
                operations: Operations::R,
                cardinality: Cardinality::Multiple,
                mandatory: false,
                data_type: DataType::Objlnk,
                range: Cow::Borrowed(""),
                units: Cow::Borrowed(""),
                description: Cow::Borrowed(""),
            },
        ]),
        description: Cow::Borrowed(""),
    };
    let mut set = ModelSet::new();
    set.insert(lamp);
    let model = set.resource(ObjectId::new(33_000).unwrap(), rid(0)).unwrap();
    // A codec typing a plain-text "75" for this resource:
    assert_eq!(Value::parse_text(model.data_type, "75").unwrap(), Value::Integer(75));
    let peer = set.resource(ObjectId::new(33_000).unwrap(), rid(5)).unwrap();
    assert!(peer.is_multiple());
    assert_eq!(Value::parse_text(peer.data_type, "33000:1").unwrap(), Value::Objlnk(Objlnk::new(33_000, 1)));
    assert!(set.object(ObjectId::new(3).unwrap()).is_none());
}

/// A node built from records refuses a resource that is both single and multiple, and
/// round-trips through its entries otherwise.
#[test]
fn node_round_trip_through_entries() {
    let inst = Instance::new(InstanceId::new(2).unwrap())
        .with(Resource::single(rid(1), Value::Float(21.5)))
        .with(Resource::multiple(rid(6), [(ResourceInstanceId::new(0).unwrap(), Value::Integer(1))]));
    let node = Node::Instance(inst);
    let at: Path = "/3303/2".parse().unwrap();
    let entries: Vec<(Path, Value)> = node.to_entries(&at).unwrap().into_iter().map(|(p, v)| (p, v.clone())).collect();
    assert_eq!(Node::from_entries(&at, entries.clone()).unwrap(), node);
    let mut bad = entries;
    bad.push(("/3303/2/6".parse().unwrap(), Value::Integer(2)));
    assert!(matches!(Node::from_entries(&at, bad), Err(NodeError::MixedResource { .. })));
}

/// Response codes and content formats as a role negotiates them.
#[test]
fn codes_and_formats() {
    assert_eq!(ResponseCode::from_byte(0x8F).unwrap(), ResponseCode::UnsupportedContentFormat);
    assert_eq!(ResponseCode::Content.to_string(), "2.05 Content");
    let accept: ContentFormat = "senml-cbor".parse().unwrap();
    assert_eq!(accept.number(), 112);
    assert_eq!(accept.since(), Some(LwM2mVersion::V1_1));
    assert_eq!(ContentFormat::LEGACY_TLV.normalize(), ContentFormat::TLV);
    assert_eq!(BindingMode::parse_lenient("UQS").unwrap().to_b_param(LwM2mVersion::V1_1), "US");
}
