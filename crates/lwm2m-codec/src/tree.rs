//! Building a node tree from flat `(path, value)` entries as a decoder produces them.
//!
//! The same rules as [`Node::from_entries`], applied one entry at a time so that decoders
//! can stream records straight into the output tree without an intermediate list.

use alloc::string::ToString;

use lwm2m_core::{IdMap, Instance, Node, Object, Path, PathLevel, Resource, ResourceValue, Value};

use crate::DecodeError;
use lwm2m_core::error::NodeError;

/// Accumulates entries under a requested path into one node.
#[derive(Debug)]
pub(crate) struct TreeBuilder {
    requested: Path,
    node: Option<Node>,
}

impl TreeBuilder {
    /// A builder for a node at `requested` (not the root).
    pub(crate) fn new(requested: Path) -> Result<Self, DecodeError> {
        let node = match requested.level() {
            PathLevel::Root => return Err(NodeError::NotSingleNode { requested: requested.to_string() }.into()),
            PathLevel::Object => requested.object_id().map(|o| Node::Object(Object::new(o))),
            PathLevel::Instance => requested.instance_id().map(|i| Node::Instance(Instance::new(i))),
            PathLevel::Resource | PathLevel::ResourceInstance => None,
        };
        Ok(TreeBuilder { requested, node })
    }

    /// Adds one entry; `path` must be at or below the requested path and at resource or
    /// resource-instance level.
    pub(crate) fn insert(&mut self, path: Path, value: Value) -> Result<(), DecodeError> {
        if !self.requested.contains(&path) {
            return Err(DecodeError::OutsideRequestedPath { requested: self.requested, entry: path });
        }
        let (Some(iid), Some(rid)) = (path.instance_id(), path.resource_id()) else {
            return Err(NodeError::NoValueAtLevel { path: path.to_string() }.into());
        };
        let riid = path.resource_instance_id();
        match &mut self.node {
            Some(Node::Object(o)) => {
                let inst = o.instances.get_or_insert_with(iid, || Instance::new(iid));
                return insert_into_instance(inst, path, rid, riid, value);
            }
            Some(Node::Instance(i)) => return insert_into_instance(i, path, rid, riid, value),
            Some(Node::Resource(r)) => return insert_into_resource(r, path, riid, value),
            Some(Node::ResourceInstance { .. }) => return Err(DecodeError::Duplicate { path }),
            None => {}
        }
        // First entry of a resource or resource-instance request.
        self.node = Some(match (self.requested.level(), riid) {
            (PathLevel::ResourceInstance, Some(id)) => Node::ResourceInstance { id, value },
            (_, None) => Node::Resource(Resource::single(rid, value)),
            (_, Some(ri)) => Node::Resource(multiple(rid, ri, value)),
        });
        Ok(())
    }

    /// The node; an object or instance request with no entries gives an empty node.
    pub(crate) fn finish(self) -> Result<Node, DecodeError> {
        self.node.ok_or_else(|| NodeError::NotSingleNode { requested: self.requested.to_string() }.into())
    }
}

/// A multiple resource with one instance. Room for four from the start: the capacity a
/// `Vec` of this element size takes at its first push anyway, without the growth path.
fn multiple(rid: lwm2m_core::ResourceId, ri: lwm2m_core::ResourceInstanceId, value: Value) -> Resource {
    let mut m = IdMap::with_capacity(4);
    m.insert(ri, value);
    Resource { id: rid, value: ResourceValue::Multiple(m) }
}

#[inline]
fn insert_into_instance(
    inst: &mut Instance,
    path: Path,
    rid: lwm2m_core::ResourceId,
    riid: Option<lwm2m_core::ResourceInstanceId>,
    value: Value,
) -> Result<(), DecodeError> {
    // Records usually come in id order: a new resource goes last, and the instances of a
    // multiple resource follow each other, so the last resource is checked before searching.
    let found = match inst.resources.iter_mut().next_back() {
        None => None,
        Some((last, res)) if *last == rid => Some(res),
        Some((last, _)) if *last < rid => None,
        Some(_) => inst.resources.get_mut(&rid),
    };
    match found {
        Some(res) => insert_into_resource(res, path, riid, value),
        None => {
            inst.resources.insert(
                rid,
                match riid {
                    None => Resource::single(rid, value),
                    Some(ri) => multiple(rid, ri, value),
                },
            );
            Ok(())
        }
    }
}

