//! "Allocates only the output tree": decoding the Device instance makes exactly as many
//! heap allocations as cloning the decoded tree does (the tree's own nodes and strings),
//! for the binary hot-path formats, and never grows a buffer. Counted with an instrumented global allocator; this
//! file holds a single test so nothing else allocates concurrently.

mod common;

use std::alloc::System;

use common::{model, path};
use lwm2m_codec::{Limits, decode, encode};
use lwm2m_core::{ContentFormat, Instance, InstanceId, Node, Resource, ResourceId, ResourceInstanceId, Value};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

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

#[test]
fn decoding_allocates_only_the_output_tree() {
    let m = model();
    let limits = Limits::default();
    let p = path("/3/0");
    let node = device();
    let tree = {
        let region = Region::new(GLOBAL);
        let copy = node.clone();
        let n = region.change().allocations;
        drop(copy);
        n
    };
    // One vector for the instance's resources and one per multiple resource (6, 7, 8, 11);
    // the strings are short enough to be stored inline.
    assert_eq!(tree, 5, "the tree's own allocations");
    for format in [ContentFormat::TLV, ContentFormat::SENML_CBOR, ContentFormat::LWM2M_CBOR] {
        let payload = encode(format, &p, &node).unwrap();
        let region = Region::new(GLOBAL);
        let decoded = decode(format, &p, &payload, &m, &limits).unwrap();
        let stats = region.change();
        assert_eq!(decoded, node);
        eprintln!("{format}: {} allocations decoding, {tree} cloning the tree", stats.allocations);
        assert_eq!(stats.allocations, tree, "{format} allocates beyond the output tree");
        assert_eq!(stats.reallocations, 0, "{format} grows a buffer");
    }
}