#[inline]
fn insert_into_resource(
    res: &mut Resource,
    path: Path,
    riid: Option<lwm2m_core::ResourceInstanceId>,
    value: Value,
) -> Result<(), DecodeError> {
    match (&mut res.value, riid) {
        (ResourceValue::Single(_), None) => Err(DecodeError::Duplicate { path }),
        (ResourceValue::Multiple(m), Some(ri)) => match m.try_insert(ri, value) {
            Ok(_) => Ok(()),
            Err(_) => Err(DecodeError::Duplicate { path }),
        },
        _ => Err(NodeError::MixedResource { path: path.to_string() }.into()),
    }
}

/// The most entries a capacity hint reserves room for: a forged count in a small payload
/// cannot make a decoder reserve much memory ahead of the data that would fill it.
const MAX_HINT: usize = 1024;

/// Where decoded entries go: a tree, a flat list, or a timestamped list.
pub(crate) trait Sink {
    /// One decoded entry, with its resolved time (`None`: not stated).
    fn entry(&mut self, path: Path, value: Value, time: Option<f64>) -> Result<(), DecodeError>;

    /// The payload announces `records` flat records (a SenML pack's array length), so that
    /// the sink can allocate its storage once. Only a hint: it may be wrong.
    fn records_hint(&mut self, records: usize) {
        let _ = records;
    }

    /// The payload announces `children` entries directly under `parent` (an LwM2M CBOR
    /// map's length). Only a hint.
    fn children_hint(&mut self, parent: &Path, children: usize) {
        let _ = (parent, children);
    }
}

impl Sink for TreeBuilder {
    fn entry(&mut self, path: Path, value: Value, _time: Option<f64>) -> Result<(), DecodeError> {
        self.insert(path, value)
    }

    /// At an instance request every record is at most one resource of that instance.
    fn records_hint(&mut self, records: usize) {
        if let Some(Node::Instance(i)) = &mut self.node {
            if i.resources.is_empty() {
                i.resources.reserve(records.min(MAX_HINT));
            }
        }
    }

    fn children_hint(&mut self, parent: &Path, children: usize) {
        if let Some(Node::Instance(i)) = &mut self.node {
            if i.resources.is_empty() && *parent == self.requested {
                i.resources.reserve(children.min(MAX_HINT));
            }
        }
    }
}

/// Values live at resource or resource-instance level.
fn check_value_level(path: &Path) -> Result<(), DecodeError> {
    if path.depth() < 3 {
        return Err(NodeError::NoValueAtLevel { path: path.to_string() }.into());
    }
    Ok(())
}

impl Sink for alloc::vec::Vec<(Path, Value)> {
    fn entry(&mut self, path: Path, value: Value, _time: Option<f64>) -> Result<(), DecodeError> {
        check_value_level(&path)?;
        self.push((path, value));
        Ok(())
    }

    fn records_hint(&mut self, records: usize) {
        self.reserve(records.min(MAX_HINT));
    }
}

impl Sink for alloc::vec::Vec<crate::TimestampedEntry> {
    fn entry(&mut self, path: Path, value: Value, time: Option<f64>) -> Result<(), DecodeError> {
        check_value_level(&path)?;
        let timestamp = time.and_then(|t| lwm2m_core::Timestamp::from_secs_f64(t).ok());
        self.push(crate::TimestampedEntry { timestamp, path, value });
        Ok(())
    }

    fn records_hint(&mut self, records: usize) {
        self.reserve(records.min(MAX_HINT));
    }
}
